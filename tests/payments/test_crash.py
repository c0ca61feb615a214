"""Killing the process in the middle of generating a batch or importing a bank result leaves no partial batch or
import: both run in the caller's one transaction.

These tests must commit (the worker process is a separate connection) and the journal and payment tables are
append-only, so they run in a scratch database of their own, created and migrated here and dropped at the end. A
worker (``_crash_worker.py``) starts the work with a progress callback that, once part of it is written, reports
what its transaction sees and waits; the test SIGKILLs it there, waits until its server backend is gone, and checks
from a fresh connection that nothing of it is left — then does the same work in-process to show that nothing
stands in its way (no half-made batch, no "already imported").
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import get_settings
from app.core import clock
from app.db import create_app_engine, make_sessionmaker
from app.ledger import service as ledger
from app.migrate import upgrade_to_head
from app.payments import bankfiles, service
from app.socialsecurity import service as social
from app.socialsecurity.schemas import PassbookIn
from tests.agreements.helpers import at, principal
from tests.payments.helpers import account_number, result_lines
from tests.seed import SEED, seed_once
from tests.socialsecurity.factories import DGC, QFZ, pensioners

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds: for the worker to get half-way, to die, and for its backend to go
OLD = date(1955, 5, 5)  # pension from 2023-06
PERIOD = date(2023, 6, 1)
AS_OF = date(2023, 6, 5)
WANGCUN, CHENGGUAN = "410727101", "410727102"  # the townships of 前方庄村 and 东关村
PEOPLE = 3


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a loop of our own: these tests are synchronous (the migrations run their own loop)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def _admin(url: str, sql: str) -> None:
    engine = create_async_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _with_engine(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """``work`` on a fresh engine as the application role."""
    engine = await create_app_engine(get_settings(), url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


async def _scalar(url: str, sql: str, **params: Any) -> Any:
    """One value read on a fresh connection (as the login role: it sees everything committed)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql), params)
    finally:
        await engine.dispose()


@contextmanager
def _seed_of_scratch() -> Iterator[None]:
    """``SEED`` describes the scratch database inside, the run's own database again after."""
    saved = dataclasses.asdict(SEED)
    try:
        yield
    finally:
        for name, values in saved.items():
            current = getattr(SEED, name)
            current.clear()
            current.update(values)


@dataclasses.dataclass(frozen=True)
class Scratch:
    url: str
    wangcun: int  # 王村乡: pensioners of 前方庄村, nothing generated
    chengguan_batch: int  # 城关乡's batch of the period, exported, no result yet
    result: bytes  # the bank's answer to it: paid, failed, paid and an unknown reference


def _pin(day: date) -> None:
    clock.set_clock(lambda: at(day))


async def _build(url: str) -> Scratch:
    async def build(engine: AsyncEngine) -> Scratch:
        await seed_once(engine)
        maker = make_sessionmaker(engine)
        async with maker() as s:
            fin = await principal(s, "fin")
            for village, caseworker in ((QFZ, "cw_a"), (DGC, "cw_b")):
                cw = await principal(s, caseworker)
                for e in await pensioners(
                    s, lambda moment: clock.set_clock(lambda: moment), [OLD] * PEOPLE, village=village
                ):
                    await social.set_passbook(
                        s,
                        cw,
                        e.id,
                        PassbookIn(account_number=account_number(e.id), opened_on=date(2023, 5, 30)),
                    )
            _pin(date(2023, 6, 1))
            await ledger.deposit(
                s, fin, amount=100_000_000, posted_on=date(2023, 6, 1), memo="财政拨入社保资金"
            )
            await s.commit()
        async with maker() as s:
            fin, fin2 = await principal(s, "fin"), await principal(s, "fin2")
            _pin(AS_OF)
            batch = (
                await service.generate_pension_batch(
                    s, fin, PERIOD, scope_area_id=SEED.areas[CHENGGUAN], as_of=AS_OF
                )
            ).batch
            _pin(date(2023, 6, 6))
            await service.approve_batch(s, fin2, batch.id)
            await service.export_batch(s, fin, batch.id, "psbc")
            first, second, third = await result_lines(s, batch)
            answer = [
                first,
                dataclasses.replace(second, paid=False, reason="账户已销户"),
                third,
                dataclasses.replace(first, seq=99, reference=f"{batch.number}-0000099"),
            ]
            result = bankfiles.result_file("psbc", batch.number, answer)
            await s.commit()
            return Scratch(url, SEED.areas[WANGCUN], batch.id, result)

    try:
        return await _with_engine(url, build)
    finally:
        clock.set_clock(None)


