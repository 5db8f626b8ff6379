"""The server-rendered console (Jinja2, autoescaping; htmx shipped in ``static/``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response


def install(app: FastAPI) -> None:
    """Mount the console's routes and static files on *app*."""


def error_page(request: Request, status: int, body: dict[str, object]) -> Response:
    error = body.get("error")
    text = str(error.get("message")) if isinstance(error, dict) else "error"
    from html import escape
    return HTMLResponse(f"<!doctype html><title>Error</title><p>{escape(text)}</p>", status_code=status)
