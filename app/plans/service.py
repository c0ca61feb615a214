"""Projects (征收项目) and the versioned village plans (一村一方案): draft → submitted → approved by a reviewer
who is not the author → superseded by the next approved version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.audit import service as audit
from app.auth.policy import Perm, Principal, authorize, require, scope_clause
from app.compensation import rules
from app.core.clock import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.plans.models import Plan, Project, ProjectVillage
from app.plans.schemas import PlanParamsIn

PLAN_NOT_FOUND = "找不到该方案，或它不在您负责的区域内"


# ---------------------------------------------------------------- projects


async def create_project(
    session: AsyncSession, actor: Principal, *, code: str, name: str, villages: Sequence[tuple[int, str]]
) -> Project:
    """A project of the actor's county over the given (village id, abbreviation) pairs."""
    county = await session.scalar(select(Area).where(Area.code == actor.county_code, Area.level == "county"))
    if county is None:
        raise InvalidInput("找不到您所在的县", field="county")
    authorize(actor, Perm.PROJECTS_MANAGE, county.path)
    if await session.scalar(select(Project.id).where(Project.code == code)) is not None:
        raise Conflict(f"项目编号 {code} 已被使用", field="code")
    if not villages:
        raise InvalidInput("请至少选择一个村", field="villages")
    project = Project(
        county_code=county.county_code, code=code, name=name, area_path=county.path, created_by=actor.user_id
    )
    session.add(project)
    await session.flush()
    for village_id, abbr in villages:
        await add_village(session, actor, project, village_id, abbr)
    await audit.record(
        session,
        actor,
        "project.create",
        "project",
        project.id,
        after={"code": code, "name": name, "villages": [a for _v, a in villages]},
        county_code=project.county_code,
    )
    return project


async def add_village(
    session: AsyncSession, actor: Principal, project: Project, village_id: int, abbr: str
) -> None:
    village = await session.scalar(select(Area).where(Area.id == village_id, Area.level == "village"))
    if village is None or village.county_code != project.county_code:
        raise InvalidInput("所选的村不存在或不在本县", field="villages")
    authorize(actor, Perm.PROJECTS_MANAGE, village.path)
    exists = await session.scalar(
        select(func.count())
        .select_from(ProjectVillage)
        .where(
            ProjectVillage.project_id == project.id,
            (ProjectVillage.village_id == village_id) | (ProjectVillage.abbr == abbr),
        )
    )
    if exists:
        raise Conflict(f"{village.name}或简称 {abbr} 已在本项目中", field="villages")
    session.add(
        ProjectVillage(project_id=project.id, village_id=village_id, abbr=abbr, area_path=village.path)
    )
    await session.flush()


@dataclass(frozen=True, slots=True)
class ProjectVillageRow:
    project: Project
    link: ProjectVillage
    village_name: str


async def project_villages(
    session: AsyncSession, principal: Principal, project_id: int | None = None
) -> list[ProjectVillageRow]:
    """The (project, village) pairs in the caller's areas."""
    require(principal, Perm.REGISTRY_READ)
    stmt = (
        select(Project, ProjectVillage, Area.name)
        .join(ProjectVillage, ProjectVillage.project_id == Project.id)
        .join(Area, Area.id == ProjectVillage.village_id)
        .where(scope_clause(principal, ProjectVillage.area_path))
        .order_by(Project.id, Area.code)
    )
    if project_id is not None:
        stmt = stmt.where(Project.id == project_id)
    return [ProjectVillageRow(p, pv, n) for p, pv, n in (await session.execute(stmt)).all()]


