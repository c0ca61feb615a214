"""Buildings, units, the published order and allocation, on the real database (rolled back after each test)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.flats import rules, service
from app.flats.models import Allocation
from app.flats.schemas import BuildingIn, UnitIn, UnitsBulkIn
from app.households.models import Household
from tests.flats.factories import (
    OTHER_VILLAGE,
    STANDARD_UNITS,
    World,
    make_building,
    make_household,
    make_project,
    principal,
)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2022, 9, 1, hour, minute, tzinfo=UTC)


async def three_households(db: AsyncSession) -> tuple[World, list[int]]:
    """王建军 signs last, 李四海 first, 赵小红 (two flats) second; a cash household and an unsigned one too."""
    world = await make_project(db)
    late = await make_household(db, world, head="王建军", flats=("90.00",), signed_at=at(15))
    early = await make_household(db, world, head="李四海", flats=("75.00",), signed_at=at(9))
    middle = await make_household(db, world, head="赵小红", flats=("110.00", "90.00"), signed_at=at(10))
    await make_household(db, world, head="钱多多", flats=None, signed_at=at(8))
    await make_household(db, world, head="孙未签", flats=("90.00",), signed=False)
    await make_building(db, world, "1号楼", STANDARD_UNITS)
    return world, [early, middle, late]


async def test_signing_order(db: AsyncSession, seed: Any) -> None:
    world, expected = await three_households(db)
    cw = await principal(db, "cw_a")
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    assert view.method == "signing_order"
    assert [e.household.household_id for e in view.entries] == expected
    assert [e.masked_name for e in view.entries] == ["李*海", "赵*红", "王*军"]
    assert view.current is not None and view.current.household.household_id == expected[0]
    assert view.entries[1].household.wanted == [Decimal("110.00"), Decimal("90.00")]


async def test_allocate_in_turn_with_matching_area(db: AsyncSession, seed: Any) -> None:
    world, (early, middle, late) = await three_households(db)
    cw = await principal(db, "cw_a")
    u = world.units
    # Out of turn: says whose turn it is.
    with pytest.raises(Conflict) as exc:
        await service.allocate(db, cw, u["1号楼 102"].id, late)
    assert "还没轮到该户选房" in exc.value.message and "第 1 位 李*海" in exc.value.message
    # Another area than chosen.
    with pytest.raises(InvalidInput) as bad:
        await service.allocate(db, cw, u["1号楼 102"].id, early)
    assert "90.00㎡" in bad.value.message and "75.00㎡" in bad.value.message
    allocation = await service.allocate(db, cw, u["1号楼 101"].id, early)
    assert allocation.method == "signing_order"
    # Already has everything it chose.
    with pytest.raises(Conflict, match="已全部分配"):
        await service.allocate(db, cw, u["1号楼 103"].id, early)
    await service.allocate(db, cw, u["1号楼 103"].id, middle)
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    assert view.current is not None and view.current.household.household_id == middle  # one flat to go
    await service.allocate(db, cw, u["1号楼 102"].id, middle)
    await service.allocate(db, cw, u["1号楼 201"].id, late)
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    assert view.current is None
    flats = await service.allocations_for(db, middle)
    assert flats == [
        service.AllocatedFlat("1号楼", "102", 1, Decimal("90.00")),
        service.AllocatedFlat("1号楼", "103", 1, Decimal("110.00")),
    ]
    events = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "flat.allocate", AuditEvent.household_id == middle)
    )
    assert events == 2


async def test_a_unit_is_allocated_once(db: AsyncSession, seed: Any) -> None:
    world, (early, middle, _late) = await three_households(db)
    await make_household(db, world, head="周先到", flats=("90.00",), signed_at=at(7))
    cw = await principal(db, "cw_a")
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    first = view.entries[0].household.household_id
    await service.allocate(db, cw, world.units["1号楼 102"].id, first)
    # The next in turn (李四海, 75) cannot take it; give 李四海 101 so that 赵小红 (110 + 90) is in turn.
    await service.allocate(db, cw, world.units["1号楼 101"].id, early)
    with pytest.raises(Conflict) as exc:
        await service.allocate(db, cw, world.units["1号楼 102"].id, middle)
    assert "1号楼 102" in exc.value.message and "已分配给其他户" in exc.value.message
    # The session is still usable after the refused insert (it ran in a savepoint).
    await service.allocate(db, cw, world.units["1号楼 201"].id, middle)


async def test_database_refuses_a_second_live_allocation(db: AsyncSession, seed: Any) -> None:
    world, (early, middle, _late) = await three_households(db)
    unit = world.units["1号楼 102"]

    def row(household_id: int, released: datetime | None = None) -> Allocation:
        return Allocation(
            unit_id=unit.id,
            household_id=household_id,
            project_id=world.project.id,
            county_code="410727",
            area_path="x",
            method="signing_order",
            released_at=released,
        )

    db.add(row(early, released=at(12)))  # a released one does not count
    db.add(row(early))
    await db.flush()
    db.add(row(middle))
    with pytest.raises(IntegrityError, match="uq_allocations_unit_live"):
        async with db.begin_nested():
            await db.flush()


async def test_release_and_reallocate(db: AsyncSession, seed: Any) -> None:
    world, (early, middle, late) = await three_households(db)
    cw = await principal(db, "cw_a")
    u = world.units
    first = await service.allocate(db, cw, u["1号楼 101"].id, early)
    await service.allocate(db, cw, u["1号楼 103"].id, middle)
    await service.allocate(db, cw, u["1号楼 102"].id, middle)
    with pytest.raises(InvalidInput):
        await service.release(db, cw, first.id, " ")
    released = await service.release(db, cw, first.id, "户主要求更换楼层")
    assert released.released_at is not None
    with pytest.raises(Conflict, match="已于"):
        await service.release(db, cw, first.id, "再退一次")
    # Back in turn ahead of 王建军, and the unit is free again.
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    assert view.current is not None and view.current.household.household_id == early
    with pytest.raises(Conflict, match="李\\*海"):
        await service.allocate(db, cw, u["1号楼 201"].id, late)
    again = await service.allocate(db, cw, u["1号楼 101"].id, early)
    assert again.id != first.id
    found = await service.household_flats(db, cw, early)
    assert [(r.unit.number, r.release_reason) for r in found.allocations] == [
        ("101", None),
        ("101", "户主要求更换楼层"),
    ]
    assert len(found.live) == 1


async def test_lottery(db: AsyncSession, seed: Any) -> None:
    world, _ids = await three_households(db)
    cw = await principal(db, "cw_a")
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    pairs = [(e.household.household_id, e.household.register_no) for e in view.entries]
    lottery = await service.draw_lottery(db, cw, world.project.id, world.village_id, " seed-42 ")
    assert lottery.seed == "seed-42"
    assert lottery.order == rules.lottery_order("seed-42", pairs)
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    assert view.method == "lottery"
    assert [e.household.household_id for e in view.entries] == lottery.order
    with pytest.raises(Conflict, match="不能重摇"):
        await service.draw_lottery(db, cw, world.project.id, world.village_id, None)
    # A household signing after the draw comes after the drawn ones.
    late = await make_household(db, world, head="吴后签", flats=("90.00",), signed_at=at(18))
    view = await service.order_for(db, cw, world.project.id, world.village_id)
    assert [e.household.household_id for e in view.entries] == [*lottery.order, late]
    first = view.entries[0]
    unit = next(u for u in world.units.values() if u.area == first.household.wanted[0])
    allocation = await service.allocate(db, cw, unit.id, first.household.household_id)
    assert (allocation.method, allocation.lottery_id) == ("lottery", lottery.id)
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "lottery.draw").order_by(AuditEvent.seq.desc())
    )
    assert event is not None and event.after is not None and event.after["seed"] == "seed-42"


async def test_generated_seed_and_no_lottery_once_choosing_started(db: AsyncSession, seed: Any) -> None:
    world, (early, _m, _l) = await three_households(db)
    cw = await principal(db, "cw_a")
    await service.allocate(db, cw, world.units["1号楼 101"].id, early)
    with pytest.raises(Conflict, match="已按签约顺序开始选房"):
        await service.draw_lottery(db, cw, world.project.id, world.village_id, None)
    other = await make_project(db)
    await make_household(db, other, head="郑一", flats=("90.00",))
    lottery = await service.draw_lottery(db, cw, other.project.id, other.village_id, None)
    assert len(lottery.seed) == 16


async def test_scope_and_roles(db: AsyncSession, seed: Any) -> None:
    world, (early, _m, _l) = await three_households(db)
    unit = world.units["1号楼 101"]
    cw_b, rv, adm, cw = [await principal(db, u) for u in ("cw_b", "rv_a", "adm", "cw_a")]
    with pytest.raises(NotFound):
        await service.order_for(db, cw_b, world.project.id, world.village_id)
    with pytest.raises(NotFound):
        await service.allocate(db, cw_b, unit.id, early)
    with pytest.raises(NotFound):
        await service.household_flats(db, cw_b, early)
    with pytest.raises(Forbidden):
        await service.allocate(db, rv, unit.id, early)
    with pytest.raises(Forbidden):
        await service.allocate(db, adm, unit.id, early)
    with pytest.raises(Forbidden):
        await service.add_building(db, cw, world.project.id, BuildingIn(name="3号楼"))
    assert (await service.order_for(db, rv, world.project.id, world.village_id)).entries
    allocation = await service.allocate(db, cw, unit.id, early)
    with pytest.raises(NotFound):
        await service.release(db, await principal(db, "cw_y"), allocation.id, "不在辖区")
    # A household of another village of the project is not in this village's order.
    other = await make_project(db, villages=("410727101201", OTHER_VILLAGE))
    await make_building(db, other, "9号楼", [("101", 1, "90.00")])
    far = await make_household(db, other, head="冯远", village=OTHER_VILLAGE)
    with pytest.raises(NotFound):
        await service.allocate(db, cw, other.units["9号楼 101"].id, far)
    # Allocated there, the unit shows as taken to cw_a, without saying to whom.
    await service.allocate(db, SYSTEM, other.units["9号楼 101"].id, far)
    listed = await service.building_units(db, cw, other.buildings["9号楼"].id)
    assert [(r.allocated, r.holder) for r in listed] == [(True, None)]
    listed = await service.building_units(db, rv, other.buildings["9号楼"].id)
    assert listed[0].holder is not None and listed[0].holder.startswith("冯*（")


async def test_buildings_and_units(db: AsyncSession, seed: Any) -> None:
    world = await make_project(db)
    adm = await principal(db, "adm")
    building = await service.add_building(db, adm, world.project.id, BuildingIn(name="5号楼"))
    with pytest.raises(Conflict):
        await service.add_building(db, adm, world.project.id, BuildingIn(name="5号楼"))
    units = await service.add_units_bulk(
        db, adm, building.id, UnitsBulkIn(floor_from=1, floor_to=2, areas=[Decimal("75"), Decimal("90")])
    )
    assert [u.number for u in units] == ["101", "102", "201", "202"]
    with pytest.raises(Conflict, match="101"):
        await service.add_units_bulk(
            db, adm, building.id, UnitsBulkIn(floor_from=1, floor_to=1, areas=[Decimal("75")])
        )
    await service.add_unit(db, adm, building.id, UnitIn(number="顶层301", floor=3, area=Decimal("110.5")))
    with pytest.raises(Conflict, match="顶层301"):
        await service.add_unit(db, adm, building.id, UnitIn(number="顶层301", floor=3, area=Decimal("110")))
    hid = await make_household(db, world, head="陈一", flats=("90.00",))
    await service.allocate(db, await principal(db, "cw_a"), units[1].id, hid)
    rows = await service.list_buildings(db, adm, world.project.id)
    assert [(r.building.name, r.total, r.available) for r in rows] == [("5号楼", 5, 4)]
    assert [(c.area, c.total, c.available) for c in rows[0].by_area] == [
        (Decimal("75.00"), 2, 2),
        (Decimal("90.00"), 2, 1),
        (Decimal("110.50"), 1, 1),
    ]
    listed = await service.building_units(db, await principal(db, "cw_a"), building.id)
    household = await db.get(Household, hid)
    assert household is not None
    assert [r.holder for r in listed if r.allocated] == [f"陈*（{household.register_no}）"]


async def test_ensure_demo_flats(db: AsyncSession, seed: Any) -> None:
    world = await make_project(db)
    assert await service.ensure_demo_flats(db, "NO-SUCH-PROJECT") == 0
    assert await service.ensure_demo_flats(db, world.project.code) == 36
    assert await service.ensure_demo_flats(db, world.project.code) == 0
    rows = await service.list_buildings(db, await principal(db, "adm"), world.project.id)
    assert [(r.building.name, r.total) for r in rows] == [("1号楼", 18), ("2号楼", 18)]
    assert {c.area for c in rows[0].by_area} == {Decimal("75.00"), Decimal("90.00"), Decimal("110.00")}
