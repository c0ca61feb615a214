"""安置房差价: a household whose flats cost more than its compensation owes the difference; finance records its
receipt once, for exactly that amount, into the project's fund (its list of what households owe says so) (bank debit, fund credit, the trial balance still 0);
until then the 下一步 hint names it and the household is not settled; a receipt blocks voiding; the row is kept and
a wrong amount is refused by the database itself. Over the service and the page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.audit.models import AuditEvent
from app.compensation import service as compensation
from app.compensation.schemas import SurveySave
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.dashboard import service as dashboard
from app.flats import service as flats
from app.households import progress
from app.households.models import Member
from app.households.service import id_cipher
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.payments import compensation as payables
from app.plans.schemas import demo_params
from app.public.rules import Step
from app.public.service import Status, find_status, lookup_digest
from tests.flats.factories import (
    make_building,
    make_household,
    make_project,
    principal,
    sign_through_service,
)
from tests.web.pages import csrf_from

Pin = Callable[[datetime], None]
Browser = Callable[[str], Awaitable[httpx.AsyncClient]]
OWED = 5_000_000  # 50,000.00 yuan: 550 ㎡ of flats at 1,000.00 against 500,000.00 of compensation


async def _reached(db: AsyncSession, village_id: int) -> dict[str, int]:
    stages = await dashboard.village_stages(db, await principal(db, "adm"), [village_id])
    return {r.code: r.reached.households for r in stages[village_id]}


async def _account_net(db: AsyncSession, code: str) -> int:
    """debit − credit of one ledger account."""
    found = await db.scalar(
        text(
            "SELECT coalesce(sum(l.debit - l.credit), 0) FROM ledger_accounts a "
            "LEFT JOIN journal_lines l ON l.account_id = a.id WHERE a.code = :c"
        ),
        {"c": code},
    )
    return int(found or 0)


async def _lookup(db: AsyncSession, household_id: int) -> Status:
    head = await db.scalar(
        select(Member).where(Member.household_id == household_id, Member.relation == "head")
    )
    assert head is not None
    raw = await (await db.connection()).get_raw_connection()
    found = await find_status(
        raw.driver_connection,
        lookup_digest(id_cipher().decrypt(head.id_number_enc)),
        head.name,
        date(2022, 10, 10),
    )
    assert found is not None
    return found


async def _nothing_yet(_session: AsyncSession, _agreement_id: int) -> None:
    return None


def _step(status: Status, code: str) -> Step:
    return next(step for step in status.steps if step.code == code)


async def test_the_difference_is_received_once_into_the_fund(
    db: AsyncSession, browser: Browser, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned_clock(datetime(2022, 10, 10, 2, 0, tzinfo=UTC))
    world = await make_project(db, params=demo_params(date(2022, 9, 30)).stored())
    cw = await principal(db, "cw_a")
    fin = await principal(db, "fin")
    owing = await make_household(db, world, head="差价甲", flats=("300.00", "250.00"), signed=False)
    cash = await make_household(db, world, head="差价乙", flats=None, signed=False)
    for household_id in (owing, cash):
        await compensation.save_survey(
            db, cw, household_id, SurveySave(persons=1, surveyed_on=date(2022, 8, 1))
        )
    await agreements.create_notice(db, cw, world.project.id, world.village_id, started_on=date(2022, 9, 1))
    agreement = await sign_through_service(db, world, owing, 1)
    paid_in_cash = await sign_through_service(db, world, cash, 2)
    ids = {"a": agreement.id, "b": paid_in_cash.id}  # for the raw statements at the end
    assert payables.difference_owed(agreement) == OWED
    assert payables.difference_owed(paid_in_cash) == 0
    # handed over and its flats allocated: only the difference stands between it and 已结案
    await agreements.record_handover(db, cw, agreement.id, on=date(2022, 9, 25), note="YS-1")
    await make_building(db, world, "1号楼", [("301", 3, "300.00"), ("302", 3, "250.00")])
    # its turn to choose: the 选房 page reminds the caseworker that the agreement wants the difference paid first
    assert await payables.unpaid_difference(db, owing, world.project.id) == OWED
    order = await (await browser("cw_a")).get(f"/villages/{world.village_id}/flats")
    assert "按协议，该户应在选房前缴清安置房差价 50,000.00 元，财政局尚未登记收款" in order.text
    for number in ("301", "302"):
        await flats.allocate(db, cw, world.units[f"1号楼 {number}"].id, owing)
    members = (await db.scalars(select(Member).where(Member.household_id == owing))).all()
    assert (await progress.next_step(db, cw, owing, members)).endswith(
        "2022年9月25日腾房交付。下一步：户主补交安置房差价 50,000.00 元，由财政局在“协议”页登记收款。"
    )
    settled_before = (await _reached(db, world.village_id))["settled"]
    scope = await dashboard.village_scope(db, fin, world.village_id)
    money = (await dashboard.progress(db, scope, date(2022, 10, 10))).money
    assert (money.difference_owed, money.difference_received) == (OWED, 0)
    before = await _lookup(db, owing)
    assert before.difference_paid_on is None and not _step(before, "settled").done

    # refused: a caseworker (not finance); an agreement that owes nothing; before signing; in the future; no number
    with pytest.raises(Forbidden):
        await payables.record_difference(db, cw, agreement.id, on=date(2022, 10, 1), receipt_no="SJ-1")
    with pytest.raises(Conflict, match="没有户主应补的安置房差价"):
        await payables.record_difference(db, fin, paid_in_cash.id, on=date(2022, 10, 1), receipt_no="SJ-1")
    for on, receipt_no, field in (
        (date(2022, 9, 19), "SJ-1", "on"),
        (date(2022, 10, 11), "SJ-1", "on"),
        (date(2022, 10, 1), "  ", "receipt_no"),
        (date(2022, 10, 1), "号" * 101, "receipt_no"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await payables.record_difference(db, fin, agreement.id, on=on, receipt_no=receipt_no)
        assert refused.value.field == field
    assert await payables.difference_of(db, agreement.id) is None

    bank = ledger_rules.comp_bank_code(world.project.id)
    fund = ledger_rules.comp_fund_code(world.project.id)
    bank_before, fund_before = await _account_net(db, bank), await _account_net(db, fund)

    # the page: the caseworker reads what is owed and that finance records it; finance has the form
    client = await browser("cw_a")
    page = await client.get(f"/households/{owing}/agreements")
    assert page.status_code == 200
    assert "户主应补差价 <strong>50,000.00 元</strong>（伍万元整）" in page.text and "尚未收取" in page.text
    assert f'action="/agreements/{agreement.id}/difference"' not in page.text
    assert "由财政局在这里登记收款" in page.text
    client = await browser("fin")
    # finance's list of what households owe: this one, outstanding, and nothing received yet
    listed = await client.get("/ledger/differences?open=1")
    assert listed.status_code == 200
    assert f'<a href="/households/{owing}/agreements#difference">{agreement.number}</a>' in listed.text
    assert "<dt>尚未收取</dt><dd><strong>1 户，50,000.00 元</strong>" in listed.text
    rows, totals, shown = await payables.differences(db, fin, open_only=True)
    assert [r.agreement_id for r in rows] == [ids["a"]] and shown == 1
    for found, wanted in (
        ("差价甲", 1),
        ("V0-0001", 1),
        ("差价乙", 0),
        ("50%", 0),
    ):  # by head, number; no match
        rows, _totals, shown = await payables.differences(db, fin, search=found)
        assert (len(rows), shown) == (wanted, wanted), found
    searched = await client.get("/ledger/differences", params={"q": "差价乙"})
    assert "没有符合“差价乙”的协议。" in searched.text
    assert (totals.households, totals.owed, totals.received, totals.outstanding) == (1, OWED, 0, OWED)
    page = await client.get(f"/households/{owing}/agreements")
    assert f'action="/agreements/{agreement.id}/difference"' in page.text
    token = csrf_from(page.text)
    r = await client.post(
        f"/agreements/{agreement.id}/difference",
        data={
            "csrf_token": token,
            "difference_on": "2022-10-01",
            "receipt_no": "",
            "difference_confirm": "1",
        },
    )
    assert r.status_code == 422 and "请填写收据号或银行流水号" in r.text
    r = await client.post(
        f"/agreements/{agreement.id}/difference",
        data={
            "csrf_token": token,
            "difference_on": "2022-10-12",
            "receipt_no": "SJ-2022-001",
            "difference_confirm": "1",
        },
    )
    assert r.status_code == 422 and "收款日期不能晚于今天" in r.text
    r = await client.post(
        f"/agreements/{agreement.id}/difference",
        data={"csrf_token": token, "difference_on": "2022-10-01", "receipt_no": "SJ-2022-001"},
    )
    assert r.status_code == 422 and "请先勾选确认：已核对银行到账凭证或收据" in r.text
    assert await payables.difference_of(db, agreement.id) is None  # nothing half-saved
    r = await client.post(
        f"/agreements/{agreement.id}/difference",
        data={
            "csrf_token": token,
            "difference_on": "2022-10-01",
            "receipt_no": "SJ-2022-001",
            "difference_confirm": "1",
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith(
        f"/households/{owing}/agreements#difference"
    )
    page = await client.get(f"/households/{owing}/agreements")
    assert "已于 2022年10月1日 收取（SJ-2022-001）" in page.text
    assert f'action="/agreements/{agreement.id}/difference"' not in page.text  # recorded once

    receipt = await payables.difference_of(db, agreement.id)
    assert receipt is not None and (receipt.amount, receipt.received_on) == (OWED, date(2022, 10, 1))
    # the money in the project's bank account and its fund, posted on the receipt's date; the books balance
    assert await _account_net(db, bank) - bank_before == OWED
    assert await _account_net(db, fund) - fund_before == -OWED
    posted = await db.scalar(
        text("SELECT posted_on FROM journal_transactions WHERE id = :t"), {"t": receipt.tx_id}
    )
    assert posted == date(2022, 10, 1)
    trial = await ledger.trial_balance(db, fin)
    assert trial.net == 0
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "agreement.difference", AuditEvent.entity_id == str(agreement.id)
        )
    )
    assert event is not None and (event.after or {})["receipt_no"] == "SJ-2022-001"

    # now settled, as the hint says; the dashboard counts the money received
    scope = await dashboard.village_scope(db, fin, world.village_id)  # read again: the pages expired the rows
    money = (await dashboard.progress(db, scope, date(2022, 10, 10))).money
    assert (money.difference_owed, money.difference_received, money.difference_outstanding) == (OWED, OWED, 0)
    board = await client.get("/dashboard")
    assert (
        '<tr id="money-difference-received"><td>其中：已收取</td><td class="num">50,000.00 元</td>'
        in board.text
    )
    assert (await _reached(db, world.village_id))["settled"] == settled_before + 1
    assert (await progress.next_step(db, cw, owing, members)).endswith(
        "2022年9月25日腾房交付；安置房差价已收取，安置房已分配：本户安置已完成。"
    )

    listed = await client.get("/ledger/differences?open=1")
    assert "没有尚未收取的安置房差价。" in listed.text
    assert await payables.unpaid_difference(db, owing, world.project.id) == 0
    listed = await client.get("/ledger/differences")
    assert "2022年10月1日 已收取（SJ-2022-001）" in listed.text
    assert "<dt>已收取</dt><dd>1 户，50,000.00 元</dd>" in listed.text
    after = await _lookup(db, owing)  # the resident's page
    assert after.difference_paid_on == date(2022, 10, 1) and _step(after, "settled").done

    # once — also when a second recording does not see the first (two finance users at once): the key refuses it
    with pytest.raises(Conflict, match="已登记收取"):
        await payables.record_difference(db, fin, agreement.id, on=date(2022, 10, 2), receipt_no="SJ-2")
    db.expunge_all()  # as another user's session: nothing of this one's in view
    not_seen = monkeypatch.context()
    with not_seen as m, pytest.raises(Conflict, match="已登记收取"):
        m.setattr(payables, "difference_of", _nothing_yet)
        async with db.begin_nested():
            await payables.record_difference(db, fin, ids["a"], on=date(2022, 10, 2), receipt_no="SJ-2")
    # and an agreement whose difference was paid is not voided
    with pytest.raises(Conflict, match="安置房差价已收取，不能作废"):
        await agreements.void(db, await principal(db, "rv_a"), ids["a"], "重新核算")

    # the database keeps the row and the amount, whatever the code does
    for statement in (
        "UPDATE difference_receipts SET amount = amount + 1 WHERE agreement_id = :a",
        "DELETE FROM difference_receipts WHERE agreement_id = :a",
    ):
        with pytest.raises(DBAPIError, match="never changed or deleted"):
            async with db.begin_nested():
                await db.execute(text(statement), {"a": ids["a"]})
    with pytest.raises(DBAPIError, match="what the signed agreement owes"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "INSERT INTO difference_receipts (agreement_id, household_id, project_id, county_code, "
                    "area_path, amount, received_on, receipt_no, tx_id) SELECT :b, household_id, project_id, "
                    "county_code, area_path, 1, received_on, 'X', tx_id FROM difference_receipts WHERE agreement_id = :a"
                ),
                ids,
            )