async def get_project_village(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> ProjectVillageRow:
    rows = [
        r for r in await project_villages(session, principal, project_id) if r.link.village_id == village_id
    ]
    if not rows:
        raise NotFound("找不到该项目的这个村，或它不在您负责的区域内")
    return rows[0]


async def projects_for_village(session: AsyncSession, village_id: int) -> Sequence[Project]:
    return (
        await session.scalars(
            select(Project)
            .join(ProjectVillage, ProjectVillage.project_id == Project.id)
            .where(ProjectVillage.village_id == village_id)
            .order_by(Project.id)
        )
    ).all()


# ---------------------------------------------------------------- plan versions


def params_of(plan: Plan) -> rules.PlanParams:
    return PlanParamsIn.model_validate(plan.params).to_rules()


async def get_plan(session: AsyncSession, principal: Principal, plan_id: int) -> Plan:
    require(principal, Perm.REGISTRY_READ)
    plan = await session.scalar(
        select(Plan).where(Plan.id == plan_id, scope_clause(principal, Plan.area_path))
    )
    if plan is None:
        raise NotFound(PLAN_NOT_FOUND)
    return plan


async def versions(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> Sequence[Plan]:
    """Every version of a village's plan in a project, newest first."""
    await get_project_village(session, principal, project_id, village_id)
    return (
        await session.scalars(
            select(Plan)
            .where(Plan.project_id == project_id, Plan.village_id == village_id)
            .order_by(Plan.version.desc())
        )
    ).all()


async def approved_plan(session: AsyncSession, project_id: int, village_id: int) -> Plan | None:
    """The version in force (the caller is already authorised for the village)."""
    return await session.scalar(
        select(Plan).where(
            Plan.project_id == project_id, Plan.village_id == village_id, Plan.status == "approved"
        )
    )


async def new_draft(
    session: AsyncSession,
    actor: Principal,
    project_id: int,
    village_id: int,
    params: PlanParamsIn | None = None,
) -> Plan:
    """A new draft version: ``params`` if given, else a copy of the latest version."""
    pv = await get_project_village(session, actor, project_id, village_id)
    authorize(actor, Perm.PLAN_EDIT, pv.link.area_path)
    latest = await session.scalar(
        select(Plan)
        .where(Plan.project_id == project_id, Plan.village_id == village_id)
        .order_by(Plan.version.desc())
        .limit(1)
    )
    if latest is not None and latest.status in ("draft", "submitted"):
        raise Conflict(f"第 {latest.version} 版方案尚未审批完毕，请先完成或修改该版本", field="version")
    if params is None and latest is None:
        raise InvalidInput("第一版方案需要填写全部参数", field="params")
    stored = params.stored() if params is not None else dict(latest.params)  # type: ignore[union-attr]
    plan = Plan(
        project_id=project_id,
        village_id=village_id,
        county_code=pv.project.county_code,
        area_path=pv.link.area_path,
        version=(latest.version + 1) if latest else 1,
        status="draft",
        params=stored,
        author_id=actor.user_id,
    )
    session.add(plan)
    await session.flush()
    await audit.record(
        session,
        actor,
        "plan.draft",
        "plan",
        plan.id,
        after={"project": pv.project.code, "village": pv.village_name, "version": plan.version},
        county_code=plan.county_code,
    )
    return plan


async def update_draft(
    session: AsyncSession, actor: Principal, plan_id: int, params: PlanParamsIn, lock_version: int
) -> Plan:
    plan = await get_plan(session, actor, plan_id)
    authorize(actor, Perm.PLAN_EDIT, plan.area_path)
    if plan.status != "draft":
        raise Conflict("只有草稿可以修改；已提交或已批准的方案不能再改", field="status")
    if plan.lock_version != lock_version:
        raise Conflict("该方案已被他人修改，请刷新页面后重新填写", field="version")
    before = dict(plan.params)
    plan.params = params.stored()
    changed_before, changed_after = param_changes(before, plan.params)
    await session.flush()
    if changed_after:
        await audit.record(
            session,
            actor,
            "plan.update",
            "plan",
            plan.id,
            before=changed_before,
            after=changed_after,
            county_code=plan.county_code,
        )
    return plan


async def submit(session: AsyncSession, actor: Principal, plan_id: int) -> Plan:
    plan = await get_plan(session, actor, plan_id)
    authorize(actor, Perm.PLAN_EDIT, plan.area_path)
    if plan.status != "draft":
        raise Conflict("只有草稿可以提交审核", field="status")
    plan.status, plan.submitted_at = "submitted", utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "plan.submit",
        "plan",
        plan.id,
        after={"version": plan.version},
        county_code=plan.county_code,
    )
    return plan


async def approve(session: AsyncSession, actor: Principal, plan_id: int) -> Plan:
    """Approve a submitted version (maker-checker) and supersede the version it replaces."""
    plan = await get_plan(session, actor, plan_id)
    authorize(actor, Perm.PLAN_APPROVE, plan.area_path)
    if plan.status != "submitted":
        raise Conflict("只有待审核的方案可以批准", field="status")
    if plan.author_id == actor.user_id:
        raise Forbidden("不能审批自己编制的方案，请由另一位审核员审批")
    now = utcnow()
    previous = await approved_plan(session, plan.project_id, plan.village_id)
    if previous is not None:
        previous.status, previous.superseded_at = "superseded", now
        await session.flush()  # the one-approved-version index must see the old one go first
    plan.status, plan.reviewer_id, plan.reviewed_at, plan.approved_at = "approved", actor.user_id, now, now
    await session.flush()
    await audit.record(
        session,
        actor,
        "plan.approve",
        "plan",
        plan.id,
        after={"version": plan.version, "supersedes": previous.version if previous else None},
        county_code=plan.county_code,
    )
    return plan


async def send_back(session: AsyncSession, actor: Principal, plan_id: int, comment: str) -> Plan:
    plan = await get_plan(session, actor, plan_id)
    authorize(actor, Perm.PLAN_APPROVE, plan.area_path)
    if plan.status != "submitted":
        raise Conflict("只有待审核的方案可以退回", field="status")
    if not comment.strip():
        raise InvalidInput("退回时请写明意见", field="comment")
    plan.status, plan.reviewer_id, plan.reviewed_at, plan.review_comment = (
        "draft",
        actor.user_id,
        utcnow(),
        comment.strip(),
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "plan.send_back",
        "plan",
        plan.id,
        after={"version": plan.version, "comment": comment.strip()},
        county_code=plan.county_code,
    )
    return plan


def param_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters that differ between two versions (for the audit trail and the reviewer's diff)."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def pending_reviews(session: AsyncSession, principal: Principal) -> Sequence[Plan]:
    """Submitted versions in the caller's areas awaiting someone other than their author."""
    require(principal, Perm.PLAN_APPROVE)
    return (
        await session.scalars(
            select(Plan)
            .where(
                Plan.status == "submitted",
                scope_clause(principal, Plan.area_path),
                Plan.author_id != principal.user_id,
            )
            .order_by(Plan.submitted_at)
        )
    ).all()


# ---------------------------------------------------------------- what the pages and the API show


@dataclass(frozen=True, slots=True)
class VillagePlans:
    """A project village with its version in force and its newest version."""

    row: ProjectVillageRow
    approved: Plan | None
    latest: Plan | None


async def overview(
    session: AsyncSession, principal: Principal, project_id: int | None = None
) -> list[VillagePlans]:
    rows = await project_villages(session, principal, project_id)
    if not rows:
        return []
    plans = (
        await session.scalars(
            select(Plan)
            .where(
                Plan.project_id.in_({r.project.id for r in rows}),
                scope_clause(principal, Plan.area_path),
            )
            .order_by(Plan.version)
        )
    ).all()
    approved: dict[tuple[int, int], Plan] = {}
    latest: dict[tuple[int, int], Plan] = {}
    for p in plans:
        key = (p.project_id, p.village_id)
        latest[key] = p
        if p.status == "approved":
            approved[key] = p
    return [
        VillagePlans(
            r,
            approved.get((r.project.id, r.link.village_id)),
            latest.get((r.project.id, r.link.village_id)),
        )
        for r in rows
    ]


async def county_villages(session: AsyncSession, actor: Principal) -> list[tuple[Area, str]]:
    """The villages a new project may cover (the actor's county and areas), with their township's name."""
    require(actor, Perm.PROJECTS_MANAGE)
    township = aliased(Area)
    rows = (
        await session.execute(
            select(Area, township.name)
            .join(township, township.id == Area.parent_id)
            .where(
                Area.level == "village",
                Area.county_code == actor.county_code,
                scope_clause(actor, Area.path),
            )
            .order_by(Area.code)
        )
    ).all()
    return [(a, str(t)) for a, t in rows]


async def previous_version(session: AsyncSession, plan: Plan) -> Plan | None:
    """The version this one follows (the caller is already authorised for the plan)."""
    return await session.scalar(
        select(Plan).where(
            Plan.project_id == plan.project_id,
            Plan.village_id == plan.village_id,
            Plan.version == plan.version - 1,
        )
    )


async def user_names(session: AsyncSession, ids: Sequence[int | None]) -> dict[int, str]:
    from app.auth.models import User

    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = (
        await session.execute(select(User.id, User.full_name, User.username).where(User.id.in_(wanted)))
    ).all()
    return {i: (full or name) for i, full, name in rows}
