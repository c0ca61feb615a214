"""What the authorisation matrix aims land-loss social security routes at (issue 4), per seeded household label, in
the label's village, inside the probe's rolled-back transaction (rows written directly with the models, valid for
every database constraint):

* ``social_project``: a project over the label's village only (a new batch's body names it);
* ``social_draft_batch``: a draft batch, version 1, with land recorded for the label's seeded household (3.0 mu
  contracted, 2.9 acquired) — so it can be edited, its land changed, its list previewed and noticed;
* ``social_noticed_batch``: a batch noticed 2023-02-01 to 2023-02-07 (ended long ago) by nobody of the matrix
  (``noticed_by`` empty, so the reviewer rv_a may approve it), its frozen list holding one eligible person;
* ``social_approved_batch``: an approved batch whose list holds one eligible person not enrolled anywhere — enrolling
  it enrolls exactly one;
* ``social_enrollment``: an active pensioner (born in the 1940s, pension from 2023-06) of an enrolled batch, with a
  passbook open, no proof of life since enrollment and no month in the register;
* ``social_deceased_enrollment``: a pensioner of the same batch who died on 2024-01-15, whose February and March
  2024 were paid after the death: an overpayment of 520.00 to recover, nothing recovered, no heir named yet;
* ``social_person``: the full ID number of the person on those two lists (registered in the village, not
  enrolled, no old-policy record): what an old-policy record names.

The people are a fresh household of the village (three members, names starting 矩阵) so that nothing here touches
the seeded households' members; ``social_draft_version`` holds the draft batch's version for an update's body.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import SYSTEM
from app.core.idcard import make_id_number
from app.households import service as households
from app.households.models import Member
from app.households.schemas import HouseholdIn, MemberIn
from app.plans.models import Project, ProjectVillage
from app.socialsecurity import rules
from app.socialsecurity.models import (
    AcquisitionBatch,
    BatchHousehold,
    EligibilityEntry,
    Enrollment,
    Overpayment,
    Passbook,
    PensionMonth,
)
from app.socialsecurity.service import account_cipher, mask_account
from tests.idnumbers import fresh_id_number
from tests.seed import HOUSEHOLDS, SEED

if TYPE_CHECKING:
    from tests.authz.test_matrix import Aim, Probe, World

SOCIAL_KINDS = frozenset(
    {
        "social_project",
        "social_draft_batch",
        "social_noticed_batch",
        "social_approved_batch",
        "social_enrollment",
        "social_deceased_enrollment",
        "social_person",
    }
)

ANNOUNCED = date(2023, 1, 10)
APPROVED_ON = date(2023, 5, 20)
PENSION_START = date(2023, 6, 1)  # the month after APPROVED_ON; everyone here is over 60
DEATH = date(2024, 1, 15)
FEE, MONTHLY = 24_000_00, 260_00
CHILD_NAME = "矩阵参保子女"  # the ``social_person``
ACCOUNT = "622188000000{:07d}"  # the world's passbook numbers: never shown whole
HEIR_NUMBER = make_id_number("410727", date(1980, 2, 2), 8)


def _batch(village: str, project_id: int, status: str, suffix: str) -> AcquisitionBatch:
    return AcquisitionBatch(
        county_code=village[:6],
        area_path=SEED.paths[village],
        project_id=project_id,
        village_id=SEED.areas[village],
        code=f"MX{secrets.token_hex(4).upper()}-{suffix}",
        name=f"矩阵征地批次{suffix}",
        announcement_date=ANNOUNCED,
        approved_on=APPROVED_ON,
        per_capita_land_threshold_mu=Decimal("0.3"),
        min_age=16,
        pension_age=60,
        fee_standard=FEE,
        monthly_pension=MONTHLY,
        status=status,
        notice_start=None if status == "draft" else date(2023, 2, 1),
        notice_end=None if status == "draft" else date(2023, 2, 7),
    )


def _entry(batch: AcquisitionBatch, member: Member) -> EligibilityEntry:
    return EligibilityEntry(
        batch_id=batch.id,
        member_id=member.id,
        household_id=member.household_id,
        person_hash=member.id_number_hash,
        name=member.name,
        id_number_masked=member.id_number_masked,
        birth_date=member.birth_date,
        age_on_announcement=rules.age_on(member.birth_date, ANNOUNCED),
        household_members=3,
        remaining_mu=Decimal("0.1"),
        eligible=True,
        reasons=[],
        duplicate_of=None,
    )


def _enrollment(batch: AcquisitionBatch, member: Member, area_path: str) -> Enrollment:
    return Enrollment(
        county_code=batch.county_code,
        area_path=area_path,
        batch_id=batch.id,
        member_id=member.id,
        household_id=member.household_id,
        person_hash=member.id_number_hash,
        name=member.name,
        id_number_masked=member.id_number_masked,
        birth_date=member.birth_date,
        enrolled_on=PENSION_START,
        fee_standard=FEE,
        old_lump_sum=0,
        account_credit=FEE,
        monthly_pension=MONTHLY,
        pension_start_month=PENSION_START,
        status="active",
    )


async def add_social(db: AsyncSession, world: World) -> None:
    found: dict[str, dict[str, Any]] = {kind: {} for kind in (*SOCIAL_KINDS, "social_draft_version")}
    cipher = account_cipher()
    for label, village, _group, _no, _people in HOUSEHOLDS:
        county = village[:6]
        project = Project(
            county_code=county,
            code=f"MXS{secrets.token_hex(3).upper()}",
            name="矩阵社保项目",
            area_path=SEED.paths[county],
        )
        db.add(project)
        await db.flush()
        db.add(
            ProjectVillage(
                project_id=project.id,
                village_id=SEED.areas[village],
                abbr="MX",
                area_path=SEED.paths[village],
            )
        )
        household = await households.create_household(
            db,
            SYSTEM,
            HouseholdIn(
                village_id=SEED.areas[village],
                register_no=f"MX-SS{secrets.token_hex(3).upper()}",
                address="矩阵社保户地址",
                head_name="矩阵参保户主",
                head_id_number=fresh_id_number(county, date(1940, 2, 1)),
            ),
        )
        spouse = await households.add_member(
            db,
            SYSTEM,
            household.id,
            MemberIn(
                name="矩阵参保配偶",
                id_number=fresh_id_number(county, date(1950, 2, 1)),
                relation="spouse",
            ),
        )
        child_number = fresh_id_number(county, date(1960, 2, 1))
        child = await households.add_member(
            db, SYSTEM, household.id, MemberIn(name=CHILD_NAME, id_number=child_number, relation="child")
        )
        head = next(m for m in await households.members_of(db, household.id) if m.relation == "head")

        draft = _batch(village, project.id, "draft", "D")
        noticed = _batch(village, project.id, "noticed", "N")
        approved = _batch(village, project.id, "approved", "A")
        enrolled = _batch(village, project.id, "enrolled", "E")
        db.add_all([draft, noticed, approved, enrolled])
        await db.flush()
        db.add(
            BatchHousehold(
                batch_id=draft.id,
                household_id=SEED.households[label],
                contracted_mu=Decimal("3.0"),
                acquired_mu=Decimal("2.9"),
            )
        )
        db.add_all([_entry(noticed, child), _entry(approved, child)])

        active = _enrollment(enrolled, head, household.area_path)
        deceased = _enrollment(enrolled, spouse, household.area_path)
        deceased.status, deceased.death_date = "deceased", DEATH
        db.add_all([active, deceased])
        await db.flush()
        number = ACCOUNT.format(active.id % 10_000_000)
        db.add(
            Passbook(
                enrollment_id=active.id,
                bank_name="中国邮政储蓄银行",
                account_enc=cipher.encrypt(number),
                account_hash=cipher.lookup_hash(number),
                account_masked=mask_account(number),
                opened_on=PENSION_START,
            )
        )
        overpaid = [date(2024, 2, 1), date(2024, 3, 1)]
        for month in overpaid:
            db.add(
                PensionMonth(
                    county_code=county,
                    area_path=household.area_path,
                    person_hash=spouse.id_number_hash,
                    month=month,
                    enrollment_id=deceased.id,
                    start_month=PENSION_START,
                    status="paid",
                    kind="regular",
                    period=month,
                    amount=MONTHLY,
                    paid_on=month + timedelta(days=9),
                )
            )
        db.add(
            Overpayment(
                enrollment_id=deceased.id, months=overpaid, amount=MONTHLY * len(overpaid), recovered=0
            )
        )
        await db.flush()

        found["social_project"][label] = project.id
        found["social_draft_batch"][label] = draft.id
        found["social_draft_version"][label] = draft.version
        found["social_noticed_batch"][label] = noticed.id
        found["social_approved_batch"][label] = approved.id
        found["social_enrollment"][label] = active.id
        found["social_deceased_enrollment"][label] = deceased.id
        found["social_person"][label] = child_number
    await db.commit()
    world.extra.update(found)


# ----------------------------------------------------------------------------------------- request bodies


def quote_body() -> dict[str, Any]:
    from tests.socialsecurity.test_api import EXAMPLE

    return EXAMPLE


def batch_body(aim: Aim) -> dict[str, Any]:
    """A new batch of the aimed project, over that project's village."""
    return {
        "project_id": aim["project_id"],
        "village_id": aim.world.villages[aim.label("project_id")],
        "code": f"MXB-{secrets.token_hex(4).upper()}",
        "name": "矩阵新征地批次",
        "announcement_date": ANNOUNCED.isoformat(),
        "approved_on": APPROVED_ON.isoformat(),
    }


