"""Paging of list endpoints: ``limit`` (default 50, at most 500) and an opaque ``cursor``.

A page is ``{"items": [...], "next": CURSOR | null}``. Every list has a stable order on
a unique key; the cursor is the key of the last item handed out (base64url of its JSON),
so the next page starts strictly after it even when rows were added in between.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Query

from appliance.web.errors import HTTPProblem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """What the client asked for: at most *limit* items after the key *after* (None: from the start)."""

    limit: int
    after: Any = None


def encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPProblem(400, "bad-cursor", "the cursor is not one this service handed out") from None


def page_request(limit: int = Query(DEFAULT_LIMIT, description=f"items per page (1..{MAX_LIMIT})"),
                 cursor: str | None = Query(None, description="the `next` of the previous page")) -> PageRequest:
    """The route dependency: ``page: PageRequest = Depends(page_request)``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise HTTPProblem(400, "bad-limit", f"limit must be between 1 and {MAX_LIMIT}")
    return PageRequest(limit, decode(cursor) if cursor else None)


def check_key(page: PageRequest, *types: type) -> None:
    """Refuse a cursor whose key is not of the expected shape (a cursor of another list)."""
    after = page.after
    parts = after if isinstance(after, list) else [after]
    if after is not None and (len(parts) != len(types) or not all(isinstance(p, t) for p, t in zip(parts, types))):
        raise HTTPProblem(400, "bad-cursor", "the cursor belongs to another list")


def from_fetched(rows: Sequence[T], page: PageRequest, key: Callable[[T], Any],
                 render: Callable[[T], Any]) -> dict[str, Any]:
    """A page from *rows* already ordered and starting after the cursor, fetched with
    ``limit + 1`` so a next page is known to exist."""
    shown = list(rows[:page.limit])
    more = len(rows) > page.limit
    return {"items": [render(r) for r in shown], "next": encode(key(shown[-1])) if more and shown else None}


def in_memory(items: Sequence[T], page: PageRequest, key: Callable[[T], Any],
              render: Callable[[T], Any]) -> dict[str, Any]:
    """A page of a short list held in memory (sorted here by *key*)."""
    ordered = sorted(items, key=key)
    if page.after is not None:
        after = page.after if not isinstance(page.after, list) else tuple(page.after)
        try:
            ordered = [i for i in ordered if _cmp_key(key(i)) > after]
        except TypeError:
            raise HTTPProblem(400, "bad-cursor", "the cursor belongs to another list") from None
    return from_fetched(ordered[:page.limit + 1], page, lambda i: _json_key(key(i)), render)


def _cmp_key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list | tuple) else key


def _json_key(key: Any) -> Any:
    return list(key) if isinstance(key, tuple) else key
