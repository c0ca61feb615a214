"""A project with an approved demo plan for 前方庄村 and the domain.md worked example as a survey, made inside
the test's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.models import User
from app.auth.policy import Principal
from app.compensation import service
from app.compensation.schemas import AttachmentIn, StructureIn, SurveySave
from app.plans import service as plans
from app.plans.models import Plan, Project
from app.plans.schemas import PlanParamsIn, demo_params
from tests.seed import SEED

VILLAGE = "410727101201"  # 前方庄村, h1's village
DEADLINE = date(2022, 9, 30)

EXAMPLE_SURVEY: dict[str, Any] = {
    "persons": 4,
    "contracted_mu": "3.2500",
    "acquired_mu": "2.1250",
    "surveyed_on": "2022-08-15",
    "structures": [
        {"structure": "brick_concrete", "area": "120.50"},
        {"structure": "brick_wood", "area": "35.00"},
        {"structure": "simple", "area": "12.00"},
    ],
    "attachments": [{"code": "wall", "qty": "25.00"}, {"code": "well", "qty": "1.00"}],
}
EXAMPLE_OPTION: dict[str, Any] = {
    "kind": "resettlement_flat",
    "flats": [{"area": "90.00"}, {"area": "75.00"}],
}
EXAMPLE_SUBMIT: dict[str, Any] = {
    "option": EXAMPLE_OPTION,
    "signed_on": "2022-09-01",
    "vacated_on": "2022-09-20",
}


async def principal(db: AsyncSession, username: str) -> Principal:
    user = await db.scalar(select(User).where(User.username == username))
    assert user is not None
    return await auth.principal_for(db, user)


@dataclass
class PlanSetup:
    project: Project
    plan: Plan


async def approved_demo_plan(
    db: AsyncSession, *, code: str = "FQ-2022", params: PlanParamsIn | None = None
) -> PlanSetup:
    """A project over 前方庄村 with the demo plan drafted by adm and approved by rv_a."""
    adm, rv_a = await principal(db, "adm"), await principal(db, "rv_a")
    project = await plans.create_project(
        db, adm, code=code, name=f"{code}年度封丘县征收项目", villages=[(SEED.areas[VILLAGE], "QFZ")]
    )
    plan = await plans.new_draft(db, adm, project.id, SEED.areas[VILLAGE], params or demo_params(DEADLINE))
    await plans.submit(db, adm, plan.id)
    await plans.approve(db, rv_a, plan.id)
    await db.commit()  # kept when a later request of the test rolls back its own work
    return PlanSetup(project, plan)


async def new_version(db: AsyncSession, setup: PlanSetup, params: PlanParamsIn) -> Plan:
    adm, rv_a = await principal(db, "adm"), await principal(db, "rv_a")
    plan = await plans.new_draft(db, adm, setup.project.id, SEED.areas[VILLAGE], params)
    await plans.submit(db, adm, plan.id)
    await plans.approve(db, rv_a, plan.id)
    await db.flush()
    return plan


def example_survey(**changes: Any) -> SurveySave:
    data = {**EXAMPLE_SURVEY, **changes}
    return SurveySave(
        persons=data["persons"],
        contracted_mu=Decimal(data["contracted_mu"]),
        acquired_mu=Decimal(data["acquired_mu"]),
        surveyed_on=date.fromisoformat(data["surveyed_on"]),
        structures=[StructureIn.model_validate(s) for s in data["structures"]],
        attachments=[AttachmentIn.model_validate(a) for a in data["attachments"]],
        version=data.get("version"),
    )


async def surveyed(db: AsyncSession, household_id: int) -> service.SurveyView:
    view = await service.save_survey(db, await principal(db, "cw_a"), household_id, example_survey())
    await db.commit()
    return view
