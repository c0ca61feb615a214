"""Where a household stands in the process (调查 → 核算 → 公示 → 签约 → …) and what is needed next: the
"下一步" hint on every household page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.models import Agreement, NoticeEntry, Objection, PublicNotice
from app.compensation.models import Assessment, Survey
from app.core.clock import format_date_cn, today_in_china
from app.households.models import Member


async def next_step(session: AsyncSession, household_id: int, members: Sequence[Member]) -> str:
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
        return f"协议 {agreement.number} 已于{format_date_cn(agreement.signed_on)}签订。下一步：腾房交付、安置房分配和付款。"
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
