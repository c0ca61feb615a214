"""Bearer tokens, expiry, logout and throttled logins over the API, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.models import LoginThrottle
from app.core import clock
from tests.seed import PASSWORD


async def _login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_token_grants_access_and_logout_revokes_it(client: httpx.AsyncClient, seed: Any) -> None:
    r = await _login(client, "cw_a")
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 12 * 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    me = (await client.get("/api/v1/auth/me", headers=auth)).json()
    assert me["role"] == "caseworker" and me["role_label"] == "村级经办员"
    assert "registry.write" in me["permissions"]
    assert (await client.post("/api/v1/auth/logout", headers=auth)).status_code == 204
    after = await client.get("/api/v1/auth/me", headers=auth)
    assert after.status_code == 401
    assert after.json()["detail"] == "访问令牌无效或已过期，请重新登录"


async def test_token_expires(client: httpx.AsyncClient, seed: Any, pinned_clock: Any) -> None:
    token = (await _login(client, "cw_a")).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/auth/me", headers=auth)).status_code == 200
    pinned_clock(clock.utcnow() + timedelta(hours=12, seconds=1))
    assert (await client.get("/api/v1/auth/me", headers=auth)).status_code == 401


async def test_wrong_password_is_counted_audited_and_then_slowed(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    for _ in range(3):
        r = await _login(client, "cw_a", "wrong-password")
        assert r.status_code == 401
        assert r.json()["detail"] == "用户名或密码错误"
    throttle = await db.get(LoginThrottle, "cw_a", populate_existing=True)
    assert throttle is not None and throttle.failures == 3
    failed = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "auth.login_failed", AuditEvent.actor_username == "cw_a")
    )
    assert failed == 3
    # Even the right password is refused while the delay runs.
    r = await _login(client, "cw_a")
    assert r.status_code == 429
    assert "秒后再试" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1


async def test_lock_after_ten_failures(client: httpx.AsyncClient, seed: Any, pinned_clock: Any) -> None:
    now = clock.utcnow()
    for i in range(10):
        pinned_clock(now + timedelta(minutes=2 * i))  # wait out each delay
        assert (await _login(client, "rv_a", "nope-nope")).status_code == 401
    pinned_clock(now + timedelta(minutes=19))
    r = await _login(client, "rv_a")
    assert r.status_code == 429 and "分钟后再试" in r.json()["detail"]
    pinned_clock(now + timedelta(minutes=18 + 16))
    assert (await _login(client, "rv_a")).status_code == 200


async def test_unknown_user_is_throttled_like_a_known_one(client: httpx.AsyncClient, seed: Any) -> None:
    for _ in range(3):
        assert (await _login(client, "nobody-here", "x")).status_code == 401
    assert (await _login(client, "nobody-here", "x")).status_code == 429


async def test_success_clears_the_counter(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    assert (await _login(client, "fin", "wrong")).status_code == 401
    assert (await _login(client, "fin")).status_code == 200
    assert await db.get(LoginThrottle, "fin", populate_existing=True) is None


async def test_api_without_token_is_401(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.get("/api/v1/villages")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
