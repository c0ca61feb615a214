"""Payment batches through the services on the real database: generation (regular months, the individual
account / pool split, one batch per period and scope), the two-person approval, bank files, result imports with
failures and exceptions, reconciliation, re-issue after a passbook is fixed, and the ledger agreeing to the fen."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import SYSTEM, Principal
from app.config import Settings
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.payments import bankfiles, rules, service
from app.payments.models import BankException, LineOutcome, PaymentBatch, PaymentLine, ResultImport
from app.socialsecurity import service as social
from app.socialsecurity.rules import parse_month
from app.socialsecurity.schemas import DeathIn, PassbookIn
from tests.agreements.helpers import at, principal
from tests.payments.helpers import (
    account_balance,
    account_number,
    result_lines,
    trial_balance_net,
    world,
)
from tests.socialsecurity.factories import Pin

MONTHLY = 26_000
OLD = date(1955, 5, 5)  # 68 at enrollment: pension from 2023-06


async def _generate(db: AsyncSession, period: str, day: int = 5) -> service.Generated:
    fin = await principal(db, "fin")
    return await service.generate_pension_batch(
        db, fin, parse_month(period), as_of=parse_month(period).replace(day=day)
    )


async def _approve_export(db: AsyncSession, pin: Pin, batch_id: int, day: date) -> bytes:
    pin(at(day))
    await service.approve_batch(db, await principal(db, "fin2"), batch_id)
    export = await service.export_batch(db, await principal(db, "fin"), batch_id, "psbc")
    return export.content


async def _exported_june(db: AsyncSession, pin: Pin) -> tuple[Principal, PaymentBatch]:
    """Three pensioners, June 2023's batch generated, approved and exported; the preparing finance user."""
    await world(db, pin, [OLD, OLD, OLD])
    fin = await principal(db, "fin")
    pin(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    await _approve_export(db, pin, batch.id, date(2023, 6, 6))
    return fin, batch


async def test_generate_one_line_per_pensioner_with_the_account_split(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    w = await world(db, pinned_clock, [OLD, OLD, date(1990, 1, 1)])
    pinned_clock(at(date(2023, 6, 5)))
    generated = await _generate(db, "2023-06")
    assert generated.created
    assert (generated.lines, generated.amount, generated.months) == (2, 2 * MONTHLY, 2)
    lines = (await db.scalars(select(PaymentLine).where(PaymentLine.batch_id == generated.batch.id))).all()
    assert sorted(line.seq for line in lines) == [1, 2]
    assert {line.enrollment_id for line in lines} == {w.enrollments[0].id, w.enrollments[1].id}
    for line in lines:
        assert line.months == [date(2023, 6, 1)]
        # Credit 24,000.00: the account pays the first 92 months in full.
        assert (line.account_part, line.pool_part) == (MONTHLY, 0)
        assert line.enrollment_id is not None
        assert line.account_masked.endswith(w.accounts[line.enrollment_id][-4:])
    batch = generated.batch
    assert (batch.status, batch.line_count, batch.total) == ("draft", 2, 2 * MONTHLY)
    assert batch.number == "YL202306-410727"

    again = await _generate(db, "2023-06")
    assert not again.created and again.batch.id == batch.id


async def test_account_runs_out_then_the_pool_pays(db: AsyncSession, pinned_clock: Pin) -> None:
    w = await world(db, pinned_clock, [OLD])
    # Make the credit 300.00: the first month draws 260.00 from the account, the second 40.00 + 220.00 pool.
    await db.execute(
        text("UPDATE enrollments SET old_lump_sum = fee_standard - 30000, account_credit = 30000")
    )
    pinned_clock(at(date(2023, 7, 5)))
    generated = await _generate(db, "2023-07")
    [line] = (await db.scalars(select(PaymentLine).where(PaymentLine.batch_id == generated.batch.id))).all()
    assert line.months == [date(2023, 6, 1), date(2023, 7, 1)]
    assert (line.amount, line.account_part, line.pool_part) == (2 * MONTHLY, 30000, 2 * MONTHLY - 30000)
    [e] = w.enrollments
    await db.refresh(e)
    assert (line.account_part, line.pool_part) == rules.split_line(
        e.account_credit, e.monthly_pension, e.pension_start_month, [(m, MONTHLY) for m in line.months]
    )


async def test_workflow_bank_file_results_exceptions_reissue_and_ledger(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    w = await world(db, pinned_clock, [OLD, OLD, OLD])
    fin, fin2 = await principal(db, "fin"), await principal(db, "fin2")
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch

    with pytest.raises(Forbidden):
        await service.approve_batch(db, fin, batch.id)  # the preparer cannot approve
    with pytest.raises(Conflict):
        await service.export_batch(db, fin, batch.id, "psbc")  # not approved yet
    content = await _approve_export(db, pinned_clock, batch.id, date(2023, 6, 6))
    assert content.endswith(f"T|3|780.00|{batch.number}\r\n".encode("gbk"))
    again = await service.export_batch(db, fin, batch.id, "psbc")
    assert again.content == content  # the same batch exports to the same bytes
    assert await account_balance(db, ledger_rules.SS_CLEARING) == 3 * MONTHLY

    lines = await result_lines(db, batch)
    failed = dataclasses.replace(lines[1], paid=False, reason="账户已销户")
    unknown = dataclasses.replace(lines[0], seq=99, reference=f"{batch.number}-0000099")
    result = bankfiles.result_file("psbc", batch.number, [lines[0], failed, lines[2], unknown])

    # Refused whole: another batch's file, a broken trailer; nothing is saved.
    with pytest.raises(InvalidInput, match="不是本批次"):
        await service.import_results(
            db,
            fin,
            batch.id,
            fmt="psbc",
            filename="x.txt",
            content=bankfiles.result_file("psbc", "YL202305-410727", lines),
        )
    broken = result.replace(b"T|4|", b"T|5|")
    with pytest.raises(InvalidInput, match="控制总数"):
        await service.import_results(db, fin, batch.id, fmt="psbc", filename="x.txt", content=broken)
    assert await db.scalar(select(func.count()).select_from(ResultImport)) == 0

    pinned_clock(at(date(2023, 6, 8)))
    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="回盘.txt", content=result)
    assert (outcome.paid, outcome.failed, outcome.exceptions) == (2, 1, 1)
    assert (outcome.paid_total, outcome.failed_total) == (2 * MONTHLY, MONTHLY)
    with pytest.raises(Conflict, match="导入过"):
        await service.import_results(db, fin, batch.id, fmt="psbc", filename="again.txt", content=result)

    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.batch.status, summary.paid, summary.failed, summary.pending) == ("imported", 2, 1, 0)
    [exc] = await service.exceptions(db, fin, batch.id)
    assert exc.exception.problem == "unknown" and exc.exception.row_no == 4
    with pytest.raises(InvalidInput):
        await service.resolve_exception(db, fin, exc.exception.id, resolution="paid", note="核实")
    await service.resolve_exception(
        db, fin, exc.exception.id, resolution="dismissed", note="银行误列，已退回"
    )
    report = await service.reconciliation(db, fin, batch.id)
    assert report.summary.batch.status == "reconciled"
    assert report.ledger_agrees, report.checks
    await service.close_batch(db, fin, batch.id)

    # Ledger: the fund paid 2 × 260 from individual accounts; 260 came back; nothing is left in clearing.
    assert await account_balance(db, ledger_rules.SS_CLEARING) == 0
    assert await account_balance(db, ledger_rules.SS_BANK) == 100_000_000 - 2 * MONTHLY
    assert await trial_balance_net(db) == 0
    tb = await ledger.trial_balance(db, fin)
    assert tb.debit == tb.credit

    # Next month: the failed line waits for its passbook; once fixed, its June month is re-issued with July.
    pinned_clock(at(date(2023, 7, 5)))
    failed_enrollment = w.enrollments[
        [e.id for e in w.enrollments].index(
            await db.scalar(
                select(PaymentLine.enrollment_id)
                .join(LineOutcome, LineOutcome.line_id == PaymentLine.id)
                .where(~LineOutcome.paid)
            )
        )
    ]
    await social.set_passbook(
        db,
        await principal(db, "cw_a"),
        failed_enrollment.id,
        PassbookIn(account_number=account_number(failed_enrollment.id, 1), opened_on=date(2023, 7, 1)),
    )
    july = await _generate(db, "2023-07")
    assert (july.lines, july.reissued, july.months) == (3, 1, 4)
    reissue = await db.scalar(
        select(PaymentLine).where(
            PaymentLine.batch_id == july.batch.id, PaymentLine.enrollment_id == failed_enrollment.id
        )
    )
    assert reissue is not None and reissue.months == [date(2023, 6, 1), date(2023, 7, 1)]
    assert reissue.reissue_of is not None
    assert reissue.account_masked.endswith(account_number(failed_enrollment.id, 1)[-4:])
    # The re-issue is found through the index of re-issues, which holds nothing for the other lines (0007).
    indexdef = await db.scalar(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_payment_lines_reissue_of'")
    )
    assert indexdef is not None and indexdef.endswith("WHERE (reissue_of IS NOT NULL)")
    await db.execute(text("SET LOCAL enable_seqscan = off"))
    lookup = text("SELECT id FROM payment_lines WHERE reissue_of = :failed")
    plan = "\n".join((await db.scalars(text(f"EXPLAIN {lookup.text}"), {"failed": reissue.reissue_of})).all())
    assert "ix_payment_lines_reissue_of" in plan
    assert (await db.scalars(lookup, {"failed": reissue.reissue_of})).all() == [reissue.id]
    await db.execute(text("SET LOCAL enable_seqscan = on"))
    # No month is on two live lines: the register still has one row per person and month.
    dupes = await db.scalar(
        text(
            "SELECT count(*) FROM (SELECT person_hash, month FROM pension_months GROUP BY 1, 2 HAVING count(*) > 1) d"
        )
    )
    assert dupes == 0
    assert fin2.user_id != fin.user_id


async def test_mismatched_lines_go_to_exceptions_and_resolve_once(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    await world(db, pinned_clock, [OLD, OLD])
    fin = await principal(db, "fin")
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    await _approve_export(db, pinned_clock, batch.id, date(2023, 6, 6))
    first, second = await result_lines(db, batch)
    wrong_amount = dataclasses.replace(second, amount=second.amount + 1)
    content = bankfiles.result_file("csv", batch.number, [first, wrong_amount])
    outcome = await service.import_results(db, fin, batch.id, fmt="csv", filename="r.csv", content=content)
    assert (outcome.paid, outcome.exceptions) == (1, 1)
    [exc] = await service.exceptions(db, fin, batch.id)
    assert exc.exception.problem == "amount" and "260.01" in exc.exception.detail
    await service.resolve_exception(
        db, fin, exc.exception.id, resolution="paid", note="与银行核实按 260.00 元入账"
    )
    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.paid, summary.pending, summary.batch.status) == (2, 0, "reconciled")
    # A second file answering an already resolved line: an exception, never a second outcome.
    again = bankfiles.result_file("psbc", batch.number, [first])
    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="r2.txt", content=again)
    assert (outcome.paid, outcome.exceptions) == (0, 1)
    assert await db.scalar(select(func.count()).select_from(LineOutcome)) == 2
    problems = {e.exception.problem for e in await service.exceptions(db, fin, batch.id)}
    assert problems == {"amount", "resolved"}
    assert await trial_balance_net(db) == 0


