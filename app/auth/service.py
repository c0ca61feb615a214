"""Staff accounts, login with throttling, sessions and bearer tokens, and loading the caller's scope."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.audit import service as audit
from app.auth import rules
from app.auth.models import AuthSession, LoginThrottle, User, UserArea
from app.auth.policy import ROLE_LABELS, ROLE_SCOPE_LEVEL, Perm, Principal, Role, require
from app.config import Settings
from app.core.clock import utcnow
from app.core.crypto import token_hash
from app.core.errors import Conflict, InvalidInput, NotAuthenticated, TooManyAttempts
from app.core.text import is_clean

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown user the same as for a known one.
_DUMMY_HASH = _hasher.hash("anzhi-dummy-password")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def policy_from(settings: Settings) -> rules.ThrottlePolicy:
    return rules.ThrottlePolicy(
        settings.login_slow_after, settings.login_lock_after, settings.login_lock_minutes
    )


def _scope_paths(user_id: Any) -> Any:
    return (
        select(func.array_agg(Area.path))
        .join(UserArea, UserArea.area_id == Area.id)
        .where(UserArea.user_id == user_id)
        .scalar_subquery()
    )


def _principal(user: User, paths: Sequence[str] | None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        county_code=user.county_code,
        scope_paths=tuple(sorted(paths or ())),
        full_name=user.full_name,
    )


async def principal_for(session: AsyncSession, user: User) -> Principal:
    return _principal(user, await session.scalar(select(_scope_paths(user.id))))


async def authenticate(session: AsyncSession, settings: Settings, username: str, password: str) -> User:
    """Check a password, throttling repeated failures per username. Raises ``NotAuthenticated`` or
    ``TooManyAttempts``; failures are counted and audited in this transaction, so the caller must commit."""
    policy = policy_from(settings)
    key = username.strip().lower()[:100]
    if not key or not is_clean(key):
        # Nothing a user could have: no account, no throttle row, no query with bytes PostgreSQL refuses.
        raise NotAuthenticated("用户名或密码错误")
    now = utcnow()
    throttle = await session.get(LoginThrottle, key, with_for_update=True)
    state = rules.ThrottleState(0, None, None)
    if throttle is not None:
        state = rules.ThrottleState(throttle.failures, throttle.last_failed_at, throttle.locked_until)
    wait = rules.wait_seconds(state, now, policy)
    if wait:
        raise TooManyAttempts(rules.wait_message(wait), retry_after=wait)

    user = await session.scalar(select(User).where(User.username == key))
    ok = await anyio.to_thread.run_sync(_verify, user.password_hash if user else _DUMMY_HASH, password)
    if ok and user is not None and user.is_active:
        if throttle is not None:
            await session.delete(throttle)
        return user

    new = rules.after_failure(state, now, policy)
    await session.execute(
        pg_insert(LoginThrottle)
        .values(
            username=key,
            failures=new.failures,
            last_failed_at=new.last_failed_at,
            locked_until=new.locked_until,
        )
        .on_conflict_do_update(
            index_elements=[LoginThrottle.username],
            set_={
                "failures": new.failures,
                "last_failed_at": new.last_failed_at,
                "locked_until": new.locked_until,
            },
        )
    )
    actor = Principal(
        user_id=user.id if user else None,
        username=key[:40],
        role=user.role if user else "anonymous",
        county_code=user.county_code if user else "000000",
    )
    await audit.record(
        session,
        actor,
        "auth.login_failed",
        "user",
        user.id if user else None,
        after={"failures": state.failures + 1, "locked": new.locked_until is not None},
    )
    raise NotAuthenticated("用户名或密码错误")


async def open_session(session: AsyncSession, settings: Settings, user: User, kind: str) -> str:
    """Create a web session or API token for ``user``; returns the secret token (stored only hashed)."""
    token = secrets.token_urlsafe(32)
    hours = settings.session_hours if kind == "web" else settings.api_token_hours
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            kind=kind,
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    principal = await principal_for(session, user)
    await audit.record(session, principal, "auth.login", "user", user.id, after={"kind": kind})
    await session.flush()
    return token


async def principal_from_token(session: AsyncSession, token: str, kind: str) -> Principal | None:
    """The caller of a live session or token, with their areas, in one query (this runs on every request)."""
    row = (
        await session.execute(
            select(User, _scope_paths(User.id))
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.token_hash == token_hash(token),
                AuthSession.kind == kind,
                AuthSession.expires_at > utcnow(),
                User.is_active.is_(True),
            )
        )
    ).first()
    return None if row is None else _principal(row[0], row[1])


async def close_session(session: AsyncSession, principal: Principal, token: str) -> None:
    await session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash(token)))
    await audit.record(session, principal, "auth.logout", "user", principal.user_id)


async def purge_expired_sessions(session: AsyncSession) -> int:
    result = await session.execute(delete(AuthSession).where(AuthSession.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def create_user(
    session: AsyncSession,
    actor: Principal,
    *,
    username: str,
    full_name: str,
    role: str,
    password: str,
    area_codes: Sequence[str],
) -> User:
    """Create a staff account over the given areas, which must suit the role (villages for a caseworker, a
    township for a reviewer, the county otherwise) and lie in the actor's scope."""
    require(actor, Perm.USERS_MANAGE)
    username = username.strip().lower()
    if role not in ROLE_LABELS:
        raise InvalidInput(f"未知角色：{role}", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 位", field="password")
    if not area_codes:
        raise InvalidInput("请至少指定一个负责区域", field="area_codes")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名 {username} 已存在", field="username")
    areas = (await session.scalars(select(Area).where(Area.code.in_(list(area_codes))))).all()
    missing = set(area_codes) - {a.code for a in areas}
    if missing:
        raise InvalidInput(f"找不到区划代码：{'、'.join(sorted(missing))}", field="area_codes")
    level = ROLE_SCOPE_LEVEL[Role(role)]
    for area in areas:
        if area.level != level:
            raise InvalidInput(
                f"{ROLE_LABELS[role]}的负责区域应为{_LEVEL_CN[level]}级，{area.name}不是", field="area_codes"
            )
        if actor.user_id is not None and not actor.covers(area.path):
            raise InvalidInput(f"{area.name}不在您的管理范围内", field="area_codes")
    counties = {a.county_code for a in areas}
    if len(counties) != 1:
        raise InvalidInput("一个用户的负责区域须在同一个县内", field="area_codes")
    user = User(
        username=username,
        full_name=full_name.strip(),
        role=role,
        county_code=counties.pop(),
        password_hash=await anyio.to_thread.run_sync(hash_password, password),
    )
    session.add(user)
    await session.flush()
    session.add_all([UserArea(user_id=user.id, area_id=a.id) for a in areas])
    await audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after={"username": username, "full_name": user.full_name, "role": role, "areas": sorted(area_codes)},
        county_code=user.county_code,
    )
    await session.flush()
    return user


_LEVEL_CN = {"county": "县", "township": "乡镇", "village": "村"}


async def list_users(session: AsyncSession, actor: Principal) -> Sequence[User]:
    require(actor, Perm.USERS_MANAGE)
    return (
        await session.scalars(select(User).where(User.county_code == actor.county_code).order_by(User.id))
    ).all()
