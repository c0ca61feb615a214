"""The months of pensions through the services, on the real database: what is due and claimed each month (regular,
from the 60th birthday, suspended for want of proof of life, back pay), the SQL against ``rules.month_state``,
death (overpayments, cancelled months, the heir, recoveries) and one row per person and month under concurrent
writes."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.policy import SYSTEM
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.idcard import make_id_number
from app.db import make_sessionmaker
from app.households.models import Household, Member
from app.plans.models import Project, ProjectVillage
from app.socialsecurity import rules, service
from app.socialsecurity.models import AcquisitionBatch, Enrollment, HeirPayment, Overpayment, PensionMonth
from app.socialsecurity.schemas import CertificationIn, DeathIn, HeirIn, RecoveryIn
from tests.agreements.helpers import at, principal
from tests.seed import SEED
from tests.socialsecurity.factories import (
    DGC,
    Pin,
    enrollments_of,
    notice_approve_enroll,
    old_policy,
    pensioners,
    ready_batch,
)

MONTHLY = 26_000  # 260.00 a month


def month(text_: str) -> date:
    return rules.parse_month(text_)


async def register_of(db: AsyncSession, enrollment: Enrollment) -> dict[date, PensionMonth]:
    rows = await db.scalars(
        select(PensionMonth)
        .where(PensionMonth.enrollment_id == enrollment.id)
        .execution_options(populate_existing=True)
    )
    return {m.month: m for m in rows}


async def claim(db: AsyncSession, period: str, day: int = 3) -> service.ClaimResult:
    """The monthly batch of ``period``, run by the system on its ``day``-th day."""
    as_of = month(period).replace(day=day)
    result = await service.claim_period(db, SYSTEM, month(period), as_of=as_of)
    # The claim writes set-based SQL; months this session loaded before would otherwise be read stale.
    for obj in [o for o in db.identity_map.values() if isinstance(o, PensionMonth)]:
        db.expunge(obj)
    return result


# ---------------------------------------------------------------------------------------------- months due


async def test_regular_months_and_the_start_at_sixty(db: AsyncSession, pinned_clock: Pin) -> None:
    # 60 on 2023-08-20: under 60 at enrollment, so the account waits until September.
    old, young = await pensioners(db, pinned_clock, [date(1955, 5, 5), date(1963, 8, 20)])
    assert (old.pension_start_month, young.pension_start_month) == (month("2023-06"), month("2023-09"))
    fin = await principal(db, "fin")

    due = await service.due_for_period(db, fin, month("2023-06"), as_of=date(2023, 6, 3))
    assert due == [service.DueMonth(old.id, month("2023-06"), "regular", MONTHLY)]
    assert await service.claim_period(
        db, fin, month("2023-06"), as_of=date(2023, 6, 3)
    ) == service.ClaimResult(1, 0, 0, MONTHLY)
    assert await service.claim_period(
        db, fin, month("2023-06"), as_of=date(2023, 6, 4)
    ) == service.ClaimResult(0, 0, 0, 0)
    assert (
        await service.due_for_period(
            db, fin, month("2023-08"), as_of=date(2023, 8, 3), enrollment_id=young.id
        )
        == []
    )

    assert await claim(db, "2023-09") == service.ClaimResult(4, 2, 0, 4 * MONTHLY)
    claimed = await service.claimed_for_period(db, fin, month("2023-09"))
    assert [(m.enrollment_id, m.month, m.kind, m.amount) for m in claimed] == sorted(
        [
            (old.id, month("2023-07"), "back_pay", MONTHLY),
            (old.id, month("2023-08"), "back_pay", MONTHLY),
            (old.id, month("2023-09"), "regular", MONTHLY),
            (young.id, month("2023-09"), "regular", MONTHLY),
        ]
    )  # listed by enrollment, then month
    assert set(await register_of(db, young)) == {month("2023-09")}  # nothing before the month after 60
    assert await claim(db, "2023-09", day=20) == service.ClaimResult(0, 0, 0, 0)
    assert (
        await db.scalar(select(func.count()).where(PensionMonth.enrollment_id.in_([old.id, young.id]))) == 5
    )


async def test_suspension_and_back_pay_after_certification(db: AsyncSession, pinned_clock: Pin) -> None:
    [pensioner] = await pensioners(db, pinned_clock, [date(1950, 2, 2)])
    # Enrolled 2023-05-30, pension from 2023-06: the proof-of-life clock starts with the pension (2023-06-01), so
    # it holds through 2024-06-01 — June 2024 is still paid, July is not.
    assert await claim(db, "2024-06") == service.ClaimResult(13, 12, 0, 13 * MONTHLY)
    assert await claim(db, "2024-07") == service.ClaimResult(0, 0, 1, 0)
    assert await claim(db, "2024-08") == service.ClaimResult(0, 0, 1, 0)
    register = await register_of(db, pensioner)
    assert {m: (r.status, r.period) for m, r in register.items() if m >= month("2024-06")} == {
        month("2024-06"): ("claimed", month("2024-06")),
        month("2024-07"): ("suspended", None),
        month("2024-08"): ("suspended", None),
    }
    due = await service.due_for_period(db, SYSTEM, month("2024-08"), as_of=date(2024, 8, 10))
    assert [(d.month, d.kind) for d in due] == [
        (month("2024-07"), "suspended"),
        (month("2024-08"), "suspended"),
    ]

    pinned_clock(at(date(2024, 8, 20)))
    cw = await principal(db, "cw_a")
    await service.record_certification(
        db,
        cw,
        pensioner.id,
        CertificationIn(certified_on=date(2024, 8, 20), method="video", certified_by="cw_a"),
    )
    due = await service.due_for_period(db, SYSTEM, month("2024-08"), as_of=date(2024, 8, 20))
    assert [(d.month, d.kind) for d in due] == [
        (month("2024-07"), "back_pay"),
        (month("2024-08"), "back_pay"),
    ]
    assert await claim(db, "2024-09") == service.ClaimResult(3, 2, 0, 3 * MONTHLY)
    claimed = await service.claimed_for_period(db, SYSTEM, month("2024-09"))
    assert [(m.month, m.kind, m.status) for m in claimed] == [
        (month("2024-07"), "back_pay", "claimed"),
        (month("2024-08"), "back_pay", "claimed"),
        (month("2024-09"), "regular", "claimed"),
    ]
    assert await claim(db, "2024-09", day=25) == service.ClaimResult(0, 0, 0, 0)
    assert len(await register_of(db, pensioner)) == 16  # 2023-06 … 2024-09, once each


def _some_day(rng: random.Random, first: date, last: date, anchors: Sequence[date]) -> date:
    """A day in [first, last], often on a boundary: a month's first or last day, or exactly 12 months (± 1 day)
    after an anchor (the enrollment or an earlier certification)."""
    pick = rng.random()
    day = date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))
    if pick < 0.2:
        day = day.replace(day=1)
    elif pick < 0.3:
        day = rules.add_months(day.replace(day=1), 1) - timedelta(days=1)
    elif pick < 0.55 and anchors:
        day = rules.add_months(rng.choice(anchors), 12) + timedelta(days=rng.choice((-1, 0, 0, 1)))
    return min(max(day, first), last)


async def test_due_sql_agrees_with_the_rules(db: AsyncSession, pinned_clock: Pin) -> None:
    rng = random.Random(60_12)
    births = [date(1935 + rng.randrange(31), rng.randint(1, 12), rng.randint(1, 28)) for _ in range(18)]
    births += [date(1964, 2, 29), date(1963, 12, 31)]  # turning 60 during the grid
    first = await pensioners(db, pinned_clock, births[:10])
    second = await pensioners(
        db,
        pinned_clock,
        births[10:],
        announced=date(2023, 3, 1),
        approved=date(2023, 8, 10),
        enrolled_on=date(2023, 9, 15),
    )
    everyone = first + second
    horizon = date(2026, 12, 31)
    pinned_clock(at(horizon))
    cw = await principal(db, "cw_a")
    certifications: dict[int, list[date]] = defaultdict(list)
    deaths: dict[int, date] = {}
    for e in everyone:
        anchors = [e.enrolled_on]
        for _ in range(rng.randint(0, 4)):
            day = _some_day(rng, e.enrolled_on - timedelta(days=90), date(2026, 6, 30), anchors)
            anchors.append(day)
            certifications[e.id].append(day)
            await service.record_certification(
                db, cw, e.id, CertificationIn(certified_on=day, method="data_match", certified_by="比对")
            )
        if rng.random() < 0.25:
            latest = max([e.enrolled_on, *certifications[e.id]])
            deaths[e.id] = _some_day(rng, latest, horizon, [])
            await service.record_death(db, cw, e.id, DeathIn(death_date=deaths[e.id]))
    assert deaths and sum(map(len, certifications.values())) > 20

    seen: Counter[str] = Counter()
    checked = 0
    for period in rules.months_between(month("2023-06"), month("2026-12"))[::2]:
        as_of = period + timedelta(days=rng.randint(-10, 45))
        due = await service.due_for_period(db, SYSTEM, period, as_of=as_of)
        got: dict[int, dict[date, str]] = defaultdict(dict)
        for d in due:
            assert d.amount == MONTHLY
            got[d.enrollment_id][d.month] = d.kind
        for e in everyone:
            want = {
                m: state
                for m in rules.months_between(e.pension_start_month, period)
                if (
                    state := rules.month_state(
                        m,
                        start_month=e.pension_start_month,
                        baseline=rules.certification_baseline(e.enrolled_on, e.pension_start_month),
                        certifications=certifications[e.id],
                        death_date=deaths.get(e.id),
                        period=period,
                        as_of=as_of,
                    )
                )
                not in ("waiting", "after_death")
            }
            assert got[e.id] == want, (e.id, period, as_of, certifications[e.id], deaths.get(e.id))
            seen.update(want.values())
            checked += len(want)
        assert set(got) <= {e.id for e in everyone}
    assert checked > 3000
    assert min(seen["regular"], seen["back_pay"], seen["suspended"]) > 50, seen


# ---------------------------------------------------------------------------------------------- death


async def test_death_overpayment_cancellation_heir_and_recovery(db: AsyncSession, pinned_clock: Pin) -> None:
    batch, people = await ready_batch(db, pinned_clock, [date(1950, 1, 1), date(1951, 1, 1)])
    cw, fin = await principal(db, "cw_a"), await principal(db, "fin")
    # An old lump sum of 23,900.00 leaves 100.00 in the second one's account.
    await service.record_old_policy(db, cw, old_policy(people[1], lump="23900.00"))
    await notice_approve_enroll(db, pinned_clock, batch)
    full, small = await enrollments_of(db, batch, people)
    assert (full.account_credit, small.account_credit) == (2_400_000, 10_000)

    for period in ("2023-06", "2023-07", "2023-08", "2023-09", "2023-10"):
        assert (await claim(db, period)).claimed == 2
        if period != "2023-10":  # the bank confirms each month but the last
            ids = [m.id for m in await service.claimed_for_period(db, SYSTEM, month(period))]
            assert await service.mark_months_paid(db, ids, month(period).replace(day=10)) == 2

    pinned_clock(at(date(2023, 10, 20)))
    outcome = await service.record_death(db, cw, full.id, DeathIn(death_date=date(2023, 7, 15)))
    assert outcome.overpayment is not None
    assert (outcome.overpayment.months, outcome.overpayment.amount) == (
        [month("2023-08"), month("2023-09")],
        2 * MONTHLY,
    )
    assert (outcome.cancelled_months, outcome.heir_amount) == (1, 2_400_000 - 2 * MONTHLY)
    register = await register_of(db, full)
    assert {m: r.status for m, r in register.items()} == {
        month("2023-06"): "paid",
        month("2023-07"): "paid",  # the month of death is paid
        month("2023-08"): "paid",  # paid, and now to recover
        month("2023-09"): "paid",
        month("2023-10"): "cancelled",
    }
    assert (
        await service.due_for_period(
            db, SYSTEM, month("2023-11"), as_of=date(2023, 11, 3), enrollment_id=full.id
        )
        == []
    )
    with pytest.raises(Conflict):
        await service.record_death(db, cw, full.id, DeathIn(death_date=date(2023, 7, 15)))

    heir_number = make_id_number("410727", date(1976, 4, 4), 731)
    heir = await service.set_heir(
        db, cw, full.id, HeirIn(heir_name="王继承", heir_id_number=heir_number, relation="子女")
    )
    assert (heir.amount, heir.status, heir.heir_id_masked) == (
        2_348_000,
        "due",
        "410727********" + heir_number[-4:],
    )
    assert heir_number.encode() not in heir.heir_id_enc
    # The small account was used up by the months through death: nothing for the heir, never below zero.
    small_death = await service.record_death(db, cw, small.id, DeathIn(death_date=date(2023, 9, 30)))
    assert (small_death.overpayment, small_death.cancelled_months, small_death.heir_amount) == (None, 1, 0)
    small_heir = await service.set_heir(
        db, cw, small.id, HeirIn(heir_name="李继承", heir_id_number=heir_number, relation="子女")
    )
    assert small_heir.amount == 0
    assert (
        await db.scalar(select(func.count()).where(HeirPayment.enrollment_id.in_([full.id, small.id]))) == 2
    )

    # Recoveries, by finance only, until nothing is outstanding, and never more.
    with pytest.raises(Forbidden):
        await service.record_recovery(
            db, cw, full.id, RecoveryIn(amount=Decimal("1.00"), recovered_on=date(2023, 10, 20))
        )
    recover = RecoveryIn(amount=Decimal("200.00"), recovered_on=date(2023, 10, 20), note="家属退回")
    overpayment = await service.record_recovery(db, fin, full.id, recover)
    assert overpayment.amount - overpayment.recovered == 32_000
    with pytest.raises(InvalidInput, match=r"320\.00"):
        await service.record_recovery(
            db, fin, full.id, RecoveryIn(amount=Decimal("320.01"), recovered_on=date(2023, 10, 20))
        )
    overpayment = await service.record_recovery(
        db, fin, full.id, RecoveryIn(amount=Decimal("320.00"), recovered_on=date(2023, 10, 20))
    )
    assert (overpayment.recovered, overpayment.amount - overpayment.recovered) == (52_000, 0)
    with pytest.raises(InvalidInput):
        await service.record_recovery(
            db, fin, full.id, RecoveryIn(amount=Decimal("0.01"), recovered_on=date(2023, 10, 20))
        )
    for value in ("amount + 1", "-1"):
        with pytest.raises(IntegrityError, match="ck_overpayments_recovered"):
            async with db.begin_nested():
                await db.execute(
                    text(f"UPDATE overpayments SET recovered = {value} WHERE id = :id"),  # noqa: S608 - constants
                    {"id": overpayment.id},
                )
    stored = await db.scalar(
        select(Overpayment).where(Overpayment.id == overpayment.id).execution_options(populate_existing=True)
    )
    assert stored is not None and stored.recovered == stored.amount == 52_000


# ---------------------------------------------------------------------------------------------- concurrency


async def _remove(engine: AsyncEngine, batch_ids: Sequence[int]) -> None:
    """Delete what a committing test wrote (its audit events stay: the trail is append-only)."""
    async with make_sessionmaker(engine)() as s, s.begin():
        batches = (await s.scalars(select(AcquisitionBatch).where(AcquisitionBatch.id.in_(batch_ids)))).all()
        enrollments = select(Enrollment.id).where(Enrollment.batch_id.in_(batch_ids))
        households = select(Enrollment.household_id).where(Enrollment.batch_id.in_(batch_ids))
        household_ids = list((await s.scalars(households)).all())
        await s.execute(delete(PensionMonth).where(PensionMonth.enrollment_id.in_(enrollments)))
        await s.execute(delete(Enrollment).where(Enrollment.batch_id.in_(batch_ids)))
        await s.execute(delete(AcquisitionBatch).where(AcquisitionBatch.id.in_(batch_ids)))
        await s.execute(delete(Member).where(Member.household_id.in_(household_ids)))
        await s.execute(delete(Household).where(Household.id.in_(household_ids)))
        for project_id in {b.project_id for b in batches}:
            await s.execute(delete(ProjectVillage).where(ProjectVillage.project_id == project_id))
            await s.execute(delete(Project).where(Project.id == project_id))


async def _books_mark(engine: AsyncEngine) -> tuple[int, int]:
    """The last journal transaction and ledger account on record: what a committing test adds comes after."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT coalesce(max(id), 0) FROM journal_transactions),"
                    " (SELECT coalesce(max(id), 0) FROM ledger_accounts)"
                )
            )
        ).one()
    return int(row[0]), int(row[1])


