"""冲销: a deposit typed in wrongly is corrected by a reversing transaction (domain.md: "Journal lines are never
updated or deleted; corrections are reversing entries"), from the voucher page or the API — once, with a reason,
not before the deposit's date, and not once its money has been drawn on; nothing else is reversed by hand."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger.models import JournalTransaction
from app.ledger.rules import Entry
from tests.agreements.helpers import at, principal
from tests.payments.helpers import account_balance, trial_balance_net, world
from tests.payments.test_api import token
from tests.socialsecurity.factories import Pin
from tests.web.pages import Browser, csrf_from, field_error, text_of

OLD = date(1955, 5, 5)
TODAY = date(2023, 6, 5)
FUND = 100_000_000  # fen: what tests.payments.helpers.world deposits
WRONG = 1_200_000  # fen: 12,000.00 typed for 1,200.00


async def _audited(db: AsyncSession, action: str) -> int:
    return int(
        await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0
    )


async def _wrong_deposit(db: AsyncSession) -> JournalTransaction:
    return await ledger.deposit(
        db,
        await principal(db, "fin"),
        amount=WRONG,
        posted_on=date(2023, 6, 2),
        memo="县财政拨入（录错金额）",
    )


async def test_reverse_a_deposit_from_its_voucher_page(
    browser: Browser, db: AsyncSession, pinned_clock: Pin
) -> None:
    await world(db, pinned_clock, [OLD])
    pinned_clock(at(TODAY))
    pool = await account_balance(db, ledger_rules.SS_POOL)
    wrong = await _wrong_deposit(db)
    fin = await browser("fin")
    assert await account_balance(db, ledger_rules.SS_BANK) == FUND + WRONG

    # From the bank account's statement, the voucher number leads to the voucher.
    ledger_page = await fin.get("/ledger")
    bank = re.search(r'<a href="(/ledger/accounts/\d+)">社保基金专户存款</a>', ledger_page.text)
    assert bank is not None
    statement = await fin.get(bank.group(1))
    assert f'<a href="/ledger/transactions/{wrong.id}">{wrong.id}</a>' in statement.text
    page = await fin.get(f"/ledger/transactions/{wrong.id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "资金拨入" in text and "12,000.00 元 （壹万贰仟元整）" in text and "县财政拨入（录错金额）" in text
    assert "社保基金专户存款 ss.bank 12,000.00" in text and "被征地农民社保统筹基金" in text
    assert f'action="/ledger/transactions/{wrong.id}/reverse"' in page.text

    # Errors next to their fields; nothing posted.
    url = f"/ledger/transactions/{wrong.id}/reverse"
    r = await fin.post(
        url, data={"csrf_token": csrf_from(page.text), "reason": " ", "posted_on": "2023-06-01"}
    )
    assert r.status_code == 422
    assert "请填写冲销原因" in (field_error(r.text, "reason") or "")
    assert "请先勾选确认" in (field_error(r.text, "confirm") or "")
    r = await fin.post(
        url,
        data={
            "csrf_token": csrf_from(page.text),
            "reason": "金额录错",
            "posted_on": "2023-06-01",
            "confirm": "1",
        },
    )
    assert r.status_code == 422
    assert "不能早于原凭证的记账日期 2023-06-02" in (field_error(r.text, "posted_on") or "")
    assert (
        await db.scalar(select(JournalTransaction).where(JournalTransaction.reverses_id == wrong.id)) is None
    )

    before = await _audited(db, "ledger.reverse")
    r = await fin.post(
        url,
        data={
            "csrf_token": csrf_from(page.text),
            "reason": "金额录错，应为 1200.00 元",
            "posted_on": "2023-06-05",
            "confirm": "1",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == f"/ledger/transactions/{wrong.id}"
    reversal = await db.scalar(select(JournalTransaction).where(JournalTransaction.reverses_id == wrong.id))
    assert reversal is not None and reversal.kind == "reversal" and reversal.posted_on == TODAY
    assert reversal.memo == f"冲销凭证 {wrong.id}（县财政拨入（录错金额））：金额录错，应为 1200.00 元"
    page = await fin.get(f"/ledger/transactions/{wrong.id}")
    assert (
        f"已冲销凭证 {wrong.id}：12,000.00 元（壹万贰仟元整），冲销凭证号 {reversal.id}，记账日期 2023年6月5日"
        in page.text
    )
    assert f"这张凭证已由 凭证 {reversal.id} 于 2023年6月5日 冲销" in text_of(page.text)
    assert "/reverse" not in page.text  # no second reversal offered
    mirror = text_of((await fin.get(f"/ledger/transactions/{reversal.id}")).text)
    assert "冲销" in mirror and f"冲销的凭证 凭证 {wrong.id}" in mirror
    assert await account_balance(db, ledger_rules.SS_BANK) == FUND
    assert await account_balance(db, ledger_rules.SS_POOL) == pool
    assert await trial_balance_net(db) == 0
    assert await _audited(db, "ledger.reverse") == before + 1
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "ledger.reverse"))
    assert event is not None and event.entity_id == str(reversal.id)

    # Twice: refused, said on the page, nothing posted.
    r = await fin.post(
        url,
        data={
            "csrf_token": csrf_from(page.text),
            "reason": "再冲一次",
            "posted_on": "2023-06-05",
            "confirm": "1",
        },
    )
    assert r.status_code == 409 and f"已由凭证 {reversal.id} 冲销，不能重复冲销" in r.text
    assert await account_balance(db, ledger_rules.SS_BANK) == FUND

    # An auditor reads the voucher, is not offered the form and may not post it.
    aud = await browser("aud")
    other = await _wrong_deposit(db)
    seen = await aud.get(f"/ledger/transactions/{other.id}")
    assert seen.status_code == 200 and "/reverse" not in seen.text
    r = await aud.post(
        f"/ledger/transactions/{other.id}/reverse",
        data={"csrf_token": csrf_from(seen.text), "reason": "x", "posted_on": "2023-06-05", "confirm": "1"},
    )
    assert r.status_code == 403
    assert (await fin.get("/ledger/transactions/9223372036854775807")).status_code == 404


async def test_only_an_untouched_deposit_is_reversed(db: AsyncSession, pinned_clock: Pin) -> None:
    await world(db, pinned_clock, [OLD])
    pinned_clock(at(TODAY))
    fin = await principal(db, "fin")
    wrong = await _wrong_deposit(db)

    with pytest.raises(InvalidInput, match="冲销原因"):
        await ledger.reverse(db, fin, wrong.id, reason="  ", posted_on=TODAY)
    with pytest.raises(InvalidInput, match="不能晚于今天"):
        await ledger.reverse(db, fin, wrong.id, reason="录错", posted_on=date(2023, 6, 6))
    for role in ("cw_a", "rv_a", "aud"):
        with pytest.raises(Forbidden):
            await ledger.reverse(db, await principal(db, role), wrong.id, reason="录错", posted_on=TODAY)

    # The money was drawn on since (a batch's export moved all but 100.00 yuan of the bank account out): the
    # reversal would leave the bank account below zero.
    drawn = FUND + WRONG - 10_000
    await ledger.post(
        db,
        SYSTEM,
        county_code="410727",
        kind="batch_export",
        memo="代发资金划至银行",
        posted_on=TODAY,
        entries=[Entry(ledger_rules.SS_CLEARING, debit=drawn), Entry(ledger_rules.SS_BANK, credit=drawn)],
        accounts=await ledger.social_security_accounts(db, "410727"),
    )
    with pytest.raises(Conflict, match=re.escape("社保基金专户存款余额 100.00 元，少于要冲销的 12000.00 元")):
        await ledger.reverse(db, fin, wrong.id, reason="录错", posted_on=TODAY)
    export = await db.scalar(select(JournalTransaction).where(JournalTransaction.kind == "batch_export"))
    assert export is not None
    # Only deposits: an export follows its batch, a reversal is not reversed again.
    with pytest.raises(Conflict, match="不能手工冲销：只有资金拨入可以"):
        await ledger.reverse(db, fin, export.id, reason="录错", posted_on=TODAY)
    assert await trial_balance_net(db) == 0


async def test_a_deposit_is_reversed_once_by_the_database_too(db: AsyncSession, pinned_clock: Pin) -> None:
    await world(db, pinned_clock, [OLD])
    pinned_clock(at(TODAY))
    wrong = await _wrong_deposit(db)
    fin = await principal(db, "fin")
    first = await ledger.reverse(db, fin, wrong.id, reason="录错", posted_on=TODAY)
    with pytest.raises(Conflict, match=f"已由凭证 {first.id} 冲销"):
        await ledger.reverse(db, fin, wrong.id, reason="录错", posted_on=TODAY)
    with pytest.raises(Conflict, match="不能手工冲销"):
        await ledger.reverse(db, fin, first.id, reason="冲销的冲销", posted_on=TODAY)
    # Past the service's check (two requests at once): the unique key on reverses_id refuses the second.
    with pytest.raises(IntegrityError, match="reverses_id"):
        async with db.begin_nested():
            await ledger.post(
                db,
                fin,
                county_code="410727",
                kind="reversal",
                memo="第二次冲销",
                posted_on=TODAY,
                entries=[Entry(ledger_rules.SS_POOL, debit=WRONG), Entry(ledger_rules.SS_BANK, credit=WRONG)],
                reverses_id=wrong.id,
            )


async def test_reversal_over_the_api(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any, pinned_clock: Pin
) -> None:
    fin, aud = await token(client, "fin"), await token(client, "aud")
    await world(db, pinned_clock, [OLD])
    pinned_clock(at(TODAY))
    wrong = await _wrong_deposit(db)
    await db.commit()
    url = f"/api/v1/ledger/transactions/{wrong.id}"
    shown = await client.get(url, headers=aud)
    assert shown.status_code == 200
    body = shown.json()
    assert (body["kind"], body["amount"], body["reversible"], body["reversed_by_id"]) == (
        "deposit",
        "12000.00",
        True,
        None,
    )
    assert {(line["code"], line["debit"], line["credit"]) for line in body["lines"]} == {
        (ledger_rules.SS_BANK, "12000.00", "0.00"),
        (ledger_rules.SS_POOL, "0.00", "12000.00"),
    }
    r = await client.post(f"{url}/reversal", headers=aud, json={"reason": "录错", "posted_on": "2023-06-05"})
    assert r.status_code == 403
    r = await client.post(f"{url}/reversal", headers=fin, json={"reason": "", "posted_on": "2023-06-05"})
    assert r.status_code == 422
    r = await client.post(
        f"{url}/reversal", headers=fin, json={"reason": "金额录错", "posted_on": "2023-06-05"}
    )
    assert r.status_code == 201, r.text
    reversal = r.json()
    assert (reversal["kind"], reversal["amount"], reversal["reverses_id"]) == (
        "reversal",
        "12000.00",
        wrong.id,
    )
    assert (await client.get(url, headers=fin)).json()["reversed_by_id"] == reversal["id"]
    again = await client.post(
        f"{url}/reversal", headers=fin, json={"reason": "再冲", "posted_on": "2023-06-05"}
    )
    assert again.status_code == 409 and "不能重复冲销" in again.text
    assert (await client.get("/api/v1/ledger/transactions/999999999", headers=fin)).status_code == 404
    with pytest.raises(NotFound):
        await ledger.voucher(db, await principal(db, "fin"), 999_999_999)
