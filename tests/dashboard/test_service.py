"""The dashboards' figures (``app.dashboard.service``) equal what hand-written SQL counts in the same database:
for the county as finance sees it, for the project, for a village, and for each caseworker's own village only."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import today_in_china
from app.core.errors import Forbidden, NotFound
from app.dashboard import rules, service
from app.dashboard.service import Progress
from app.demo.load import load_demo
from app.public import service as lookup
from tests.agreements.helpers import principal
from tests.dashboard import world
from tests.dashboard.expected import Expected, expected
from tests.seed import SEED
from tests.socialsecurity.factories import DGC, QFZ, Pin


def assert_matches(progress: Progress, want: Expected) -> None:
    assert [(r.reached.households, r.reached.people) for r in progress.stages] == want.reached
    assert [r.current.households for r in progress.stages] == want.at_stage
    m = progress.money
    assert (m.committed, m.paid, m.due, m.awaiting) == (
        want.money["committed"],
        want.money["paid"],
        want.money["due"],
        want.money["awaiting"],
    )
    assert m.consistent and m.outstanding == want.money["committed"] - want.money["paid"]
    assert progress.compensation_paid_month == want.money["paid_month"]
    p = progress.pensions
    assert {
        "enrolled": p.enrolled,
        "deceased": p.deceased,
        "drawing": p.drawing,
        "paid_people": p.paid_people,
        "paid_total": p.paid_total,
        "paid_month_people": p.paid_month_people,
        "paid_month": p.paid_month,
    } == want.pensions
    assert {w.start: w.count for w in progress.weeks if w.count} == want.weeks
    assert len(progress.weeks) == rules.WEEKS_SHOWN and progress.weeks[-1].start == date(2023, 7, 10)
    assert progress.paid_total == want.money["paid"] + want.pensions["paid_total"]
    assert progress.paid_month == want.money["paid_month"] + want.pensions["paid_month"]


async def test_county_project_and_village_figures_equal_sql(db: AsyncSession, pinned_clock: Pin) -> None:
    w = await world.build(db, pinned_clock)
    fin = await principal(db, "fin")
    county = SEED.paths["410727"]

    progress = await service.progress(db, await service.area_scope(db, fin), world.TODAY)
    want = await expected(db, prefix=county, today=world.TODAY)
    assert_matches(progress, want)
    # Not a vacuous comparison: the world has every stage, money paid and unpaid, pensions this month and before.
    assert want.at_stage[1:] == [2, 1, 1, 2, 1, 1]
    assert progress.stage("settled").reached.people == 3  # h1: 王建国, 李秀英, 王小明
    assert want.money == {
        "committed": 4 * world.NET,
        "due": world.NET,
        "awaiting": 2 * world.NET,
        "paid": world.NET,
        "paid_month": 0,
    }
    assert (
        want.pensions["paid_total"] == 3 * world.MONTHLY and want.pensions["paid_month"] == 2 * world.MONTHLY
    )
    assert (want.pensions["enrolled"], want.pensions["drawing"], want.pensions["paid_people"]) == (4, 3, 2)
    assert want.weeks == {date(2023, 5, 8): 1, date(2023, 5, 22): 1, date(2023, 6, 5): 1}
    assert progress.scope.title == "封丘县"
    assert {v.name for v in progress.villages} == {"前方庄村", "后方庄村", "东关村"}
    qfz = next(v for v in progress.villages if v.village_id == w.qfz)
    qfz_want = await expected(db, prefix=county, village=w.qfz, today=world.TODAY)
    assert [(r.reached.households, r.reached.people) for r in qfz.stages] == qfz_want.reached
    assert {p.id for p in progress.projects} >= {w.project_id, w.social_project_id}

    project = await service.progress(db, await service.project_scope(db, fin, w.project_id), world.TODAY)
    project_want = await expected(db, prefix=county, project=w.project_id, today=world.TODAY)
    assert_matches(project, project_want)
    assert project_want.pensions["enrolled"] == 0  # the pensioners came through another project
    assert project.scope.title == "封丘县前方庄村征收项目"

    village = await service.progress(db, await service.village_scope(db, fin, w.dgc), world.TODAY)
    assert_matches(village, await expected(db, prefix=county, village=w.dgc, today=world.TODAY))
    assert village.stage("surveyed").reached.households == 1 and village.pensions.enrolled == 1


async def test_each_household_is_at_the_stage_its_resident_sees(db: AsyncSession, pinned_clock: Pin) -> None:
    """The dashboard (set-based, every household at once) and the residents' lookup (app.public, one case) each
    define the stages of a case. They agree: in each village, the households the dashboard counts at a stage are
    those whose head the lookup shows at that stage (nothing reached: registered only)."""
    w = await world.build(db, pinned_clock)
    progress = await service.progress(
        db, await service.area_scope(db, await principal(db, "fin")), world.TODAY
    )
    conn = await (await db.connection()).get_raw_connection()
    seen: dict[int, Counter[str]] = {}
    heads = await db.execute(
        text(
            "SELECT h.village_id, m.id_number_hash, m.name FROM households h "
            "JOIN members m ON m.household_id = h.id AND m.relation = 'head' AND m.status = 'registered' "
            "WHERE h.county_code = '410727'"
        )
    )
    for village_id, digest, name in heads:
        status = await lookup.find_status(conn.driver_connection, digest, name, world.TODAY)
        assert status is not None, name
        reached = [step.code for step in status.steps if step.done]
        seen.setdefault(village_id, Counter())[reached[-1] if reached else "registered"] += 1
    counted = {
        v.village_id: Counter({r.code: r.current.households for r in v.stages if r.current.households})
        for v in progress.villages
    }
    assert counted == seen
    # every stage is somewhere in 前方庄村, so the two definitions are compared at each stage
    assert set(seen[w.qfz]) == set(rules.STAGE_CODES)
    assert seen[w.qfz]["settled"] == 1 and set(seen) == {w.qfz, w.dgc, SEED.areas["410727101202"]}


async def test_a_caseworker_sees_only_their_village(db: AsyncSession, pinned_clock: Pin) -> None:
    w = await world.build(db, pinned_clock)
    cw_a, cw_b = await principal(db, "cw_a"), await principal(db, "cw_b")

    mine = await service.progress(db, await service.area_scope(db, cw_a), world.TODAY)
    assert mine.scope.title == "前方庄村"
    assert_matches(mine, await expected(db, prefix=SEED.paths[QFZ], today=world.TODAY))
    assert [v.name for v in mine.villages] == ["前方庄村"]
    county = await service.progress(db, await service.area_scope(db, await principal(db, "fin")), world.TODAY)
    assert mine.stages[0].reached.households < county.stages[0].reached.households
    assert mine.pensions.enrolled == county.pensions.enrolled - 1  # not 东关村's pensioner

    theirs = await service.progress(db, await service.area_scope(db, cw_b), world.TODAY)
    assert_matches(theirs, await expected(db, prefix=SEED.paths[DGC], today=world.TODAY))
    assert theirs.money.committed == 0 and theirs.pensions.enrolled == 1

    # The project reaches into 前方庄村 only: cw_b does not find it; another village is not found either.
    with pytest.raises(NotFound):
        await service.project_scope(db, cw_b, w.project_id)
    with pytest.raises(NotFound):
        await service.village_scope(db, cw_a, w.dgc)
    inside = await service.progress(db, await service.project_scope(db, cw_a, w.project_id), world.TODAY)
    assert_matches(
        inside, await expected(db, prefix=SEED.paths[QFZ], project=w.project_id, today=world.TODAY)
    )


async def test_other_county_and_roles_without_registry_read(db: AsyncSession) -> None:
    adm_y = await principal(db, "adm_y")
    scope = await service.area_scope(db, adm_y)
    progress = await service.progress(db, scope, date(2023, 7, 10))
    assert scope.title == "延津县"
    assert progress.stages[0].reached.households == 1  # the seeded h4 only
    assert progress.money.committed == 0 and progress.pensions.enrolled == 0
    with pytest.raises(NotFound):
        await service.village_scope(db, adm_y, SEED.areas[QFZ])
    with pytest.raises(Forbidden):
        await service.area_scope(db, dataclasses.replace(adm_y, role="resident"))


async def test_pension_months_paid_before_the_system_count_as_paid(db: AsyncSession) -> None:
    """The demo county's pension history (months the register records as paid, without bank lines) is money paid."""
    await load_demo(db)
    fin = await principal(db, "fin")
    today = today_in_china()
    p = (await service.progress(db, await service.area_scope(db, fin), today)).pensions
    want = (await expected(db, prefix=SEED.paths["410727"], today=today)).pensions
    assert (p.paid_people, p.paid_total, p.paid_month_people, p.paid_month) == (
        want["paid_people"],
        want["paid_total"],
        want["paid_month_people"],
        want["paid_month"],
    )
    on_record = await db.scalar(text("SELECT count(*) FROM pension_months WHERE status = 'paid'"))
    assert on_record and p.paid_total > 0 and p.paid_people > 0