def batch_update_body(aim: Aim) -> dict[str, Any]:
    return {
        "name": f"矩阵批次改名{aim.world.serial()}",
        "announcement_date": ANNOUNCED.isoformat(),
        "approved_on": APPROVED_ON.isoformat(),
        "monthly_pension": "280.00",
        "version": aim.world.extra["social_draft_version"][aim.label("batch_id")],
    }


def land_body(aim: Aim) -> dict[str, Any]:
    """Different land for the batch's household (the same land would change nothing)."""
    household = aim.world.households[aim.label("batch_id")]
    return {"items": [{"household_id": household, "contracted_mu": "5.0", "acquired_mu": "4.9"}]}


def notice_body(aim: Aim) -> dict[str, Any]:
    return {"notice_start": "2023-02-01", "notice_days": 7}


def send_back_body(aim: Aim) -> dict[str, Any]:
    return {"comment": "矩阵退回意见"}


def old_policy_body(aim: Aim) -> dict[str, Any]:
    return {"name": CHILD_NAME, "id_number": aim["id_number"], "lump_sum_received": "3000.00"}


def passbook_body(aim: Aim) -> dict[str, Any]:
    return {"account_number": f"62218899{aim.world.serial():08d}", "opened_on": "2023-06-01"}


def certification_body(aim: Aim) -> dict[str, Any]:
    return {"certified_on": "2024-06-01", "method": "in_person", "certified_by": "矩阵经办员"}


