"""CSRF protection for every form: a signed double-submit token.

A random ``anzhi_csrf`` cookie (HttpOnly, SameSite=Strict) is set on the first page; each form carries an HMAC of
it under the application secret, and every form POST must present a token matching its cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from app.config import get_settings
from app.core.errors import Forbidden

CSRF_COOKIE = "anzhi_csrf"
CSRF_FIELD = "csrf_token"


def _sign(value: str) -> str:
    key = hashlib.sha256(("csrf:" + get_settings().secret_key).encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def csrf_cookie_value(request: Request) -> str:
    """The request's CSRF cookie, or a fresh one that the response will set (see ``attach_cookie``)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = value
    return value


def csrf_token(request: Request) -> str:
    return _sign(csrf_cookie_value(request))


def attach_cookie(request: Request, response: Response) -> None:
    value = getattr(request.state, "new_csrf_cookie", None)
    if value and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE,
            value,
            httponly=True,
            samesite="strict",
            secure=get_settings().cookie_secure,
            path="/",
        )


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(_sign(cookie), submitted):
        raise Forbidden("页面已过期或来源不明（安全校验未通过），请刷新页面后重新提交")
