"""Test data for flats, inserted as model rows in the test's transaction: a project over 前方庄村, households with
approved resettlement-flat assessments and signed agreements, buildings and units."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.agreements.models import Agreement
from app.auth import service as auth
from app.auth.models import User
from app.auth.policy import SYSTEM, Principal
from app.compensation.models import Assessment, AssessmentLine
from app.flats.models import Building, Unit
from app.households import service as households
from app.households.models import Household
from app.households.schemas import HouseholdIn
from app.plans.models import Plan, Project, ProjectVillage
from tests.idnumbers import fresh_id_number
from tests.seed import SEED

VILLAGE = "410727101201"  # 前方庄村, cw_a's village
OTHER_VILLAGE = "410727101202"  # 后方庄村, same township
PDF = b"%PDF-1.7 test agreement"

_SERIAL = itertools.count(1)


async def user_id(session: AsyncSession, username: str) -> int:
    found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


async def principal(session: AsyncSession, username: str) -> Principal:
    user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return await auth.principal_for(session, user)


@dataclass
class World:
    project: Project
    village_id: int
    plan: Plan
    households: list[int] = field(default_factory=list)
    buildings: dict[str, Building] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)  # "1号楼 101" -> unit


async def make_project(
    session: AsyncSession, villages: tuple[str, ...] = (VILLAGE,), *, params: dict[str, Any] | None = None
) -> World:
    """A project of the villages' county with an approved plan version per village (with ``params``, or none)."""
    cw, rv = await user_id(session, "cw_a"), await user_id(session, "rv_a")
    code = f"T{secrets.token_hex(3).upper()}"
    county = villages[0][:6]
    project = Project(county_code=county, code=code, name=f"测试征收项目{code}", area_path=SEED.paths[county])
    session.add(project)
    await session.flush()
    plan: Plan | None = None
    for i, village in enumerate(villages):
        session.add(
            ProjectVillage(
                project_id=project.id,
                village_id=SEED.areas[village],
                abbr=f"V{i}",
                area_path=SEED.paths[village],
            )
        )
        await session.flush()
        p = Plan(
            project_id=project.id,
            village_id=SEED.areas[village],
            county_code=county,
            area_path=SEED.paths[village],
            version=1,
            status="approved",
            params=params or {},
            author_id=cw,
            reviewer_id=rv,
            approved_at=datetime.now(UTC),
        )
        session.add(p)
        await session.flush()
        plan = plan or p
    assert plan is not None
    return World(project, SEED.areas[villages[0]], plan)


async def make_household(
    session: AsyncSession,
    world: World,
    *,
    head: str,
    flats: tuple[str, ...] | None = ("90.00",),
    signed_at: datetime | None = None,
    signed: bool = True,
    village: str = VILLAGE,
    assessment: str = "approved",
) -> int:
    """A household in ``village`` with an approved assessment (resettlement flats of these areas, or cash when
    ``flats`` is None) and, when ``signed``, a signed agreement. ``assessment="submitted"``: the assessment awaits
    review instead."""
    n = next(_SERIAL)
    village_id = SEED.areas[village]
    h = await households.create_household(
        session,
        SYSTEM,
        HouseholdIn(
            village_id=village_id,
            register_no=f"FT-{secrets.token_hex(3).upper()}-{n:03d}",
            address="测试地址",
            head_name=head,
            head_id_number=fresh_id_number(village[:6], date(1985, 1, 1)),
        ),
    )
    household = await session.get(Household, h.id)
    assert household is not None
    cw, rv = await user_id(session, "cw_a"), await user_id(session, "rv_a")
    total = 500_000_00
    areas = list(flats) if flats is not None else []
    flat_area = sum((Decimal(a) for a in areas), Decimal("0"))
    due = int(flat_area * 1000) * 100
    option: dict[str, object] = (
        {"kind": "resettlement_flat", "flats": [{"area": a} for a in areas], "cash_area": "0.00"}
        if flats is not None
        else {"kind": "cash"}
    )
    approved = assessment == "approved"
    record = Assessment(
        household_id=household.id,
        project_id=world.project.id,
        plan_id=world.plan.id,
        county_code=household.county_code,
        area_path=household.area_path,
        option_kind="resettlement_flat" if flats is not None else "cash",
        option=option,
        inputs={},
        entitled_area=flat_area,
        flat_area=flat_area,
        compensation_total=total,
        flat_price_due=due,
        net_payable=total - due,
        status=assessment,
        created_by=cw,
        reviewer_id=rv if approved else None,
    )
    session.add(record)
    await session.flush()
    session.add(
        AssessmentLine(
            assessment_id=record.id, seq=1, code="house", label="房屋补偿", basis="测试", amount=total
        )
    )
    if signed:
        at = signed_at or datetime(2022, 9, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
        session.add(
            Agreement(
                number=f"{world.project.code}-QFZ-{n:04d}",
                project_id=world.project.id,
                village_id=village_id,
                household_id=household.id,
                assessment_id=record.id,
                county_code=household.county_code,
                area_path=household.area_path,
                status="signed",
                template_version="test",
                snapshot={},
                pdf=PDF,
                pdf_sha256=hashlib.sha256(PDF).digest(),
                net_payable=total - due,
                created_by=cw,
                signed_on=at.date(),
                signed_recorded_by=cw,
                signed_at=at,
            )
        )
    await session.flush()
    world.households.append(household.id)
    return household.id


async def make_building(
    session: AsyncSession, world: World, name: str, units: list[tuple[str, int, str]]
) -> Building:
    building = Building(
        project_id=world.project.id,
        county_code=world.project.county_code,
        area_path=world.project.area_path,
        name=name,
    )
    session.add(building)
    await session.flush()
    for number, floor, area in units:
        unit = Unit(building_id=building.id, number=number, floor=floor, area=Decimal(area))
        session.add(unit)
        await session.flush()
        world.units[f"{name} {number}"] = unit
    world.buildings[name] = building
    return building


STANDARD_UNITS = [("101", 1, "75.00"), ("102", 1, "90.00"), ("103", 1, "110.00"), ("201", 2, "90.00")]


async def sign_through_service(
    db: AsyncSession, world: World, household_id: int, n: int, on: date = date(2022, 9, 20)
) -> Agreement:
    """A draft agreement of the household's approved assessment (on a notice that ended before ``on``), inserted
    as a row, then signed on ``on`` through the service (its tranches and payable posted as at signing)."""
    cw = await user_id(db, "cw_a")
    assessment_id = await db.scalar(
        text("SELECT id FROM assessments WHERE household_id = :h AND status = 'approved'"),
        {"h": household_id},
    )
    draft = Agreement(
        number=f"{world.project.code}-V0-{n:04d}",
        project_id=world.project.id,
        village_id=world.village_id,
        household_id=household_id,
        assessment_id=assessment_id,
        county_code="410727",
        area_path=(
            await db.scalar(text("SELECT area_path FROM households WHERE id = :h"), {"h": household_id})
        ),
        status="draft",
        template_version="test",
        snapshot={},
        pdf=PDF,
        pdf_sha256=hashlib.sha256(PDF).digest(),
        net_payable=await db.scalar(
            text("SELECT net_payable FROM assessments WHERE id = :a"), {"a": assessment_id}
        ),
        created_by=cw,
    )
    db.add(draft)
    await db.flush()
    return await agreements.sign(db, SYSTEM, draft.id, on)
