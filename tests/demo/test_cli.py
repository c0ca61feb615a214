"""The ``anzhi`` command line against the test database (read-only here: nothing these tests run commits)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app import cli
from app.audit import service as audit_service
from app.audit.rules import ChainBreak


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, list(args), input=stdin)
    return result.exit_code, result.output


def test_help_lists_the_commands() -> None:
    code, out = run("--help")
    assert code == 0
    for command in ("serve", "migrate", "demo", "users", "audit"):
        assert command in out


def test_audit_verify_intact(database_url: str) -> None:
    code, out = run("audit", "verify")
    assert code == 0, out
    assert "审计链完整" in out


def test_audit_verify_broken_exits_1(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(_session: object, **_kw: object) -> audit_service.VerifyResult:
        return audit_service.VerifyResult(False, 6, ChainBreak(7, "哈希不符"), 6)

    monkeypatch.setattr(audit_service, "verify_chain", broken)
    code, out = run("audit", "verify")
    assert code == 1
    assert "第 7 条" in out and "seq 7" in out


def test_users_create_refuses_an_unknown_area(database_url: str) -> None:
    code, out = run(
        "users",
        "create",
        "someone",
        "--role",
        "caseworker",
        "--area",
        "999999999999",
        "--full-name",
        "某人",
        "--password-stdin",
        stdin="long-enough-password\n",
    )
    assert code == 1
    assert "找不到区划代码" in out and "未创建账号" in out


def test_users_create_refuses_an_unknown_role(database_url: str) -> None:
    code, _out = run(
        "users", "create", "someone", "--role", "mayor", "--area", "410727", "--full-name", "某人"
    )
    assert code == 2


def test_users_create_prompts_twice_and_audits(seed: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The success path, rolled back at the end instead of committed."""
    from collections.abc import Awaitable, Callable
    from typing import Any

    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.audit.models import AuditEvent
    from app.db import create_app_engine, make_sessionmaker

    seen: dict[str, Any] = {}

    async def rolled_back(settings: Any, url: str, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        engine = await create_app_engine(settings, url)
        try:
            async with make_sessionmaker(engine)() as session:
                try:
                    result = await work(session)
                    event = await session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
                    assert event is not None
                    seen["event"] = (event.action, event.actor_username, (event.after or {}).get("username"))
                    return result
                finally:
                    await session.rollback()
        finally:
            await engine.dispose()

    monkeypatch.setattr(cli, "_in_transaction", rolled_back)
    code, out = run(
        "users",
        "create",
        "newreviewer",
        "--role",
        "reviewer",
        "--area",
        "410727101",
        "--full-name",
        "周志强",
        stdin="secret-pass-1\nsecret-pass-1\n",
    )
    assert code == 0, out
    assert "已创建账号 newreviewer（周志强，乡镇审核员）" in out
    assert "secret-pass-1" not in out
    assert seen["event"] == ("user.create", "system", "newreviewer")


def test_no_demo_data_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import Settings

    production = Settings(ANZHI_ENV="production", secret_key="a-real-secret-key-0123456789")
    monkeypatch.setattr(cli, "get_settings", lambda: production)
    for args in (["demo"], ["serve", "--demo"]):
        code, out = run(*args)
        assert code == 1
        assert "不载入演示数据" in out


def test_audit_verify_without_a_database_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import Settings

    unreachable = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:9/nowhere")
    monkeypatch.setattr(cli, "get_settings", lambda: unreachable)
    code, out = run("audit", "verify")
    assert code == 3
    assert "数据库操作失败" in out
