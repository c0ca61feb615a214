"""Projects (征收项目) and the versioned village plans (一村一方案) over JSON under /api/v1."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.auth.deps import ApiPrincipal, Session
from app.core.params import PlanId, ProjectId, VillageId
from app.plans import service
from app.plans.models import PLAN_STATUSES, Plan
from app.plans.schemas import (
    PlanDraftIn,
    PlanOut,
    PlanParamsIn,
    PlanUpdateIn,
    ProjectIn,
    ProjectOut,
    ProjectVillageOut,
    SendBackIn,
)

router = APIRouter(prefix="/api/v1", tags=["补偿安置方案"])

COMMON: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不在负责区域内"},
}
WRITE: dict[int | str, dict[str, Any]] = {
    **COMMON,
    400: {"description": "请求体无法解析"},
    409: {"description": "与方案的当前状态冲突（如已有未审批完的版本、已被他人修改）"},
    422: {"description": "输入有误"},
}
ACTION: dict[int | str, dict[str, Any]] = {
    **COMMON,
    403: {"description": "角色无权，或审批的是自己编制的方案"},
    409: {"description": "方案不处于可进行此操作的状态"},
}


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        project_id=plan.project_id,
        village_id=plan.village_id,
        version=plan.version,
        status=plan.status,
        status_label=PLAN_STATUSES[plan.status],
        params=PlanParamsIn.model_validate(plan.params),
        author_id=plan.author_id,
        reviewer_id=plan.reviewer_id,
        review_comment=plan.review_comment,
        created_at=plan.created_at,
        submitted_at=plan.submitted_at,
        approved_at=plan.approved_at,
        superseded_at=plan.superseded_at,
        lock_version=plan.lock_version,
    )


def village_out(v: service.VillagePlans) -> ProjectVillageOut:
    return ProjectVillageOut(
        project_id=v.row.project.id,
        project_code=v.row.project.code,
        project_name=v.row.project.name,
        village_id=v.row.link.village_id,
        village_name=v.row.village_name,
        abbr=v.row.link.abbr,
        approved_version=v.approved.version if v.approved else None,
        latest_version=v.latest.version if v.latest else None,
        latest_status=v.latest.status if v.latest else None,
    )


@router.get("/projects", response_model=list[ProjectVillageOut], responses=COMMON)
async def projects(session: Session, principal: ApiPrincipal) -> list[ProjectVillageOut]:
    """我负责区域内的征收项目及其涉及的村，含现行方案版本和最新版本的状态。"""
    return [village_out(v) for v in await service.overview(session, principal)]


@router.post("/projects", response_model=ProjectOut, status_code=201, responses=WRITE)
async def create_project(session: Session, principal: ApiPrincipal, body: ProjectIn) -> ProjectOut:
    """新建本县的征收项目（县级管理员）；``villages`` 为涉及的村及其简称（用于协议编号，如 QFZ）。"""
    project = await service.create_project(
        session,
        principal,
        code=body.code,
        name=body.name,
        villages=[(v.village_id, v.abbr) for v in body.villages],
    )
    rows = await service.overview(session, principal, project.id)
    return ProjectOut(
        id=project.id,
        code=project.code,
        name=project.name,
        county_code=project.county_code,
        villages=[village_out(v) for v in rows],
    )


@router.get(
    "/projects/{project_id}/villages/{village_id}/plans", response_model=list[PlanOut], responses=COMMON
)
async def plan_versions(
    session: Session, principal: ApiPrincipal, project_id: ProjectId, village_id: VillageId
) -> list[PlanOut]:
    """该村在该项目中的全部方案版本（最新在前）。"""
    return [plan_out(p) for p in await service.versions(session, principal, project_id, village_id)]


@router.post(
    "/projects/{project_id}/villages/{village_id}/plans",
    response_model=PlanOut,
    status_code=201,
    responses=WRITE,
)
async def new_draft(
    session: Session,
    principal: ApiPrincipal,
    project_id: ProjectId,
    village_id: VillageId,
    body: PlanDraftIn,
) -> PlanOut:
    """新建方案草稿：给出 ``params`` 则按其填写，否则复制最新一版。已有草稿或待审核版本时返回 409。"""
    plan = await service.new_draft(session, principal, project_id, village_id, body.params)
    return plan_out(plan)


@router.get("/plans/{plan_id}", response_model=PlanOut, responses=COMMON)
async def get_plan(session: Session, principal: ApiPrincipal, plan_id: PlanId) -> PlanOut:
    return plan_out(await service.get_plan(session, principal, plan_id))


@router.put("/plans/{plan_id}", response_model=PlanOut, responses=WRITE)
async def update_plan(
    session: Session, principal: ApiPrincipal, plan_id: PlanId, body: PlanUpdateIn
) -> PlanOut:
    """修改草稿的全部参数；``lock_version`` 须为读取时的值，否则返回 409。"""
    return plan_out(await service.update_draft(session, principal, plan_id, body.params, body.lock_version))


@router.post("/plans/{plan_id}/submit", response_model=PlanOut, responses=ACTION)
async def submit_plan(session: Session, principal: ApiPrincipal, plan_id: PlanId) -> PlanOut:
    """提交审核：之后由乡镇审核员审批（不能是编制人本人）。"""
    return plan_out(await service.submit(session, principal, plan_id))


@router.post("/plans/{plan_id}/approve", response_model=PlanOut, responses=ACTION)
async def approve_plan(session: Session, principal: ApiPrincipal, plan_id: PlanId) -> PlanOut:
    """批准待审核的版本：它成为现行方案，原现行版本记为“已被新版本取代”。批准后不能再修改。"""
    return plan_out(await service.approve(session, principal, plan_id))


@router.post(
    "/plans/{plan_id}/send-back",
    response_model=PlanOut,
    responses={**ACTION, 400: WRITE[400], 422: WRITE[422]},
)
async def send_back_plan(
    session: Session, principal: ApiPrincipal, plan_id: PlanId, body: SendBackIn
) -> PlanOut:
    """退回待审核的版本，附退回意见；版本回到草稿，编制人可修改后再提交。"""
    return plan_out(await service.send_back(session, principal, plan_id, body.comment))
