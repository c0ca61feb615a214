"""A county with households at every stage, money paid and unpaid, and pensioners paid in two months, built
through the services inside the test's transaction (the same builders as the agreements, payments and social
security tests). "Today" for the dashboards is TODAY.

前方庄村 (cw_a's village), project FQ-2022 (domain.md's worked example: net payable 94,700.00, flat option):

* h1 (seeded, 3 people): signed 2023-05-10, handed over, paid by the bank on 2023-06-15, a flat allocated: 结案
* ``vacated`` (2 people): signed 2023-05-24, handed over, the bank payment failed: 腾房交付
* ``signed`` (1): signed 2023-06-07, not handed over: 签约
* ``early`` (1): signed 2023-03-01, before the weekly chart's weeks: 签约
* ``noticed`` (1): on the notice, agreement issued but not signed: 公示
* ``assessed`` (1): assessment approved after the notice: 核算
* ``surveyed`` (2): a survey only: 调查
* three pensioners of another project (two drawing from 2023-06, one under 60): June paid on 2023-06-08 except one
  failure, July paid on 2023-07-06.

后方庄村: the seeded h2 (registered only). 东关村 (cw_b's village): the seeded h3 with a survey, and one pensioner
enrolled there without a passbook (never paid).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.compensation.models import Survey
from app.flats.models import Allocation, Building, Unit
from app.ledger import service as ledger
from app.payments import bankfiles, compensation, rules
from app.payments import service as payments
from app.payments.models import PaymentBatch, PaymentLine
from app.socialsecurity.models import AcquisitionBatch
from app.socialsecurity.rules import parse_month
from app.socialsecurity.service import account_cipher
from tests.agreements.helpers import approved_assessment, at, principal
from tests.agreements.test_service import noticed_case
from tests.payments.helpers import result_lines, world
from tests.seed import SEED
from tests.socialsecurity.factories import DGC, QFZ, Pin, make_home, pensioners

TODAY = date(2023, 7, 10)
OLD = date(1955, 5, 5)  # 68 at enrollment: pension from 2023-06
YOUNG = date(1990, 1, 1)
MONTHLY = 26_000  # fen
NET = 9_470_000  # the worked example's net payable (fen)


@dataclass
class World:
    project_id: int  # FQ-2022
    social_project_id: int
    qfz: int  # village ids
    dgc: int
    households: dict[str, int]


async def _survey(db: AsyncSession, household_id: int, persons: int, path: str) -> None:
    db.add(
        Survey(
            household_id=household_id,
            county_code="410727",
            area_path=path,
            persons=persons,
            contracted_mu=Decimal("1.0000"),
            acquired_mu=Decimal("1.0000"),
            surveyed_on=date(2022, 8, 1),
        )
    )
    await db.flush()


async def _home(db: AsyncSession, people: int, name: str, village: str = QFZ) -> int:
    home = await make_home(db, [(f"{name}{i}", date(1970 + i, 3, 3)) for i in range(people)], village=village)
    return home.household_id


async def _bank_answer(db: AsyncSession, batch: PaymentBatch, paid: dict[int, bool]) -> bytes:
    """The bank's result file of a compensation batch: line by tranche id, paid or failed."""
    lines = (await db.scalars(select(PaymentLine).where(PaymentLine.batch_id == batch.id))).all()
    cipher = account_cipher()
    results = [
        bankfiles.ResultLine(
            seq=line.seq,
            account=cipher.decrypt(line.account_enc),
            name=line.payee_name,
            amount=line.amount,
            id_number="410727196003151234",
            reference=rules.reference(batch.number, line.seq),
            paid=paid[line.tranche_id or 0],
            reason="" if paid[line.tranche_id or 0] else "户名与账号不符",
        )
        for line in lines
    ]
    return bankfiles.result_file("psbc", batch.number, results)


async def _pension_month(db: AsyncSession, pin: Pin, period: str, paid_on: date, fail_first: bool) -> None:
    fin, fin2 = await principal(db, "fin"), await principal(db, "fin2")
    month = parse_month(period)
    pin(at(month.replace(day=5)))
    batch = (await payments.generate_pension_batch(db, fin, month, as_of=month.replace(day=5))).batch
    pin(at(month.replace(day=6)))
    await payments.approve_batch(db, fin2, batch.id)
    await payments.export_batch(db, fin, batch.id, "psbc")
    lines = await result_lines(db, batch)
    if fail_first:
        lines[0] = dataclasses.replace(lines[0], paid=False, reason="账户已销户")
    pin(at(paid_on))
    await payments.import_results(
        db,
        fin,
        batch.id,
        fmt="psbc",
        filename=f"{period}.txt",
        content=bankfiles.result_file("psbc", batch.number, lines),
    )


