"""Demo data for the compensation side: project FQ-2023 (the 城关乡 new district) part of the way through, as of its
story in 2023 — so the dashboard, 我的村, the review queue, notices, agreements, the compensation batch, the ledger
and the public lookup have something to show.

Each village stands at its own point of the process (domain.md, "Typical process"): in 东关村 households surveyed,
assessed and approved (two still awaiting review), on a closed notice, some signed, several handed over and the cash
and purchase cases paid by a closed compensation batch; 西关村 behind it; in 孙庄村 the first assessments approved
and two awaiting review; 李庄村 not started. Who is at which point, the houses and the options are drawn from a seeded generator over the
village's households, so every load makes the same story.

Everything goes through the services as staff would do it (caseworker2 surveys, submits, notices, issues and signs,
records the handover; reviewer2 approves; finance deposits the project's fund and prepares the batch, finance2
approves it), with the business dates of the story; each step is audited there. Idempotent: nothing happens when the
project already has an assessment, or when it is not in the demo data.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.areas.models import Area
from app.audit.models import AuditEvent
from app.auth.policy import Principal
from app.compensation import service
from app.compensation.models import Assessment
from app.compensation.schemas import AssessmentIn, AttachmentIn, FlatChoice, OptionIn, StructureIn, SurveySave
from app.core.clock import CHINA_TZ
from app.demo.generate import VILLAGES
from app.flats import service as flats
from app.households.models import Household, Member
from app.ledger import service as ledger
from app.payments import compensation as tranches
from app.payments import service as payments
from app.plans.models import Project

PROJECT_CODE = "FQ-2023"
SEED = 2023_07
BANK = "中国邮政储蓄银行封丘县支行"
FUND_DEPOSIT = 5_000_000_000  # 50,000,000.00 yuan into the project's compensation fund
DEPOSITED_ON = date(2023, 6, 1)
SURVEYED_FROM = date(2023, 5, 8)
NOTICE_FROM = date(2023, 7, 3)  # each village's notice starts a week later than the one before
SIGNED_FROM = date(2023, 7, 17)
BATCH_PERIOD = date(2023, 10, 1)
BATCH_AS_OF = date(2023, 10, 9)
PAID_ON = date(2023, 10, 12)


@dataclass(frozen=True, slots=True)
class Ladder:
    """How many of a village's households reached each point (each count includes the later ones)."""

    surveyed: int
    submitted: int  # assessments submitted (those beyond ``approved`` await review)
    approved: int
    noticed: bool  # the approved ones are on a closed notice
    signed: int
    vacated: int  # handed over; cash and purchase cases among them are paid by the batch
    # the handed-over flat households chose their flats (选房), in the published order
    flats_chosen: bool = False


LADDERS: dict[str, Ladder] = {
    "410727102201": Ladder(
        surveyed=30, submitted=26, approved=24, noticed=True, signed=10, vacated=7, flats_chosen=True
    ),  # 东关村
    "410727102202": Ladder(
        surveyed=16, submitted=12, approved=12, noticed=True, signed=4, vacated=2
    ),  # 西关村
    "410727102203": Ladder(surveyed=8, submitted=6, approved=4, noticed=False, signed=0, vacated=0),  # 孙庄村
}
PREFIXES = {v.code: v.register_prefix for v in VILLAGES}
# Options in the new district: most take a resettlement flat, the rest cash or an existing house.
OPTIONS = (("resettlement_flat", 5), ("cash", 3), ("existing_housing", 2))
FLAT_SIZES = (Decimal("75.00"), Decimal("90.00"), Decimal("110.00"))


@dataclass(slots=True)
class CompensationDemoResult:
    surveyed: int = 0
    approved: int = 0
    signed: int = 0
    vacated: int = 0
    flats_allocated: int = 0
    paid_lines: int = 0
    paid_total: int = 0  # fen
    events: int = 0  # audit events written


