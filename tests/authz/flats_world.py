"""What the authorisation matrix aims flats routes at (issue 3, flats), per seeded household label, inside the
probe's rolled-back transaction:

* ``flats_project``: a project over the label's village only, with a building of three 90 ㎡ units and one
  household (signed agreement, two 90 ㎡ flats chosen) that already holds the first unit — so it is that
  household's turn for its second flat;
* ``flats_fresh_project``: a second project over the village with one eligible household and no allocation yet
  (for a lottery), named by the request body after the aimed village;
* ``flats_building``, ``flats_unit`` (a free unit), ``flats_allocation`` (the live one), ``flats_household``;
* ``flats_village``: the label's village, as ``village`` — it only asks for this world to be built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.flats.models import Allocation
from tests.flats.factories import make_building, make_household, make_project
from tests.seed import HOUSEHOLDS, SEED

if TYPE_CHECKING:
    from tests.authz.test_matrix import Aim, World

FLATS_KINDS = frozenset(
    {
        "flats_project",
        "flats_fresh_project",
        "flats_building",
        "flats_unit",
        "flats_allocation",
        "flats_household",
        "flats_village",
    }
)


async def add_flats(db: AsyncSession, world: World) -> None:
    found: dict[str, dict[str, Any]] = {kind: {} for kind in FLATS_KINDS}
    for label, village, _group, _no, _people in HOUSEHOLDS:
        project = await make_project(db, (village,))
        household = await make_household(
            db, project, head="矩阵选房户", flats=("90.00", "90.00"), village=village
        )
        building = await make_building(
            db, project, "矩阵楼", [("101", 1, "90.00"), ("102", 1, "90.00"), ("103", 1, "90.00")]
        )
        allocation = Allocation(
            unit_id=project.units["矩阵楼 101"].id,
            household_id=household,
            project_id=project.project.id,
            county_code=village[:6],
            area_path=SEED.paths[village],
            method="signing_order",
        )
        db.add(allocation)
        fresh = await make_project(db, (village,))
        await make_household(db, fresh, head="矩阵摇号户", flats=("90.00",), village=village)
        await db.flush()
        found["flats_project"][label] = project.project.id
        found["flats_fresh_project"][label] = fresh.project.id
        found["flats_building"][label] = building.id
        found["flats_unit"][label] = project.units["矩阵楼 102"].id
        found["flats_allocation"][label] = allocation.id
        found["flats_household"][label] = household
        found["flats_village"][label] = SEED.areas[village]
    await db.commit()
    world.extra.update(found)


def building_body(aim: Aim) -> dict[str, Any]:
    return {"name": f"矩阵{aim.world.serial()}号楼"}


def unit_body(aim: Aim) -> dict[str, Any]:
    return {"number": f"M{aim.world.serial()}", "floor": 2, "area": "90.00"}


def bulk_body(aim: Aim) -> dict[str, Any]:
    return {"prefix": f"M{aim.world.serial()}-", "floor_from": 1, "floor_to": 2, "areas": "75 90"}


def api_bulk_body(aim: Aim) -> dict[str, Any]:
    return {**bulk_body(aim), "areas": ["75.00", "90.00"]}


def lottery_body(aim: Aim) -> dict[str, Any]:
    """The fresh project of the aimed village (a lottery is drawn per project and village)."""
    return {"project_id": aim.world.extra["flats_fresh_project"][aim.label("village_id")], "seed": "matrix-1"}


def web_lottery_body(aim: Aim) -> dict[str, Any]:
    return {**lottery_body(aim), "confirm": "yes"}


def allocation_body(aim: Aim) -> dict[str, Any]:
    return {"household_id": aim["household_id"]}


def web_allocate_body(aim: Aim) -> dict[str, Any]:
    label = aim.label("village_id")
    return {
        "project_id": aim.world.extra["flats_project"][label],
        "household_id": aim["household_id"],
        "unit_id": aim.world.extra["flats_unit"][label],
    }


def release_body(aim: Aim) -> dict[str, Any]:
    return {"reason": "矩阵退回原因"}
