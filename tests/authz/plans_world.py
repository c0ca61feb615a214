"""What the authorisation matrix aims plan routes at (issue 3, projects and plans): per county three projects over
its seeded villages — one whose villages have a draft version, one with a submitted version, one with no version
yet (for a new first version) — and a project per village, all made by the county's admin inside the probe's
rolled-back transaction."""

from __future__ import annotations

import itertools
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.models import User
from app.plans import service
from app.plans.schemas import demo_params
from app.plans.views import PlanForm
from tests.seed import AREAS, HOUSEHOLDS, SEED

if TYPE_CHECKING:
    from tests.authz.test_matrix import Aim, World

PLAN_KINDS = frozenset({"project", "draft_plan", "submitted_plan"})
DEADLINE = date(2022, 9, 30)
_SERIAL = itertools.count(1)
_COUNTY_ADMINS = {"410727": "adm", "410726": "adm_y"}


async def add_plans(db: AsyncSession, world: World) -> None:
    village_of = {label: village for label, village, _group, _no, _people in HOUSEHOLDS}
    counties = {code for code, _name, level, _parent in AREAS if level == "county"}
    params = demo_params(DEADLINE)
    found: dict[str, dict[Any, Any]] = {kind: {} for kind in (*PLAN_KINDS, "lock")}
    for county in sorted(counties):
        user = await db.scalar(select(User).where(User.username == _COUNTY_ADMINS[county]))
        assert user is not None
        admin = await auth.principal_for(db, user)
        labels = [label for label, village in village_of.items() if village.startswith(county)]
        villages = [(SEED.areas[village_of[label]], f"V{i}") for i, label in enumerate(labels)]
        n = next(_SERIAL)
        projects = {
            kind: await service.create_project(
                db, admin, code=f"MX{n}-{i}", name="矩阵项目", villages=villages
            )
            for i, kind in enumerate(("draft_plan", "submitted_plan", "project"))
        }
        for label in labels:
            village_id = SEED.areas[village_of[label]]
            # Aimed from inside the caller's areas, a project is the county's, over every village, so that it
            # pairs with any village the caller may aim at; from outside, a project of the label's village alone,
            # which pairs with none of the caller's villages.
            own = await service.create_project(
                db, admin, code=f"MX{n}-{label.upper()}", name="矩阵项目", villages=[(village_id, "V")]
            )
            found["project"][(label, True)] = projects["project"].id
            found["project"][(label, False)] = own.id
            draft = await service.new_draft(db, admin, projects["draft_plan"].id, village_id, params)
            found["draft_plan"][label], found["lock"][label] = draft.id, draft.lock_version
            submitted = await service.new_draft(db, admin, projects["submitted_plan"].id, village_id, params)
            await service.submit(db, admin, submitted.id)
            found["submitted_plan"][label] = submitted.id
    await db.commit()
    world.extra.update(found)


def _changed_params(aim: Aim) -> dict[str, Any]:
    return demo_params(DEADLINE).stored() | {"signing_bonus_per_person": f"{10000 + aim.world.serial()}.00"}


def project_body(aim: Aim) -> dict[str, Any]:
    return {
        "code": f"MXP{aim.world.serial()}",
        "name": "矩阵新项目",
        "villages": [{"village_id": aim["village_id"], "abbr": "MX"}],
    }


def web_project_body(aim: Aim) -> dict[str, Any]:
    village = aim["village_id"]
    return {
        "code": f"MXP{aim.world.serial()}",
        "name": "矩阵新项目",
        f"village_{village}": "1",
        f"abbr_{village}": "MX",
    }


def first_version_body(aim: Aim) -> dict[str, Any]:
    return {"params": demo_params(DEADLINE).stored()}


def web_first_version_body(aim: Aim) -> dict[str, Any]:
    return dict(PlanForm.of(demo_params(DEADLINE).stored()).state.values)


def plan_update_body(aim: Aim) -> dict[str, Any]:
    return {"params": _changed_params(aim), "lock_version": aim.world.extra["lock"][aim.label("plan_id")]}


def web_plan_edit_body(aim: Aim) -> dict[str, Any]:
    lock = aim.world.extra["lock"][aim.label("plan_id")]
    return dict(PlanForm.of(_changed_params(aim), lock_version=lock).state.values)


def send_back_body(aim: Aim) -> dict[str, Any]:
    return {"comment": "矩阵退回意见"}


def approve_body(aim: Aim) -> dict[str, Any]:
    return {"confirm": "1"}
