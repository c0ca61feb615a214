"""Authentication and staff accounts over JSON: OAuth2 password flow for bearer tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.deps import ApiPrincipal, Session, oauth2_scheme
from app.auth.policy import ROLE_PERMISSIONS
from app.auth.schemas import MeOut, TokenOut, UserCreate, UserOut
from app.config import get_settings
from app.core.errors import NotAuthenticated, TooManyAttempts

router = APIRouter(prefix="/api/v1", tags=["认证与用户"])

AUTH_RESPONSES: dict[int | str, dict[str, object]] = {401: {"description": "未登录或令牌无效"}}


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={401: {"description": "用户名或密码错误"}, 429: {"description": "失败次数过多"}},
)
async def issue_token(session: Session, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """用户名和密码换取访问令牌（OAuth2 password）。"""
    settings = get_settings()
    try:
        user = await service.authenticate(session, settings, form.username, form.password)
    except (NotAuthenticated, TooManyAttempts):
        await session.commit()  # keep the failure count and its audit event
        raise
    token = await service.open_session(session, settings, user, "api")
    return TokenOut(access_token=token, expires_in=settings.api_token_hours * 3600)


@router.post("/auth/logout", status_code=204, responses=AUTH_RESPONSES)
async def logout(
    session: Session, principal: ApiPrincipal, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """令牌作废。"""
    if token:
        await service.close_session(session, principal, token)


@router.get("/auth/me", response_model=MeOut, responses=AUTH_RESPONSES)
async def me(principal: ApiPrincipal) -> MeOut:
    return MeOut(
        username=principal.username,
        full_name=principal.full_name,
        role=principal.role,
        role_label=principal.role_label,
        county_code=principal.county_code,
        permissions=sorted(ROLE_PERMISSIONS.get(principal.role, frozenset())),
    )


@router.get(
    "/users", response_model=list[UserOut], responses={**AUTH_RESPONSES, 403: {"description": "无权"}}
)
async def list_users(session: Session, principal: ApiPrincipal) -> list[UserOut]:
    users = await service.list_users(session, principal)
    return [
        UserOut(
            id=u.id,
            username=u.username,
            full_name=u.full_name,
            role=u.role,
            county_code=u.county_code,
            is_active=u.is_active,
        )
        for u in users
    ]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    responses={
        **AUTH_RESPONSES,
        400: {"description": "请求体无法解析"},
        403: {"description": "无权"},
        409: {"description": "用户名已存在"},
        422: {"description": "输入有误"},
    },
)
async def create_user(session: Session, principal: ApiPrincipal, body: UserCreate) -> UserOut:
    user = await service.create_user(
        session,
        principal,
        username=body.username,
        full_name=body.full_name,
        role=body.role,
        password=body.password,
        area_codes=body.area_codes,
    )
    return UserOut(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        county_code=user.county_code,
        is_active=user.is_active,
    )
