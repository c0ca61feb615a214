"""Writing the demo data: idempotent, audited, and fast enough to load at start-up.

Areas and staff accounts go through their services (few, and each audited there). Households and members are
written in bulk, one village at a time, because going through ``households.service`` row by row costs several round
trips per person; they are built exactly as that service builds them (ID number validated and sealed, keyed hash and
masked copy), and each household gets its own ``household.create`` audit event listing its members (masked), so the
household page shows where it came from. What already exists (areas by code, users by username, households by
county and 户口簿编号) is left as it is. The caller commits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas import service as areas_service
from app.areas.models import Area
from app.audit import service as audit
from app.auth import service as auth_service
from app.auth.models import User
from app.auth.policy import SYSTEM, Principal
from app.compensation.demo import CompensationDemoResult, ensure_demo_compensation
from app.core.context import request_id_var
from app.core.errors import Conflict
from app.core.idcard import mask_id_number, parse_id_number
from app.demo.generate import COUNTY_CODE, DEMO_PASSWORD, DemoData, ProjectSpec, VillageData, generate
from app.flats import service as flats_service
from app.households.models import Household, Member
from app.households.service import household_snapshot, id_cipher, member_snapshot
from app.plans import service as plans_service
from app.plans.models import Project
from app.plans.schemas import demo_params
from app.socialsecurity.demo import SocialDemoResult, ensure_demo_social_security

Progress = Callable[[str], None]


@dataclass(slots=True)
class VillageResult:
    name: str
    households: int  # in the demo data set
    people: int
    households_added: int = 0
    members_added: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class DemoResult:
    areas_added: int = 0
    users_added: int = 0
    projects_added: int = 0
    plans_added: int = 0
    units_added: int = 0
    social_enrolled: int = 0
    social: SocialDemoResult | None = None
    compensation: CompensationDemoResult | None = None
    villages: list[VillageResult] = field(default_factory=list)

    @property
    def households_added(self) -> int:
        return sum(v.households_added for v in self.villages)

    @property
    def members_added(self) -> int:
        return sum(v.members_added for v in self.villages)

    @property
    def changed(self) -> bool:
        return bool(
            self.areas_added
            or self.users_added
            or self.households_added
            or self.projects_added
            or self.units_added
            or self.social_enrolled
            or self.compensation is not None
        )

    @property
    def summary(self) -> str:
        if not self.changed:
            return "演示数据已存在，未作更改 (demo data already present, nothing changed)"
        story = f"、征收补偿协议 {self.compensation.signed} 份" if self.compensation else ""
        return (
            f"已载入演示数据：新增区划 {self.areas_added} 个、用户 {self.users_added} 个、"
            f"被征收户 {self.households_added} 户、家庭成员 {self.members_added} 人、"
            f"征收项目 {self.projects_added} 个（已批准的补偿方案 {self.plans_added} 套）{story}"
        )


def _ignore(_message: str) -> None:
    return None


async def load_demo(
    session: AsyncSession, progress: Progress = _ignore, *, data: DemoData | None = None
) -> DemoResult:
    """Add whatever part of the demo data set is missing. Every event of one load shares a request id."""
    data = data or generate()
    token = request_id_var.set(f"demo-{uuid.uuid4().hex[:16]}")
    try:
        result = DemoResult()
        areas = await _ensure_areas(session, data, result)
        progress(f"区划：{len(areas)} 个（新增 {result.areas_added} 个）")
        await _ensure_users(session, data, result)
        progress(f"演示账号：{len(data.users)} 个（新增 {result.users_added} 个）")
        for i, village in enumerate(data.villages, start=1):
            outcome = await _load_village(session, village, areas)
            result.villages.append(outcome)
            done = "完成" if outcome.households_added else "已存在"
            if 0 < outcome.households_added < outcome.households:
                done = f"补齐 {outcome.households_added} 户"
            progress(
                f"[{i}/{len(data.villages)}] {outcome.name}：{outcome.households} 户 / {outcome.people} 人 … {done}"
                + (f"（{outcome.seconds:.1f} 秒）" if outcome.households_added else "")
            )
        for spec in data.projects:
            added = await _ensure_project(session, spec, result)
            progress(f"征收项目 {spec.code} {spec.name}：{'新增，方案已批准' if added else '已存在'}")
        flats = sum([await flats_service.ensure_demo_flats(session, code) for code in ("FQ-2022", "FQ-2023")])
        progress(f"安置房源：{'新增 ' + str(flats) + ' 套' if flats else '已存在'}")
        result.units_added = flats
        social = await ensure_demo_social_security(
            session,
            {
                name: await _demo_principal(session, name)
                for name in ("admin", "caseworker", "reviewer", "finance")
            },
        )
        if social is not None:
            result.social_enrolled, result.social = social.enrolled, social
            progress(
                f"被征地农民社保：参保 {social.enrolled} 人，其中领取养老金 {social.pensioners} 人，"
                f"资格认证 {social.certifications} 次，历史发放 {social.months_paid} 人月"
            )
        else:
            progress("被征地农民社保：已存在")
        compensation = await ensure_demo_compensation(session, _demo_principal)
        if compensation is not None:
            result.compensation = compensation
            progress(
                f"征收项目 FQ-2023 进展：调查登记 {compensation.surveyed} 户，核算已批准 {compensation.approved} 户，"
                f"已签约 {compensation.signed} 户，已腾房交付 {compensation.vacated} 户，"
                f"已选安置房 {compensation.flats_allocated} 套，已发放补偿款 {compensation.paid_lines} 笔"
            )
        else:
            progress("征收项目 FQ-2023 进展：已存在")
        if result.changed:
            await audit.record(
                session,
                SYSTEM,
                "demo.load",
                "demo",
                COUNTY_CODE,
                county_code=COUNTY_CODE,
                after={
                    "areas_added": result.areas_added,
                    "users_added": result.users_added,
                    "households_added": result.households_added,
                    "members_added": result.members_added,
                    "projects_added": result.projects_added,
                    "units_added": result.units_added,
                    "social_enrolled": result.social_enrolled,
                    "agreements_signed": compensation.signed if compensation else 0,
                },
            )
        return result
    finally:
        request_id_var.reset(token)


async def _ensure_areas(session: AsyncSession, data: DemoData, result: DemoResult) -> dict[str, Area]:
    specs = data.areas()
    existing = {
        a.code: a
        for a in (await session.scalars(select(Area).where(Area.code.in_([s.code for s in specs])))).all()
    }
    for spec in specs:
        area = existing.get(spec.code)
        if area is not None:
            if area.level != spec.level:
                raise Conflict(
                    f"区划代码 {spec.code} 已用于{area.name}（级别不同），无法载入演示数据", field="code"
                )
            continue
        existing[spec.code] = await areas_service.create_area(
            session, SYSTEM, code=spec.code, name=spec.name, level=spec.level, parent_code=spec.parent_code
        )
        result.areas_added += 1
    return existing


async def _ensure_users(session: AsyncSession, data: DemoData, result: DemoResult) -> None:
    names = [u.username for u in data.users]
    existing = set((await session.scalars(select(User.username).where(User.username.in_(names)))).all())
    for spec in data.users:
        if spec.username in existing:
            continue
        await auth_service.create_user(
            session,
            SYSTEM,
            username=spec.username,
            full_name=spec.full_name,
            role=spec.role,
            password=DEMO_PASSWORD,
            area_codes=list(spec.area_codes),
        )
        result.users_added += 1


async def _load_village(session: AsyncSession, village: VillageData, areas: dict[str, Area]) -> VillageResult:
    started = time.perf_counter()
    outcome = VillageResult(village.plan.name, len(village.households), village.people)
    present = set(
        (
            await session.scalars(
                select(Household.register_no).where(
                    Household.county_code == COUNTY_CODE,
                    Household.register_no.in_([h.register_no for h in village.households]),
                )
            )
        ).all()
    )
    todo = [h for h in village.households if h.register_no not in present]
    if not todo:
        return outcome

    cipher = id_cipher()
    sealed = {}
    for spec in todo:
        for person in spec.members:
            parsed = parse_id_number(person.id_number)
            sealed[parsed.number] = (parsed, cipher.lookup_hash(parsed.number))
    taken = (
        await session.scalars(
            select(Member.id_number_masked).where(
                Member.status == "registered", Member.id_number_hash.in_([d for _, d in sealed.values()])
            )
        )
    ).all()
    if taken:
        raise Conflict(
            f"{village.plan.name}的演示数据中有 {len(taken)} 个身份证号已是其他户的在册成员"
            f"（如 {taken[0]}），未载入演示数据",
            field="id_number",
        )

    village_area = areas[village.area.code]
    households = []
    for spec in todo:
        group = areas[spec.group_code]
        households.append(
            Household(
                county_code=village_area.county_code,
                village_id=village_area.id,
                group_id=group.id,
                area_path=group.path,
                register_no=spec.register_no,
                address=spec.address,
            )
        )
    session.add_all(households)
    await session.flush()

    members: list[list[Member]] = []
    for household, spec in zip(households, todo, strict=True):
        rows = []
        for person in spec.members:
            parsed, digest = sealed[person.id_number]
            rows.append(
                Member(
                    household_id=household.id,
                    county_code=household.county_code,
                    name=person.name,
                    id_number_enc=cipher.encrypt(parsed.number),
                    id_number_hash=digest,
                    id_number_masked=mask_id_number(parsed.number),
                    birth_date=parsed.birth_date,
                    sex=parsed.sex,
                    relation=person.relation,
                    status="registered",
                    phone=person.phone,
                    left_at=None,
                )
            )
        members.append(rows)
        session.add_all(rows)
    await session.flush()

    for household, rows in zip(households, members, strict=True):
        head, *others = rows
        await audit.record(
            session,
            SYSTEM,
            "household.create",
            "household",
            household.id,
            after={
                **household_snapshot(household),
                "head": member_snapshot(head),
                "members": [member_snapshot(m) for m in others],
                "source": "演示数据",
            },
            household_id=household.id,
            county_code=household.county_code,
        )
    outcome.households_added = len(households)
    outcome.members_added = sum(len(rows) for rows in members)
    outcome.seconds = time.perf_counter() - started
    return outcome


async def _ensure_project(session: AsyncSession, spec: ProjectSpec, result: DemoResult) -> bool:
    """The project with an approved plan version 1 per village, unless a project with its code exists. The plans
    go through ``plans.service`` as staff would make them: drafted and submitted by the demo admin, approved by
    the township's demo reviewer (maker-checker)."""
    if await session.scalar(select(Project.id).where(Project.code == spec.code)) is not None:
        return False
    author = await _demo_principal(session, spec.author)
    reviewer = await _demo_principal(session, spec.reviewer)
    village_ids = {
        a.code: a.id
        for a in (
            await session.scalars(select(Area).where(Area.code.in_([code for code, _abbr in spec.villages])))
        ).all()
    }
    project = await plans_service.create_project(
        session,
        author,
        code=spec.code,
        name=spec.name,
        villages=[(village_ids[code], abbr) for code, abbr in spec.villages],
    )
    for code, _abbr in spec.villages:
        plan = await plans_service.new_draft(
            session, author, project.id, village_ids[code], demo_params(spec.signing_deadline)
        )
        await plans_service.submit(session, author, plan.id)
        await plans_service.approve(session, reviewer, plan.id)
        result.plans_added += 1
    result.projects_added += 1
    return True


async def _demo_principal(session: AsyncSession, username: str) -> Principal:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise Conflict(f"找不到演示账号 {username}，无法载入演示征收项目", field="username")
    return await auth_service.principal_for(session, user)
