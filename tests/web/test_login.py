"""Signing in and out of the pages: session cookie, safe redirects, failures that persist and slow down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.deps import SESSION_COOKIE
from app.auth.models import AuthSession, LoginThrottle
from tests.web.pages import csrf, input_value, login, text_of


async def test_pages_need_a_login_and_come_back_after_it(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.get("/villages")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/villages"

    token = await csrf(client, "/login?next=/villages")
    r = await client.post(
        "/login",
        data={"csrf_token": token, "username": "cw_a", "password": "test-password-1", "next": "/villages"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/villages"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=28800" in cookie

    page = text_of((await client.get("/villages")).text)
    assert "cw_a" in page and "村级经办员" in page and "前方庄村" in page
    assert "操作记录" not in page.replace(
        "查看完整号码会记入操作记录", ""
    )  # no auditor links for a caseworker


async def test_login_only_returns_to_local_pages(client: httpx.AsyncClient, seed: Any) -> None:
    token = await csrf(client)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        r = await client.post(
            "/login",
            data={"csrf_token": token, "username": "cw_a", "password": "test-password-1", "next": target},
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/", target
        client.cookies.delete(SESSION_COOKIE)


async def test_wrong_password_keeps_the_username_and_is_counted(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession
) -> None:
    token = await csrf(client)
    r = await client.post(
        "/login", data={"csrf_token": token, "username": "cw_a", "password": "wrong-password"}
    )
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert input_value(r.text, "username") == "cw_a"
    assert "wrong-password" not in r.text
    throttle = await db.get(LoginThrottle, "cw_a")
    assert throttle is not None and throttle.failures == 1
    failed = await db.scalar(
        select(func.count()).where(
            AuditEvent.action == "auth.login_failed", AuditEvent.actor_username == "cw_a"
        )
    )
    assert failed == 1
    assert SESSION_COOKIE not in r.cookies


async def test_repeated_failures_slow_down_logins(
    client: httpx.AsyncClient, seed: Any, pinned_clock: Any
) -> None:
    pinned_clock(datetime(2024, 5, 20, 2, 0, 0, tzinfo=UTC))
    token = await csrf(client)
    for _ in range(3):
        r = await client.post(
            "/login", data={"csrf_token": token, "username": "cw_b", "password": "nope-nope"}
        )
        assert r.status_code == 401
    # Even the right password must wait now.
    r = await client.post(
        "/login", data={"csrf_token": token, "username": "cw_b", "password": "test-password-1"}
    )
    assert r.status_code == 429
    assert "登录失败次数较多，请 2 秒后再试" in r.text
    assert r.headers["retry-after"] == "2"
    assert input_value(r.text, "username") == "cw_b"

    pinned_clock(datetime(2024, 5, 20, 2, 0, 3, tzinfo=UTC))
    r = await client.post(
        "/login", data={"csrf_token": token, "username": "cw_b", "password": "test-password-1"}
    )
    assert r.status_code == 303


async def test_empty_login_form_says_what_is_missing(client: httpx.AsyncClient, seed: Any) -> None:
    token = await csrf(client)
    r = await client.post("/login", data={"csrf_token": token, "username": "cw_a", "password": ""})
    assert r.status_code == 422
    assert "请填写用户名和密码" in r.text


async def test_login_form_needs_its_csrf_token(client: httpx.AsyncClient, seed: Any) -> None:
    await client.get("/login")
    r = await client.post("/login", data={"username": "cw_a", "password": "test-password-1"})
    assert r.status_code == 403
    assert "安全校验未通过" in r.text
    assert SESSION_COOKIE not in r.cookies


async def test_logout_ends_the_session(client: httpx.AsyncClient, seed: Any, db: AsyncSession) -> None:
    await login(client, "cw_a")
    sessions = await db.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.kind == "web"))
    page = (await client.get("/villages")).text
    assert "退出登录" in page
    token = await csrf(client, "/villages")

    r = await client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    after = await db.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.kind == "web"))
    assert after == (sessions or 0) - 1

    r = await client.get("/login")
    assert "已退出登录" in r.text
    r = await client.get("/villages")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_logged_in_visit_to_login_goes_home(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "aud")
    r = await client.get("/login")
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = await client.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/villages"
