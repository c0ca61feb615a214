"""腾房交付验收 of an agreement that pays nothing on the handover (the flats cost more than the compensation):
recorded on its own, once, never changed; the household then counts as handed over (dashboard, 下一步, public
lookup); an agreement that pays on the handover records it with its payment instead. Over the service and the
page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service
from app.audit.models import AuditEvent
from app.compensation import service as compensation
from app.compensation.schemas import SurveySave
from app.core.errors import Conflict, InvalidInput
from app.dashboard import service as dashboard
from app.households import progress
from app.households.models import Member
from app.households.service import id_cipher
from app.plans.schemas import demo_params
from app.public.service import find_status, lookup_digest
from tests.flats.factories import make_household, make_project, principal, sign_through_service
from tests.web.pages import csrf_from, login

Pin = Callable[[datetime], None]


async def _nothing_yet(_session: AsyncSession, _agreement_id: int) -> None:
    return None


async def _vacated(db: AsyncSession, village_id: int) -> int:
    stages = await dashboard.village_stages(db, await principal(db, "adm"), [village_id])
    return next(r.reached.households for r in stages[village_id] if r.code == "vacated")


async def test_handover_without_payment(
    db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned_clock(datetime(2022, 10, 10, 2, 0, tzinfo=UTC))
    world = await make_project(db, params=demo_params(date(2022, 9, 30)).stored())
    cw = await principal(db, "cw_a")
    # 550 ㎡ of flats at 1,000.00 yuan cost 50,000.00 more than the 500,000.00 of compensation; the other household
    # takes cash
    owing = await make_household(db, world, head="交房甲", flats=("300.00", "250.00"), signed=False)
    paid = await make_household(db, world, head="交房乙", flats=None, signed=False)
    for household_id in (owing, paid):
        await compensation.save_survey(
            db, cw, household_id, SurveySave(persons=1, surveyed_on=date(2022, 8, 1))
        )
    await service.create_notice(db, cw, world.project.id, world.village_id, started_on=date(2022, 9, 1))
    agreement = await sign_through_service(db, world, owing, 1)
    cash = await sign_through_service(db, world, paid, 2)
    assert not await service.pays_on_handover(db, agreement.id)
    assert await service.pays_on_handover(db, cash.id)

    members = (await db.scalars(select(Member).where(Member.household_id == owing))).all()
    assert (await progress.next_step(db, cw, owing, members)).endswith(
        "下一步：腾房交付验收，在“协议”页登记验收日期和验收单号。"
    )
    vacated_before = await _vacated(db, world.village_id)

    # refused: before signing, in the future, without a number; an agreement that pays on the handover
    for on, note, field in (
        (date(2022, 9, 19), "YS-1", "on"),
        (date(2022, 10, 11), "YS-1", "on"),
        (date(2022, 10, 1), " ", "note"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await service.record_handover(db, cw, agreement.id, on=on, note=note)
        assert refused.value.field == field
    with pytest.raises(Conflict, match="腾房交付后有应付补偿款"):
        await service.record_handover(db, cw, cash.id, on=date(2022, 10, 1), note="YS-2")

    # recorded over the page, as a caseworker does it
    client.headers.update({"Accept": "text/html,application/xhtml+xml"})
    await login(client, "cw_a")
    page = await client.get(f"/households/{owing}/agreements")
    assert page.status_code == 200 and f'action="/agreements/{agreement.id}/handover"' in page.text
    assert "安置房价款超出补偿款，由户主补交差价" in page.text
    assert (
        "<dt>应付净额</dt>" not in page.text
        and "<dt>户主应补差价</dt><dd>50,000.00 元（伍万元整）" in page.text
    )
    token = csrf_from(page.text)
    r = await client.post(
        f"/agreements/{agreement.id}/handover",
        data={"csrf_token": token, "handover_on": "2022-10-01", "handover_note": ""},
    )
    assert r.status_code == 422 and "请填写验收单号" in r.text
    r = await client.post(
        f"/agreements/{agreement.id}/handover",
        data={"csrf_token": token, "handover_on": "2022-10-01", "handover_note": "YS-001"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"/households/{owing}/agreements#handover")
    page = await client.get(f"/households/{owing}/agreements")
    assert "2022年10月1日 腾房交付验收（验收单号 YS-001）" in page.text
    assert f'action="/agreements/{agreement.id}/handover"' not in page.text  # recorded once

    assert await _vacated(db, world.village_id) == vacated_before + 1
    said = await progress.next_step(db, cw, owing, members)
    assert (
        "2022年10月1日腾房交付。下一步：户主补交安置房差价 50,000.00 元，由财政局在“协议”页登记收款；"
        "按公布的选房顺序分配安置房。"
    ) in said
    event = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "agreement.handover", AuditEvent.entity_id == str(agreement.id)
        )
    )
    assert event is not None and (event.after or {})["handed_over_on"] == "2022-10-01"

    # the resident's lookup shows the handover on its timeline
    head = await db.scalar(select(Member).where(Member.household_id == owing, Member.relation == "head"))
    assert head is not None
    raw = await (await db.connection()).get_raw_connection()
    status = await find_status(
        raw.driver_connection,
        lookup_digest(id_cipher().decrypt(head.id_number_enc)),
        head.name,
        date(2022, 10, 10),
    )
    assert status is not None
    vacated = next(step for step in status.steps if step.code == "vacated")
    assert (vacated.on, vacated.done) == (date(2022, 10, 1), True)

    with pytest.raises(Conflict, match="已登记"):
        await service.record_handover(db, cw, agreement.id, on=date(2022, 10, 2), note="YS-002")
    # also when a second recording does not see the first (two caseworkers at once): the key refuses it
    agreement_id = agreement.id
    db.expunge_all()  # as another user's session: nothing of this one's in view
    with monkeypatch.context() as m, pytest.raises(Conflict, match="已登记"):
        m.setattr(service, "handover_of", _nothing_yet)
        async with db.begin_nested():
            await service.record_handover(db, cw, agreement_id, on=date(2022, 10, 2), note="YS-002")
    for statement in (
        "UPDATE handovers SET handed_over_on = '2022-10-02' WHERE agreement_id = :a",
        "DELETE FROM handovers WHERE agreement_id = :a",
    ):
        with pytest.raises(DBAPIError, match="never changed or deleted"):
            async with db.begin_nested():
                await db.execute(text(statement), {"a": agreement_id})
