"""A plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on every request): a request id for the
audit trail and the response, and the security headers every page and answer carries."""

from __future__ import annotations

import itertools
import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.context import request_id_var

CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
_STATIC_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


# Request ids: a random prefix per process and a counter: unique without a system call per request.
_PREFIX = secrets.token_hex(8)
_SERIAL = itertools.count(1)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = f"{_PREFIX}{next(_SERIAL):016x}"
        # Swagger UI needs its inline start-up script; everything else gets the strict policy.
        strict = not str(scope.get("path", "")).startswith("/docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                for name, value in _STATIC_HEADERS:
                    headers.setdefault(name, value)
                if strict:
                    headers.setdefault("Content-Security-Policy", CSP)
            await send(message)

        token = request_id_var.set(rid)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)
