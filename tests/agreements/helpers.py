"""A project, an approved plan and approved assessments made inside the test's transaction (model rows written
directly, so these tests do not depend on the survey and plan pages), with the domain.md worked example."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.models import User
from app.auth.policy import SYSTEM, Principal
from app.compensation.models import Assessment, AssessmentLine
from app.core.idcard import make_id_number
from app.households import service as households
from app.households.schemas import HouseholdIn
from app.plans.models import Plan, Project, ProjectVillage
from app.plans.schemas import demo_params
from tests.seed import SEED

QFZ = "410727101201"  # 前方庄村: cw_a's village, in rv_a's township
DEADLINE = date(2022, 9, 30)
NET_WORDS = "玖万肆仟柒佰元整"  # 94,700.00

# domain.md, the worked example: 264,600.00 − 169,900.00 = 94,700.00
EXAMPLE_LINES = [
    ("house", "房屋补偿费", "砖混 120.50㎡ × 900.00元/㎡", 10_845_000),
    ("house", "房屋补偿费", "砖木 35.00㎡ × 650.00元/㎡", 2_275_000),
    ("house", "房屋补偿费", "简易 12.00㎡ × 300.00元/㎡", 360_000),
    ("attachment", "附属物补偿费", "围墙 25.00m × 80.00元/m", 200_000),
    ("attachment", "附属物补偿费", "水井 1.00口 × 1500.00元/口", 150_000),
    ("relocation", "搬迁补助费", "4人 × 1200.00元 × 2次", 960_000),
    ("transition", "临时安置补助费", "4人 × 450.00元/月 × 24个月", 4_320_000),
    ("signing_bonus", "按时签约奖励", "4人 × 10000.00元", 4_000_000),
    ("early_vacate", "提前腾房奖励", "167.50㎡ × 200.00元/㎡", 3_350_000),
]
INPUTS = {
    "persons": 4,
    "structures": [
        {"structure": "brick_concrete", "area": "120.50"},
        {"structure": "brick_wood", "area": "35.00"},
        {"structure": "simple", "area": "12.00"},
    ],
    "attachments": [{"code": "wall", "qty": "25.00"}, {"code": "well", "qty": "1.00"}],
}
_SERIAL = itertools.count(1)


async def principal(db: AsyncSession, username: str) -> Principal:
    user = await db.scalar(select(User).where(User.username == username))
    assert user is not None
    return await auth.principal_for(db, user)


async def _user_id(db: AsyncSession, username: str) -> int:
    found = await db.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


@dataclass
class Case:
    project: Project
    plan: Plan
    village_id: int


async def project_with_plan(db: AsyncSession, code: str = "FQ-2022", notice_days: int = 7) -> Case:
    adm, rv = await _user_id(db, "adm"), await _user_id(db, "rv_a")
    project = Project(
        county_code="410727",
        code=code,
        name="封丘县前方庄村征收项目",
        area_path=SEED.paths["410727"],
        created_by=adm,
    )
    db.add(project)
    await db.flush()
    village_id = SEED.areas[QFZ]
    db.add(
        ProjectVillage(project_id=project.id, village_id=village_id, abbr="QFZ", area_path=SEED.paths[QFZ])
    )
    await db.flush()
    params = {**demo_params(DEADLINE).stored(), "public_notice_days": notice_days}
    plan = Plan(
        project_id=project.id,
        village_id=village_id,
        county_code="410727",
        area_path=SEED.paths[QFZ],
        version=1,
        status="approved",
        params=params,
        author_id=adm,
        reviewer_id=rv,
        approved_at=datetime(2022, 8, 1, tzinfo=UTC),
    )
    db.add(plan)
    await db.flush()
    return Case(project, plan, village_id)


async def approved_assessment(db: AsyncSession, case: Case, household_id: int) -> Assessment:
    cw, rv = await _user_id(db, "cw_a"), await _user_id(db, "rv_a")
    total = sum(amount for *_rest, amount in EXAMPLE_LINES)
    assessment = Assessment(
        household_id=household_id,
        project_id=case.project.id,
        plan_id=case.plan.id,
        county_code="410727",
        area_path=SEED.paths[QFZ],
        option_kind="resettlement_flat",
        option={
            "kind": "resettlement_flat",
            "flats": [{"area": "90.00"}, {"area": "75.00"}],
            "cash_area": "0",
        },
        signed_on=date(2022, 9, 20),
        vacated_on=date(2022, 9, 25),
        inputs=INPUTS,
        entitled_area=Decimal("160.00"),
        flat_area=Decimal("165.00"),
        compensation_total=total,
        flat_price_due=16_990_000,
        flat_price_basis="160.00㎡ × 1000.00元/㎡ + 5.00㎡ × 1980.00元/㎡",
        net_payable=total - 16_990_000,
        status="approved",
        created_by=cw,
        reviewer_id=rv,
        reviewed_at=datetime(2022, 8, 20, tzinfo=UTC),
    )
    db.add(assessment)
    await db.flush()
    db.add_all(
        AssessmentLine(assessment_id=assessment.id, seq=i, code=code, label=label, basis=basis, amount=amount)
        for i, (code, label, basis, amount) in enumerate(EXAMPLE_LINES, start=1)
    )
    await db.flush()
    assert assessment.net_payable == 9_470_000
    return assessment


async def another_household(db: AsyncSession, head_name: str = "赵春生") -> int:
    n = next(_SERIAL)
    household = await households.create_household(
        db,
        SYSTEM,
        HouseholdIn(
            village_id=SEED.areas[QFZ],
            register_no=f"AG-T{n:04d}",
            address=f"前方庄村{n}号",
            head_name=head_name,
            head_id_number=make_id_number("410727", date(2004, 2, n % 28 + 1), 101 + 2 * n),
        ),
    )
    return household.id


def at(day: date, hour: int = 3) -> datetime:
    """A moment on ``day`` in China (03:00 UTC is 11:00 CST)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