def _survey(rng: random.Random, persons: int, on: date) -> SurveySave:
    main = Decimal(rng.randrange(9000, 22000, 50)) / 100  # 90.00–219.50 ㎡
    structures = [StructureIn(structure=rng.choice(("brick_concrete", "frame")), area=main)]
    if rng.random() < 0.6:
        structures.append(
            StructureIn(structure="brick_wood", area=Decimal(rng.randrange(1500, 6000, 50)) / 100)
        )
    if rng.random() < 0.5:
        structures.append(StructureIn(structure="simple", area=Decimal(rng.randrange(500, 2500, 50)) / 100))
    attachments = [AttachmentIn(code="wall", qty=Decimal(rng.randrange(10, 60)))]
    if rng.random() < 0.5:
        attachments.append(AttachmentIn(code="well", qty=Decimal(1)))
    if rng.random() < 0.6:
        attachments.append(AttachmentIn(code="tree", qty=Decimal(rng.randrange(2, 30))))
    mu = Decimal(rng.randrange(80, 320)) / 100
    return SurveySave(
        persons=persons,
        structures=structures,
        attachments=attachments,
        contracted_mu=mu,
        acquired_mu=mu,
        surveyed_on=on,
    )


def _option(rng: random.Random, persons: int) -> OptionIn:
    kind = rng.choices([k for k, _ in OPTIONS], weights=[w for _, w in OPTIONS])[0]
    if persons < 2 and kind == "resettlement_flat":
        kind = "cash"  # 40 ㎡ (and 15 more) is less than the smallest flat
    if kind != "resettlement_flat":
        return OptionIn(kind=kind)
    entitled = 40 * persons  # the demo plan's 40 ㎡ per person, up to 15 ㎡ more at the higher price
    flats: list[FlatChoice] = []
    room = Decimal(entitled + 10)
    for size in sorted(FLAT_SIZES, reverse=True):
        while size <= room and len(flats) < 3:
            flats.append(FlatChoice(area=size))
            room -= size
    return OptionIn(kind=kind, flats=flats)


def _at(day: date) -> datetime:
    """Ten in the morning of ``day``, China time."""
    return datetime.combine(day, time(10), tzinfo=CHINA_TZ)


def _account(rng: random.Random) -> str:
    return "6217" + "".join(str(rng.randrange(10)) for _ in range(15))


