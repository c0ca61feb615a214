"""安置房源: buildings and units of a project, the published choosing order (signing time or a recorded lottery)
and the allocation of units to households in that order.

A unit is held by at most one live allocation: the partial unique index ``uq_allocations_unit_live`` decides, not
a check in code, so two caseworkers picking the same unit at once cannot both win. Allocating, drawing and
releasing in one village are serialised on its ``project_villages`` row, so the turn check sees the latest state.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.models import Agreement
from app.areas.models import Area
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM, Perm, Principal, authorize, require, scope_clause
from app.compensation.models import Assessment
from app.core.clock import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.flats import rules
from app.flats.models import ORDER_METHODS, Allocation, Building, Lottery, Unit
from app.flats.schemas import BuildingIn, UnitIn, UnitsBulkIn
from app.households.models import Household, Member
from app.plans.models import Project, ProjectVillage

PROJECT_NOT_FOUND = "找不到该征收项目，或它不在您负责的区域内"
BUILDING_NOT_FOUND = "找不到该楼栋，或它不在您负责的区域内"
UNIT_NOT_FOUND = "找不到该房源，或它不在您负责的区域内"
VILLAGE_NOT_FOUND = "找不到该项目的这个村，或它不在您负责的区域内"
HOUSEHOLD_NOT_FOUND = "找不到该户，或它不在您负责的区域内"
ALLOCATION_NOT_FOUND = "找不到该分配记录，或它不在您负责的区域内"


# ---------------------------------------------------------------------------------------------- projects


def _project_visible(principal: Principal) -> ColumnElement[bool]:
    """A project is seen by whoever covers its county or one of its villages."""
    return or_(
        scope_clause(principal, Project.area_path),
        exists().where(
            ProjectVillage.project_id == Project.id, scope_clause(principal, ProjectVillage.area_path)
        ),
    )


async def get_project(session: AsyncSession, principal: Principal, project_id: int) -> Project:
    require(principal, Perm.REGISTRY_READ)
    project = await session.scalar(
        select(Project).where(Project.id == project_id, _project_visible(principal))
    )
    if project is None:
        raise NotFound(PROJECT_NOT_FOUND)
    return project


@dataclass(frozen=True, slots=True)
class ProjectVillageRow:
    project: Project
    link: ProjectVillage
    village: Area


async def project_villages(session: AsyncSession, principal: Principal) -> list[ProjectVillageRow]:
    """The (project, village) pairs in the caller's areas."""
    require(principal, Perm.REGISTRY_READ)
    rows = await session.execute(
        select(Project, ProjectVillage, Area)
        .join(ProjectVillage, ProjectVillage.project_id == Project.id)
        .join(Area, Area.id == ProjectVillage.village_id)
        .where(scope_clause(principal, ProjectVillage.area_path))
        .order_by(Project.code, Area.code)
    )
    return [ProjectVillageRow(p, pv, a) for p, pv, a in rows.all()]


async def get_project_village(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int, *, lock: bool = False
) -> ProjectVillageRow:
    require(principal, Perm.REGISTRY_READ)
    stmt = (
        select(Project, ProjectVillage, Area)
        .join(ProjectVillage, ProjectVillage.project_id == Project.id)
        .join(Area, Area.id == ProjectVillage.village_id)
        .where(
            Project.id == project_id,
            ProjectVillage.village_id == village_id,
            scope_clause(principal, ProjectVillage.area_path),
        )
    )
    if lock:
        stmt = stmt.with_for_update(of=ProjectVillage)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(VILLAGE_NOT_FOUND)
    return ProjectVillageRow(row[0], row[1], row[2])


# ------------------------------------------------------------------------------------- buildings and units


@dataclass(frozen=True, slots=True)
class AreaCount:
    area: Decimal
    total: int
    available: int


@dataclass(frozen=True, slots=True)
class BuildingRow:
    building: Building
    by_area: list[AreaCount]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.by_area)

    @property
    def available(self) -> int:
        return sum(c.available for c in self.by_area)


