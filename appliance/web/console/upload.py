"""Uploading a kit from the console without JavaScript: a plain ``multipart/form-data`` post
(the form's hidden CSRF field first, then the file), parsed as it streams in.

Starlette's form parser would spool the whole file to a temporary folder before the route
sees the CSRF field; here the body is parsed part by part (python-multipart's streaming
parser), the CSRF field is checked *before* a single byte of the file is stored, and the
file goes straight into the home's ``uploads/`` folder under the same size limit as
``POST /api/v1/kits`` (appliance/web/uploads.py). Then a plan job starts (work.py): the
import waits for a person to read the plan and confirm.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from appliance.home import Home
from appliance.web import uploads
from appliance.web.auth import CSRF_FIELD
from appliance.web.caller import Caller
from appliance.web.errors import HTTPProblem

FILE_FIELD = "kit"
_MAX_FIELD = 4096          # bytes of a non-file field (the CSRF token is 43)


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class Received:
    path: Path
    name: str
    size: int


class _FormKit:
    """The parser's callbacks: fields kept small, the one file written to *folder*."""

    def __init__(self, who: Caller, home: Home, limit: int) -> None:
        self.who, self.home, self.limit = who, home, limit
        self.csrf_ok = False
        self.part = _Part()
        self._field, self._value = bytearray(), bytearray()
        self.out: IO[bytes] | None = None
        self.path: Path | None = None
        self.name = ""
        self.size = 0

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[bytes(self._field).lower()] = bytes(self._value)
        self._field, self._value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = params.get(b"name", b"").decode("utf-8", "replace")
        raw = params.get(b"filename")
        self.part.filename = raw.decode("utf-8", "replace") if raw is not None else None
        if self.part.name == FILE_FIELD:
            if not self.csrf_ok:        # nothing of the file is stored before the CSRF field was checked
                raise HTTPProblem(403, "csrf", f"a kit upload needs the session's CSRF token (form field "
                                               f"{CSRF_FIELD}, before the file)")
            if self.out is not None:
                raise HTTPProblem(400, "bad-request", "one kit per upload")
            self.path, self.name = uploads.new_path(self.home, self.part.filename or "")
            self.out = open(self.path, "xb")  # noqa: SIM115  (closed by finish/abort)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name == FILE_FIELD and self.out is not None:
            self.size += end - start
            if self.size > self.limit:
                raise uploads.too_large(self.limit)
            self.out.write(data[start:end])
            return
        if len(self.part.value) + end - start > _MAX_FIELD:
            raise HTTPProblem(400, "bad-request", f"form field {self.part.name[:40]!r} is too long")
        self.part.value += data[start:end]

    def on_part_end(self) -> None:
        if self.part.name == CSRF_FIELD and self.out is None:
            expected = self.who.csrf_token or ""
            given = bytes(self.part.value)
            self.csrf_ok = bool(expected) and hmac.compare_digest(given, expected.encode())

    def finish(self) -> Received:
        if self.out is None or self.path is None:
            raise HTTPProblem(400, "bad-request", f"no kit in the form (file field {FILE_FIELD!r})")
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        if self.size == 0:
            self.path.unlink(missing_ok=True)
            raise HTTPProblem(400, "empty-upload", "the kit file is empty")
        return Received(self.path, self.name, self.size)

    def abort(self) -> None:
        if self.out is not None:
            self.out.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive(request: Request, home: Home, who: Caller) -> Received:
    """Stream the form's kit into ``uploads/`` once its CSRF field proved the session (403 otherwise)."""
    if who.via != "session":
        raise HTTPProblem(403, "csrf", "the console's upload form is for a logged-in session; scripts use "
                                       "POST /api/v1/kits")
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPProblem(400, "bad-request", "a kit upload is a multipart/form-data form post")
    limit = uploads.max_upload()
    uploads.refuse_declared(request, limit, slack=64 * 1024)       # the form's framing around the file
    form = _FormKit(who, home, limit)
    parser = MultipartParser(boundary, {
        "on_part_begin": form.on_part_begin, "on_part_data": form.on_part_data, "on_part_end": form.on_part_end,
        "on_header_field": form.on_header_field, "on_header_value": form.on_header_value,
        "on_header_end": form.on_header_end, "on_headers_finished": form.on_headers_finished})
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        return form.finish()
    except FormParserError as exc:
        form.abort()
        raise HTTPProblem(400, "bad-request", f"malformed form upload: {str(exc)[:200]}") from None
    except BaseException:
        form.abort()
        raise