async def test_death_while_with_the_bank_makes_an_overpayment(db: AsyncSession, pinned_clock: Pin) -> None:
    w = await world(db, pinned_clock, [OLD])
    fin = await principal(db, "fin")
    pinned_clock(at(date(2023, 7, 5)))
    batch = (await _generate(db, "2023-07")).batch  # June and July
    await _approve_export(db, pinned_clock, batch.id, date(2023, 7, 6))
    pinned_clock(at(date(2023, 7, 10)))
    await social.record_death(
        db, await principal(db, "cw_a"), w.enrollments[0].id, DeathIn(death_date=date(2023, 6, 20))
    )
    content = bankfiles.result_file("psbc", batch.number, await result_lines(db, batch))
    await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=content)
    view = await social.person_view(db, fin, w.enrollments[0].id)
    assert view.overpayment is not None
    assert (view.overpayment.amount, view.overpayment.months) == (MONTHLY, [date(2023, 7, 1)])
    assert await account_balance(db, ledger_rules.SS_OVERPAID) == MONTHLY
    assert await trial_balance_net(db) == 0


async def test_export_needs_money_in_the_fund(db: AsyncSession, pinned_clock: Pin) -> None:
    await world(db, pinned_clock, [OLD], deposit=100)
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    await service.approve_batch(db, await principal(db, "fin2"), batch.id)
    with pytest.raises(Conflict, match="余额"):
        await service.export_batch(db, await principal(db, "fin"), batch.id, "psbc")


