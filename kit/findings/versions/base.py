"""What every ecosystem's version rules provide: parse a string into an ordered value.

Each ecosystem module exposes ``parse(text)``; the returned objects compare with ``<``
and ``==`` under that ecosystem's rules only (never compare values of two ecosystems).
``CmpVersion`` is the shared base for rules written as a three-way ``cmp``.
"""

from __future__ import annotations

from typing import Any

from kit.findings.errors import InvalidVersion


class CmpVersion:
    """A parsed version ordered by ``_cmp``; subclasses keep the original text."""

    __slots__ = ("text",)
    __hash__ = None  # type: ignore[assignment]  # equal versions may differ in text

    def __init__(self, text: str) -> None:
        self.text = text

    def _cmp(self, other: Any) -> int:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._cmp(other) == 0

    # Values of different ecosystems never compare: NotImplemented makes Python raise
    # TypeError instead of giving an order that means nothing.
    def __lt__(self, other: Any) -> bool:
        return self._cmp(other) < 0 if type(other) is type(self) else NotImplemented

    def __le__(self, other: Any) -> bool:
        return self._cmp(other) <= 0 if type(other) is type(self) else NotImplemented

    def __gt__(self, other: Any) -> bool:
        return self._cmp(other) > 0 if type(other) is type(self) else NotImplemented

    def __ge__(self, other: Any) -> bool:
        return self._cmp(other) >= 0 if type(other) is type(self) else NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


def require(text: str, ok: bool, ecosystem: str, why: str) -> None:
    """Raise ``InvalidVersion`` naming the ecosystem and the reason unless *ok*."""
    if not ok:
        raise InvalidVersion(f"{text!r} is not a valid {ecosystem} version: {why}")


def sign(value: int) -> int:
    return (value > 0) - (value < 0)
