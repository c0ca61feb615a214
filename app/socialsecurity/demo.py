"""Demo data for land-loss social security: the 前方庄村 acquisition batch of project FQ-2022, its eligibility list
noticed, approved and enrolled, old-policy records bridged, passbooks, proof of life over the years and the
monthly pensions paid since 2023 (as history, up to last month) — with a few people suspended and back-paid, one
death with an overpayment being recovered and an heir.

The batch, old policy, enrollment, passbooks, death and recovery go through ``service`` as staff would do them;
certifications and the paid history are written in bulk (hundreds of rows), summarised in the ``demo.load`` event.
Idempotent: nothing happens when the batch exists.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.auth.policy import SYSTEM, Principal
from app.core.clock import today_in_china
from app.households.models import Household, Member
from app.households.service import id_cipher
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger.rules import Entry
from app.plans.models import Project
from app.socialsecurity import rules, service
from app.socialsecurity.models import AcquisitionBatch, Enrollment, LifeCertification
from app.socialsecurity.schemas import (
    BatchIn,
    DeathIn,
    HeirIn,
    LandIn,
    NoticeIn,
    OldPolicyIn,
    PassbookIn,
    RecoveryIn,
)

BATCH_CODE = "FQ-2022-ZD01"
VILLAGE_CODE = "410727101201"
ANNOUNCED = date(2022, 8, 15)
APPROVED = date(2022, 12, 20)
ENROLLED = date(2023, 1, 5)
OLD_POLICY_PEOPLE = 40
FUND_DEPOSIT = 3_000_000_000  # 30,000,000.00 yuan: the batch's fees and the pool's share of the pensions


@dataclass(slots=True)
class SocialDemoResult:
    enrolled: int = 0
    pensioners: int = 0
    certifications: int = 0
    months_paid: int = 0
    periods: int = 0  # monthly runs of the paid history, one audit event each
    events: int = 0  # audit events written


async def ensure_demo_social_security(
    session: AsyncSession, principals: dict[str, Principal]
) -> SocialDemoResult | None:
    """Load the demo batch unless it exists; ``principals`` maps demo usernames (admin, caseworker, reviewer,
    finance) to their principals."""
    found = await session.scalar(select(AcquisitionBatch.id).where(AcquisitionBatch.code == BATCH_CODE))
    if found is not None:
        return None
    village = await session.scalar(select(Area).where(Area.code == VILLAGE_CODE))
    project = await session.scalar(select(Project).where(Project.code == "FQ-2022"))
    if village is None or project is None:
        return None
    rng = random.Random(20220815)  # noqa: S311 - reproducible demo data, not secrets
    admin, caseworker = principals["admin"], principals["caseworker"]
    batch = await service.create_batch(
        session,
        admin,
        BatchIn(
            project_id=project.id,
            village_id=village.id,
            code=BATCH_CODE,
            name="前方庄村2022年第1批次征地",
            announcement_date=ANNOUNCED,
            approved_on=APPROVED,
        ),
    )
    await service.set_land(session, caseworker, batch.id, await _land(session, village.id, rng))
    await _old_policy(session, caseworker, village.id, rng)
    await service.start_notice(session, caseworker, batch.id, NoticeIn(notice_start=date(2022, 8, 20)))
    await service.approve_batch(session, principals["reviewer"], batch.id)
    result = SocialDemoResult()
    # The land-loss farmers' social-security fees (社会保障费) paid into the fund by the acquiring authority.
    await ledger.deposit(
        session,
        principals["finance"],
        amount=FUND_DEPOSIT,
        posted_on=ENROLLED,
        memo="征地批次FQ-2022-ZD01被征地农民社会保障费拨入",
    )
    result.enrolled = await service.enroll_batch(session, caseworker, batch.id, enrolled_on=ENROLLED)
    today = today_in_china()
    last_month = rules.add_months(rules.month_of(today), -1)
    pensioners = (
        await session.scalars(
            select(Enrollment)
            .where(Enrollment.batch_id == batch.id, Enrollment.pension_start_month <= rules.month_of(today))
            .order_by(Enrollment.id)
        )
    ).all()
    result.pensioners = len(pensioners)
    for e in pensioners:
        await service.set_passbook(
            session,
            caseworker,
            e.id,
            PassbookIn(account_number=f"6221880{e.id:012d}", opened_on=ENROLLED),
        )
    result.certifications = await _certifications(session, pensioners, today, rng)
    result.months_paid = await _paid_history(session, last_month)
    await _post_opening_history(session, principals["finance"], batch.county_code, last_month)
    result.periods = len(rules.months_between(date(2023, 1, 1), last_month))
    died = await _death(session, principals, pensioners, rng)
    # batch create, land, notice, approve, fund deposit, enroll; old policy; passbooks; monthly runs; death, heir,
    # recovery
    result.events = 6 + OLD_POLICY_PEOPLE + len(pensioners) + result.periods + died
    return result


async def _land(session: AsyncSession, village_id: int, rng: random.Random) -> list[LandIn]:
    """Contracted land of about one mu per person; most households keep at most 0.3 mu per person afterwards,
    some exactly that, a few more (not eligible)."""
    households = (
        await session.execute(
            select(Household.id, Household.register_no)
            .where(Household.village_id == village_id)
            .order_by(Household.register_no)
        )
    ).all()
    sizes = dict(
        (
            await session.execute(
                select(Member.household_id, text("count(*)"))
                .where(Member.status == "registered", Member.household_id.in_([h.id for h in households]))
                .group_by(Member.household_id)
            )
        ).all()
    )
    items: list[LandIn] = []
    for index, (household_id, _no) in enumerate(households):
        members = int(sizes.get(household_id, 1))
        contracted = (Decimal(rng.randint(80, 160)) / 100 * members).quantize(Decimal("0.01"))
        if index % 17 == 5:
            remaining = Decimal("0.3") * members  # exactly at the threshold
        elif index % 11 == 3:
            remaining = (Decimal(rng.randint(35, 60)) / 100 * members).quantize(Decimal("0.01"))
        else:
            remaining = (Decimal(rng.randint(0, 28)) / 100 * members).quantize(Decimal("0.01"))
        remaining = min(remaining, contracted)
        items.append(
            LandIn(household_id=household_id, contracted_mu=contracted, acquired_mu=contracted - remaining)
        )
    return items


async def _old_policy(
    session: AsyncSession, caseworker: Principal, village_id: int, rng: random.Random
) -> None:
    """Some older villagers had the old policy: a lump sum, and for the oldest a monthly subsidy until 2023-03."""
    members = (
        await session.scalars(
            select(Member)
            .join(Household, Household.id == Member.household_id)
            .where(Household.village_id == village_id, Member.status == "registered")
            .order_by(Member.id)
        )
    ).all()
    cipher = id_cipher()
    older = [m for m in members if rules.age_on(m.birth_date, ANNOUNCED) >= 50]
    for i, m in enumerate(older[:OLD_POLICY_PEOPLE]):
        aged = rules.age_on(m.birth_date, ANNOUNCED) >= 60
        lump = Decimal(rng.choice([3000, 5000, 8000, 12000, 30000]))
        monthly = aged and i % 2 == 0
        await service.record_old_policy(
            session,
            caseworker,
            OldPolicyIn(
                name=m.name,
                id_number=cipher.decrypt(m.id_number_enc),
                lump_sum_received=lump,
                monthly_subsidy=Decimal("150.00") if monthly else None,
                paid_from="2021-01" if monthly else None,
                paid_through="2023-03" if monthly else None,
            ),
            source="演示数据：老政策花名册",
        )


async def _certifications(
    session: AsyncSession, pensioners: Sequence[Enrollment], today: date, rng: random.Random
) -> int:
    """Yearly proof of life in January; every 20th pensioner missed 2025 and came back in May (suspended
    February–April, then back pay), every 15th was last certified in late 2025 (due now or overdue)."""
    rows: list[LifeCertification] = []
    for index, e in enumerate(pensioners):
        for year in range(2024, today.year + 1):
            day = date(year, 1, rng.randint(5, 25))
            if index % 20 == 7 and year == 2025:
                day = date(2025, 5, 20)
            if index % 15 == 4 and year >= 2025:
                if year == 2025:
                    rows.append(_cert(e, date(2025, rng.choice([10, 11, 12]), rng.randint(1, 28))))
                continue
            if day <= today:
                rows.append(_cert(e, day))
    session.add_all(rows)
    await session.flush()
    return len(rows)


def _cert(e: Enrollment, day: date) -> LifeCertification:
    method = ("in_person", "video", "home_visit", "data_match")[e.id % 4]
    return LifeCertification(enrollment_id=e.id, certified_on=day, method=method, certified_by="王丽娟")


async def _paid_history(session: AsyncSession, last_month: date) -> int:
    """Every month from 2023-01 to last month, claimed at the end of that month and paid on the 15th."""
    paid = 0
    for period in rules.months_between(date(2023, 1, 1), last_month):
        month_end = rules.add_months(period, 1).toordinal() - 1
        await service.claim_period(session, SYSTEM, period, as_of=date.fromordinal(month_end))
        ids = (
            (
                await session.execute(
                    text("SELECT id FROM pension_months WHERE period = :p AND status = 'claimed'"),
                    {"p": period},
                )
            )
            .scalars()
            .all()
        )
        paid += await service.mark_months_paid(session, list(ids), period.replace(day=15))
    return paid


async def _post_opening_history(
    session: AsyncSession, finance: Principal, county_code: str, last_month: date
) -> None:
    """The history above was paid before the system kept the books: one opening entry (期初), dated the day the
    last of it was paid, posts what it drew on the individual accounts (per village, month by month in order) and
    on the pool, out of the fund account."""
    rows = (
        await session.execute(
            text(
                """
                SELECT h.village_id, sum(pm.amount) AS amount,
                       sum(GREATEST(0, LEAST(pm.amount, e.account_credit - e.monthly_pension * (
                           (extract(year FROM pm.month) - extract(year FROM e.pension_start_month)) * 12
                           + extract(month FROM pm.month) - extract(month FROM e.pension_start_month))::bigint)))
                           AS account_part
                FROM pension_months pm JOIN enrollments e ON e.id = pm.enrollment_id
                JOIN households h ON h.id = e.household_id
                WHERE pm.status = 'paid' AND e.county_code = :county
                GROUP BY h.village_id
                """
            ),
            {"county": county_code},
        )
    ).all()
    if not rows:
        return
    accounts = [
        *(await ledger.social_security_accounts(session, county_code)),
        *(await ledger.individual_accounts(session, county_code, [int(r.village_id) for r in rows])),
    ]
    entries = [
        Entry(ledger_rules.individual_code(int(r.village_id)), debit=int(r.account_part)) for r in rows
    ]
    entries.append(Entry(ledger_rules.SS_POOL, debit=sum(int(r.amount) - int(r.account_part) for r in rows)))
    entries.append(Entry(ledger_rules.SS_BANK, credit=sum(int(r.amount) for r in rows)))
    await ledger.post(
        session,
        finance,
        county_code=county_code,
        kind="opening",
        memo=f"期初：2023年1月至{last_month.year}年{last_month.month}月已发放养老金（系统上线前发放）",
        posted_on=last_month.replace(day=15),  # the day the last of them was paid
        entries=entries,
        accounts=accounts,
    )


async def _death(
    session: AsyncSession,
    principals: dict[str, Principal],
    pensioners: Sequence[Enrollment],
    rng: random.Random,
) -> int:
    """One pensioner died four months ago; the three months paid after it are being recovered; a relative
    inherits the account balance. Returns the audit events written."""
    today = today_in_china()
    candidates = [e for e in pensioners if rules.age_on(e.birth_date, today) >= 80]
    if not candidates:
        return 0
    person = candidates[rng.randrange(len(candidates))]
    outcome = await service.record_death(
        session,
        principals["caseworker"],
        person.id,
        DeathIn(death_date=rules.add_months(rules.month_of(today), -4).replace(day=12)),
    )
    heir = await session.scalar(
        select(Member)
        .where(
            Member.household_id == person.household_id,
            Member.status == "registered",
            Member.id != person.member_id,
        )
        .order_by(Member.birth_date)
        .limit(1)
    )
    if heir is not None:
        await service.set_heir(
            session,
            principals["caseworker"],
            person.id,
            HeirIn(
                heir_name=heir.name, heir_id_number=id_cipher().decrypt(heir.id_number_enc), relation="近亲属"
            ),
        )
    if outcome.overpayment is not None:
        await service.record_recovery(
            session,
            principals["finance"],
            person.id,
            RecoveryIn(
                amount=Decimal("260.00"),
                recovered_on=rules.add_months(rules.month_of(today), -1).replace(day=20),
                note="家属退回 1 个月",
            ),
        )
    return 1 + (heir is not None) + (outcome.overpayment is not None)