async def _remove_books(owner_engine: AsyncEngine, mark: tuple[int, int]) -> None:
    """Delete the journal transactions and ledger accounts added since ``mark`` (the enrollments' credits to their
    individual accounts). The books are append-only for the application, so this is done as the database owner
    with its triggers off for the transaction: otherwise the next tests that read the county's books (balances,
    the trial balance, a village with no accounts yet) would see this test's postings."""
    transactions, accounts = mark
    async with owner_engine.connect() as conn, conn.begin():
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("DELETE FROM journal_lines WHERE transaction_id > :t"), {"t": transactions})
        await conn.execute(text("DELETE FROM journal_transactions WHERE id > :t"), {"t": transactions})
        await conn.execute(text("DELETE FROM ledger_accounts WHERE id > :a"), {"a": accounts})


async def _once_each(maker: async_sessionmaker[AsyncSession], ids: Sequence[int]) -> int:
    """How many (person, month) rows the enrollments have, after checking none is there twice."""
    async with maker() as s:
        counts = (
            await s.execute(
                select(PensionMonth.person_hash, PensionMonth.month, func.count())
                .where(PensionMonth.enrollment_id.in_(ids))
                .group_by(PensionMonth.person_hash, PensionMonth.month)
            )
        ).all()
    assert {n for *_key, n in counts} <= {1}
    return len(counts)