def _live_allocation_of_unit() -> ColumnElement[bool]:
    return exists().where(Allocation.unit_id == Unit.id, Allocation.released_at.is_(None))


async def list_buildings(session: AsyncSession, principal: Principal, project_id: int) -> list[BuildingRow]:
    """A project's buildings with their units counted by area: all, and still available."""
    await get_project(session, principal, project_id)
    buildings = (
        await session.scalars(
            select(Building).where(Building.project_id == project_id).order_by(Building.name, Building.id)
        )
    ).all()
    taken = _live_allocation_of_unit()
    counts = await session.execute(
        select(
            Unit.building_id,
            Unit.area,
            func.count(),
            func.count().filter(~taken),
        )
        .join(Building, Building.id == Unit.building_id)
        .where(Building.project_id == project_id)
        .group_by(Unit.building_id, Unit.area)
        .order_by(Unit.area)
    )
    by_building: dict[int, list[AreaCount]] = defaultdict(list)
    for building_id, area, total, available in counts.all():
        by_building[building_id].append(AreaCount(area, int(total), int(available)))
    return [BuildingRow(b, by_building.get(b.id, [])) for b in buildings]


async def get_building(
    session: AsyncSession, principal: Principal, building_id: int
) -> tuple[Building, Project]:
    require(principal, Perm.REGISTRY_READ)
    row = (
        await session.execute(
            select(Building, Project)
            .join(Project, Project.id == Building.project_id)
            .where(Building.id == building_id, _project_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound(BUILDING_NOT_FOUND)
    return row[0], row[1]


async def add_building(
    session: AsyncSession, actor: Principal, project_id: int, data: BuildingIn
) -> Building:
    require(actor, Perm.PROJECTS_MANAGE)
    project = await get_project(session, actor, project_id)
    authorize(actor, Perm.PROJECTS_MANAGE, project.area_path)
    taken = await session.scalar(
        select(Building.id).where(Building.project_id == project.id, Building.name == data.name)
    )
    if taken is not None:
        raise Conflict(f"本项目已有楼栋“{data.name}”", field="name")
    building = Building(
        project_id=project.id, county_code=project.county_code, area_path=project.area_path, name=data.name
    )
    await _insert_or_conflict(session, [building])
    await audit.record(
        session,
        actor,
        "flats.building",
        "building",
        building.id,
        after={"project": project.code, "name": building.name},
        county_code=project.county_code,
    )
    return building


async def _insert_or_conflict(session: AsyncSession, rows: Sequence[Any], what: str = "") -> None:
    """Insert ``rows`` in a savepoint (added inside it: ``begin_nested`` flushes what is pending first), so a
    unique violation becomes a Chinese message and leaves the request's transaction usable."""
    await session.flush()
    try:
        async with session.begin_nested():
            session.add_all(rows)
            await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_buildings_name" in text:
            raise Conflict("本项目已有同名楼栋", field="name") from None
        if "uq_units_number" in text:
            raise Conflict(f"房号{what}在该楼已存在", field="number") from None
        if "uq_allocations_unit_live" in text:
            raise Conflict(
                f"{what}已分配给其他户，一套房只能分配一次；请选择其他房源", field="unit_id"
            ) from None
        raise


async def _building_for_write(session: AsyncSession, actor: Principal, building_id: int) -> Building:
    require(actor, Perm.PROJECTS_MANAGE)
    building, _project = await get_building(session, actor, building_id)
    authorize(actor, Perm.PROJECTS_MANAGE, building.area_path)
    return building


async def add_unit(session: AsyncSession, actor: Principal, building_id: int, data: UnitIn) -> Unit:
    building = await _building_for_write(session, actor, building_id)
    existing = await session.scalar(
        select(Unit.id).where(Unit.building_id == building.id, Unit.number == data.number)
    )
    if existing is not None:
        raise Conflict(f"房号 {data.number} 在{building.name}已存在", field="number")
    unit = Unit(building_id=building.id, number=data.number, floor=data.floor, area=rules.area(data.area))
    await _insert_or_conflict(session, [unit], f" {data.number} ")
    await audit.record(
        session,
        actor,
        "flats.unit",
        "unit",
        unit.id,
        after={"building": building.name, "number": unit.number, "floor": unit.floor, "area": str(unit.area)},
        county_code=building.county_code,
    )
    return unit


async def add_units_bulk(
    session: AsyncSession, actor: Principal, building_id: int, data: UnitsBulkIn
) -> list[Unit]:
    """Floors ``floor_from``–``floor_to`` × one unit per area given (房号 = floor + position, e.g. 302)."""
    building = await _building_for_write(session, actor, building_id)
    planned = rules.bulk_units(data.prefix or "", data.floor_from, data.floor_to, data.areas)
    clash = (
        await session.scalars(
            select(Unit.number)
            .where(Unit.building_id == building.id, Unit.number.in_([p.number for p in planned]))
            .order_by(Unit.number)
        )
    ).all()
    if clash:
        shown = "、".join(clash[:5]) + ("等" if len(clash) > 5 else "")
        raise Conflict(f"{building.name}已有房号 {shown}，请调整楼层范围或房号前缀", field="floor_from")
    units = [Unit(building_id=building.id, number=p.number, floor=p.floor, area=p.area) for p in planned]
    await _insert_or_conflict(session, units)
    await audit.record(
        session,
        actor,
        "flats.unit",
        "building",
        building.id,
        after={
            "building": building.name,
            "count": len(units),
            "floors": f"{data.floor_from}-{data.floor_to}",
            "areas": [str(rules.area(a)) for a in data.areas],
            "numbers": [u.number for u in units],
        },
        county_code=building.county_code,
    )
    return units


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit: Unit
    allocated: bool
    holder: str | None  # "王*国（QFZ-0001）" when the holder lies in the caller's areas


async def building_units(session: AsyncSession, principal: Principal, building_id: int) -> list[UnitRow]:
    await get_building(session, principal, building_id)
    rows = await session.execute(
        select(Unit, Allocation.id, Household.register_no, Household.area_path, _head_name())
        .outerjoin(Allocation, (Allocation.unit_id == Unit.id) & Allocation.released_at.is_(None))
        .outerjoin(Household, Household.id == Allocation.household_id)
        .where(Unit.building_id == building_id)
        .order_by(Unit.floor, Unit.number)
    )
    result = []
    for unit, allocation_id, register_no, path, head in rows.all():
        holder = None
        if allocation_id is not None and path is not None and (principal is SYSTEM or principal.covers(path)):
            holder = f"{rules.mask_name(head)}（{register_no}）"
        result.append(UnitRow(unit, allocation_id is not None, holder))
    return result


def _head_name() -> Any:
    return (
        select(Member.name)
        .where(Member.household_id == Household.id, Member.relation == "head", Member.status == "registered")
        .limit(1)
        .scalar_subquery()
    )


async def available_units(
    session: AsyncSession, project_id: int, areas: Sequence[Decimal]
) -> list[tuple[Unit, str]]:
    """Free units of the project with one of these areas, with their building's name."""
    if not areas:
        return []
    rows = await session.execute(
        select(Unit, Building.name)
        .join(Building, Building.id == Unit.building_id)
        .where(Building.project_id == project_id, Unit.area.in_(list(areas)), ~_live_allocation_of_unit())
        .order_by(Building.name, Unit.floor, Unit.number)
    )
    return [(u, name) for u, name in rows.all()]


# ------------------------------------------------------------------------------------------------ the order


@dataclass(frozen=True, slots=True)
class Eligible:
    """A household of the village with a signed agreement whose option is resettlement flats."""

    household_id: int
    register_no: str
    head_name: str | None
    area_path: str
    agreement_number: str
    signed_on: date
    signed_at: datetime | None
    wanted: list[Decimal]


async def eligible_households(session: AsyncSession, project_id: int, village_id: int) -> list[Eligible]:
    """Households of the village with a signed agreement in the project whose (approved, frozen) assessment chose
    resettlement flats: the flats' areas come from that assessment's option."""
    rows = await session.execute(
        select(Household, Agreement, Assessment, _head_name())
        .join(Agreement, Agreement.household_id == Household.id)
        .join(Assessment, Assessment.id == Agreement.assessment_id)
        .where(
            Household.village_id == village_id,
            Agreement.project_id == project_id,
            Agreement.status == "signed",
            Assessment.option_kind == "resettlement_flat",
        )
    )
    found = []
    for h, ag, a, head in rows.all():
        wanted = rules.flats_wanted({**(a.option or {}), "kind": a.option_kind})
        if wanted and ag.signed_on is not None:
            found.append(
                Eligible(
                    h.id, h.register_no, head, h.area_path, ag.number, ag.signed_on, ag.signed_at, wanted
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class HeldFlat:
    allocation: Allocation
    unit: Unit
    building: str

    @property
    def label(self) -> str:
        return f"{self.building} {self.unit.number}（{rules.format_area(self.unit.area)}）"


@dataclass
class OrderEntry:
    position: int
    household: Eligible
    held: list[HeldFlat] = field(default_factory=list)
    left: list[Decimal] = field(default_factory=list)
    current: bool = False

    @property
    def masked_name(self) -> str:
        return rules.mask_name(self.household.head_name)


@dataclass
class OrderView:
    project: Project
    village: Area
    lottery: Lottery | None
    entries: list[OrderEntry]

    @property
    def method(self) -> str:
        return "lottery" if self.lottery is not None else "signing_order"

    @property
    def method_label(self) -> str:
        return ORDER_METHODS[self.method]

    @property
    def current(self) -> OrderEntry | None:
        return next((e for e in self.entries if e.current), None)

    def entry_of(self, household_id: int) -> OrderEntry | None:
        return next((e for e in self.entries if e.household.household_id == household_id), None)

    @property
    def started(self) -> bool:
        return any(e.held for e in self.entries)


async def _lottery_of(session: AsyncSession, project_id: int, village_id: int) -> Lottery | None:
    return await session.scalar(
        select(Lottery)
        .where(Lottery.project_id == project_id, Lottery.village_id == village_id)
        .order_by(Lottery.id.desc())
        .limit(1)
    )


async def _held_in(session: AsyncSession, project_id: int, household_ids: Sequence[int]) -> list[HeldFlat]:
    if not household_ids:
        return []
    rows = await session.execute(
        select(Allocation, Unit, Building.name)
        .join(Unit, Unit.id == Allocation.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(
            Allocation.project_id == project_id,
            Allocation.household_id.in_(list(household_ids)),
            Allocation.released_at.is_(None),
        )
        .order_by(Allocation.id)
    )
    return [HeldFlat(a, u, name) for a, u, name in rows.all()]


async def _order(session: AsyncSession, row: ProjectVillageRow) -> OrderView:
    project, village = row.project, row.village
    eligible = {e.household_id: e for e in await eligible_households(session, project.id, village.id)}
    lottery = await _lottery_of(session, project.id, village.id)
    by_signing = rules.signing_order(
        rules.Signed(e.household_id, e.agreement_number, e.signed_on, e.signed_at) for e in eligible.values()
    )
    drawn = [int(h) for h in lottery.order if int(h) in eligible] if lottery is not None else None
    order = rules.published_order(drawn, by_signing)
    held: dict[int, list[HeldFlat]] = defaultdict(list)
    for flat in await _held_in(session, project.id, order):
        held[flat.allocation.household_id].append(flat)
    wanted = {h: eligible[h].wanted for h in order}
    allocated = {h: [f.unit.area for f in held[h]] for h in order}
    turn = rules.current_turn(order, wanted, allocated)
    entries = [
        OrderEntry(
            position=i,
            household=eligible[h],
            held=held[h],
            left=rules.remaining(wanted[h], allocated[h]),
            current=h == turn,
        )
        for i, h in enumerate(order, start=1)
    ]
    return OrderView(project, village, lottery, entries)


async def order_for(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> OrderView:
    """The published order of a village in a project, with what each household holds and whose turn it is."""
    row = await get_project_village(session, principal, project_id, village_id)
    return await _order(session, row)


async def get_village(session: AsyncSession, principal: Principal, village_id: int) -> Area:
    require(principal, Perm.REGISTRY_READ)
    village = await session.scalar(
        select(Area).where(Area.id == village_id, Area.level == "village", scope_clause(principal, Area.path))
    )
    if village is None:
        raise NotFound("找不到该村，或它不在您负责的区域内")
    return village


async def orders_of_village(session: AsyncSession, principal: Principal, village_id: int) -> list[OrderView]:
    """The published order of each project the village is in (usually one), newest project first."""
    await get_village(session, principal, village_id)
    project_ids = (
        await session.scalars(
            select(ProjectVillage.project_id)
            .where(ProjectVillage.village_id == village_id)
            .order_by(ProjectVillage.project_id.desc())
        )
    ).all()
    return [await order_for(session, principal, pid, village_id) for pid in project_ids]


async def draw_lottery(
    session: AsyncSession, actor: Principal, project_id: int, village_id: int, seed: str | None
) -> Lottery:
    """Draw (once) the order of the village's eligible households from ``seed``, or from a generated one."""
    require(actor, Perm.FLATS_ALLOCATE)
    row = await get_project_village(session, actor, project_id, village_id, lock=True)
    authorize(actor, Perm.FLATS_ALLOCATE, row.link.area_path)
    view = await _order(session, row)
    if view.lottery is not None:
        raise Conflict(
            f"{row.village.name}已于 {view.lottery.drawn_at:%Y-%m-%d} 摇号（种子 {view.lottery.seed}），"
            "摇号结果已公布，不能重摇",
            field="seed",
        )
    if view.started:
        raise Conflict(f"{row.village.name}已按签约顺序开始选房，不能再改为摇号", field="seed")
    if not view.entries:
        raise Conflict(f"{row.village.name}还没有已签约并选择安置房安置的户，无需摇号", field="seed")
    seed = rules.check_seed(seed) if seed else secrets.token_hex(8)
    register_nos = {e.household.household_id: e.household.register_no for e in view.entries}
    order = rules.lottery_order(seed, register_nos.items())
    lottery = Lottery(
        project_id=row.project.id,
        village_id=row.village.id,
        county_code=row.village.county_code,
        area_path=row.link.area_path,
        seed=seed,
        order=order,
        drawn_by=actor.user_id,
    )
    session.add(lottery)
    await session.flush()
    await audit.record(
        session,
        actor,
        "lottery.draw",
        "lottery",
        lottery.id,
        after={
            "project": row.project.code,
            "village": row.village.name,
            "seed": seed,
            "order": [register_nos[h] for h in order],
        },
        county_code=row.village.county_code,
    )
    return lottery


# ------------------------------------------------------------------------------------------- allocation


def _refusal_message(view: OrderView, refusal: rules.Refusal, unit_area: Decimal) -> Conflict | InvalidInput:
    if refusal.kind == "not_eligible":
        return Conflict(
            "该户没有已签约、选择安置房安置的协议，不在选房顺序中，不能分配安置房", field="household_id"
        )
    if refusal.kind == "complete":
        return Conflict("该户选定的安置房已全部分配；如需换房，请先退回原分配", field="household_id")
    if refusal.kind == "out_of_turn":
        now = view.entry_of(refusal.current) if refusal.current is not None else None
        who = (
            f"第 {now.position} 位 {now.masked_name}（户口簿编号 {now.household.register_no}）"
            if now is not None
            else "其他户"
        )
        return Conflict(f"还没轮到该户选房：按{view.method_label}，现在轮到{who}", field="household_id")
    return InvalidInput(
        f"该房源面积为 {rules.format_area(unit_area)}，与该户选定的户型不符；"
        f"该户还需选择面积为 {rules.format_areas(refusal.left)} 的安置房",
        field="unit_id",
    )


async def _household_in_scope(session: AsyncSession, principal: Principal, household_id: int) -> Household:
    household = await session.scalar(
        select(Household).where(Household.id == household_id, scope_clause(principal, Household.area_path))
    )
    if household is None:
        raise NotFound(HOUSEHOLD_NOT_FOUND, field="household_id")
    return household


async def allocate(
    session: AsyncSession,
    actor: Principal,
    unit_id: int,
    household_id: int,
    *,
    project_id: int | None = None,
    village_id: int | None = None,
    at: datetime | None = None,
) -> Allocation:
    """Give ``unit_id`` to ``household_id``: its turn in the published order, an area it chose, a free unit.
    ``village_id``, when given, is the village whose order the caller is working through; ``at``, the time of the
    allocation (now; the demo data dates its history)."""
    require(actor, Perm.FLATS_ALLOCATE)
    found = (
        await session.execute(
            select(Unit, Building, Project)
            .join(Building, Building.id == Unit.building_id)
            .join(Project, Project.id == Building.project_id)
            .where(Unit.id == unit_id, _project_visible(actor))
        )
    ).first()
    if found is None:
        raise NotFound(UNIT_NOT_FOUND, field="unit_id")
    unit, building, project = found
    if project_id is not None and project.id != project_id:
        raise InvalidInput("该房源不属于本征收项目", field="unit_id")
    household = await _household_in_scope(session, actor, household_id)
    authorize(actor, Perm.FLATS_ALLOCATE, household.area_path)
    if village_id is not None and household.village_id != village_id:
        raise InvalidInput("该户不属于本村，请在其所在村的选房页面分配", field="household_id")
    try:
        row = await get_project_village(session, actor, project.id, household.village_id, lock=True)
    except NotFound:
        raise InvalidInput("该户所在的村不在这套房源所属的征收项目内", field="unit_id") from None
    view = await _order(session, row)
    wanted = {e.household.household_id: e.household.wanted for e in view.entries}
    allocated = {e.household.household_id: [f.unit.area for f in e.held] for e in view.entries}
    order = [e.household.household_id for e in view.entries]
    refusal = rules.allocation_refusal(order, wanted, allocated, household.id, unit.area)
    if refusal is not None:
        raise _refusal_message(view, refusal, unit.area)
    entry = view.entry_of(household.id)
    assert entry is not None
    allocation = Allocation(
        unit_id=unit.id,
        household_id=household.id,
        project_id=project.id,
        county_code=household.county_code,
        area_path=household.area_path,
        method=view.method,
        lottery_id=view.lottery.id if view.lottery is not None else None,
        allocated_by=actor.user_id,
    )
    if at is not None:
        allocation.allocated_at = at
    await _insert_or_conflict(session, [allocation], f"{building.name} {unit.number} ")
    await audit.record(
        session,
        actor,
        "flat.allocate",
        "allocation",
        allocation.id,
        after={
            "project": project.code,
            "building": building.name,
            "unit": unit.number,
            "floor": unit.floor,
            "area": str(unit.area),
            "method": view.method,
            "position": entry.position,
            "seed": view.lottery.seed if view.lottery is not None else None,
        },
        household_id=household.id,
        county_code=household.county_code,
    )
    return allocation


async def allocation_target(session: AsyncSession, actor: Principal, allocation_id: int) -> tuple[int, int]:
    """(project id, village id) of an allocation the actor may release: where its order page is."""
    require(actor, Perm.FLATS_ALLOCATE)
    row = (
        await session.execute(
            select(Allocation.project_id, Household.village_id)
            .join(Household, Household.id == Allocation.household_id)
            .where(Allocation.id == allocation_id, scope_clause(actor, Allocation.area_path))
        )
    ).first()
    if row is None:
        raise NotFound(ALLOCATION_NOT_FOUND)
    return int(row[0]), int(row[1])


async def release(session: AsyncSession, actor: Principal, allocation_id: int, reason: str) -> Allocation:
    """退回: the unit becomes free again and the household is back in turn for the area it gave up."""
    require(actor, Perm.FLATS_ALLOCATE)
    allocation = await session.scalar(
        select(Allocation).where(Allocation.id == allocation_id, scope_clause(actor, Allocation.area_path))
    )
    if allocation is None:
        raise NotFound(ALLOCATION_NOT_FOUND)
    authorize(actor, Perm.FLATS_ALLOCATE, allocation.area_path)
    household = await _household_in_scope(session, actor, allocation.household_id)
    await get_project_village(session, actor, allocation.project_id, household.village_id, lock=True)
    await session.refresh(allocation)
    if allocation.released_at is not None:
        raise Conflict(f"该分配已于 {allocation.released_at:%Y-%m-%d} 退回", field="reason")
    reason = reason.strip()
    if len(reason) < 2:
        raise InvalidInput("请填写退回原因（至少 2 个字）", field="reason")
    unit, building_name = (
        await session.execute(
            select(Unit, Building.name)
            .join(Building, Building.id == Unit.building_id)
            .where(Unit.id == allocation.unit_id)
        )
    ).one()
    allocation.released_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "flat.release",
        "allocation",
        allocation.id,
        before={"building": building_name, "unit": unit.number, "area": str(unit.area)},
        after={"released": True, "reason": reason},
        household_id=allocation.household_id,
        county_code=allocation.county_code,
    )
    return allocation


# ------------------------------------------------------------------------------------- a household's flats


@dataclass(frozen=True, slots=True)
class AllocatedFlat:
    """A flat held by a household, as the agreement prints it."""

    building: str
    number: str
    floor: int
    area: Decimal


async def allocations_for(session: AsyncSession, household_id: int) -> list[AllocatedFlat]:
    """The flats a household holds now (live allocations), by building and number. No authorisation: the caller
    has already been authorised to read the household (the agreement prints these)."""
    rows = await session.execute(
        select(Building.name, Unit.number, Unit.floor, Unit.area)
        .select_from(Allocation)
        .join(Unit, Unit.id == Allocation.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .where(Allocation.household_id == household_id, Allocation.released_at.is_(None))
        .order_by(Building.name, Unit.floor, Unit.number)
    )
    return [AllocatedFlat(b, n, f, a) for b, n, f, a in rows.all()]


@dataclass(frozen=True, slots=True)
class AllocationRow:
    allocation: Allocation
    unit: Unit
    building: str
    project: Project
    release_reason: str | None

    @property
    def method_label(self) -> str:
        return ORDER_METHODS.get(self.allocation.method, self.allocation.method)


async def allocation_row(session: AsyncSession, allocation: Allocation) -> AllocationRow:
    """An allocation the caller has just made or released, with its unit, building and project."""
    await session.refresh(allocation)
    unit, building_name, project = (
        await session.execute(
            select(Unit, Building.name, Project)
            .join(Building, Building.id == Unit.building_id)
            .join(Project, Project.id == Building.project_id)
            .where(Unit.id == allocation.unit_id)
        )
    ).one()
    return AllocationRow(allocation, unit, building_name, project, None)


@dataclass
class HouseholdFlats:
    household: Household
    wanted: list[Decimal]
    orders: list[tuple[Project, int, OrderEntry | None]]  # (project, village id, this household's place)
    allocations: list[AllocationRow]

    @property
    def live(self) -> list[AllocationRow]:
        return [a for a in self.allocations if a.allocation.released_at is None]


async def household_flats(session: AsyncSession, principal: Principal, household_id: int) -> HouseholdFlats:
    require(principal, Perm.REGISTRY_READ)
    household = await _household_in_scope(session, principal, household_id)
    rows = await session.execute(
        select(Allocation, Unit, Building.name, Project)
        .join(Unit, Unit.id == Allocation.unit_id)
        .join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == Allocation.project_id)
        .where(Allocation.household_id == household.id)
        .order_by(Allocation.allocated_at.desc(), Allocation.id.desc())
    )
    found = rows.all()
    released = [a.id for a, *_ in found if a.released_at is not None]
    reasons: dict[str, str] = {}
    if released:
        events = await session.execute(
            select(AuditEvent.entity_id, AuditEvent.after).where(
                AuditEvent.action == "flat.release",
                AuditEvent.entity_type == "allocation",
                AuditEvent.entity_id.in_([str(i) for i in released]),
            )
        )
        reasons = {str(eid): str((after or {}).get("reason", "")) for eid, after in events.all()}
    allocations = [AllocationRow(a, u, b, p, reasons.get(str(a.id))) for a, u, b, p in found]
    projects = (
        await session.scalars(
            select(Project)
            .join(ProjectVillage, ProjectVillage.project_id == Project.id)
            .where(ProjectVillage.village_id == household.village_id)
            .order_by(Project.code)
        )
    ).all()
    orders: list[tuple[Project, int, OrderEntry | None]] = []
    wanted: list[Decimal] = []
    for project in projects:
        row = await get_project_village(session, principal, project.id, household.village_id)
        view = await _order(session, row)
        entry = view.entry_of(household.id)
        if entry is not None:
            wanted.extend(entry.household.wanted)
        orders.append((project, household.village_id, entry))
    return HouseholdFlats(household, wanted, orders, allocations)


# ------------------------------------------------------------------------------------------------- demo

DEMO_BUILDINGS = ("1号楼", "2号楼")
DEMO_FLOORS = 6
DEMO_AREAS = (Decimal("75.00"), Decimal("90.00"), Decimal("110.00"))


async def ensure_demo_flats(session: AsyncSession, project_code: str = "FQ-2022") -> int:
    """Two buildings of the demo project (6 floors × 75/90/110 ㎡ each, 36 units), if the project exists and they
    do not yet; returns the number of units created (0 when nothing was to do)."""
    project = await session.scalar(select(Project).where(Project.code == project_code))
    if project is None:
        return 0
    created = 0
    for name in DEMO_BUILDINGS:
        if await session.scalar(
            select(Building.id).where(Building.project_id == project.id, Building.name == name)
        ):
            continue
        building = await add_building(session, SYSTEM, project.id, BuildingIn(name=name))
        units = await add_units_bulk(
            session,
            SYSTEM,
            building.id,
            UnitsBulkIn(prefix=None, floor_from=1, floor_to=DEMO_FLOORS, areas=list(DEMO_AREAS)),
        )
        created += len(units)
    return created


@dataclass(frozen=True, slots=True)
class PublicLotteryRow:
    rank: int
    head_masked: str
    register_no: str
    key: str


@dataclass(frozen=True, slots=True)
class PublicLottery:
    lottery: Lottery
    project_name: str
    project_code: str
    village_name: str
    rows: list[PublicLotteryRow]


async def public_lottery(session: AsyncSession, lottery_id: int) -> PublicLottery:
    """A drawn lottery as published (no login): seed, algorithm and the order, with masked names only."""
    found = (
        await session.execute(
            select(Lottery, Project.name, Project.code, Area.name)
            .join(Project, Project.id == Lottery.project_id)
            .join(Area, Area.id == Lottery.village_id)
            .where(Lottery.id == lottery_id)
        )
    ).first()
    if found is None:
        raise NotFound("没有这次摇号的记录")
    lottery, project_name, project_code, village_name = found
    ids = [int(i) for i in lottery.order]
    households = {
        h.id: (h.register_no, name)
        for h, name in (
            await session.execute(select(Household, _head_name()).where(Household.id.in_(ids)))
        ).all()
    }
    rows = [
        PublicLotteryRow(
            rank=i,
            head_masked=rules.mask_name(households[hid][1]),
            register_no=households[hid][0],
            key=rules.lottery_key(lottery.seed, households[hid][0])[:16],
        )
        for i, hid in enumerate(ids, start=1)
        if hid in households
    ]
    return PublicLottery(lottery, project_name, project_code, village_name, rows)
