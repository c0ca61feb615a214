"""Notices, objections, signing rules, numbering, immutability and voiding, through the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import pdf, rules, service
from app.audit.models import AuditEvent
from app.core.errors import Conflict, Forbidden, InvalidInput
from tests.agreements.helpers import (
    Case,
    another_household,
    approved_assessment,
    at,
    principal,
    project_with_plan,
)
from tests.seed import SEED

Pin = Callable[[datetime], None]
START = date(2022, 9, 1)


async def noticed_case(db: AsyncSession, pin: Pin, *households: int) -> Case:
    """A project with h1 (and ``households``) assessed, approved and on a notice from 2022-09-01 (7 days)."""
    pin(at(START))
    case = await project_with_plan(db)
    for household_id in (SEED.households["h1"], *households):
        await approved_assessment(db, case, household_id)
    cw = await principal(db, "cw_a")
    await service.create_notice(db, cw, case.project.id, case.village_id)
    return case


async def actions(db: AsyncSession, entity_type: str) -> list[str]:
    rows = await db.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == entity_type).order_by(AuditEvent.seq)
    )
    return list(rows)


async def test_notice_lists_approved_assessments_once(db: AsyncSession, pinned_clock: Pin) -> None:
    case = await noticed_case(db, pinned_clock)
    cw = await principal(db, "cw_a")
    [notice] = await service.notices_of_village(db, cw, case.village_id)
    assert (notice.started_on, notice.days) == (START, 7)
    [entry] = notice.entries
    assert entry["head_name"] == "王建国"
    assert entry["head_id_masked"].startswith("410727") and "*" in entry["head_id_masked"]
    assert (entry["persons"], entry["net_payable"], entry["option_label"]) == (4, 9_470_000, "安置房安置")
    assert notice.pdf.startswith(b"%PDF") and pdf.sha256(notice.pdf) == notice.pdf_sha256
    assert "notice.create" in await actions(db, "public_notice")
    # Everyone approved is on a notice now: a second one needs "include everyone".
    with pytest.raises(Conflict):
        await service.create_notice(db, cw, case.project.id, case.village_id)
    again = await service.create_notice(db, cw, case.project.id, case.village_id, include_noticed=True)
    assert len(again.entries) == 1


async def test_notice_needs_the_permission(db: AsyncSession, pinned_clock: Pin) -> None:
    pinned_clock(at(START))
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    with pytest.raises(Forbidden):
        await service.create_notice(db, await principal(db, "rv_a"), case.project.id, case.village_id)


async def test_signing_refused_before_the_period_has_passed(db: AsyncSession, pinned_clock: Pin) -> None:
    case = await noticed_case(db, pinned_clock)
    cw = await principal(db, "cw_a")
    pinned_clock(at(date(2022, 9, 5)))
    agreement = await service.issue_agreement(
        db, cw, SEED.households["h1"]
    )  # drafts may be prepared meanwhile
    with pytest.raises(Conflict) as refused:
        await service.sign(db, cw, agreement.id)
    assert refused.value.message == "公示期至2022年9月7日，2022年9月8日起方可签约"
    pinned_clock(at(date(2022, 9, 10)))
    with pytest.raises(Conflict) as refused:
        await service.sign(db, cw, agreement.id, date(2022, 9, 7))  # a typed date inside the period
    assert refused.value.message == "公示期至2022年9月7日，2022年9月8日起方可签约"
    with pytest.raises(InvalidInput):
        await service.sign(db, cw, agreement.id, date(2022, 9, 11))  # not in the future
    signed = await service.sign(db, cw, agreement.id, date(2022, 9, 8))
    assert (signed.status, signed.signed_on) == ("signed", date(2022, 9, 8))
    assert case.project.code == "FQ-2022"


async def test_an_open_objection_blocks_signing_until_resolved(db: AsyncSession, pinned_clock: Pin) -> None:
    await noticed_case(db, pinned_clock)
    cw = await principal(db, "cw_a")
    h1 = SEED.households["h1"]
    pinned_clock(at(date(2022, 9, 3)))
    objection = await service.record_objection(
        db,
        cw,
        h1,
        raised_on=date(2022, 9, 3),
        raised_by_name="王小明",
        content="西侧砖木房面积少量了 5 平方米",
    )
    pinned_clock(at(date(2022, 9, 9)))
    agreement = await service.issue_agreement(db, cw, h1)
    with pytest.raises(Conflict) as refused:
        await service.sign(db, cw, agreement.id)
    assert refused.value.message == (
        "有未处理的异议（王小明于2022年9月3日提出：西侧砖木房面积少量了 5 平方米），处理后方可签约"
    )
    await service.resolve_objection(db, cw, objection.id, "经复核面积无误，已向王小明说明")
    with pytest.raises(Conflict):
        await service.resolve_objection(db, cw, objection.id, "再次处理")
    signed = await service.sign(db, cw, agreement.id)
    assert signed.signed_on == date(2022, 9, 9)
    assert await actions(db, "objection") == ["objection.record", "objection.resolve"]
    assert await actions(db, "agreement") == ["agreement.issue", "agreement.sign"]


async def test_objections_need_a_notice(db: AsyncSession, pinned_clock: Pin) -> None:
    pinned_clock(at(START))
    cw = await principal(db, "cw_a")
    with pytest.raises(Conflict):
        await service.record_objection(
            db, cw, SEED.households["h1"], raised_on=START, raised_by_name="甲", content="乙"
        )


async def test_numbers_run_per_project_and_village(db: AsyncSession, pinned_clock: Pin) -> None:
    second = await another_household(db)
    third = await another_household(db, "钱多多")
    await noticed_case(db, pinned_clock, second, third)
    cw, rv = await principal(db, "cw_a"), await principal(db, "rv_a")
    pinned_clock(at(date(2022, 9, 8)))
    a1 = await service.issue_agreement(db, cw, SEED.households["h1"])
    a2 = await service.issue_agreement(db, cw, second)
    assert (a1.number, a2.number) == ("FQ-2022-QFZ-0001", "FQ-2022-QFZ-0002")
    with pytest.raises(Conflict):
        await service.issue_agreement(db, cw, second)  # one live agreement per household and project
    await service.void(db, rv, a1.id, "户主姓名打印有误")
    a1b = await service.issue_agreement(db, cw, SEED.households["h1"])
    a3 = await service.issue_agreement(db, cw, third)
    assert (a1b.number, a3.number) == ("FQ-2022-QFZ-0003", "FQ-2022-QFZ-0004")


async def test_void_needs_the_reviewer_and_a_reason_then_a_new_one_follows(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    await noticed_case(db, pinned_clock)
    cw, rv = await principal(db, "cw_a"), await principal(db, "rv_a")
    pinned_clock(at(date(2022, 9, 8)))
    agreement = await service.issue_agreement(db, cw, SEED.households["h1"])
    await service.sign(db, cw, agreement.id)
    with pytest.raises(Forbidden):
        await service.void(db, cw, agreement.id, "经办员不能作废")
    with pytest.raises(InvalidInput):
        await service.void(db, rv, agreement.id, "   ")
    voided = await service.void(db, rv, agreement.id, "安置方式变更，重新签订")
    assert (voided.status, voided.void_reason, voided.signed_on) == (
        "voided",
        "安置方式变更，重新签订",
        date(2022, 9, 8),
    )
    with pytest.raises(Conflict):
        await service.void(db, rv, agreement.id, "再次作废")
    follow = await service.issue_agreement(db, cw, SEED.households["h1"])
    assert follow.status == "draft" and follow.number != agreement.number


async def test_a_signed_agreement_is_never_edited(db: AsyncSession, pinned_clock: Pin) -> None:
    await noticed_case(db, pinned_clock)
    cw = await principal(db, "cw_a")
    pinned_clock(at(date(2022, 9, 8)))
    agreement = await service.issue_agreement(db, cw, SEED.households["h1"])
    draft_sha = agreement.pdf_sha256
    agreement = await service.rerender(db, cw, agreement.id)  # drafts may be rendered again
    assert agreement.number == "FQ-2022-QFZ-0001" and agreement.pdf_sha256
    await service.sign(db, cw, agreement.id)
    with pytest.raises(Conflict):
        await service.rerender(db, cw, agreement.id)
    with pytest.raises(Conflict):
        await service.sign(db, cw, agreement.id)
    for statement in (
        "UPDATE agreements SET net_payable = 1 WHERE id = :id",
        "UPDATE agreements SET signed_on = '2022-09-09' WHERE id = :id",
        "UPDATE agreements SET status = 'draft' WHERE id = :id",
        "DELETE FROM agreements WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match=r"agreement FQ-2022-QFZ-0001 (cannot be changed|is kept)"):
            async with db.begin_nested():
                await db.execute(text(statement), {"id": agreement.id})
    assert draft_sha is not None


async def test_issue_needs_an_approved_noticed_assessment(db: AsyncSession, pinned_clock: Pin) -> None:
    pinned_clock(at(START))
    cw = await principal(db, "cw_a")
    with pytest.raises(Conflict, match="没有已批准的补偿核算"):
        await service.issue_agreement(db, cw, SEED.households["h1"])
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    with pytest.raises(Conflict, match="尚未公示"):
        await service.issue_agreement(db, cw, SEED.households["h1"])


async def test_verification(db: AsyncSession, pinned_clock: Pin) -> None:
    await noticed_case(db, pinned_clock)
    cw = await principal(db, "cw_a")
    pinned_clock(at(date(2022, 9, 8)))
    agreement = await service.issue_agreement(db, cw, SEED.households["h1"])
    code = rules.check_code(agreement.snapshot, agreement.template_version)
    ok = await service.verify(db, agreement.number, code)
    assert (ok.matches, ok.head_masked, ok.status, ok.net_payable) == (True, "王*国", "draft", 9_470_000)
    by_file = await service.verify(db, agreement.number, agreement.pdf_sha256.hex()[:12])
    assert by_file.matches
    bad = await service.verify(db, agreement.number, "0" * 12)
    assert (bad.found, bad.matches, bad.head_masked, bad.net_payable) == (True, False, "", 0)
    unknown = await service.verify(db, "FQ-2022-QFZ-9999", code)
    assert not unknown.found


def test_rules_mask_and_periods() -> None:
    assert [rules.mask_name(n) for n in ("王建国", "王明", "欧阳小明", "李")] == [
        "王*国",
        "王*",
        "欧**明",
        "李",
    ]
    assert rules.notice_period_text(START, 7) == "公示期：2022年9月1日至2022年9月7日"
    assert rules.signable_from(START, 7) == date(2022, 9, 8)
    assert rules.signing_refusal(on=date(2022, 9, 8), noticed=(START, 7), open_objections=()) is None
    assert rules.signing_refusal(on=date(2022, 9, 8), noticed=None, open_objections=()) is not None
    assert rules.agreement_number("FQ-2022", "QFZ", 12) == "FQ-2022-QFZ-0012"


def test_payment_clauses() -> None:
    flat = rules.payment_clauses(
        compensation_total=26_460_000,
        flat_price_due=16_990_000,
        on_proof_total=0,
        vacate_by=date(2022, 9, 25),
    )
    assert flat[0] == "乙方应于2022年9月25日前腾空房屋并交付甲方验收。"
    assert any("94,700.00 元（玖万肆仟柒佰元整）" in c for c in flat)
    owes = rules.payment_clauses(
        compensation_total=10_000_000, flat_price_due=12_000_000, on_proof_total=0, vacate_by=None
    )
    assert any("差价 20,000.00 元" in c for c in owes)
    subsidy = rules.payment_clauses(
        compensation_total=50_000_000, flat_price_due=0, on_proof_total=44_800_000, vacate_by=None
    )
    assert any("购房补贴 448,000.00 元" in c and "购房合同" in c for c in subsidy)
    assert any("补偿款 52,000.00 元" in c for c in subsidy)
