"""Land-loss social security through the services, on the real database: the eligibility list of a village at
scale against the pure rules, notice → approval → enrollment, bridging the old policy (新老衔接), the old-policy
roster import, passbooks and their audit, and who may do what."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.households import service as households
from app.households.models import Member
from app.households.schemas import MemberIn, MemberMove, MemberUpdate
from app.socialsecurity import rules, service
from app.socialsecurity.models import Enrollment, OldPolicyRecord, Passbook, PensionMonth
from app.socialsecurity.schemas import BatchIn, NoticeIn, PassbookIn
from tests.agreements.helpers import at, principal
from tests.socialsecurity.factories import (
    ANNOUNCED,
    APPROVED,
    ENROLLED,
    Home,
    Person,
    Pin,
    enrollments_of,
    id_number,
    make_batch,
    make_home,
    make_project,
    notice_approve_enroll,
    old_policy,
    pensioners,
    ready_batch,
    set_land,
)

PARAMS = rules.BatchParams(
    announcement_date=ANNOUNCED,
    approved_on=APPROVED,
    per_capita_land_threshold_mu=Decimal("0.3"),
    min_age=16,
    pension_age=60,
    fee_standard=2_400_000,
    monthly_pension=26_000,
)
CREATED = date(2022, 12, 1)  # when the registry of the scale test is written
MOVED = date(2023, 2, 1)  # a member moves between two households of the village, after the announcement
LATE = ANNOUNCED + timedelta(days=1)  # a member who joined the day after the announcement


def month(text_: str) -> date:
    return rules.parse_month(text_)


# ---------------------------------------------------------------------------------------------- the list at scale


@dataclass
class Membership:
    """One membership as the test wrote it: the facts ``rules.eligibility`` needs, known without the service."""

    member_id: int
    household_id: int
    birth: date
    id_number: str
    joined_on: date | None = None
    left_on: date | None = None
    registered_now: bool = True

    @property
    def registered_on_announcement(self) -> bool:
        return rules.registered_on(ANNOUNCED, joined_on=self.joined_on, left_on=self.left_on)


def _random_people(rng: random.Random, n: int, i: int) -> list[tuple[str, date]]:
    first = date(1935, 1, 1).toordinal()
    span = date(2012, 12, 31).toordinal() - first
    return [(f"村民{i:03d}-{j}", date.fromordinal(first + rng.randrange(span))) for j in range(n)]


def _random_land(rng: random.Random, members: int) -> tuple[str, str]:
    """Remaining land per member spread over 0 … 0.45 mu (about two thirds within the 0.3 threshold)."""
    remaining = Decimal(rng.randint(0, 4500 * members)) / 10000
    acquired = Decimal(rng.randint(0, 50000)) / 10000
    return str(acquired + remaining), str(acquired)


async def _join(db: AsyncSession, home: Home, name: str, birth: date) -> Membership:
    number = id_number(birth)
    member = await households.add_member(
        db, SYSTEM, home.household_id, MemberIn(name=name, id_number=number, relation="child")
    )
    return Membership(member.id, home.household_id, birth, number)


async def test_eligibility_list_at_scale_then_notice_approve_enroll(
    db: AsyncSession, pinned_clock: Pin
) -> None:
    pin = pinned_clock
    rng = random.Random(20230110)
    pin(at(CREATED))
    cw = await principal(db, "cw_a")
    project_id, village_id = await make_project(db)

    # Special households first, then generated ones: 120 in all.
    exact = await make_home(
        db,
        [
            ("整户甲", date(1970, 1, 1)),
            ("整户乙", date(1972, 2, 2)),
            ("整户丙", date(1995, 3, 3)),
            ("迁移人", date(1980, 4, 4)),  # moves to ``target`` after the announcement
        ],
    )
    above = await make_home(
        db, [("超标甲", date(1965, 5, 5)), ("超标乙", date(1968, 6, 6)), ("超标丙", date(1990, 7, 7))]
    )
    ages = await make_home(
        db,
        [
            ("年龄户主", date(1975, 8, 8)),
            ("满十六", date(2007, 1, 10)),  # 16th birthday on the announcement date
            ("差一天", date(2007, 1, 11)),  # one day short of 16
            ("满六十", date(1963, 1, 10)),  # 60th birthday on the announcement date
            ("五十九", date(1963, 1, 11)),
            ("当日迁入", date(1985, 9, 9)),  # joined on the announcement date itself
        ],
    )
    target = await make_home(
        db, [("迁入户主", date(1958, 10, 10)), ("迁入乙", date(1960, 11, 11)), ("迁入丙", date(2001, 12, 12))]
    )
    homes: list[Home] = [exact, above, ages, target]
    for i in range(len(homes), 120):
        homes.append(await make_home(db, _random_people(rng, rng.randint(3, 5), i)))
    dup_home = await make_home(db, [("已参保人", date(1955, 1, 20))])

    # The registry as the test writes it, membership by membership.
    written = {
        p.member_id: Membership(p.member_id, home.household_id, p.birth, p.id_number)
        for home in [*homes, dup_home]
        for p in home.people
    }
    late_above = await _join(db, above, "迟入甲", date(1992, 1, 1))
    late_ages = await _join(db, ages, "迟入乙", date(1993, 2, 2))
    gone = await _join(db, ages, "早迁出", date(1988, 3, 3))
    late_above.joined_on = late_ages.joined_on = LATE
    written[ages.people[5].member_id].joined_on = ANNOUNCED
    for m in (late_above, late_ages, written[ages.people[5].member_id]):
        row = await db.get(Member, m.member_id)
        assert row is not None
        row.registered_on = m.joined_on
    await db.flush()
    gone_row = await db.get(Member, gone.member_id)
    assert gone_row is not None
    await households.update_member(  # moved away before the announcement: not on the list at all
        db,
        SYSTEM,
        gone.member_id,
        MemberUpdate(name="早迁出", relation="child", status="moved_out", version=gone_row.version),
    )
    gone.left_on, gone.registered_now = CREATED, False
    pin(at(MOVED))
    mover = exact.people[3]
    moved = await households.move_member(
        db, SYSTEM, mover.member_id, MemberMove(target_household_id=target.household_id, relation="other")
    )
    written[mover.member_id].left_on, written[mover.member_id].registered_now = MOVED, False
    written |= {
        m.member_id: m
        for m in (
            late_above,
            late_ages,
            gone,
            Membership(moved.id, target.household_id, mover.birth, mover.id_number, joined_on=MOVED),
        )
    }

    # The duplicate: enrolled through another batch of the county before this one.
    other = await make_batch(
        db, project_id, village_id, announced=date(2022, 6, 1), approved=date(2022, 8, 1), name="先行批次"
    )
    await set_land(db, other, [(dup_home.household_id, "0.5000", "0.5000")])
    assert await notice_approve_enroll(db, pin, other, enrolled_on=date(2022, 12, 20)) == 1
    enrolled_elsewhere = {dup_home.people[0].id_number}

    batch = await make_batch(db, project_id, village_id, name="规模批次")
    land: dict[int, tuple[str, str]] = {
        exact.household_id: ("5.2000", "4.0000"),  # 1.2 mu for 4 members on the day: exactly 0.3 each
        above.household_id: ("3.0001", "2.1000"),  # 0.9001 mu for 3 members: 0.0001 above 0.9
        ages.household_id: ("2.0000", "2.0000"),
        target.household_id: ("1.0000", "1.0000"),
        dup_home.household_id: ("0.5000", "0.5000"),
    }
    for home in homes[4:]:
        land[home.household_id] = _random_land(rng, len(home.people))
    assert await set_land(db, batch, [(h, c, a) for h, (c, a) in land.items()]) == 121

    # What the rules say, from what was written.
    listed = {
        i: m
        for i, m in written.items()
        if m.household_id in land and (m.registered_on_announcement or m.registered_now)
    }
    members_on_day = Counter(m.household_id for m in listed.values() if m.registered_on_announcement)
    on_day_somewhere: defaultdict[str, int] = defaultdict(int)
    for m in listed.values():
        on_day_somewhere[m.id_number] += m.registered_on_announcement
    expected: dict[int, rules.Eligibility] = {}
    for member_id, m in listed.items():
        contracted, acquired = (Decimal(v) for v in land[m.household_id])
        expected[member_id] = rules.eligibility(
            PARAMS,
            birth_date=m.birth,
            registered_on_announcement=m.registered_on_announcement,
            land=rules.HouseholdLand(contracted, acquired, members_on_day[m.household_id]),
            # enrolled elsewhere, or a second record of a person whose record on the day is another one
            other_enrollment=m.id_number in enrolled_elsewhere
            or (not m.registered_on_announcement and on_day_somewhere[m.id_number] > 0),
        )

    preview = await service.eligibility_list(db, cw, batch.id)
    assert len(listed) > 450
    assert sorted(e.member_id for e in preview) == sorted(listed)
    assert sum(e.eligible for e in preview) == sum(r.eligible for r in expected.values())
    for entry in preview:
        want = expected[entry.member_id]
        contracted, acquired = (Decimal(v) for v in land[entry.household_id])
        assert (entry.eligible, entry.reasons, entry.age_on_announcement) == (
            want.eligible,
            want.reasons,
            want.age_on_announcement,
        ), entry
        assert entry.household_id == listed[entry.member_id].household_id
        assert entry.household_members == members_on_day[entry.household_id]
        assert entry.remaining_mu == contracted - acquired
        assert entry.birth_date == listed[entry.member_id].birth
    # The generated part is a real mix, so the comparison above was not one-sided.
    reasons = Counter(r for e in preview for r in e.reasons)
    assert reasons["under_min_age"] > 10 and reasons["land_above_threshold"] > 30
    assert sum(e.eligible for e in preview) > 150

    by_id = {e.member_id: e for e in preview}
    sixteen, short, sixty = (by_id[p.member_id] for p in ages.people[1:4])
    assert sixteen.eligible and sixteen.age_on_announcement == 16
    assert short.reasons == ("under_min_age",) and short.age_on_announcement == 15
    assert sixty.eligible and sixty.age_on_announcement == 60
    assert by_id[ages.people[5].member_id].eligible  # joined on the day itself
    assert by_id[late_ages.member_id].reasons == ("not_registered",)
    assert gone.member_id not in by_id
    for p in exact.people:  # the mover among them, counted on the day though gone since
        assert by_id[p.member_id].eligible and by_id[p.member_id].household_members == 4
    for p in above.people:
        assert by_id[p.member_id].reasons == ("land_above_threshold",)
        assert by_id[p.member_id].household_members == 3
    assert by_id[late_above.member_id].reasons == ("not_registered", "land_above_threshold")
    dup = by_id[dup_home.people[0].member_id]
    assert dup.reasons == ("duplicate_enrollment",)
    assert dup.duplicate_of == f"已在前方庄村征地批次 {other.code}（先行批次）参保"
    mover_entries = [e for e in preview if e.name == "迁移人"]
    assert {e.member_id for e in mover_entries} == {mover.member_id, moved.id}
    assert [e.eligible for e in mover_entries].count(True) == 1
    assert by_id[moved.id].reasons == ("not_registered", "duplicate_enrollment")
    assert by_id[moved.id].duplicate_of == f"与本批次户口簿编号 {exact.register_no} 的记录为同一人"
    assert by_id[target.people[0].member_id].household_members == 3

    # Notice: the list is frozen as previewed.
    pin(at(date(2023, 5, 22)))
    await service.start_notice(db, cw, batch.id, NoticeIn(notice_start=date(2023, 5, 22), notice_days=7))
    assert await service.eligibility_list(db, cw, batch.id) == preview
    with pytest.raises(Conflict):
        await service.set_land(db, cw, batch.id, [])

    # Approval: not within the notice period, not by the one who noticed, not outside the reviewer's township.
    rv_a, rv_b = await principal(db, "rv_a"), await principal(db, "rv_b")
    pin(at(date(2023, 5, 28)))  # the last day of the notice
    with pytest.raises(Conflict, match="期满后才能审核"):
        await service.approve_batch(db, rv_a, batch.id)
    pin(at(date(2023, 5, 29)))
    # The caseworker who noticed it, since made a reviewer of the township.
    same_person = dataclasses.replace(cw, role="reviewer", scope_paths=rv_a.scope_paths)
    with pytest.raises(Forbidden, match="不能审核自己公示的名册"):
        await service.approve_batch(db, same_person, batch.id)
    with pytest.raises(Forbidden):
        await service.approve_batch(db, cw, batch.id)  # a caseworker does not approve at all
    with pytest.raises(NotFound):
        await service.approve_batch(db, rv_b, batch.id)
    with pytest.raises(Conflict):
        await service.enroll_batch(db, cw, batch.id)  # not approved yet
    approved = await service.approve_batch(db, rv_a, batch.id)
    assert (approved.status, approved.reviewed_by) == ("approved", rv_a.user_id)
    assert approved.noticed_by == cw.user_id != rv_a.user_id

    pin(at(ENROLLED))
    eligible = {e.member_id for e in preview if e.eligible}
    assert await service.enroll_batch(db, cw, batch.id) == len(eligible)
    enrolled = (await db.scalars(select(Enrollment).where(Enrollment.batch_id == batch.id))).all()
    assert {e.member_id for e in enrolled} == eligible
    assert {e.enrolled_on for e in enrolled} == {ENROLLED}
    summary = await service.batch_row(db, cw, batch.id)
    assert (summary.listed, summary.eligible, summary.enrolled) == (len(listed), len(eligible), len(eligible))
    by_enrolled = {e.member_id: e for e in enrolled}
    # 60 on the announcement date: paid from the month after approval; 16: from the month after turning 60.
    assert by_enrolled[ages.people[3].member_id].pension_start_month == date(2023, 6, 1)
    assert by_enrolled[ages.people[1].member_id].pension_start_month == date(2067, 2, 1)
    assert {e.account_credit for e in enrolled} == {2_400_000}
    with pytest.raises(Conflict, match="审核通过后"):
        await service.enroll_batch(db, cw, batch.id)
    assert await db.scalar(select(func.count()).where(Enrollment.batch_id == batch.id)) == len(eligible)


# ---------------------------------------------------------------------------------------------- bridging


async def _old_months(db: AsyncSession, record_id: int) -> list[PensionMonth]:
    rows = await db.scalars(
        select(PensionMonth).where(PensionMonth.old_policy_id == record_id).order_by(PensionMonth.month)
    )
    return list(rows)


async def _register(db: AsyncSession, person: Person) -> dict[date, PensionMonth]:
    """Every row of the register of months for a person (both policies)."""
    digest = households.id_cipher().lookup_hash(person.id_number)
    rows = await db.scalars(
        select(PensionMonth)
        .where(PensionMonth.person_hash == digest)
        .execution_options(populate_existing=True)
    )
    return {m.month: m for m in rows}


async def test_bridging_lump_sums_and_the_domain_example(db: AsyncSession, pinned_clock: Pin) -> None:
    births = [date(1960, 3, 15), date(1958, 1, 1), date(1957, 1, 1), date(1956, 6, 6), date(1961, 2, 2)]
    batch, [example, below, above, equal, plain] = await ready_batch(db, pinned_clock, births)
    cw = await principal(db, "cw_a")
    record = (
        await service.record_old_policy(
            db,
            cw,
            old_policy(
                example, lump="5000.00", subsidy="180.00", paid_from="2018-01", paid_through="2023-07"
            ),
        )
    ).record
    for person, lump in ((below, "1000.00"), (above, "30000.00"), (equal, "24000.00")):
        outcome = await service.record_old_policy(db, cw, old_policy(person, lump=lump))
        assert outcome.change == "created"
    # The old subsidy's months are in the one register of months.
    months = await _old_months(db, record.id)
    assert [m.month for m in months] == rules.months_between(month("2018-01"), month("2023-07"))
    assert {(m.status, m.kind, m.amount, m.enrollment_id) for m in months} == {
        ("old_policy", "old_policy", 18_000, None)
    }

    listed = {e.member_id: e for e in await service.eligibility_list(db, cw, batch.id)}
    assert listed[example.member_id].eligible and listed[example.member_id].age_on_announcement == 62
    assert await notice_approve_enroll(db, pinned_clock, batch) == 5
    e_example, e_below, e_above, e_equal, e_plain = await enrollments_of(
        db, batch, [example, below, above, equal, plain]
    )
    # domain.md: born 1960-03-15, announced 2023-01-10, approved 2023-05-20, lump 5,000.00, subsidy through 2023-07.
    assert (e_example.account_credit, e_example.old_lump_sum, e_example.pension_start_month) == (
        1_900_000,
        500_000,
        date(2023, 8, 1),
    )
    assert e_example.old_paid_through == date(2023, 7, 1)
    assert (e_below.account_credit, e_above.account_credit, e_equal.account_credit) == (2_300_000, 0, 0)
    assert (e_plain.account_credit, e_plain.old_lump_sum, e_plain.old_paid_through) == (2_400_000, 0, None)
    assert {e.pension_start_month for e in (e_below, e_above, e_equal, e_plain)} == {date(2023, 6, 1)}

    # A batch for a period covering the old months never claims one of them.
    pinned_clock(at(date(2023, 7, 5)))
    await service.claim_period(db, SYSTEM, month("2023-07"), as_of=date(2023, 7, 5))
    register = await _register(db, example)
    assert all(m.status == "old_policy" for m in register.values())
    assert (await _register(db, plain))[month("2023-07")].status == "claimed"  # others were claimed
    pinned_clock(at(date(2023, 10, 5)))
    await service.claim_period(db, SYSTEM, month("2023-10"), as_of=date(2023, 10, 5))
    register = await _register(db, example)
    new = {m.month: m.kind for m in register.values() if m.enrollment_id is not None}
    assert new == {month("2023-08"): "back_pay", month("2023-09"): "back_pay", month("2023-10"): "regular"}
    assert [m.month for m in register.values() if m.status == "old_policy"] == [m.month for m in months]
    assert all(register[m.month].status == "old_policy" for m in months)


async def test_old_policy_recorded_after_enrollment_rebridges(db: AsyncSession, pinned_clock: Pin) -> None:
    batch, [person] = await ready_batch(db, pinned_clock, [date(1960, 3, 15)])
    await notice_approve_enroll(db, pinned_clock, batch)
    [enrollment] = await enrollments_of(db, batch, [person])
    assert (enrollment.account_credit, enrollment.pension_start_month) == (2_400_000, date(2023, 6, 1))
    cw = await principal(db, "cw_a")
    data = old_policy(person, lump="5000.00", subsidy="180.00", paid_from="2020-04", paid_through="2023-07")
    assert (await service.record_old_policy(db, cw, data)).change == "created"
    await db.refresh(enrollment)
    assert (enrollment.account_credit, enrollment.old_lump_sum) == (1_900_000, 500_000)
    assert (enrollment.pension_start_month, enrollment.old_paid_through) == (
        date(2023, 8, 1),
        date(2023, 7, 1),
    )
    # Recording the same again changes nothing; a correction re-bridges again.
    assert (await service.record_old_policy(db, cw, data)).change == "unchanged"
    corrected = old_policy(person, lump="0", subsidy="180.00", paid_from="2020-04", paid_through="2023-05")
    outcome = await service.record_old_policy(db, cw, corrected)
    assert outcome.change == "updated"
    await db.refresh(enrollment)
    assert (enrollment.account_credit, enrollment.pension_start_month) == (2_400_000, date(2023, 6, 1))
    assert [m.month for m in await _old_months(db, outcome.record.id)] == rules.months_between(
        month("2020-04"), month("2023-05")
    )
    event = await db.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "old_policy.record", AuditEvent.entity_id == str(outcome.record.id))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    assert event is not None and event.before is not None and event.after is not None
    assert (event.before["paid_through"], event.after["paid_through"]) == ("2023-07", "2023-05")
    assert person.id_number not in json.dumps([event.before, event.after], ensure_ascii=False)


async def test_old_subsidy_over_a_claimed_month_is_refused(db: AsyncSession, pinned_clock: Pin) -> None:
    batch, [person] = await ready_batch(db, pinned_clock, [date(1958, 8, 8)])
    await notice_approve_enroll(db, pinned_clock, batch)
    [enrollment] = await enrollments_of(db, batch, [person])
    pinned_clock(at(date(2023, 8, 3)))
    claimed = await service.claim_period(db, SYSTEM, month("2023-08"), as_of=date(2023, 8, 3))
    assert (claimed.claimed, claimed.back_pay) == (3, 2)  # June and July as back pay, August
    cw = await principal(db, "cw_a")
    with pytest.raises(Conflict, match="2023年6月 已在新政策下登记"):
        await service.record_old_policy(
            db, cw, old_policy(person, subsidy="150.00", paid_from="2023-01", paid_through="2023-07")
        )
    digest = households.id_cipher().lookup_hash(person.id_number)
    assert await db.scalar(select(OldPolicyRecord.id).where(OldPolicyRecord.person_hash == digest)) is None
    await db.refresh(enrollment)
    assert (enrollment.pension_start_month, enrollment.old_paid_through) == (date(2023, 6, 1), None)

    # The database refuses the same, however it is attempted. A lump-sum-only record gives an old-policy id.
    record = (await service.record_old_policy(db, cw, old_policy(person, lump="100.00"))).record
    with pytest.raises(IntegrityError, match="uq_pension_months_person_month"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "INSERT INTO pension_months (county_code, area_path, person_hash, month, old_policy_id, status,"
                    " kind, amount) VALUES (:county, :path, :hash, DATE '2023-07-01', :record, 'old_policy',"
                    " 'old_policy', 15000)"
                ),
                {"county": record.county_code, "path": record.area_path, "hash": digest, "record": record.id},
            )
    with pytest.raises(IntegrityError, match="ck_enrollments_start_after_old_subsidy"):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE enrollments SET old_paid_through = DATE '2023-07-01' WHERE id = :id"),
                {"id": enrollment.id},
            )
    with pytest.raises(IntegrityError, match="ck_pension_months_not_before_start"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "UPDATE enrollments SET old_paid_through = DATE '2023-07-01',"
                    " pension_start_month = DATE '2023-08-01' WHERE id = :id"
                ),
                {"id": enrollment.id},
            )
    register = await _register(db, person)
    assert {m: r.status for m, r in register.items()} == {
        month("2023-06"): "claimed",
        month("2023-07"): "claimed",
        month("2023-08"): "claimed",
    }


async def test_old_subsidy_over_a_suspended_month_is_refused(db: AsyncSession, pinned_clock: Pin) -> None:
    """A month suspended for want of proof of life is a new-policy month too: it would be paid as back pay once
    the pensioner is certified, so an old subsidy cannot be recorded over it either."""
    batch, [person] = await ready_batch(db, pinned_clock, [date(1950, 5, 5)])
    await notice_approve_enroll(db, pinned_clock, batch)
    pinned_clock(at(date(2024, 8, 2)))
    claimed = await service.claim_period(db, SYSTEM, month("2024-08"), as_of=date(2024, 8, 2))
    # July and August 2024: the proof-of-life clock started with the pension (2023-06-01) and ran out
    assert claimed.suspended == 2
    cw = await principal(db, "cw_a")
    data = old_policy(person, subsidy="150.00", paid_from="2024-07", paid_through="2024-08")
    with pytest.raises(Conflict, match="2024年7月"):
        await service.record_old_policy(db, cw, data)
    with pytest.raises(service.RowsInvalid) as refused:
        await service.import_old_policy(db, cw, [(2, data)], source="花名册.xlsx")
    assert [(e.row, e.column) for e in refused.value.errors] == [(2, "补贴发放至年月")]
    register = await _register(db, person)
    assert register[month("2024-07")].status == "suspended"
    assert all(m.enrollment_id is not None for m in register.values())


async def test_import_old_policy_all_or_nothing(db: AsyncSession, pinned_clock: Pin) -> None:
    _batch, people = await ready_batch(
        db, pinned_clock, [date(1950, 1, 1), date(1951, 2, 2), date(1952, 3, 3)]
    )
    cw = await principal(db, "cw_a")
    first = old_policy(
        people[0], lump="3000.00", subsidy="120.00", paid_from="2019-01", paid_through="2022-12"
    )
    second = old_policy(people[1], lump="500.00")
    third = old_policy(people[2], lump="800.00")
    wrong_name = old_policy(people[2], lump="800.00", name="张冠李戴")
    unknown = old_policy(people[0], lump="100.00").model_copy(
        update={"id_number": id_number(date(1949, 9, 9))}
    )
    with pytest.raises(service.RowsInvalid) as refused:
        await service.import_old_policy(
            db, cw, [(2, first), (3, wrong_name), (4, second), (5, unknown)], source="花名册.xlsx"
        )
    assert [(e.row, e.column) for e in refused.value.errors] == [(3, "姓名"), (5, "公民身份号码")]
    assert "登记为" in refused.value.errors[0].message
    hashes = [households.id_cipher().lookup_hash(p.id_number) for p in people]
    assert await db.scalar(select(func.count()).where(OldPolicyRecord.person_hash.in_(hashes))) == 0
    assert await db.scalar(select(func.count()).where(PensionMonth.person_hash.in_(hashes))) == 0

    rows = [(2, first), (3, second), (4, third)]
    assert await service.import_old_policy(db, cw, rows, source="花名册.xlsx") == service.ImportResult(
        3, 0, 0
    )
    assert await db.scalar(select(func.count()).where(PensionMonth.person_hash == hashes[0])) == 48
    assert await service.import_old_policy(db, cw, rows, source="花名册.xlsx") == service.ImportResult(
        0, 0, 3
    )
    changed = [(2, first), (3, old_policy(people[1], lump="600.00")), (4, third)]
    assert await service.import_old_policy(db, cw, changed, source="花名册2.xlsx") == service.ImportResult(
        0, 1, 2
    )
    records = (await db.scalars(select(OldPolicyRecord).where(OldPolicyRecord.person_hash.in_(hashes)))).all()
    assert sorted((r.name, r.lump_sum_received, r.source) for r in records) == sorted(
        [
            (people[0].name, 300_000, "花名册.xlsx"),
            (people[1].name, 60_000, "花名册2.xlsx"),
            (people[2].name, 80_000, "花名册.xlsx"),
        ]
    )


# ---------------------------------------------------------------------------------------------- passbooks


async def test_passbook_is_sealed_masked_and_audited(db: AsyncSession, pinned_clock: Pin) -> None:
    [enrollment] = await pensioners(db, pinned_clock, [date(1955, 5, 5)])
    cw = await principal(db, "cw_a")
    number, spaced = "6221881234567890123", "6221 8812 3456 7890 123"
    passbook = await service.set_passbook(
        db, cw, enrollment.id, PassbookIn(account_number=spaced, opened_on=date(2023, 5, 30))
    )
    stored = await db.scalar(
        select(Passbook)
        .where(Passbook.enrollment_id == enrollment.id)
        .execution_options(populate_existing=True)
    )
    assert stored is passbook
    assert number.encode() not in stored.account_enc and spaced.encode() not in stored.account_enc
    assert number[4:15].encode() not in stored.account_enc
    assert service.account_cipher().decrypt(stored.account_enc) == number
    assert stored.account_hash == service.account_cipher().lookup_hash(number)
    assert stored.account_masked == "6221 **** **** 0123"

    async def events() -> list[AuditEvent]:
        rows = await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "passbook.set", AuditEvent.entity_id == str(enrollment.id))
            .order_by(AuditEvent.seq)
        )
        return list(rows)

    [opened] = await events()
    assert opened.before is None
    assert opened.after == {
        "bank_name": "中国邮政储蓄银行",
        "account": "6221 **** **** 0123",
        "opened_on": "2023-05-30",
    }
    assert (opened.actor_username, opened.household_id) == ("cw_a", enrollment.household_id)

    # The same passbook again is no change; a new number is, with before and after (masked only).
    await service.set_passbook(
        db, cw, enrollment.id, PassbookIn(account_number=number, opened_on=date(2023, 5, 30))
    )
    assert len(await events()) == 1
    new_number = "6217000011112222333"
    pinned_clock(at(date(2023, 6, 1)))
    await service.set_passbook(
        db, cw, enrollment.id, PassbookIn(account_number=new_number, opened_on=date(2023, 6, 1))
    )
    opened_event, changed = await events()
    assert changed.before == opened.after
    assert changed.after == {
        "bank_name": "中国邮政储蓄银行",
        "account": "6217 **** **** 2333",
        "opened_on": "2023-06-01",
    }
    dumped = json.dumps([opened_event.after, changed.before, changed.after], ensure_ascii=False)
    assert number not in dumped and new_number not in dumped and number[4:-4] not in dumped
    assert service.account_cipher().decrypt(passbook.account_enc) == new_number
    with pytest.raises(InvalidInput):
        await service.set_passbook(  # opened in the future
            db, cw, enrollment.id, PassbookIn(account_number=new_number, opened_on=date(2023, 6, 2))
        )


# ---------------------------------------------------------------------------------------------- who may


async def test_authorisation_spot_checks(db: AsyncSession, pinned_clock: Pin) -> None:
    [enrollment] = await pensioners(db, pinned_clock, [date(1955, 5, 5)])
    cw_b, fin, rv_a = await principal(db, "cw_b"), await principal(db, "fin"), await principal(db, "rv_a")
    batch_id = enrollment.batch_id
    # A caseworker of another village sees nothing of this one.
    with pytest.raises(NotFound):
        await service.get_batch(db, cw_b, batch_id)
    with pytest.raises(NotFound):
        await service.eligibility_list(db, cw_b, batch_id)
    with pytest.raises(NotFound):
        await service.get_enrollment(db, cw_b, enrollment.id)
    with pytest.raises(NotFound):
        await service.set_passbook(
            db,
            cw_b,
            enrollment.id,
            PassbookIn(account_number="6221881234567890", opened_on=date(2023, 5, 30)),
        )
    assert [b.batch.id for b in await service.list_batches(db, cw_b)].count(batch_id) == 0
    # Finance reads it but may not set a passbook.
    assert (await service.get_enrollment(db, fin, enrollment.id)).id == enrollment.id
    with pytest.raises(Forbidden):
        await service.set_passbook(
            db, fin, enrollment.id, PassbookIn(account_number="6221881234567890", opened_on=date(2023, 5, 30))
        )
    assert await db.get(Passbook, enrollment.id) is None
    # A reviewer cannot create a batch.
    project_id, village_id = await make_project(db)
    with pytest.raises(Forbidden):
        await service.create_batch(
            db,
            rv_a,
            BatchIn(
                project_id=project_id,
                village_id=village_id,
                code="ZD-RV",
                name="审核员不能建",
                announcement_date=ANNOUNCED,
                approved_on=APPROVED,
            ),
        )