async def test_one_row_per_person_and_month_under_concurrent_writes(
    engine: AsyncEngine, owner_engine: AsyncEngine, pinned_clock: Pin
) -> None:
    """Committed data in 东关村, claimed by two sessions at once; everything written is removed at the end."""
    maker = make_sessionmaker(engine)
    books = await _books_mark(engine)
    async with maker() as s:
        births = [date(1950, 1, 1) + timedelta(days=97 * i) for i in range(12)]
        enrollments = await pensioners(s, pinned_clock, births, village=DGC)
        fin = await principal(s, "fin")
        await s.commit()
    # A finance user working on this village only, so nothing else committed in the county is touched.
    fin_here = dataclasses.replace(fin, scope_paths=(SEED.paths[DGC],))
    ids = [e.id for e in enrollments]
    try:
        # 1. Overlapping for certain: the second claim runs while the first one's rows are uncommitted, and
        # must wait for them (seen as a lock wait), then claim nothing the first one claimed.
        async with maker() as a, maker() as b:
            first = await service.claim_period(a, fin_here, month("2023-12"), as_of=date(2023, 12, 3))
            b_pid = await b.scalar(text("SELECT pg_backend_pid()"))

            async def second_claim() -> service.ClaimResult:
                result = await service.claim_period(b, fin_here, month("2023-12"), as_of=date(2023, 12, 3))
                await b.commit()
                return result

            async def commit_first_once_second_waits() -> None:
                async with owner_engine.connect() as watcher:
                    for _ in range(2000):
                        waiting = await watcher.scalar(
                            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                            {"pid": b_pid},
                        )
                        if waiting == "Lock":
                            break
                        await asyncio.sleep(0.005)
                    else:
                        pytest.fail("the second claim never waited for the first one's rows")
                await a.commit()

            second, _ = await asyncio.gather(second_claim(), commit_first_once_second_waits())
        total = 12 * 7  # June … December 2023 for each
        assert first == service.ClaimResult(total, 12 * 6, 0, total * MONTHLY)
        assert second == service.ClaimResult(0, 0, 0, 0)
        assert await _once_each(maker, ids) == total

        # 2. Started together, whichever wins: the two results add up to the months due, each claimed once.
        async def run_claim() -> service.ClaimResult:
            async with maker() as session:
                result = await service.claim_period(
                    session, fin_here, month("2024-02"), as_of=date(2024, 2, 3)
                )
                await session.commit()
                return result

        one, other = await asyncio.gather(run_claim(), run_claim())
        assert (one.claimed + other.claimed, one.amount + other.amount) == (24, 24 * MONTHLY)
        assert one.back_pay + other.back_pay == 12  # January 2024
        assert await _once_each(maker, ids) == total + 24

        # 3. Two plain INSERTs of the same (county, person, month) at once: exactly one is kept.
        target = enrollments[0]
        statement = text(
            "INSERT INTO pension_months (county_code, area_path, person_hash, month, enrollment_id, start_month,"
            " status, kind, period, amount) VALUES (:county, :path, :hash, DATE '2024-03-01', :enrollment,"
            " :start, 'claimed', 'regular', DATE '2024-03-01', :amount)"
        )
        values = {
            "county": target.county_code,
            "path": target.area_path,
            "hash": target.person_hash,
            "enrollment": target.id,
            "start": target.pension_start_month,
            "amount": MONTHLY,
        }

        async def insert() -> None:
            async with engine.connect() as conn, conn.begin():
                await conn.execute(statement, values)

        outcomes = await asyncio.gather(insert(), insert(), return_exceptions=True)
        assert outcomes.count(None) == 1
        [refused] = [o for o in outcomes if o is not None]
        assert isinstance(refused, IntegrityError) and "uq_pension_months_person_month" in str(refused)
        async with maker() as s:
            kept = await s.scalar(
                select(func.count()).where(
                    PensionMonth.person_hash == target.person_hash, PensionMonth.month == month("2024-03")
                )
            )
        assert kept == 1
    finally:
        await _remove(engine, [enrollments[0].batch_id])
        await _remove_books(owner_engine, books)
    assert await _books_mark(engine) == books
    async with maker() as s:
        assert await s.scalar(select(func.count()).where(Enrollment.id.in_(ids))) == 0
        assert await s.scalar(select(func.count()).where(PensionMonth.enrollment_id.in_(ids))) == 0
        homes = [e.household_id for e in enrollments]
        assert await s.scalar(select(func.count()).where(Household.id.in_(homes))) == 0
        assert await s.scalar(select(func.count()).where(Member.household_id.in_(homes))) == 0