async def test_nothing_due_is_refused_and_the_future_too(db: AsyncSession, pinned_clock: Pin) -> None:
    await world(db, pinned_clock, [date(1990, 1, 1)])
    pinned_clock(at(date(2023, 6, 5)))
    with pytest.raises(Conflict, match="没有应发放"):
        await _generate(db, "2023-06")
    with pytest.raises(InvalidInput, match="未来"):
        await service.generate_pension_batch(
            db, await principal(db, "fin"), date(2023, 8, 1), as_of=date(2023, 6, 5)
        )
    with pytest.raises(Forbidden):
        await service.generate_pension_batch(db, await principal(db, "cw_a"), date(2023, 6, 1))
    assert SYSTEM.role == "system"


async def test_unresolved_line_has_no_outcome_and_exception_counts_match(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    await world(db, pinned_clock, [OLD, OLD])
    fin = await principal(db, "fin")
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    await _approve_export(db, pinned_clock, batch.id, date(2023, 6, 6))
    first, second = await result_lines(db, batch)
    # The bank lists the first payment twice (under two sequence numbers) and not the second.
    content = bankfiles.result_file("psbc", batch.number, [first, dataclasses.replace(first, seq=second.seq)])
    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="dup.txt", content=content)
    assert (outcome.paid, outcome.exceptions) == (0, 2)
    assert {e.exception.problem for e in await service.exceptions(db, fin, batch.id)} == {"duplicate"}
    assert await db.scalar(select(func.count()).select_from(BankException)) == 2
    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.pending, summary.batch.status) == (2, "imported")


