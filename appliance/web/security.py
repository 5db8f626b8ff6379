"""Security headers on every response of the service (pure ASGI: no per-request task).

Kit content (release names, advisory summaries, SBOM fields, VEX justifications, policy
messages) is untrusted: besides autoescaping, the Content-Security-Policy allows no inline
script or style and no framing; nothing authenticated is cached (``no-store`` on every
response but the console's static files).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    """Adds HEADERS (and HSTS under TLS) to every HTTP response; ``Cache-Control: no-store``
    unless the path is a static file or the response set its own Cache-Control."""

    def __init__(self, app: ASGIApp, tls: bool = False) -> None:
        self.app, self.tls = app, tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in present]
                if self.tls:
                    headers.append(HSTS)
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