def death_body(aim: Aim) -> dict[str, Any]:
    return {"death_date": DEATH.isoformat()}


def heir_body(aim: Aim) -> dict[str, Any]:
    return {"heir_name": "矩阵继承人", "heir_id_number": HEIR_NUMBER, "relation": "子女"}


def recovery_body(aim: Aim) -> dict[str, Any]:
    return {"amount": "100.00", "recovered_on": "2024-04-01", "note": "矩阵追回"}


# ----------------------------------------------------------------------- checks of what a success returns


def check_batch(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        assert response.json()["id"] == aim["batch_id"]


def check_land(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        rows = {r["household_id"]: r for r in response.json()}
        row = rows[aim.world.households[aim.label("batch_id")]]
        assert (row["contracted_mu"], row["acquired_mu"]) == ("3.0000", "2.9000")


def check_enrolled(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        assert response.json() == {"enrolled": 1}


def check_person(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    """The pensioner aimed at, with the passbook masked and its number nowhere."""
    if probe.succeeds:
        found = response.json()
        assert found["enrollment"]["id"] == aim["enrollment_id"]
        number = ACCOUNT.format(aim["enrollment_id"] % 10_000_000)
        assert found["passbook"]["account_masked"] == mask_account(number)
        assert number not in response.text


def check_recovered(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        assert (response.json()["recovered"], response.json()["outstanding"]) == ("100.00", "420.00")