async def test_lines_and_outcomes_must_name_what_exists(db: AsyncSession, pinned_clock: Pin) -> None:
    """References of payment lines and outcomes are checked once per statement (no row-level foreign keys): a
    line naming a batch or pensioner that does not exist, or an outcome naming a line, import or exception that
    does not exist, is refused whole; what lines name, and exceptions, are never deleted."""
    await world(db, pinned_clock, [OLD, OLD])
    fin = await principal(db, "fin")
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    await _approve_export(db, pinned_clock, batch.id, date(2023, 6, 6))
    first, second = await result_lines(db, batch)
    content = bankfiles.result_file("psbc", batch.number, [first, dataclasses.replace(second, amount=1)])
    await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=content)
    line_ids = list(
        await db.scalars(
            text("SELECT id FROM payment_lines WHERE batch_id = :b ORDER BY seq"), {"b": batch.id}
        )
    )
    exception_id = await db.scalar(
        text("SELECT id FROM bank_exceptions WHERE batch_id = :b"), {"b": batch.id}
    )
    first_enrollment = await db.scalar(
        text("SELECT enrollment_id FROM payment_lines WHERE id = :l"), {"l": line_ids[0]}
    )
    assert exception_id is not None
    import_id = await db.scalar(text("SELECT id FROM result_imports WHERE batch_id = :b"), {"b": batch.id})
    insert = text(
        "INSERT INTO line_outcomes (line_id, paid, reason, import_id, exception_id, resolved_on) "
        "VALUES (:line, true, '', :import_id, :exception, DATE '2023-06-08')"
    )
    pending = line_ids[1]  # the line whose amount the bank changed has no outcome yet
    good = {"line": pending, "import_id": None, "exception": exception_id}
    for bad in ({"line": 2**62}, {"import_id": 2**30}, {"exception": 2**62}):
        nested = await db.begin_nested()
        with pytest.raises(DBAPIError, match="does not exist"):
            await db.execute(insert, good | bad)
        await nested.rollback()
    # Several rows at once: the check reads only the lines in the range of those named; a missing line is found
    # whether it is the range's low end, its high end or both.
    two = text(
        "INSERT INTO line_outcomes (line_id, paid, reason, import_id, resolved_on) "
        "VALUES (:first, true, '', :import_id, DATE '2023-06-08'), (:second, true, '', :import_id, DATE '2023-06-08')"
    )
    missing = await db.scalar(text("SELECT max(id) + 1 FROM payment_lines"))
    for low, high in ((pending, 2**62), (missing, 2**62), (pending, missing)):
        nested = await db.begin_nested()
        with pytest.raises(DBAPIError, match="does not exist"):
            await db.execute(two, {"first": low, "second": high, "import_id": import_id})
        await nested.rollback()
    assert await db.scalar(text("SELECT count(*) FROM line_outcomes WHERE line_id = :l"), {"l": pending}) == 0
    nested = await db.begin_nested()
    await db.execute(insert, good | {"import_id": import_id, "exception": None})
    assert await db.scalar(text("SELECT count(*) FROM line_outcomes WHERE line_id = :l"), {"l": pending}) == 1
    await nested.rollback()
    copy = text(
        """
        INSERT INTO payment_lines (batch_id, seq, county_code, area_path, period, enrollment_id, person_hash, months,
            payee_name, id_masked, account_enc, account_hash, account_masked, amount, account_part, pool_part)
        SELECT :batch, seq + 1000, county_code, area_path, period + 366, :enrollment, person_hash, months,
               payee_name, id_masked, account_enc, account_hash, account_masked, amount, account_part, pool_part
        FROM payment_lines WHERE id = :line
        """
    )
    line = {"batch": batch.id, "enrollment": first_enrollment, "line": line_ids[0]}
    for bad in ({"batch": 2**30}, {"enrollment": 2**62}):
        nested = await db.begin_nested()
        with pytest.raises(DBAPIError, match="does not exist"):
            await db.execute(copy, line | bad)
        await nested.rollback()
    nested = await db.begin_nested()
    await db.execute(copy, line)  # the same with existing references is accepted
    await nested.rollback()
    for statement in ("DELETE FROM payment_batches WHERE id = :b", "DELETE FROM enrollments WHERE id = :e"):
        nested = await db.begin_nested()
        with pytest.raises(DBAPIError, match="named by payment lines"):
            await db.execute(text(statement), {"b": batch.id, "e": first_enrollment})
        await nested.rollback()
    nested = await db.begin_nested()
    with pytest.raises(DBAPIError, match="never deleted"):
        await db.execute(text("DELETE FROM bank_exceptions WHERE id = :e"), {"e": exception_id})
    await nested.rollback()