async def build(db: AsyncSession, pin: Pin) -> World:
    # Pensioners first (their builders pin the clock back to 2022-12 … 2023-06).
    w = await world(db, pin, [OLD, OLD, YOUNG])
    batch_id = w.enrollments[0].batch_id
    social_project_id = int(
        (await db.scalar(select(AcquisitionBatch.project_id).where(AcquisitionBatch.id == batch_id))) or 0
    )
    await pensioners(db, pin, [OLD], village=DGC)
    await _pension_month(db, pin, "2023-06", date(2023, 6, 8), fail_first=True)

    # Compensation: FQ-2022 over 前方庄村, noticed from 2022-09-01.
    homes = {
        "vacated": await _home(db, 2, "腾房户"),
        "signed": await _home(db, 1, "签约户"),
        "early": await _home(db, 1, "早签户"),
        "noticed": await _home(db, 1, "公示户"),
    }
    case = await noticed_case(db, pin, *homes.values())
    homes["h1"] = SEED.households["h1"]
    homes["assessed"] = await _home(db, 1, "核算户")
    await approved_assessment(db, case, homes["assessed"])
    homes["surveyed"] = await _home(db, 2, "调查户")
    await _survey(db, homes["surveyed"], 2, SEED.paths[QFZ])
    await _survey(db, SEED.households["h3"], 1, SEED.paths[DGC])

    cw, fin, fin2 = await principal(db, "cw_a"), await principal(db, "fin"), await principal(db, "fin2")
    pin(at(date(2023, 6, 9)))
    ids: dict[str, int] = {}
    for label, signed_on in (
        ("early", date(2023, 3, 1)),
        ("h1", date(2023, 5, 10)),
        ("vacated", date(2023, 5, 24)),
        ("signed", date(2023, 6, 7)),
        ("noticed", None),
    ):
        agreement = await agreements.issue_agreement(db, cw, homes[label])
        ids[label] = agreement.id
        if signed_on is not None:
            await agreements.sign(db, cw, agreement.id, signed_on)

    pin(at(date(2023, 6, 12)))
    for n, label in enumerate(("h1", "vacated"), start=1):
        await compensation.record_condition(
            db,
            cw,
            ids[label],
            kind="vacate",
            on=date(2023, 6, 10),
            note=f"腾房验收单 QFZ-{n:03d}",
            bank_name="中国邮政储蓄银行",
            account_number=f"6221 8800 0000 000{n}",
        )
    await ledger.deposit_project(
        db, fin, case.project.id, amount=50_000_000, posted_on=date(2023, 6, 1), memo="补偿资金拨入"
    )
    pin(at(date(2023, 6, 14)))
    generated = await payments.generate_compensation_batch(db, fin, date(2023, 6, 1), as_of=date(2023, 6, 14))
    assert generated.lines == 2
    batch = generated.batch
    await payments.approve_batch(db, fin2, batch.id)
    await payments.export_batch(db, fin, batch.id, "psbc")
    tranche_of = {
        label: (await compensation.tranches_of_household(db, cw, homes[label]))[0].tranche.id
        for label in ("h1", "vacated")
    }
    pin(at(date(2023, 6, 15)))
    await payments.import_results(
        db,
        fin,
        batch.id,
        fmt="psbc",
        filename="补偿款回盘.txt",
        content=await _bank_answer(db, batch, {tranche_of["h1"]: True, tranche_of["vacated"]: False}),
    )

    # h1's flat (the option is resettlement flats): allocated.
    building = Building(
        project_id=case.project.id, county_code="410727", area_path=SEED.paths[QFZ], name="1号楼"
    )
    db.add(building)
    await db.flush()
    unit = Unit(building_id=building.id, number="1单元101", floor=1, area=Decimal("90.00"))
    db.add(unit)
    await db.flush()
    db.add(
        Allocation(
            unit_id=unit.id,
            household_id=homes["h1"],
            project_id=case.project.id,
            county_code="410727",
            area_path=SEED.paths[QFZ],
            method="signing_order",
        )
    )
    await db.flush()

    # July's pensions, paid this month.
    await _pension_month(db, pin, "2023-07", date(2023, 7, 6), fail_first=False)
    pin(at(TODAY))
    return World(case.project.id, social_project_id, SEED.areas[QFZ], SEED.areas[DGC], homes)
