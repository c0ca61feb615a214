"""FastAPI dependencies that identify the caller: bearer tokens for the API, the session cookie for pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.policy import Principal
from app.core.errors import NotAuthenticated
from app.db import get_session

SESSION_COOKIE = "anzhi_session"

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def api_principal(session: Session, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise NotAuthenticated("请先登录（缺少访问令牌）")
    principal = await service.principal_from_token(session, token, "api")
    if principal is None:
        raise NotAuthenticated("访问令牌无效或已过期，请重新登录")
    return principal


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


async def optional_web_principal(request: Request, session: Session) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    principal = await service.principal_from_token(session, token, "web")
    request.state.principal = principal
    return principal


async def web_principal(
    request: Request, principal: Annotated[Principal | None, Depends(optional_web_principal)]
) -> Principal:
    if principal is None:
        raise LoginRequired(request.url.path)
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]
WebPrincipal = Annotated[Principal, Depends(web_principal)]
