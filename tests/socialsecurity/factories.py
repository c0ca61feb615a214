"""Builders for land-loss social security tests, through the services: a project over a village, acquisition
batches, households and members with chosen birth dates, land, and the notice → approval → enrollment path with
the clock pinned past the notice period. Everything is written in the session given (the test's transaction,
unless a test commits on purpose)."""

from __future__ import annotations

import itertools
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import SYSTEM
from app.core.idcard import make_id_number
from app.households import service as households
from app.households.schemas import HouseholdIn, MemberIn
from app.plans.models import Project, ProjectVillage
from app.socialsecurity import service
from app.socialsecurity.models import AcquisitionBatch, Enrollment
from app.socialsecurity.schemas import BatchIn, LandIn, NoticeIn, OldPolicyIn
from tests.agreements.helpers import at, principal
from tests.seed import SEED

Pin = Callable[[datetime], None]

COUNTY = "410727"  # 封丘县
QFZ = "410727101201"  # 前方庄村: cw_a's village, in rv_a's township (王村乡)
DGC = "410727102201"  # 东关村: cw_b's village, in rv_b's township (城关乡)
ANNOUNCED = date(2023, 1, 10)  # domain.md's example batch
APPROVED = date(2023, 5, 20)
ENROLLED = date(2023, 5, 30)
NOTICE_DAYS = 7

# Who works each village: (caseworker, reviewer).
STAFF = {QFZ: ("cw_a", "rv_a"), DGC: ("cw_b", "rv_b")}

_SERIAL = itertools.count(1)
_SEQUENCES: dict[date, itertools.count[int]] = defaultdict(lambda: itertools.count(600))


def id_number(birth: date, county: str = COUNTY) -> str:
    """A valid ID number for ``birth`` that no seeded person has (seeded sequences are below 600) and that no
    earlier call returned for the same birth date (up to 400 per date and test run)."""
    sequence = next(_SEQUENCES[birth])
    assert sequence <= 999, f"ran out of ID sequences for {birth}"
    return make_id_number(county, birth, sequence)


def token() -> str:
    return f"{secrets.token_hex(3).upper()}{next(_SERIAL):03d}"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    birth: date
    id_number: str
    member_id: int
    household_id: int


@dataclass(frozen=True, slots=True)
class Home:
    household_id: int
    register_no: str
    people: list[Person] = field(default_factory=list)


async def make_project(db: AsyncSession, village: str = QFZ) -> tuple[int, int]:
    """A project of the village's county over that village alone; returns (project id, village id).

    No plan is made: a batch needs only the project's village (and approved plans can never be deleted, which
    tests that commit and clean up would trip over)."""
    code = f"SS{token()}"
    project = Project(
        county_code=village[:6], code=code, name=f"社保测试项目{code}", area_path=SEED.paths[village[:6]]
    )
    db.add(project)
    await db.flush()
    db.add(
        ProjectVillage(
            project_id=project.id, village_id=SEED.areas[village], abbr="SS", area_path=SEED.paths[village]
        )
    )
    await db.flush()
    return project.id, SEED.areas[village]


async def make_batch(
    db: AsyncSession,
    project_id: int,
    village_id: int,
    *,
    announced: date = ANNOUNCED,
    approved: date = APPROVED,
    threshold: str = "0.3",
    fee: str = "24000.00",
    monthly: str = "260.00",
    name: str | None = None,
) -> AcquisitionBatch:
    """A draft batch made by the county administrator (adm), with domain.md's default parameters."""
    code = f"ZD-{token()}"
    return await service.create_batch(
        db,
        await principal(db, "adm"),
        BatchIn(
            project_id=project_id,
            village_id=village_id,
            code=code,
            name=name or f"征地批次{code}",
            announcement_date=announced,
            approved_on=approved,
            per_capita_land_threshold_mu=Decimal(threshold),
            fee_standard=Decimal(fee),
            monthly_pension=Decimal(monthly),
        ),
    )