async def ensure_demo_compensation(
    session: AsyncSession, principal_of: Callable[[AsyncSession, str], Awaitable[Principal]]
) -> CompensationDemoResult | None:
    """The FQ-2023 story, unless the project is missing or already has assessments. ``principal_of`` finds the
    demo's caseworker2, reviewer2, finance and finance2 by username."""
    project = await session.scalar(select(Project).where(Project.code == PROJECT_CODE))
    if project is None:
        return None
    if await session.scalar(select(Assessment.id).where(Assessment.project_id == project.id).limit(1)):
        return None
    principals = {
        name: await principal_of(session, name)
        for name in ("caseworker2", "reviewer2", "finance", "finance2")
    }
    caseworker, reviewer = principals["caseworker2"], principals["reviewer2"]
    events_before = await session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    rng = random.Random(SEED)  # noqa: S311 - a reproducible story, not a secret
    result = CompensationDemoResult()
    await ledger.deposit_project(
        session,
        principals["finance"],
        project.id,
        amount=FUND_DEPOSIT,
        posted_on=DEPOSITED_ON,
        memo=f"{PROJECT_CODE}征收补偿资金拨入",
    )
    for step, (code, ladder) in enumerate(LADDERS.items()):
        village = await session.scalar(select(Area).where(Area.code == code))
        if village is None:
            continue
        chosen = await _households(session, village.id, PREFIXES[code], ladder.surveyed, rng)
        notice_on = NOTICE_FROM + timedelta(weeks=step)
        approved: list[tuple[int, OptionIn]] = []
        for i, (household_id, persons) in enumerate(chosen):
            await service.save_survey(
                session,
                caseworker,
                household_id,
                _survey(rng, persons, SURVEYED_FROM + timedelta(days=step * 7 + i // 4)),
            )
            result.surveyed += 1
            if i >= ladder.submitted:
                continue
            option = _option(rng, persons)
            assessment = await service.submit(
                session,
                caseworker,
                household_id,
                AssessmentIn(
                    project_id=project.id,
                    option=option,
                    signed_on=SIGNED_FROM + timedelta(days=step * 7 + i // 2),
                    vacated_on=SIGNED_FROM + timedelta(days=step * 7 + 14 + i // 2),
                ),
            )
            if i < ladder.approved:
                reviewed = SURVEYED_FROM + timedelta(days=step * 7 + 21 + i // 4)
                await service.approve(session, reviewer, assessment.id, at=_at(reviewed))
                approved.append((household_id, option))
                result.approved += 1
        if not ladder.noticed:
            continue
        await agreements.create_notice(session, caseworker, project.id, village.id, started_on=notice_on)
        # cash and purchase cases first among the signed ones, so the handed-over ones include some to pay
        order = sorted(approved[: ladder.signed], key=lambda a: a[1].kind == "resettlement_flat")
        to_house: list[tuple[int, OptionIn]] = []  # handed-over flat households, in signing order
        chosen_on = date.min
        for i, (household_id, option) in enumerate(order):
            signed_on = SIGNED_FROM + timedelta(days=step * 7 + i)
            agreement = await agreements.issue_agreement(
                session, caseworker, household_id, project.id, issued_on=signed_on - timedelta(days=2)
            )
            await agreements.sign(session, caseworker, agreement.id, signed_on)
            result.signed += 1
            if i >= ladder.vacated:
                continue
            account = _account(rng)
            await tranches.record_condition(
                session,
                caseworker,
                agreement.id,
                kind="vacate",
                on=signed_on + timedelta(days=14),
                note="腾房交付验收合格，房屋已移交",
                bank_name=BANK,
                account_number=account,
            )
            result.vacated += 1
            if option.kind == "resettlement_flat":
                to_house.append((household_id, option))
                chosen_on = max(chosen_on, signed_on + timedelta(days=21))
            if option.kind == "existing_housing":
                await tranches.record_condition(
                    session,
                    caseworker,
                    agreement.id,
                    kind="purchase_subsidy",
                    on=signed_on + timedelta(days=30),
                    note="购房合同及不动产权证书已审核",
                    bank_name=BANK,
                    account_number=account,
                )
        if ladder.flats_chosen:
            result.flats_allocated += await _choose_flats(
                session, caseworker, project.id, to_house, chosen_on
            )
    await _pay(session, principals, result)
    result.events = (await session.scalar(select(func.count()).select_from(AuditEvent)) or 0) - events_before
    return result


async def _households(
    session: AsyncSession, village_id: int, prefix: str, n: int, rng: random.Random
) -> list[tuple[int, int]]:
    """``n`` of the village's demo households (户口簿编号 ``prefix`` and four digits) drawn by ``rng``, with their
    registered members, in register order."""
    persons = (
        select(func.count())
        .where(Member.household_id == Household.id, Member.status == "registered")
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(Household.id, Household.register_no, persons.label("persons"))
            .where(
                Household.village_id == village_id,
                Household.register_no.regexp_match(f"^{prefix}[0-9]{{4}}$"),
            )
            .order_by(Household.register_no, Household.id)
        )
    ).all()
    picked = sorted(rng.sample(rows, min(n, len(rows))), key=lambda r: (r.register_no, r.id))
    return [(int(row.id), int(row.persons or 1)) for row in picked]


async def _choose_flats(
    session: AsyncSession,
    caseworker: Principal,
    project_id: int,
    households: list[tuple[int, OptionIn]],
    on: date,
) -> int:
    """选房 on one day: each household, in the published (signing) order, takes the first free unit of each area
    it chose, lowest floor first. Returns the number of flats allocated."""
    allocated = 0
    for household_id, option in households:
        for choice in option.flats:
            free = await flats.available_units(session, project_id, [choice.area])
            unit, _building = free[0]
            await flats.allocate(session, caseworker, unit.id, household_id, at=_at(on))
            allocated += 1
    return allocated


async def _pay(
    session: AsyncSession, principals: dict[str, Principal], result: CompensationDemoResult
) -> None:
    """The tranches that became due paid by the bank: one compensation batch for October 2023, prepared by finance,
    approved by finance2, exported, the bank's answer (all paid) imported and the batch closed."""
    prepared, checker = principals["finance"], principals["finance2"]
    made = await payments.generate_compensation_batch(session, prepared, BATCH_PERIOD, as_of=BATCH_AS_OF)
    if not made.lines:
        return
    batch = made.batch
    await payments.approve_batch(session, checker, batch.id)
    await payments.export_batch(session, prepared, batch.id, "psbc")
    answer = await payments.training_result(session, prepared, batch.id, "psbc", failures=False)
    await payments.import_results(
        session,
        prepared,
        batch.id,
        fmt="psbc",
        filename=f"{batch.number}-回盘.txt",
        content=answer,
        resolved_on=PAID_ON,
    )
    await payments.close_batch(session, prepared, batch.id)
    result.paid_lines, result.paid_total = made.lines, made.amount
