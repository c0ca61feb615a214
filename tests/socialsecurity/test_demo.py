"""The demo county's acquisition batch (前方庄村, FQ-2022-ZD01), loaded as at start-up: its list of over a thousand
people is the one the rules give when recomputed here independently from the registry, everyone eligible is
enrolled with the bridged credit and start, and the pension history in the month register is consistent."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import SYSTEM
from app.demo.generate import generate
from app.demo.load import load_demo
from app.households.models import Household, Member
from app.socialsecurity import rules, service
from app.socialsecurity.demo import BATCH_CODE
from app.socialsecurity.models import (
    AcquisitionBatch,
    BatchHousehold,
    EligibilityEntry,
    Enrollment,
    HeirPayment,
    OldPolicyRecord,
    Overpayment,
    PensionMonth,
)

TODAY = date(2026, 11, 22)


async def _load(db: AsyncSession, pinned_clock: Any) -> AcquisitionBatch:
    pinned_clock(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    await load_demo(db, data=generate())
    batch = await db.scalar(select(AcquisitionBatch).where(AcquisitionBatch.code == BATCH_CODE))
    assert batch is not None
    return batch


async def test_demo_batch_list_is_what_the_rules_give(
    db: AsyncSession, seed: object, pinned_clock: Any
) -> None:
    batch = await _load(db, pinned_clock)
    assert batch.status == "enrolled"
    params = service.params_of(batch)

    land = {
        bh.household_id: bh
        for bh in await db.scalars(select(BatchHousehold).where(BatchHousehold.batch_id == batch.id))
    }
    members = (
        await db.scalars(
            select(Member)
            .join(Household, Household.id == Member.household_id)
            .where(Household.village_id == batch.village_id, Member.household_id.in_(list(land)))
        )
    ).all()
    # Nobody in the demo moved, so everyone registered now was registered on the announcement date.
    assert all(m.status == "registered" and m.registered_on is None for m in members)
    size = Counter(m.household_id for m in members)
    expected: dict[int, tuple[bool, tuple[str, ...], int]] = {}
    for m in members:
        bh = land[m.household_id]
        # (contracted − acquired) / members ≤ threshold, in exact decimals
        within = (bh.contracted_mu - bh.acquired_mu) / Decimal(size[m.household_id]) <= Decimal("0.3")
        born, day = m.birth_date, params.announcement_date
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        reasons = tuple(
            r for r, bad in (("under_min_age", age < 16), ("land_above_threshold", not within)) if bad
        )
        expected[m.id] = (not reasons, reasons, age)

    entries = (await db.scalars(select(EligibilityEntry).where(EligibilityEntry.batch_id == batch.id))).all()
    got = {e.member_id: (e.eligible, tuple(e.reasons), e.age_on_announcement) for e in entries}
    assert got == expected
    eligible = [e for e in entries if e.eligible]
    assert len(entries) > 1000 and len(eligible) > 500
    reason_count = Counter(r for e in entries for r in e.reasons)
    assert reason_count["under_min_age"] > 50 and reason_count["land_above_threshold"] > 20
    # some households keep exactly 0.3 mu per person: eligible
    exact = [
        h
        for h, bh in land.items()
        if (bh.contracted_mu - bh.acquired_mu) == Decimal("0.3") * size[h] and size[h]
    ]
    assert exact and any(got[m.id][0] for m in members if m.household_id in exact and got[m.id][2] >= 16)

    # Everyone eligible is enrolled once, with the credit and start the bridging rules give.
    enrollments = (await db.scalars(select(Enrollment).where(Enrollment.batch_id == batch.id))).all()
    assert sorted(e.member_id for e in enrollments) == sorted(e.member_id for e in eligible)
    old = {
        r.person_hash: r
        for r in await db.scalars(
            select(OldPolicyRecord).where(OldPolicyRecord.county_code == batch.county_code)
        )
    }
    assert len(old) == 40
    for e in enrollments:
        record = old.get(e.person_hash)
        lump = record.lump_sum_received if record else 0
        assert e.account_credit == max(2_400_000 - lump, 0)
        through = record.paid_through if record else None
        assert e.pension_start_month == rules.pension_start_month(params, e.birth_date, through)
        if through is not None:
            assert e.pension_start_month == date(2023, 4, 1)


async def test_demo_pension_history(db: AsyncSession, seed: object, pinned_clock: Any) -> None:
    batch = await _load(db, pinned_clock)
    months = (
        await db.scalars(select(PensionMonth).where(PensionMonth.county_code == batch.county_code))
    ).all()
    per_person: dict[bytes, list[PensionMonth]] = defaultdict(list)
    for m in months:
        per_person[m.person_hash].append(m)
    # one row per person and month (the constraint), and never an old-policy month paid again
    for rows in per_person.values():
        assert len({r.month for r in rows}) == len(rows)
        old_months = {r.month for r in rows if r.status == "old_policy"}
        new_months = {r.month for r in rows if r.enrollment_id is not None}
        assert not old_months & new_months
        if old_months:
            assert max(old_months) == date(2023, 3, 1) and min(new_months, default=date.max) >= date(
                2023, 4, 1
            )

    # paid history up to last month; suspended months (a missed proof of life) came back as back pay
    assert {m.status for m in months} <= {"old_policy", "paid", "cancelled"}
    back_paid = [m for m in months if m.kind == "back_pay"]
    assert back_paid and all(m.status == "paid" for m in back_paid)
    assert {m.month for m in back_paid} >= {date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)}

    # the one death: three months paid after it, one recovered; the heir gets what is left of the account
    dead = (await db.scalars(select(Enrollment).where(Enrollment.status == "deceased"))).all()
    assert len(dead) == 1
    person = dead[0]
    assert person.death_date == date(2026, 7, 12)
    overpayment = await db.scalar(select(Overpayment).where(Overpayment.enrollment_id == person.id))
    assert overpayment is not None
    assert overpayment.months == [date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)]
    assert (overpayment.amount, overpayment.recovered) == (3 * 26_000, 26_000)
    paid_through_death = await db.scalar(
        select(func.sum(PensionMonth.amount)).where(
            PensionMonth.enrollment_id == person.id,
            PensionMonth.status == "paid",
            PensionMonth.month <= date(2026, 7, 1),
        )
    )
    heir = await db.scalar(select(HeirPayment).where(HeirPayment.enrollment_id == person.id))
    assert heir is not None and heir.amount == max(person.account_credit - int(paid_through_death or 0), 0)

    # this month: regular for the certified, suspended for the overdue, nothing for the dead
    due = await service.due_for_period(db, SYSTEM, date(2026, 11, 1), as_of=TODAY)
    kinds = Counter(r.kind for r in due)
    assert kinds["regular"] > 100 and kinds["suspended"] > 0
    assert person.id not in {r.enrollment_id for r in due}
    due_list = await service.certification_due_list(db, SYSTEM, month=date(2026, 12, 1), today=TODAY)
    lapsed_before_the_month = {r.enrollment_id for r in due_list if r.expires_on < date(2026, 11, 1)}
    assert lapsed_before_the_month == {r.enrollment_id for r in due if r.kind == "suspended"}
    assert all(r.overdue for r in due_list if r.enrollment_id in lapsed_before_the_month)


async def test_demo_books_balance_and_agree_with_the_register(db: AsyncSession, pinned_clock: Any) -> None:
    """The demo's fund deposit, enrollment credits, opening history, overpayment and recovery are all in the
    ledger: the trial balance is zero and the fund account is the deposit less every month paid plus what was
    recovered."""
    await _load(db, pinned_clock)
    totals = (await db.execute(text("SELECT sum(debit), sum(credit) FROM journal_lines"))).one()
    assert totals[0] == totals[1] > 0
    balance = {
        r.code: int(r.net)
        for r in await db.execute(
            text(
                "SELECT a.code, sum(l.debit - l.credit) AS net FROM journal_lines l "
                "JOIN ledger_accounts a ON a.id = l.account_id GROUP BY a.code"
            )
        )
    }
    paid = await db.scalar(text("SELECT sum(amount) FROM pension_months WHERE status = 'paid'"))
    overpayment = (await db.execute(text("SELECT amount, recovered FROM overpayments"))).one()
    credits = await db.scalar(text("SELECT sum(account_credit) FROM enrollments"))
    assert balance["ss.bank"] == 3_000_000_000 - paid + overpayment.recovered
    assert balance["ss.overpaid"] == overpayment.amount - overpayment.recovered
    individual = sum(v for k, v in balance.items() if k.startswith("ss.individual."))
    # Credit balance of the individual accounts: what was credited less what the paid months drew (overpaid months
    # gave theirs back).
    assert -individual <= credits
    # What the fund holds (bank + receivable) is what it owes the accounts and the pool.
    assert balance["ss.bank"] + balance["ss.overpaid"] == -(individual + balance["ss.pool"])
