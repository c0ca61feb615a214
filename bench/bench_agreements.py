"""Agreement PDFs: seconds per agreement through the application vs. rendering a minimal one-page Chinese
WeasyPrint document in the same run (performance.md: 0.05 s / 0.38 s on a warm process, 2 vCPU).

Run: ``uv run python -m bench.bench_agreements`` (starts a throwaway embedded PostgreSQL, loads the demo data, adds
a project, an approved plan, approved assessments of the domain.md worked example and their public notice).
Prints, per operation, the seconds per document and the ratio to the minimal document; the ratio is the figure
to watch, absolute times drift with the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from app.agreements import pdf, service
from app.areas.models import Area
from app.auth.models import User
from app.auth.policy import SYSTEM
from app.compensation.models import Assessment, AssessmentLine
from app.core import clock
from app.db import create_app_engine, make_sessionmaker
from app.demo.load import load_demo
from app.households.models import Household
from app.migrate import upgrade_to_head
from app.plans.models import Plan, Project, ProjectVillage
from app.plans.schemas import demo_params
from bench._server import throwaway_postgres

AGREEMENTS = 20
MINIMAL_ROUNDS = 20
LINES = [
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


def per_call(fn: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def prepare(url: str) -> tuple[list[int], int, int]:
    """Demo data, then one project over the first village with its plan, assessments and notice."""
    from app.config import get_settings

    engine = await create_app_engine(get_settings(), url)
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        await load_demo(session)
    clock.set_clock(lambda: datetime(2022, 9, 1, 3, tzinfo=UTC))
    async with maker() as session, session.begin():
        village = await session.scalar(select(Area).where(Area.level == "village").order_by(Area.id).limit(1))
        assert village is not None
        county = await session.scalar(select(Area).where(Area.code == village.county_code))
        assert county is not None
        first, second = (await session.scalars(select(User.id).order_by(User.id).limit(2))).all()
        project = Project(
            county_code=village.county_code, code="BENCH-2022", name="基准测试征收项目", area_path=county.path
        )
        session.add(project)
        await session.flush()
        session.add(
            ProjectVillage(project_id=project.id, village_id=village.id, abbr="BX", area_path=village.path)
        )
        await session.flush()
        plan = Plan(
            project_id=project.id,
            village_id=village.id,
            county_code=village.county_code,
            area_path=village.path,
            version=1,
            status="approved",
            params=demo_params(date(2022, 9, 30)).stored(),
            author_id=first,
            reviewer_id=second,
            approved_at=datetime(2022, 8, 1, tzinfo=UTC),
        )
        session.add(plan)
        await session.flush()
        households = (
            await session.scalars(
                select(Household)
                .where(Household.village_id == village.id)
                .order_by(Household.id)
                .limit(AGREEMENTS)
            )
        ).all()
        total = sum(amount for *_rest, amount in LINES)
        for h in households:
            a = Assessment(
                household_id=h.id,
                project_id=project.id,
                plan_id=plan.id,
                county_code=h.county_code,
                area_path=h.area_path,
                option_kind="resettlement_flat",
                option={"kind": "resettlement_flat", "flats": [{"area": "90.00"}, {"area": "75.00"}]},
                signed_on=date(2022, 9, 20),
                vacated_on=date(2022, 9, 25),
                inputs=INPUTS,
                entitled_area=Decimal("160.00"),
                flat_area=Decimal("165.00"),
                compensation_total=total,
                flat_price_due=16_990_000,
                net_payable=total - 16_990_000,
                status="approved",
                created_by=first,
                reviewer_id=second,
            )
            session.add(a)
            await session.flush()
            session.add_all(
                AssessmentLine(assessment_id=a.id, seq=i, code=c, label=lbl, basis=b, amount=amt)
                for i, (c, lbl, b, amt) in enumerate(LINES, start=1)
            )
        await session.flush()
        await service.create_notice(session, SYSTEM, project.id, village.id)
        ids, project_id = [h.id for h in households], project.id
    await engine.dispose()
    return ids, project_id, len(ids)


async def issue_all(url: str, household_ids: list[int], project_id: int) -> tuple[float, dict[str, object]]:
    from app.config import get_settings

    clock.set_clock(lambda: datetime(2022, 9, 8, 3, tzinfo=UTC))
    engine = await create_app_engine(get_settings(), url)
    maker = make_sessionmaker(engine)
    snapshot: dict[str, object] = {}
    start = time.perf_counter()
    for household_id in household_ids:
        async with maker() as session, session.begin():
            agreement = await service.issue_agreement(session, SYSTEM, household_id, project_id)
            snapshot = agreement.snapshot
    elapsed = (time.perf_counter() - start) / len(household_ids)
    await engine.dispose()
    return elapsed, snapshot


def main() -> None:
    with throwaway_postgres() as url:
        upgrade_to_head(url)  # synchronous: Alembic runs its own event loop
        household_ids, project_id, n = asyncio.run(prepare(url))
        pdf.render_minimal()  # warm up fonts and WeasyPrint's caches
        minimal = per_call(pdf.render_minimal, MINIMAL_ROUNDS)
        issued, snapshot = asyncio.run(issue_all(url, household_ids, project_id))
        url_of = service.verify_url_of(str(snapshot["number"]), snapshot)
        render_only = per_call(lambda: pdf.render_agreement(snapshot, url_of), 5)
        minimal_after = per_call(pdf.render_minimal, MINIMAL_ROUNDS)
    baseline = statistics.median([minimal, minimal_after])
    print(f"{n} agreements; baseline: minimal one-page Chinese WeasyPrint document {baseline:.3f} s")
    print(f"{'operation':50} {'s/doc':>8} {'minimal s':>10} {'ratio':>7}")
    for name, seconds in (
        ("agreement: issue (checks, number, snapshot, PDF)", issued),
        ("agreement: render snapshot → PDF only", render_only),
        ("minimal one-page document", baseline),
    ):
        print(f"{name:50} {seconds:8.3f} {baseline:10.3f} {seconds / baseline:7.1f}")


if __name__ == "__main__":
    main()
