"""Kit uploads, one set of rules for the API's raw body (``POST /api/v1/kits``) and the console's
multipart form (``/kits/upload``): at most ``STELLA_MAX_UPLOAD`` bytes (default 64 GiB), a safe
file name under the home's ``uploads/`` folder, and the same 413 telling what to do instead."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from fastapi import Request

from appliance.home import Home
from appliance.web.errors import HTTPProblem
from appliance.web.jobs import uploads

DEFAULT_MAX_UPLOAD = 64 << 30
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_INSTEAD = "import it with stella import on the appliance, or raise STELLA_MAX_UPLOAD"


def max_upload() -> int:
    return int(os.environ.get("STELLA_MAX_UPLOAD") or DEFAULT_MAX_UPLOAD)


def too_large(limit: int, declared: int | None = None) -> HTTPProblem:
    """413 ``upload-too-large``: the size given (or "over the limit") and what to do instead."""
    size = f"{declared} bytes" if declared is not None else f"over {limit} bytes"
    return HTTPProblem(413, "upload-too-large", f"the kit is {size}; this service takes at most {limit} ({_INSTEAD})")


def refuse_declared(request: Request, limit: int, slack: int = 0) -> None:
    """Refuse before reading when the request says it is bigger than *limit* (+ *slack* for a form's framing)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + slack:
        raise too_large(limit, int(declared))


def new_path(home: Home, filename: str) -> tuple[Path, str]:
    """A fresh path in ``uploads/`` (made 0700) for a file the client called *filename*: path, safe name."""
    folder = uploads(home)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = _SAFE_NAME.sub("_", os.path.basename(filename)).lstrip(".")[:200] or "upload.stella-kit"
    return folder / f"{secrets.token_hex(8)}-{name}", name
