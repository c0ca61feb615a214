"""Where a household stands in the process (调查 → 核算 → 公示 → 签约 → …) and what is needed next: the
"下一步" hint on every household page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.models import Agreement, Handover, NoticeEntry, Objection, PublicNotice
from app.auth.policy import Principal
from app.compensation.models import Assessment, Survey
from app.core.clock import format_date_cn, today_in_china
from app.core.money import format_yuan
from app.flats import service as flats
from app.households.models import Member
from app.payments import compensation as payables


async def next_step(
    session: AsyncSession, principal: Principal, household_id: int, members: Sequence[Member]
) -> str:
    registered = [m for m in members if m.status == "registered"]
    if not any(m.relation == "head" for m in registered):
        return "本户目前没有在册户主。下一步：新增户主，或把一位在册成员的与户主关系改为“户主”。"
    if await session.get(Survey, household_id) is None:
        return f"户籍信息已登记（在册 {len(registered)} 人）。下一步：房屋调查登记。"
    latest = await session.scalar(
        select(Assessment)
        .where(Assessment.household_id == household_id)
        .order_by(Assessment.id.desc())
        .limit(1)
    )
    if latest is None or latest.status == "returned":
        why = "（上次核算被退回，请按意见修改）" if latest is not None else ""
        return f"房屋调查已登记。下一步：补偿核算，选择安置方式并提交审核{why}。"
    if latest.status == "submitted":
        return "补偿核算已提交，等待乡镇审核员审核。"
    agreement = await session.scalar(
        select(Agreement)
        .where(Agreement.household_id == household_id, Agreement.status != "voided")
        .order_by(Agreement.id.desc())
        .limit(1)
    )
    if agreement is not None and agreement.status == "signed":
        return await _after_signing(session, principal, agreement)
    notice = await session.scalar(
        select(PublicNotice)
        .join(NoticeEntry, NoticeEntry.notice_id == PublicNotice.id)
        .where(NoticeEntry.household_id == household_id, NoticeEntry.assessment_id == latest.id)
        .order_by(PublicNotice.started_on.desc())
        .limit(1)
    )
    if notice is None:
        return "补偿核算已批准。下一步：公示。"
    open_objection = await session.scalar(
        select(Objection.id)
        .where(Objection.household_id == household_id, Objection.status == "open")
        .limit(1)
    )
    if open_objection is not None:
        return "公示期间有未处理的异议；异议处理完毕后才能签约。"
    signable_on = notice.started_on + timedelta(days=notice.days)
    if today_in_china() < signable_on:
        ends = signable_on - timedelta(days=1)
        return f"正在公示，公示期至{format_date_cn(ends)}；{format_date_cn(signable_on)}起可以签约。"
    if agreement is None:
        return "公示期满，无未处理的异议。下一步：出具协议书并签约。"
    return f"协议 {agreement.number} 已出具。下一步：签约并登记签约日期。"


async def _after_signing(session: AsyncSession, principal: Principal, agreement: Agreement) -> str:
    """After signing: the handover (腾房交付验收), the purchase contract for the purchase subsidy, the bank paying
    each tranche, a flat for the flat option — the first missing ones named, or the case complete (the dashboard's
    已结案)."""
    signed = f"协议 {agreement.number} 已于{format_date_cn(agreement.signed_on)}签订"
    tranches = {
        t.tranche.kind: t
        for t in await payables.tranches_of_household(session, principal, agreement.household_id)
        if t.tranche.agreement_id == agreement.id and t.state != "cancelled"
    }
    vacate = tranches.get("vacate")
    if vacate is not None and vacate.state == "awaiting":
        return f"{signed}。下一步：腾房交付验收，在“协议”页登记验收日期和收款账户。"
    handed_over = vacate.tranche.due_on if vacate is not None else None
    if vacate is None:  # nothing is paid on the handover: it has a record of its own
        handover = await session.get(Handover, agreement.id)
        if handover is None:
            return f"{signed}。下一步：腾房交付验收，在“协议”页登记验收日期和验收单号。"
        handed_over = handover.handed_over_on
    done = signed
    if handed_over is not None:
        done += f"，{format_date_cn(handed_over)}腾房交付"
    failed = [t.kind_label for t in tranches.values() if t.state == "failed"]
    if failed:
        return (
            f"{done}。{'、'.join(failed)}银行支付失败：请与户主核实后在“协议”页更正收款账号，由财政局重发。"
        )
    todo = []
    purchase = tranches.get("purchase_subsidy")
    if purchase is not None and purchase.state == "awaiting":
        todo.append("审核购房合同，在“协议”页登记（购房补贴凭合同支付）")
    if any(t.state == "due" for t in tranches.values()):
        todo.append("财政局在补偿款发放批次中支付")
    elif any(t.state == "pending" for t in tranches.values()):
        todo.append("等待银行回盘（补偿款已在代发中）")
    owed = payables.difference_owed(agreement)
    if owed and await payables.difference_of(session, agreement.id) is None:
        todo.append(f"户主补交安置房差价 {format_yuan(owed)} 元，由财政局在“协议”页登记收款")
    assessment = await session.get(Assessment, agreement.assessment_id)
    flat = assessment is not None and assessment.option_kind == "resettlement_flat"
    if flat and not await flats.allocations_for(session, agreement.household_id):
        todo.append("按公布的选房顺序分配安置房")
    if todo:
        return f"{done}。下一步：{'；'.join(todo)}。"
    money = "安置房差价已收取" if owed else "补偿款已全部到账"
    return f"{done}；{money}{'，安置房已分配' if flat else ''}：本户安置已完成。"
