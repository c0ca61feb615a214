"""The registry over JSON under /api/v1. ID numbers travel only in request bodies, never in URLs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.audit import service as audit
from app.audit.labels import action_label
from app.audit.models import AuditEvent
from app.auth.deps import ApiPrincipal, Session
from app.core.clock import format_datetime_cn
from app.core.params import HouseholdId, MemberId, PageNo, PageSize, VillageId
from app.core.text import QueryText
from app.households import service
from app.households.models import MEMBER_STATUSES, RELATIONS, Member
from app.households.schemas import (
    AuditEventOut,
    FullIdNumber,
    HouseholdIn,
    HouseholdOut,
    HouseholdPage,
    HouseholdSummary,
    HouseholdUpdate,
    IdNumberQuery,
    MemberIn,
    MemberMove,
    MemberOut,
    MemberUpdate,
    VillageOut,
)

router = APIRouter(prefix="/api/v1", tags=["户籍登记"])

COMMON: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不在负责区域内"},
}
WRITE: dict[int | str, dict[str, Any]] = {
    **COMMON,
    # A body that is not UTF-8 cannot even be parsed as JSON: FastAPI answers 400 before validation.
    400: {"description": "请求体无法解析"},
    409: {"description": "与现有数据冲突"},
    422: {"description": "输入有误"},
}


def member_out(m: Member) -> MemberOut:
    return MemberOut(
        id=m.id,
        household_id=m.household_id,
        name=m.name,
        id_number_masked=m.id_number_masked,
        birth_date=m.birth_date,
        sex=m.sex,
        relation=m.relation,
        relation_label=RELATIONS[m.relation],
        status=m.status,
        status_label=MEMBER_STATUSES[m.status],
        phone=m.phone,
        registered_on=m.registered_on,
        version=m.version,
    )


def summary_out(row: service.HouseholdRow) -> HouseholdSummary:
    h = row.household
    return HouseholdSummary(
        id=h.id,
        village_id=h.village_id,
        village_name=row.village_name,
        group_id=h.group_id,
        group_name=row.group_name,
        register_no=h.register_no,
        address=h.address,
        head_name=row.head_name,
        member_count=row.member_count,
        version=h.version,
    )


async def household_out(session: Session, principal: ApiPrincipal, household_id: int) -> HouseholdOut:
    row = await service.household_row(session, principal, household_id)
    members = await service.members_of(session, household_id)
    return HouseholdOut(**summary_out(row).model_dump(), members=[member_out(m) for m in members])


def event_out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        seq=e.seq,
        occurred_at=format_datetime_cn(e.occurred_at),
        actor_username=e.actor_username,
        actor_role=e.actor_role,
        action=e.action,
        action_label=action_label(e.action),
        entity_type=e.entity_type,
        entity_id=e.entity_id,
        before=e.before,
        after=e.after,
    )


@router.get("/villages", response_model=list[VillageOut], responses=COMMON)
async def villages(session: Session, principal: ApiPrincipal) -> list[VillageOut]:
    """我负责的村，含户数和在册人数。"""
    rows = await service.list_villages(session, principal)
    return [
        VillageOut(
            id=r.village.id,
            code=r.village.code,
            name=r.village.name,
            township_name=r.township_name,
            household_count=r.household_count,
            member_count=r.member_count,
        )
        for r in rows
    ]


@router.get("/villages/{village_id}/households", response_model=HouseholdPage, responses=COMMON)
async def village_households(
    session: Session,
    principal: ApiPrincipal,
    village_id: VillageId,
    q: Annotated[QueryText | None, Query(max_length=50, title="姓名（部分）")] = None,
    page: PageNo = 1,
    page_size: PageSize = 20,
) -> HouseholdPage:
    """户列表；``q`` 按家庭成员姓名的一部分查找。按身份证号查找请用 POST /households/search。"""
    rows, total = await service.list_households(
        session, principal, village_id, q=q or None, page=page, page_size=page_size
    )
    return HouseholdPage(items=[summary_out(r) for r in rows], total=total, page=page, page_size=page_size)


@router.post("/households/search", response_model=list[HouseholdSummary], responses=WRITE)
async def search_by_id_number(
    session: Session, principal: ApiPrincipal, body: IdNumberQuery
) -> list[HouseholdSummary]:
    """按完整身份证号查找户（号码放在请求体中，不出现在网址里）。"""
    return [summary_out(r) for r in await service.find_by_id_number(session, principal, body.id_number)]


@router.post("/households", response_model=HouseholdOut, status_code=201, responses=WRITE)
async def create_household(session: Session, principal: ApiPrincipal, body: HouseholdIn) -> HouseholdOut:
    household = await service.create_household(session, principal, body)
    return await household_out(session, principal, household.id)


@router.get("/households/{household_id}", response_model=HouseholdOut, responses=COMMON)
async def get_household(session: Session, principal: ApiPrincipal, household_id: HouseholdId) -> HouseholdOut:
    return await household_out(session, principal, household_id)


@router.put("/households/{household_id}", response_model=HouseholdOut, responses=WRITE)
async def update_household(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId, body: HouseholdUpdate
) -> HouseholdOut:
    await service.update_household(session, principal, household_id, body)
    return await household_out(session, principal, household_id)


@router.get("/households/{household_id}/history", response_model=list[AuditEventOut], responses=COMMON)
async def household_history(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId
) -> list[AuditEventOut]:
    """本户的操作记录（最新在前）。"""
    await service.get_household(session, principal, household_id)
    return [event_out(e) for e in await audit.household_history(session, household_id)]


@router.post("/households/{household_id}/members", response_model=MemberOut, status_code=201, responses=WRITE)
async def add_member(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId, body: MemberIn
) -> MemberOut:
    return member_out(await service.add_member(session, principal, household_id, body))


@router.put("/members/{member_id}", response_model=MemberOut, responses=WRITE)
async def update_member(
    session: Session, principal: ApiPrincipal, member_id: MemberId, body: MemberUpdate
) -> MemberOut:
    return member_out(await service.update_member(session, principal, member_id, body))


@router.post("/members/{member_id}/move", response_model=MemberOut, status_code=201, responses=WRITE)
async def move_member(
    session: Session, principal: ApiPrincipal, member_id: MemberId, body: MemberMove
) -> MemberOut:
    """迁移成员到另一户：原户记为迁出，新户新增在册成员，两户的操作记录各留一条。"""
    return member_out(await service.move_member(session, principal, member_id, body))


@router.post("/members/{member_id}/id-number", response_model=FullIdNumber, responses=COMMON)
async def reveal_id_number(session: Session, principal: ApiPrincipal, member_id: MemberId) -> FullIdNumber:
    """查看完整身份证号（每次查看都记入操作记录）。"""
    return FullIdNumber(
        member_id=member_id, id_number=await service.reveal_id_number(session, principal, member_id)
    )