async def make_home(db: AsyncSession, people: Sequence[tuple[str, date]], *, village: str = QFZ) -> Home:
    """A household of ``village`` registered through the households service: the first person is its head."""
    register_no = f"SS-{token()}"
    (head_name, head_birth), *others = people
    head_id = id_number(head_birth, village[:6])
    created = await households.create_household(
        db,
        SYSTEM,
        HouseholdIn(
            village_id=SEED.areas[village],
            register_no=register_no,
            address=f"测试地址{register_no}",
            head_name=head_name,
            head_id_number=head_id,
        ),
    )
    [head] = await households.members_of(db, created.id)
    home = Home(created.id, register_no)
    home.people.append(Person(head_name, head_birth, head_id, head.id, created.id))
    for name, birth in others:
        number = id_number(birth, village[:6])
        member = await households.add_member(
            db, SYSTEM, created.id, MemberIn(name=name, id_number=number, relation="child")
        )
        home.people.append(Person(name, birth, number, member.id, created.id))
    return home


async def set_land(
    db: AsyncSession, batch: AcquisitionBatch, land: Sequence[tuple[int, str, str]], *, village: str = QFZ
) -> int:
    """(household id, contracted mu, acquired mu) per household, recorded by the village's caseworker."""
    cw = await principal(db, STAFF[village][0]) if village in STAFF else SYSTEM
    return await service.set_land(
        db,
        cw,
        batch.id,
        [
            LandIn(household_id=h, contracted_mu=Decimal(contracted), acquired_mu=Decimal(acquired))
            for h, contracted, acquired in land
        ],
    )


async def notice_approve_enroll(
    db: AsyncSession, pin: Pin, batch: AcquisitionBatch, *, enrolled_on: date = ENROLLED, village: str = QFZ
) -> int:
    """Notice the list (ending the day before ``enrolled_on``), approve it by the township reviewer and enroll
    on ``enrolled_on``, with the clock pinned; returns how many were enrolled."""
    cw_name, rv_name = STAFF[village]
    cw, rv = await principal(db, cw_name), await principal(db, rv_name)
    start = enrolled_on - timedelta(days=NOTICE_DAYS)
    pin(at(start))
    await service.start_notice(db, cw, batch.id, NoticeIn(notice_start=start, notice_days=NOTICE_DAYS))
    pin(at(enrolled_on))
    await service.approve_batch(db, rv, batch.id)
    return await service.enroll_batch(db, cw, batch.id)


async def ready_batch(
    db: AsyncSession,
    pin: Pin,
    births: Sequence[date],
    *,
    village: str = QFZ,
    announced: date = ANNOUNCED,
    approved: date = APPROVED,
) -> tuple[AcquisitionBatch, list[Person]]:
    """A draft batch of a new project with one person per birth date, each alone in a household with no land
    left (so eligible when 16 or older), in that order."""
    pin(at(announced - timedelta(days=30)))
    project_id, village_id = await make_project(db, village)
    batch = await make_batch(db, project_id, village_id, announced=announced, approved=approved)
    homes = [
        await make_home(db, [(f"参保人{i:03d}", birth)], village=village) for i, birth in enumerate(births)
    ]
    await set_land(db, batch, [(h.household_id, "1.0000", "1.0000") for h in homes], village=village)
    return batch, [h.people[0] for h in homes]


async def enrollments_of(
    db: AsyncSession, batch: AcquisitionBatch, people: Sequence[Person]
) -> list[Enrollment]:
    """The batch's enrollments in the order of ``people``."""
    by_member = {
        e.member_id: e for e in await db.scalars(select(Enrollment).where(Enrollment.batch_id == batch.id))
    }
    return [by_member[p.member_id] for p in people]


async def pensioners(
    db: AsyncSession,
    pin: Pin,
    births: Sequence[date],
    *,
    village: str = QFZ,
    announced: date = ANNOUNCED,
    approved: date = APPROVED,
    enrolled_on: date = ENROLLED,
) -> list[Enrollment]:
    """Enrollments of one person per birth date, in that order, through one batch (see ``ready_batch``)."""
    batch, people = await ready_batch(
        db, pin, births, village=village, announced=announced, approved=approved
    )
    assert await notice_approve_enroll(db, pin, batch, enrolled_on=enrolled_on, village=village) == len(
        people
    )
    return await enrollments_of(db, batch, people)


def old_policy(
    person: Person,
    *,
    lump: str = "0",
    subsidy: str | None = None,
    paid_from: str | None = None,
    paid_through: str | None = None,
    name: str | None = None,
) -> OldPolicyIn:
    return OldPolicyIn(
        name=name or person.name,
        id_number=person.id_number,
        lump_sum_received=Decimal(lump),
        monthly_subsidy=None if subsidy is None else Decimal(subsidy),
        paid_from=paid_from,
        paid_through=paid_through,
    )
