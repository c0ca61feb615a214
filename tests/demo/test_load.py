"""Loading the demo data into the database (inside the test's rolled-back transaction, on top of the seed, which
already holds some of the demo's areas): everything arrives, audited, and a second load changes nothing."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.audit.models import AuditEvent
from app.audit.service import verify_chain
from app.auth import service as auth_service
from app.auth.models import User
from app.config import get_settings
from app.demo.generate import DEMO_PASSWORD, generate
from app.demo.load import load_demo
from app.households.models import Household, Member
from app.households.service import id_cipher


async def _counts(db: AsyncSession) -> tuple[int, int, int, int, int]:
    return (
        await db.scalar(select(func.count()).select_from(Area)) or 0,
        await db.scalar(select(func.count()).select_from(User)) or 0,
        await db.scalar(select(func.count()).select_from(Household)) or 0,
        await db.scalar(select(func.count()).select_from(Member)) or 0,
        await db.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


async def _village_totals(db: AsyncSession, code: str, prefix: str) -> tuple[int, int]:
    village_id = await db.scalar(select(Area.id).where(Area.code == code))
    demo_households = select(Household.id).where(
        Household.village_id == village_id, Household.register_no.regexp_match(f"^{prefix}[0-9]{{4}}$")
    )
    households = await db.scalar(select(func.count()).select_from(demo_households.subquery()))
    members = await db.scalar(
        select(func.count()).where(Member.household_id.in_(demo_households), Member.status == "registered")
    )
    return int(households or 0), int(members or 0)


async def test_load_twice(db: AsyncSession, seed: object) -> None:
    data = generate()
    before = await _counts(db)
    lines: list[str] = []

    first = await load_demo(db, lines.append, data=data)

    # The seed already made the county, both townships, 前方庄村 with its first group, and 东关村: six areas.
    assert first.areas_added == len(data.areas()) - 6
    assert first.users_added == 8
    assert (first.projects_added, first.plans_added) == (2, 5)
    assert (first.households_added, first.members_added) == (1342, 1168 + 4516)
    assert any(line.startswith("[1/5] 前方庄村：309 户 / 1168 人 … 完成") for line in lines)
    after = await _counts(db)
    assert after[2] - before[2] == 1342 and after[3] - before[3] == 5684
    # one event per area, user and household, one per project and three per plan (drafted, submitted, approved),
    # one per demo building and per batch of its units (36 units in two buildings in each of FQ-2022 and FQ-2023),
    # and one for the load itself
    assert first.units_added == 2 * 36
    # and those of the social-security demo (tests/socialsecurity check its content)
    assert first.social is not None and first.social.enrolled == first.social_enrolled > 800
    assert first.compensation is not None and first.compensation.signed > 0
    buildings = 2 * 2
    assert after[4] - before[4] == (
        first.areas_added
        + 8
        + 1342
        + 2
        + 5 * 3
        + buildings * 2
        + 1
        + first.social.events
        + first.compensation.events
    )

    assert await _village_totals(db, "410727101201", "QFZ") == (309, 1168)
    district = [await _village_totals(db, v.area.code, v.plan.register_prefix) for v in data.villages[1:]]
    assert sum(h for h, _ in district) == 1033 and sum(m for _, m in district) == 4516

    lines.clear()
    second = await load_demo(db, lines.append, data=data)
    assert not second.changed
    assert second.summary.startswith("演示数据已存在，未作更改")
    assert await _counts(db) == after
    assert all("已存在" in line for line in lines if line.startswith("["))

    # Every household has its creation in its own history, naming its members with masked ID numbers only.
    household = await db.scalar(select(Household).where(Household.register_no == "QFZ0001"))
    assert household is not None
    events = (await db.scalars(select(AuditEvent).where(AuditEvent.household_id == household.id))).all()
    assert events[0].action == "household.create"
    # then only what the social-security demo did for its people (old policy, passbooks)
    assert {e.action for e in events[1:]} <= {
        "old_policy.record",
        "passbook.set",
        "enrollment.death",
        "enrollment.heir",
    }
    snapshot = events[0].after or {}
    members = (await db.scalars(select(Member).where(Member.household_id == household.id))).all()
    assert len(snapshot["members"]) + 1 == len(members)
    cipher = id_cipher()
    clear = {cipher.decrypt(m.id_number_enc) for m in members}
    assert not any(number in str(e.after) for e in events for number in clear)
    assert {m.id_number_masked for m in members} == {
        snapshot["head"]["id_number"],
        *(s["id_number"] for s in snapshot["members"]),
    }

    assert (await verify_chain(db)).intact


async def test_demo_accounts_can_log_in_with_their_scope(db: AsyncSession, seed: object) -> None:
    full = generate()
    small = replace(full, villages=tuple(replace(v, households=v.households[:3]) for v in full.villages))
    await load_demo(db, data=small)
    user = await auth_service.authenticate(db, get_settings(), "caseworker2", DEMO_PASSWORD)
    principal = await auth_service.principal_for(db, user)
    assert principal.role == "caseworker"
    paths = (await db.scalars(select(Area.path).where(Area.code.in_(["410727102201", "410727102204"])))).all()
    assert all(principal.covers(p) for p in paths)
    qfz = await db.scalar(select(Area.path).where(Area.code == "410727101201"))
    assert qfz is not None and not principal.covers(qfz)


async def test_demo_projects_have_approved_plans_made_by_two_people(db: AsyncSession, seed: object) -> None:
    from app.plans.models import Plan, Project

    full = generate()
    small = replace(full, villages=tuple(replace(v, households=v.households[:3]) for v in full.villages))
    await load_demo(db, data=small)
    users = {i: name for i, name in (await db.execute(select(User.id, User.username))).all()}
    rows = (
        await db.execute(
            select(
                Project.code,
                Area.name,
                Plan.version,
                Plan.status,
                Plan.author_id,
                Plan.reviewer_id,
                Plan.params,
            )
            .join(Plan, Plan.project_id == Project.id)
            .join(Area, Area.id == Plan.village_id)
            .order_by(Project.code, Area.code)
        )
    ).all()
    assert [
        (r.code, r.name, r.version, r.status, users[r.author_id], users[r.reviewer_id]) for r in rows
    ] == [
        ("FQ-2022", "前方庄村", 1, "approved", "admin", "reviewer"),
        ("FQ-2023", "东关村", 1, "approved", "admin", "reviewer2"),
        ("FQ-2023", "西关村", 1, "approved", "admin", "reviewer2"),
        ("FQ-2023", "孙庄村", 1, "approved", "admin", "reviewer2"),
        ("FQ-2023", "李庄村", 1, "approved", "admin", "reviewer2"),
    ]
    assert rows[0].params["signing_deadline"] == "2022-09-30"
    again = await load_demo(db, data=small)
    assert again.projects_added == 0 and not again.changed
