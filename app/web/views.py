"""Signing in and out of the caseworker pages, and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.auth import service
from app.auth.deps import SESSION_COOKIE, Session, WebPrincipal, optional_web_principal
from app.auth.policy import Perm, Principal
from app.config import get_settings
from app.core.errors import NotAuthenticated, TooManyAttempts
from app.web.forms import FormState, read_form, safe_next
from app.web.templating import flash, render

router = APIRouter()

LOGIN_FIELDS = ("username", "password")


@router.get("/")
async def home(principal: WebPrincipal) -> RedirectResponse:
    target = "/villages" if principal.can(Perm.REGISTRY_READ) else "/audit"
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_model=None)
async def login_form(
    request: Request,
    principal: Annotated[Principal | None, Depends(optional_web_principal)],
    next_path: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return render(request, "login.html", {"form": FormState.of(LOGIN_FIELDS), "next": safe_next(next_path)})


@router.post("/login", response_model=None)
async def login(request: Request, session: Session) -> Response:
    values = await read_form(request)
    settings = get_settings()
    username = values.get("username", "").strip()
    next_path = safe_next(values.get("next"))
    state = FormState.of(LOGIN_FIELDS, {"username": username})
    if not username or not values.get("password"):
        state.add(None, "请填写用户名和密码")
        return render(request, "login.html", {"form": state, "next": next_path}, status_code=422)
    try:
        user = await service.authenticate(session, settings, username, values.get("password", ""))
    except (NotAuthenticated, TooManyAttempts) as exc:
        await session.commit()  # the failure count and its audit event must survive this response
        state.add(None, exc.message)
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        page = render(request, "login.html", {"form": state, "next": next_path}, status_code=status)
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    token = await service.open_session(session, settings, user, "web")
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


@router.post("/logout")
async def logout(
    request: Request,
    session: Session,
    principal: Annotated[Principal | None, Depends(optional_web_principal)],
) -> RedirectResponse:
    await read_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if principal is not None and token:
        await service.close_session(session, principal, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=get_settings().cookie_secure
    )
    flash(response, "已退出登录")
    return response
