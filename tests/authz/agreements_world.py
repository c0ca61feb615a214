"""What the authorisation matrix aims assessment, notice, objection and agreement routes at (issue 3), per seeded
household label, in the label's village, inside the probe's rolled-back transaction (rows written directly with
the models and tests/flats/factories.py, valid for every database constraint):

* a project over the label's village only, with an approved plan (the demo parameters, so that an agreement can
  be rendered) and three fresh households of the village, each with a cash assessment:
* ``submitted_assessment``: the first household's assessment, submitted by the caseworker and awaiting review —
  a reviewer may approve or return it;
* ``notice``: a public notice of the other two households, 2022-09-01 for 7 days (ended long ago);
* ``open_objection``: an open objection to the second household's entry on that notice;
* ``draft_agreement``: the third household's draft agreement (a placeholder PDF): it can be rendered again,
  signed (the notice has ended and the household has no open objection) or voided;
* ``signed_agreement``: the same household's agreement signed through the service (tranches created, payable
  posted), for recording a tranche's condition;
* ``handover_agreement``: a fourth household's agreement, signed through the service, for flats whose price takes
  the whole compensation and more (nothing is paid on the handover, the household owes the difference), for
  recording the handover on its own and the receipt of the difference.

The households' heads are named 矩阵… so that nothing here touches the seeded households or gives them away.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.agreements.models import Agreement, NoticeEntry, Objection, PublicNotice
from app.auth.policy import SYSTEM
from app.compensation.models import Assessment
from app.plans.schemas import demo_params
from tests.flats.factories import make_household, make_project, user_id
from tests.seed import HOUSEHOLDS, SEED

if TYPE_CHECKING:
    from tests.authz.test_matrix import World

AGREEMENT_KINDS = frozenset(
    {
        "submitted_assessment",
        "notice",
        "open_objection",
        "draft_agreement",
        "signed_agreement",
        "handover_agreement",
    }
)
NOTICE_STARTED = date(2022, 9, 1)
PDF = b"%PDF-1.4\n% matrix placeholder\n%%EOF\n"


async def _assessment(db: AsyncSession, household_id: int) -> Assessment:
    found = await db.scalar(select(Assessment).where(Assessment.household_id == household_id))
    assert found is not None
    return found


async def _case(db: AsyncSession, village: str) -> dict[str, Any]:
    cw = await user_id(db, "cw_a")
    project = await make_project(db, (village,), params=demo_params(date(2022, 9, 30)).stored())
    submitted, objecting, signing = [
        await make_household(
            db, project, head=head, flats=None, signed=False, village=village, assessment=status
        )
        for head, status in (
            ("矩阵待审户", "submitted"),
            ("矩阵异议户", "approved"),
            ("矩阵签约户", "approved"),
        )
    ]
    # 550 ㎡ of flats at 1,000.00 yuan: the whole 500,000.00 of compensation (make_household) and 50,000.00 more
    owing = await make_household(
        db, project, head="矩阵交房户", flats=("300.00", "250.00"), signed=False, village=village
    )
    pending = await _assessment(db, submitted)
    village_id = SEED.areas[village]
    # the other three: approved and on no notice yet, listed as a notice lists them
    noticed = await agreements.notice_candidates(db, project.project.id, village_id, include_noticed=False)
    assert {c.household.id for c in noticed} == {objecting, signing, owing}
    area_path = SEED.paths[village]
    notice = PublicNotice(
        project_id=project.project.id,
        village_id=village_id,
        county_code=village[:6],
        area_path=area_path,
        started_on=NOTICE_STARTED,
        days=7,
        entries=[agreements.notice_entry(c) for c in noticed],
        pdf=PDF,
        pdf_sha256=hashlib.sha256(PDF).digest(),
        created_by=cw,
    )
    db.add(notice)
    await db.flush()
    db.add_all(
        NoticeEntry(notice_id=notice.id, household_id=c.household.id, assessment_id=c.assessment.id)
        for c in noticed
    )
    objection = Objection(
        notice_id=notice.id,
        household_id=objecting,
        county_code=village[:6],
        area_path=area_path,
        raised_on=date(2022, 9, 3),
        raised_by_name="矩阵",
        content="矩阵异议",
        status="open",
        recorded_by=cw,
    )
    db.add(objection)
    drafts = []
    for n, household in enumerate((signing, owing), start=1):
        assessment = next(c.assessment for c in noticed if c.household.id == household)
        draft = Agreement(
            number=f"{project.project.code}-V0-{n:04d}",
            project_id=project.project.id,
            village_id=village_id,
            household_id=household,
            assessment_id=assessment.id,
            county_code=village[:6],
            area_path=area_path,
            status="draft",
            template_version="test",
            snapshot={},
            pdf=PDF,
            pdf_sha256=hashlib.sha256(PDF).digest(),
            net_payable=assessment.net_payable,
            created_by=cw,
        )
        db.add(draft)
        drafts.append(draft)
    await db.flush()
    return {
        "submitted_assessment": pending.id,
        "notice": notice.id,
        "open_objection": objection.id,
        "draft_agreement": drafts[0].id,
        "owing_draft": drafts[1].id,
    }


async def add_agreements(db: AsyncSession, world: World, *, signed: bool, handover: bool = False) -> None:
    """Every kind but ``signed_agreement`` and ``handover_agreement``; with ``signed`` the first, with
    ``handover`` the second (their drafts are signed to make them)."""
    found: dict[str, dict[str, Any]] = {kind: {} for kind in AGREEMENT_KINDS}
    for label, village, _group, _no, _people in HOUSEHOLDS:
        case = await _case(db, village)
        owing_draft = case.pop("owing_draft")
        for kind, value in case.items():
            found[kind][label] = value
        if signed:
            agreement = await agreements.sign(db, SYSTEM, case["draft_agreement"], date(2022, 9, 20))
            found["signed_agreement"][label] = agreement.id
        if handover:
            agreement = await agreements.sign(db, SYSTEM, owing_draft, date(2022, 9, 20))
            assert not await agreements.pays_on_handover(db, agreement.id)
            found["handover_agreement"][label] = agreement.id
    await db.flush()
    world.extra.update(found)