async def test_training_result_answers_the_pending_lines_and_never_in_production(
    db: AsyncSession, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """模拟银行回盘: the second pending line failed, one stray reference, the rest paid — imported as the bank's
    file would be; refused in production and once nothing is pending."""
    await world(db, pinned_clock, [OLD, OLD, OLD])
    fin = await principal(db, "fin")
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    with pytest.raises(Conflict, match="导出代发文件后"):
        await service.training_result(db, fin, batch.id, "psbc")  # not yet exported
    await _approve_export(db, pinned_clock, batch.id, date(2023, 6, 6))
    content = await service.training_result(db, fin, batch.id, "csv")
    outcome = await service.import_results(db, fin, batch.id, fmt="csv", filename="模拟.csv", content=content)
    assert (outcome.paid, outcome.failed, outcome.exceptions) == (2, 1, 1)
    problems = [e.exception.problem for e in await service.exceptions(db, fin, batch.id)]
    assert problems == ["unknown"]
    with pytest.raises(Conflict, match="每笔都已有银行结果"):
        await service.training_result(db, fin, batch.id, "psbc")
    production = Settings(ANZHI_ENV="production", secret_key="a-real-secret-key-0123456789")
    monkeypatch.setattr(service, "get_settings", lambda: production)
    with pytest.raises(NotFound, match="生产环境"):
        await service.training_result(db, fin, batch.id, "psbc")


async def test_a_file_that_leaves_lines_out_keeps_the_batch_open_until_they_come(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    """The import counts the batch's lines the file does not mention as pending (one statement classifies the
    file against every line of the batch): the batch is reconciled only once the last line has its outcome."""
    fin, batch = await _exported_june(db, pinned_clock)
    first, second, third = await result_lines(db, batch)
    content = bankfiles.result_file("psbc", batch.number, [first])
    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="r1.txt", content=content)
    assert (outcome.paid, outcome.failed, outcome.exceptions) == (1, 0, 0)
    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.paid, summary.pending, summary.batch.status) == (1, 2, "imported")
    # The rest, with the first listed twice: the repeated reference is an exception, the other two resolve.
    rest = bankfiles.result_file("psbc", batch.number, [second, third, first, first])
    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="r2.txt", content=rest)
    assert (outcome.paid, outcome.exceptions) == (2, 2)
    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.paid, summary.pending, summary.batch.status) == (3, 0, "imported")  # two open exceptions
    for view in await service.exceptions(db, fin, batch.id, open_only=True):
        await service.resolve_exception(db, fin, view.exception.id, resolution="dismissed", note="重复回盘")
    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.pending, summary.batch.status) == (0, "reconciled")
    imports = await service.imports_of(db, fin, batch.id)
    assert [(i.paid_count, i.exception_count) for i in imports] == [(1, 0), (2, 2)]
    assert await trial_balance_net(db) == 0