@pytest.fixture(scope="module")
def scratch(database_url: str) -> Iterator[Scratch]:
    name = f"{make_url(database_url).database}_crash"
    _run(_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    _run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        upgrade_to_head(url)
        with _seed_of_scratch():
            built = _run(_build(url))
        yield built
    finally:
        _run(_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _backend_gone(url: str, pid: int) -> None:
    deadline = time.monotonic() + WAIT
    while await _scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid", pid=pid):
        if time.monotonic() > deadline:
            pytest.fail(f"the killed worker's server backend {pid} is still there after {WAIT:.0f} s")
        await asyncio.sleep(0.05)


def _kill_midway(scratch: Scratch, tmp_path: Path, args: dict[str, Any]) -> dict[str, Any]:
    """Start the worker, wait for its report (it is then half-way and waiting), SIGKILL it, wait until its
    database backend has ended (its transaction rolled back); return what it had written by then."""
    report = tmp_path / "report.json"
    stderr_path = tmp_path / "worker.err"
    command = [
        sys.executable,
        "-m",
        "tests.payments._crash_worker",
        json.dumps({**args, "url": scratch.url, "report": str(report)}),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with stderr_path.open("wb") as stderr:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
        try:
            deadline = time.monotonic() + WAIT
            while not report.exists():
                if worker.poll() is not None:
                    pytest.fail(
                        f"the worker ended ({worker.returncode}) before reporting:\n{stderr_path.read_text()}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail(f"no report from the worker after {WAIT:.0f} s:\n{stderr_path.read_text()}")
                time.sleep(0.02)
            seen: dict[str, Any] = json.loads(report.read_text())
            worker.send_signal(signal.SIGKILL)
            assert worker.wait(timeout=WAIT) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=WAIT)
    _run(_backend_gone(scratch.url, int(seen["backend"])))
    return seen


async def _in_rolled_back_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def go(engine: AsyncEngine) -> T:
        async with engine.connect() as conn:
            trans = await conn.begin()
            try:
                session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint", autoflush=False)
                try:
                    return await work(session)
                finally:
                    await session.close()
            finally:
                await trans.rollback()

    return await _with_engine(url, go)


def test_a_killed_generation_leaves_no_batch(scratch: Scratch, tmp_path: Path) -> None:
    url = scratch.url
    journal_before = _run(_scalar(url, "SELECT count(*) FROM journal_transactions"))
    audit_before = _run(
        _scalar(url, "SELECT count(*) FROM audit_events WHERE action = 'payment_batch.generate'")
    )

    seen = _kill_midway(
        scratch,
        tmp_path,
        {
            "mode": "generate",
            "period": PERIOD.isoformat(),
            "as_of": AS_OF.isoformat(),
            "scope_area_id": scratch.wangcun,
            "chunk": 1,  # one enrollment per chunk: killed after the first of three
            "hold_at": 1,
        },
    )
    # Half-way: the batch, its first line and the months it claimed were written (uncommitted).
    assert seen["step"] == 1 and seen["total"] == PEOPLE
    assert seen["batch"] > 0 and seen["lines"] == 1 and seen["claimed"] >= 1

    scope = {"s": scratch.wangcun, "p": PERIOD}
    assert (
        _run(_scalar(url, "SELECT count(*) FROM payment_batches WHERE scope_area_id = :s", s=scope["s"])) == 0
    )
    assert _run(_scalar(url, "SELECT count(*) FROM payment_lines WHERE batch_id = :b", b=seen["batch"])) == 0
    # Only 城关乡's batch claimed months of the period; 前方庄村's pensioners have none in the register.
    assert (
        _run(
            _scalar(
                url,
                "SELECT count(*) FROM pension_months pm JOIN areas a ON pm.area_path LIKE a.path || '%' "
                "WHERE a.id = :s",
                s=scope["s"],
            )
        )
        == 0
    )
    assert _run(_scalar(url, "SELECT count(*) FROM pension_months WHERE period = :p", p=scope["p"])) == PEOPLE
    assert _run(_scalar(url, "SELECT count(*) FROM journal_transactions")) == journal_before
    assert (
        _run(_scalar(url, "SELECT count(*) FROM audit_events WHERE action = 'payment_batch.generate'"))
        == audit_before
    )

    # Nothing stands in the way of generating it now (in a transaction rolled back again).
    async def generate(session: AsyncSession) -> tuple[bool, int]:
        fin = await principal(session, "fin")
        done = await service.generate_pension_batch(
            session, fin, PERIOD, scope_area_id=scratch.wangcun, as_of=AS_OF, chunk=1
        )
        return done.created, done.lines

    assert _run(_in_rolled_back_session(url, generate)) == (True, PEOPLE)


@pytest.mark.parametrize("hold_at", [2, 3], ids=["staged", "outcomes-written"])
def test_a_killed_import_leaves_no_import(scratch: Scratch, tmp_path: Path, hold_at: int) -> None:
    url, batch = scratch.url, scratch.chengguan_batch
    journal_before = _run(
        _scalar(url, "SELECT count(*) FROM journal_transactions WHERE batch_id = :b", b=batch)
    )
    result_file = tmp_path / "回盘.txt"
    result_file.write_bytes(scratch.result)

    seen = _kill_midway(
        scratch,
        tmp_path,
        {
            "mode": "import",
            "batch_id": batch,
            "fmt": "psbc",
            "file": str(result_file),
            "resolved_on": "2023-06-08",
            "hold_at": hold_at,
        },
    )
    # Half-way: the file was staged (step 2); then its outcomes and exceptions were written (step 3), uncommitted.
    assert seen["staged"] == 4
    if hold_at == 2:
        assert (seen["imports"], seen["outcomes"], seen["exceptions"]) == (0, 0, 0)
    else:
        assert (seen["imports"], seen["outcomes"], seen["exceptions"]) == (1, 3, 1)

    assert _run(_scalar(url, "SELECT count(*) FROM result_imports WHERE batch_id = :b", b=batch)) == 0
    assert (
        _run(
            _scalar(
                url,
                "SELECT count(*) FROM line_outcomes o JOIN payment_lines l ON l.id = o.line_id "
                "WHERE l.batch_id = :b",
                b=batch,
            )
        )
        == 0
    )
    assert _run(_scalar(url, "SELECT count(*) FROM bank_exceptions WHERE batch_id = :b", b=batch)) == 0
    assert _run(_scalar(url, "SELECT status FROM payment_batches WHERE id = :b", b=batch)) == "exported"
    assert (
        _run(_scalar(url, "SELECT count(*) FROM journal_transactions WHERE batch_id = :b", b=batch))
        == journal_before
    )

    # The same file imports now (in a transaction rolled back again): it was never imported.
    async def import_(session: AsyncSession) -> tuple[int, int, int]:
        fin = await principal(session, "fin")
        done = await service.import_results(
            session,
            fin,
            batch,
            fmt="psbc",
            filename="回盘.txt",
            content=scratch.result,
            resolved_on=date(2023, 6, 8),
        )
        return done.paid, done.failed, done.exceptions

    assert _run(_in_rolled_back_session(url, import_)) == (2, 1, 1)


def test_a_generated_batch_can_be_committed(scratch: Scratch) -> None:
    """Last in this module: 王村乡's batch of the period, committed as the application's unit of work would."""

    async def generate(engine: AsyncEngine) -> None:
        async with make_sessionmaker(engine)() as session:
            fin = await principal(session, "fin")
            await service.generate_pension_batch(
                session, fin, PERIOD, scope_area_id=scratch.wangcun, as_of=AS_OF
            )
            await session.commit()

    _run(_with_engine(scratch.url, generate))
    assert (
        _run(
            _scalar(
                scratch.url,
                "SELECT line_count FROM payment_batches WHERE scope_area_id = :s",
                s=scratch.wangcun,
            )
        )
        == PEOPLE
    )
