"""作废草稿: a draft batch generated from wrong data is discarded — its lines and the batch go, the month register
gets back what generating it claimed (new months removed, resumed months suspended again, re-issued months back
with their failed line's period), compensation tranches are free again — and the period and scope can be
generated again, to the same lines. Only drafts; audited; the database lets lines go only for such a discard."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.payments import bankfiles, service
from app.payments.models import PaymentBatch, PaymentLine
from app.socialsecurity import rules as ss_rules
from app.socialsecurity import service as social
from app.socialsecurity.schemas import CertificationIn, PassbookIn
from tests.agreements.helpers import at, principal
from tests.payments.helpers import account_number, give_passbooks, result_lines
from tests.payments.test_api import token
from tests.payments.test_service import _approve_export, _exported_june, _generate
from tests.socialsecurity.factories import Pin, pensioners
from tests.web.pages import Browser, field_error, post_form, text_of

_REGISTER = text(
    "SELECT enrollment_id, month, status, kind, period, amount FROM pension_months "
    "WHERE enrollment_id IS NOT NULL ORDER BY enrollment_id, month"
)
_LINES = text(
    "SELECT enrollment_id, seq, months, amount, account_part, pool_part, reissue_of IS NOT NULL AS reissue "
    "FROM payment_lines WHERE batch_id = :b ORDER BY seq"
)


async def _register(db: AsyncSession) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in (await db.execute(_REGISTER)).all()]


async def _lines(db: AsyncSession, batch_id: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in (await db.execute(_LINES, {"b": batch_id})).all()]


async def test_discarding_gives_back_resumed_and_new_months(db: AsyncSession, pinned_clock: Pin) -> None:
    [pensioner] = await pensioners(db, pinned_clock, [date(1950, 2, 2)])
    await give_passbooks(db, [pensioner])
    # Paid through June 2024 (claimed without a batch), July and August suspended (no proof of life), then
    # certified again: September's batch resumes July and August as back pay and adds September.
    for period, day in (("2024-06", 3), ("2024-07", 3), ("2024-08", 10)):
        await social.claim_period(
            db, SYSTEM, ss_rules.parse_month(period), as_of=ss_rules.parse_month(period).replace(day=day)
        )
    # (claimed on earlier days, as they would be: this test runs in one transaction, whose now() never moves)
    await db.execute(text("UPDATE pension_months SET created_at = created_at - interval '1 day'"))
    pinned_clock(at(date(2024, 8, 20)))
    await social.record_certification(
        db,
        await principal(db, "cw_a"),
        pensioner.id,
        CertificationIn(certified_on=date(2024, 8, 20), method="video", certified_by="cw_a"),
    )
    pinned_clock(at(date(2024, 9, 5)))
    before = await _register(db)
    assert [(r[1].month, r[2]) for r in before[-2:]] == [(7, "suspended"), (8, "suspended")]
    generated = await _generate(db, "2024-09")
    assert (generated.lines, generated.months, generated.back_pay_months) == (1, 3, 2)
    first = await _lines(db, generated.batch.id)
    assert await _register(db) != before

    fin = await principal(db, "fin")
    events = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment_batch.discard")
    )
    gone = await service.discard_batch(db, fin, generated.batch.id, reason="存折账号有误，更正后重新生成")
    assert gone.number == generated.batch.number
    assert await _register(db) == before
    assert await db.scalar(select(func.count()).select_from(PaymentLine)) == 0
    assert await db.scalar(select(func.count()).select_from(PaymentBatch)) == 0
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "payment_batch.discard").order_by(AuditEvent.seq.desc())
    )
    assert event is not None and event.after == {"reason": "存折账号有误，更正后重新生成"}
    assert event.before is not None and event.before["number"] == generated.batch.number
    assert event.before["lines"] == 1
    assert (
        await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment_batch.discard")
        )
        == (events or 0) + 1
    )

    again = await _generate(db, "2024-09")
    assert again.created and again.batch.number == generated.batch.number
    assert (again.lines, again.months, again.back_pay_months) == (1, 3, 2)
    assert await _lines(db, again.batch.id) == first


async def test_discarding_a_reissue_gives_the_failed_line_its_months_back(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    fin, june = await _exported_june(db, pinned_clock)
    lines = await result_lines(db, june)
    failed = dataclasses.replace(lines[1], paid=False, reason="账户已销户")
    content = bankfiles.result_file("psbc", june.number, [lines[0], failed, lines[2]])
    pinned_clock(at(date(2023, 6, 20)))
    await service.import_results(db, fin, june.id, fmt="psbc", filename="回盘.txt", content=content)
    failed_enrollment = await db.scalar(
        select(PaymentLine.enrollment_id).where(
            PaymentLine.batch_id == june.id, PaymentLine.seq == failed.seq
        )
    )
    assert failed_enrollment is not None
    pinned_clock(at(date(2023, 7, 2)))
    await social.set_passbook(
        db,
        await principal(db, "cw_a"),
        failed_enrollment,
        PassbookIn(account_number=account_number(failed_enrollment, 1), opened_on=date(2023, 7, 1)),
    )
    pinned_clock(at(date(2023, 7, 5)))
    before = await _register(db)
    july = await _generate(db, "2023-07")
    assert (july.lines, july.reissued, july.months) == (3, 1, 4)
    first = await _lines(db, july.batch.id)

    await service.discard_batch(db, fin, july.batch.id, reason="重新核对后再生成")
    assert await _register(db) == before  # June's failed month is June's again
    again = await _generate(db, "2023-07")
    assert (again.lines, again.reissued, again.months) == (3, 1, 4)
    assert await _lines(db, again.batch.id) == first

    # Only drafts: approved (and later) batches stay.
    await _approve_export(db, pinned_clock, again.batch.id, date(2023, 7, 6))
    with pytest.raises(Conflict, match="只有待审核的草稿批次可以作废"):
        await service.discard_batch(db, fin, again.batch.id, reason="试试")
    with pytest.raises(Conflict, match="只有待审核的草稿批次可以作废"):
        await service.discard_batch(db, fin, june.id, reason="试试")


async def test_who_may_discard_and_the_database_behind_it(db: AsyncSession, pinned_clock: Pin) -> None:
    fin, june = await _exported_june(db, pinned_clock)
    pinned_clock(at(date(2023, 7, 5)))
    july = (await _generate(db, "2023-07")).batch
    with pytest.raises(InvalidInput, match="请填写作废原因"):
        await service.discard_batch(db, fin, july.id, reason="  ")
    for who in ("cw_a", "rv_a", "aud"):
        with pytest.raises(Forbidden):
            await service.discard_batch(db, await principal(db, who), july.id, reason="作废")
    with pytest.raises(NotFound):
        await service.discard_batch(db, fin, 2_000_000_000, reason="作废")
    # Lines of a draft are not deleted without the discard naming their batch, nor those of an exported batch.
    for batch_id, setting in ((july.id, ""), (june.id, str(june.id))):
        with pytest.raises(DBAPIError, match="never changed or deleted"):
            async with db.begin_nested():
                await db.execute(text("SELECT set_config('anzhi.discard_batch', :b, true)"), {"b": setting})
                await db.execute(text("DELETE FROM payment_lines WHERE batch_id = :b"), {"b": batch_id})
    assert (
        await db.scalar(select(func.count()).select_from(PaymentLine).where(PaymentLine.batch_id == july.id))
        == 3
    )
    # A later month registered for its people (August's batch): discarding July would leave a gap.
    july_id = july.id
    pinned_clock(at(date(2023, 8, 5)))
    august = await _generate(db, "2023-08")
    assert august.lines == 3
    with pytest.raises(Conflict, match="已登记了2023年8月及以后的月份"):
        await service.discard_batch(db, fin, july_id, reason="作废")
    await service.discard_batch(db, fin, august.batch.id, reason="作废")
    await service.discard_batch(db, fin, july_id, reason="作废")


async def test_discard_from_the_batch_page_and_the_api(
    browser: Browser, client: httpx.AsyncClient, db: AsyncSession, pinned_clock: Pin
) -> None:
    headers = await token(client, "fin")
    _fin, june = await _exported_june(db, pinned_clock)
    june_id = june.id
    pinned_clock(at(date(2023, 7, 5)))
    july = (await _generate(db, "2023-07")).batch
    july_id, number = july.id, july.number
    await db.commit()
    fin = await browser("fin")
    url = f"/payments/{july_id}"
    page = await fin.get(url)
    assert f'action="{url}/discard"' in page.text
    assert f'action="/payments/{june_id}/discard"' not in (await fin.get(f"/payments/{june_id}")).text
    r = await post_form(fin, url, f"{url}/discard", {"reason": ""})
    assert r.status_code == 422
    assert "请填写作废原因" in (field_error(r.text, "reason") or "")
    assert "请先勾选确认" in (field_error(r.text, "confirm") or "")
    r = await post_form(fin, url, f"{url}/discard", {"reason": "存折有误", "confirm": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/payments"
    listing = await fin.get("/payments")
    assert f"已作废草稿批次 {number}（3 笔，合计 780.00 元）" in text_of(listing.text)
    assert (await fin.get(url)).status_code == 404

    # The API: the same, and an exported batch is refused.
    again = (await _generate(db, "2023-07")).batch
    again_id = again.id
    await db.commit()
    r = await client.post(
        f"/api/v1/payments/batches/{again_id}/discard", headers=headers, json={"reason": "重做"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"number": number, "lines": 3, "total": "780.00"}
    r = await client.post(
        f"/api/v1/payments/batches/{june_id}/discard", headers=headers, json={"reason": "重做"}
    )
    assert r.status_code == 409


async def test_discarding_removes_the_suspended_months_found_with_the_claimed_ones(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    """The first batch of a pensioner whose proof of life ran out pays the months up to then and registers the
    months after as suspended: discarding it leaves no gap in the register (none of them stays)."""
    [pensioner] = await pensioners(db, pinned_clock, [date(1950, 2, 2)])
    await give_passbooks(db, [pensioner])
    pinned_clock(at(date(2024, 9, 5)))
    assert await _register(db) == []
    generated = await _generate(db, "2024-09")
    assert (generated.lines, generated.months, generated.suspended) == (1, 13, 3)
    first = await _lines(db, generated.batch.id)
    await service.discard_batch(db, await principal(db, "fin"), generated.batch.id, reason="重新生成")
    assert await _register(db) == []
    again = await _generate(db, "2024-09")
    assert (again.lines, again.months, again.suspended) == (1, 13, 3)
    assert await _lines(db, again.batch.id) == first