async def test_listing_files_leaves_their_bytes_in_the_database(db: AsyncSession, pinned_clock: Pin) -> None:
    """A province's bank file is ~90 MB: the batch page lists exports and imports without loading them; a
    download (export again) gets the same bytes."""
    await world(db, pinned_clock, [OLD])
    fin = await principal(db, "fin")
    pinned_clock(at(date(2023, 6, 5)))
    batch = (await _generate(db, "2023-06")).batch
    await _approve_export(db, pinned_clock, batch.id, date(2023, 6, 6))
    db.expunge_all()
    [export] = await service.exports_of(db, fin, batch.id)
    assert "content" in sa_inspect(export).unloaded
    again = await service.export_batch(db, fin, batch.id, export.format)  # the download: the kept bytes
    assert hashlib.sha256(again.content).digest() == export.sha256 and len(again.content) > 0
    content = bankfiles.result_file("psbc", batch.number, await result_lines(db, batch))
    await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=content)
    db.expunge_all()
    [result] = await service.imports_of(db, fin, batch.id)
    assert "content" in sa_inspect(result).unloaded
    stored = await db.scalar(text("SELECT content FROM result_imports WHERE id = :i"), {"i": result.id})
    assert stored == content


async def test_a_file_refused_after_parts_were_staged_leaves_nothing(
    db: AsyncSession, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result file is read in a worker thread and staged a part at a time while the rest is read: a file
    refused after parts were staged (a broken last line) leaves no staged lines, no staging table and no import
    behind; one for another batch is refused on its trailer before a line is read; and the same transaction
    imports the right file next."""
    fin, batch = await _exported_june(db, pinned_clock)
    lines = await result_lines(db, batch)
    monkeypatch.setattr(service, "_STAGE_ROWS", 1)  # a COPY per part: parts are staged before the end
    monkeypatch.setattr(bankfiles, "_CHUNK_BYTES", 1)  # a part per line
    readers: list[str] = []
    handed: list[int] = []  # lines handed over for staging, per reading
    read_result = bankfiles.read_result

    def reading(*args: object, **kwargs: Any) -> bankfiles.ParsedResult:
        readers.append(threading.current_thread().name)
        handed.append(0)
        hand_over = kwargs["rows_ready"]

        def counted(rows: list[bankfiles.ResultRecord]) -> None:
            handed[-1] += len(rows)
            hand_over(rows)

        return read_result(*args, **{**kwargs, "rows_ready": counted})  # type: ignore[arg-type]

    monkeypatch.setattr(bankfiles, "read_result", reading)
    good = bankfiles.result_file("psbc", batch.number, lines)
    rows = good.decode("gbk").split("\r\n")
    rows[2] = rows[2].replace("|成功|", "|已处理|")
    with pytest.raises(InvalidInput, match="整份未导入：第 3 行"):
        await service.import_results(
            db, fin, batch.id, fmt="psbc", filename="x.txt", content="\r\n".join(rows).encode("gbk")
        )
    other = bankfiles.result_file("psbc", "YL202305-410727", lines)
    with pytest.raises(InvalidInput, match="不是本批次"):
        await service.import_results(db, fin, batch.id, fmt="psbc", filename="y.txt", content=other)
    assert await db.scalar(text("SELECT to_regclass('pg_temp.result_stage')")) is None
    assert await db.scalar(select(func.count()).select_from(ResultImport)) == 0
    assert await db.scalar(select(func.count()).select_from(LineOutcome)) == 0

    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=good)
    assert (outcome.paid, outcome.failed, outcome.exceptions) == (3, 0, 0)
    assert len(readers) == 3 and threading.main_thread().name not in readers
    # the broken third line was never handed over; the other batch's file not a line
    assert handed == [2, 0, 3]


async def test_references_that_do_not_name_a_line_of_this_batch_are_unknown(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    """A line is matched only by ``<this batch's number>-`` and seven digits: another batch's number, letters
    among the digits, one digit more or a lower-case prefix make an 'unknown' exception, and the line stays
    pending."""
    fin, batch = await _exported_june(db, pinned_clock)
    first, second, third = await result_lines(db, batch)
    wrong = [
        dataclasses.replace(first, reference="YL202305-410727-0000001"),
        dataclasses.replace(second, reference=f"{batch.number}-00000O2"),
        dataclasses.replace(third, reference=f"{batch.number}-00000003"),
        dataclasses.replace(third, reference=f"{batch.number.lower()}-0000003"),
    ]
    content = bankfiles.result_file("psbc", batch.number, wrong)
    outcome = await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=content)
    assert (outcome.paid, outcome.failed, outcome.exceptions) == (0, 0, 4)
    views = await service.exceptions(db, fin, batch.id)
    assert sorted((v.exception.row_no, v.exception.problem) for v in views) == [
        (1, "unknown"),
        (2, "unknown"),
        (3, "unknown"),
        (4, "unknown"),
    ]
    summary = await service.batch_summary(db, fin, batch.id)
    assert (summary.paid, summary.pending) == (0, 3)
