"""``anzhi payments generate``, ``anzhi payments import`` and ``anzhi ledger trial-balance`` against the test
database: each command's transaction is replaced by one that first builds what the command needs (pensioners, an
exported batch …) and is rolled back at the end instead of committed."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app import cli
from app.audit.models import AuditEvent
from app.ledger.service import AccountBalance
from app.payments import bankfiles, service
from tests.agreements.helpers import at, principal
from tests.payments.helpers import result_lines, world
from tests.socialsecurity.factories import Pin

OLD = date(1955, 5, 5)  # 68 at enrollment: pension from 2023-06
Prepare = Callable[[AsyncSession], Awaitable[None]]
Work = Callable[[AsyncSession], Awaitable[Any]]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def rolled_back(monkeypatch: pytest.MonkeyPatch, prepare: Prepare | None = None) -> dict[str, Any]:
    """Run the command's work after ``prepare`` in one session that is rolled back; what the last audit event
    says is left in the returned dict under ``event``."""
    from app.db import create_app_engine, make_sessionmaker

    seen: dict[str, Any] = {}

    async def in_transaction(settings: Any, url: str, work: Work) -> Any:
        engine = await create_app_engine(settings, url)
        try:
            async with make_sessionmaker(engine)() as session:
                try:
                    if prepare is not None:
                        await prepare(session)
                    result = await work(session)
                    event = await session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
                    if event is not None:
                        seen["event"] = (event.action, event.actor_username, event.after or {})
                    return result
                finally:
                    await session.rollback()
        finally:
            await engine.dispose()

    monkeypatch.setattr(cli, "_in_transaction", in_transaction)
    return seen


def _pensioners(pin: Pin, count: int = 3) -> Prepare:
    async def prepare(session: AsyncSession) -> None:
        await world(session, pin, [OLD] * count)
        pin(at(date(2023, 6, 5)))

    return prepare


def test_generate_prints_a_line_per_chunk_and_the_batch(
    seed: Any, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CHUNK_ENROLLMENTS", 1)  # one enrollment per chunk: several chunks
    seen = rolled_back(monkeypatch, _pensioners(pinned_clock))
    code, out = run("payments", "generate", "--period", "2023-06", "--scope", "410727")
    assert code == 0, out
    steps = [(int(done), int(total)) for done, total in re.findall(r"第 (\d+)/(\d+) 段", out)]
    assert len(steps) >= 3 and steps[-1][0] == steps[-1][1] == len(steps), out
    assert "已生成发放批次 YL202306-410727（封丘县，2023-06）：3 笔，合计 780.00 元" in out
    assert "另一位财政人员审核" in out
    action, actor, after = seen["event"]
    assert (action, actor, after["number"], after["lines"]) == (
        "payment_batch.generate",
        "system",
        "YL202306-410727",
        3,
    )


def test_generate_a_township_and_an_existing_batch(
    seed: Any, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare = _pensioners(pinned_clock, 1)
    rolled_back(monkeypatch, prepare)
    code, out = run("payments", "generate", "--period", "2023-06", "--scope", "410727101")
    assert code == 0, out
    assert "已生成发放批次 YL202306-410727101（王村乡，2023-06）：1 笔，合计 260.00 元" in out

    async def generated_before(session: AsyncSession) -> None:
        await prepare(session)
        await service.generate_pension_batch(session, await principal(session, "fin"), date(2023, 6, 1))

    rolled_back(monkeypatch, generated_before)
    code, out = run("payments", "generate", "--period", "2023-06", "--scope", "410727")
    assert code == 0, out
    assert "YL202306-410727 已经存在（待审核，1 笔，合计 260.00 元），没有重复生成" in out


def test_generate_refusals(seed: Any, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned_clock(at(date(2023, 6, 5)))
    rolled_back(monkeypatch)
    code, out = run("payments", "generate", "--period", "2023-13")
    assert code == 2 and "不存在的年月：2023-13" in out and "--period" in out, out
    code, out = run("payments", "generate", "--period", "2023-06", "--scope", "410727101201")
    assert code == 1 and "不是县或乡镇" in out and "未生成发放批次" in out, out
    code, out = run("payments", "generate", "--period", "2023-06", "--scope", "999999")
    assert code == 1 and "找不到区划代码 999999" in out, out
    # The test database holds two counties: which one must be said.
    code, out = run("payments", "generate", "--period", "2023-06")
    assert code == 1 and "--scope" in out and "410726 延津县" in out, out
    code, out = run("payments", "generate", "--period", "2023-08", "--scope", "410727")
    assert code == 1 and "未来" in out, out
    code, out = run("payments", "generate", "--period", "2023-06", "--scope", "410727")
    assert code == 1 and "没有应发放的养老金" in out, out


def test_import_prints_each_step_and_the_outcome(
    seed: Any, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result_file = tmp_path / "回盘.txt"
    result_file.write_bytes(b"")  # written once the batch exists, before the command reads it

    async def exported(session: AsyncSession) -> None:
        await _pensioners(pinned_clock)(session)
        fin = await principal(session, "fin")
        batch = (await service.generate_pension_batch(session, fin, date(2023, 6, 1))).batch
        pinned_clock(at(date(2023, 6, 6)))
        await service.approve_batch(session, await principal(session, "fin2"), batch.id)
        await service.export_batch(session, fin, batch.id, "psbc")
        lines = await result_lines(session, batch)
        failed = dataclasses.replace(lines[1], paid=False, reason="账户已冻结")
        unknown = dataclasses.replace(lines[0], seq=77, reference=f"{batch.number}-0000077")
        result_file.write_bytes(
            bankfiles.result_file("psbc", batch.number, [lines[0], failed, lines[2], unknown])
        )

    seen = rolled_back(monkeypatch, exported)
    code, out = run("payments", "import", "--batch", "YL202306-410727", "--format", "psbc", str(result_file))
    assert code == 0, out
    assert re.findall(r"第 (\d)/4 步", out) == ["1", "2", "3", "4"], out
    assert (
        "已导入回盘文件 回盘.txt（批次 YL202306-410727）：成功 2 笔 520.00 元，失败 1 笔 260.00 元，差错 1 条；"
        "批次状态：已导入结果" in out
    ), out
    assert "处理差错" in out
    action, actor, after = seen["event"]
    assert (action, actor, after["file"], after["exceptions"]) == (
        "payment_batch.import",
        "system",
        "回盘.txt",
        1,
    )


def test_import_refusals(
    seed: Any, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rolled_back(monkeypatch)
    result_file = tmp_path / "r.txt"
    result_file.write_bytes(b"T|0|0.00|YL202306-410727\r\n")
    code, out = run("payments", "import", "--batch", "YL209901-410727", str(result_file))
    assert code == 1 and "找不到批次号为 YL209901-410727 的发放批次" in out, out
    code, out = run("payments", "import", "--batch", "YL209901-410727", "--format", "pdf", str(result_file))
    assert code == 2 and "psbc" in out, out
    code, out = run("payments", "import", "--batch", "YL209901-410727", str(tmp_path / "missing.txt"))
    assert code == 2, out


def test_trial_balance_per_county(seed: Any, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch) -> None:
    rolled_back(monkeypatch, _pensioners(pinned_clock, 1))
    code, out = run("ledger", "trial-balance")
    assert code == 0, out
    assert "封丘县（410727）试算平衡表" in out and "延津县" not in out
    for code_, amount in (
        ("ss.bank", "1,000,000.00"),
        ("ss.pool", "976,000.00"),
        ("ss.individual.", "24,000.00"),
    ):
        assert any(line.startswith(code_) and amount in line for line in out.splitlines()), (code_, out)
    assert re.search(r"合计\s+1,024,000.00\s+1,024,000.00", out), out
    assert "借贷平衡" in out

    rolled_back(monkeypatch, _pensioners(pinned_clock, 1))
    code, out = run("ledger", "trial-balance", "--county", "410726")
    assert code == 0 and "尚无会计科目" in out, out


def test_trial_balance_that_does_not_balance_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses unbalanced transactions; should the books still disagree, the command says so."""

    async def unbalanced(_session: AsyncSession, _county: str | None = None) -> list[cli.CountyTrialBalance]:
        row = AccountBalance(1, "ss.bank", "asset", "资产", "社保基金专户存款", None, 100, 0)
        return [cli.CountyTrialBalance("410727", "封丘县", [row])]

    async def no_database(_settings: Any, _url: str, work: Work) -> Any:
        return await work(None)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "trial_balances", unbalanced)
    monkeypatch.setattr(cli, "_in_transaction", no_database)
    monkeypatch.setattr(cli, "_database_url", lambda _settings: "unused")
    code, out = run("ledger", "trial-balance")
    assert code == 1 and "借贷不平衡：相差 1.00 元" in out, out
