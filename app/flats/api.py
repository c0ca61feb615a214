"""Resettlement flats over JSON under /api/v1: buildings and units, the published order, the lottery, allocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.auth.deps import ApiPrincipal, Session
from app.core.params import BIGINT_MAX, INT_MAX, HouseholdId, VillageId
from app.flats import rules, service
from app.flats.schemas import (
    AllocationIn,
    AllocationOut,
    AreaCountOut,
    BuildingIn,
    BuildingOut,
    BulkOut,
    HouseholdFlatsOut,
    LotteryIn,
    LotteryOut,
    OrderEntryOut,
    OrderOut,
    ReleaseIn,
    UnitIn,
    UnitOut,
    UnitsBulkIn,
)

router = APIRouter(prefix="/api/v1", tags=["安置房源"])

ProjectId = Annotated[int, Path(ge=1, le=INT_MAX, title="征收项目编号")]
BuildingId = Annotated[int, Path(ge=1, le=INT_MAX, title="楼栋编号")]
UnitId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="房源编号")]
AllocationId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="分配编号")]

COMMON: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不在负责区域内"},
}
WRITE: dict[int | str, dict[str, Any]] = {
    **COMMON,
    400: {"description": "请求体无法解析"},
    409: {"description": "与现有数据冲突（如房源已分配、未轮到该户）"},
    422: {"description": "输入有误"},
}


def _building_out(row: service.BuildingRow) -> BuildingOut:
    return BuildingOut(
        id=row.building.id,
        project_id=row.building.project_id,
        name=row.building.name,
        total=row.total,
        available=row.available,
        by_area=[AreaCountOut(area=c.area, total=c.total, available=c.available) for c in row.by_area],
    )


def _order_out(view: service.OrderView) -> OrderOut:
    return OrderOut(
        project_id=view.project.id,
        village_id=view.village.id,
        method=view.method,
        method_label=view.method_label,
        seed=view.lottery.seed if view.lottery else None,
        drawn_at=view.lottery.drawn_at if view.lottery else None,
        algorithm=rules.LOTTERY_ALGORITHM,
        current_household_id=view.current.household.household_id if view.current else None,
        entries=[
            OrderEntryOut(
                position=e.position,
                household_id=e.household.household_id,
                register_no=e.household.register_no,
                head_name_masked=e.masked_name,
                agreement_number=e.household.agreement_number,
                signed_on=e.household.signed_on,
                areas_chosen=e.household.wanted,
                areas_left=e.left,
                allocated=[f.label for f in e.held],
                current=e.current,
            )
            for e in view.entries
        ],
    )


def _allocation_out(row: service.AllocationRow) -> AllocationOut:
    a = row.allocation
    return AllocationOut(
        id=a.id,
        unit_id=a.unit_id,
        household_id=a.household_id,
        building=row.building,
        number=row.unit.number,
        floor=row.unit.floor,
        area=row.unit.area,
        method=a.method,
        allocated_at=a.allocated_at,
        released_at=a.released_at,
    )


@router.get("/projects/{project_id}/buildings", responses=COMMON)
async def list_buildings(
    session: Session, principal: ApiPrincipal, project_id: ProjectId
) -> list[BuildingOut]:
    """一个征收项目的安置房楼栋，按面积统计房源总数和可分配套数。"""
    return [_building_out(r) for r in await service.list_buildings(session, principal, project_id)]


@router.post("/projects/{project_id}/buildings", status_code=201, responses=WRITE)
async def add_building(
    session: Session, principal: ApiPrincipal, project_id: ProjectId, body: BuildingIn
) -> BuildingOut:
    """登记安置房楼栋（县级管理员）。"""
    building = await service.add_building(session, principal, project_id, body)
    return _building_out(service.BuildingRow(building, []))


@router.get("/buildings/{building_id}/units", responses=COMMON)
async def list_units(session: Session, principal: ApiPrincipal, building_id: BuildingId) -> list[UnitOut]:
    """一栋楼的房源及是否已分配。"""
    rows = await service.building_units(session, principal, building_id)
    return [
        UnitOut(
            id=r.unit.id,
            building_id=r.unit.building_id,
            number=r.unit.number,
            floor=r.unit.floor,
            area=r.unit.area,
            allocated=r.allocated,
        )
        for r in rows
    ]


@router.post("/buildings/{building_id}/units", status_code=201, responses=WRITE)
async def add_unit(
    session: Session, principal: ApiPrincipal, building_id: BuildingId, body: UnitIn
) -> UnitOut:
    """登记一套房源：房号、楼层、建筑面积。"""
    unit = await service.add_unit(session, principal, building_id, body)
    return UnitOut(
        id=unit.id,
        building_id=unit.building_id,
        number=unit.number,
        floor=unit.floor,
        area=unit.area,
        allocated=False,
    )


@router.post("/buildings/{building_id}/units/bulk", status_code=201, responses=WRITE)
async def add_units_bulk(
    session: Session, principal: ApiPrincipal, building_id: BuildingId, body: UnitsBulkIn
) -> BulkOut:
    """批量登记房源：起始楼层至结束楼层，每层按给出的面积各一套，房号为“前缀 + 楼层 + 两位序号”（如 302）。"""
    units = await service.add_units_bulk(session, principal, building_id, body)
    return BulkOut(created=len(units), numbers=[u.number for u in units])


@router.get("/villages/{village_id}/flat-orders", responses=COMMON)
async def flat_orders(session: Session, principal: ApiPrincipal, village_id: VillageId) -> list[OrderOut]:
    """本村在各征收项目中公布的选房顺序（按签约顺序或按摇号顺序），含摇号种子和复核算法；户主姓名已遮挡。"""
    return [_order_out(v) for v in await service.orders_of_village(session, principal, village_id)]


@router.post("/villages/{village_id}/lottery", status_code=201, responses=WRITE)
async def draw_lottery(
    session: Session, principal: ApiPrincipal, village_id: VillageId, body: LotteryIn
) -> LotteryOut:
    """摇号：不填种子则由系统随机生成。种子和结果保存并公布，每个项目每村只摇一次。"""
    lottery = await service.draw_lottery(session, principal, body.project_id, village_id, body.seed)
    return LotteryOut(id=lottery.id, seed=lottery.seed, drawn_at=lottery.drawn_at, order=lottery.order)


@router.post("/units/{unit_id}/allocation", status_code=201, responses=WRITE)
async def allocate(
    session: Session, principal: ApiPrincipal, unit_id: UnitId, body: AllocationIn
) -> AllocationOut:
    """按公布的顺序把这套房分配给轮到的户；面积须与该户补偿核算选定的户型一致，一套房只能分配一次。"""
    allocation = await service.allocate(session, principal, unit_id, body.household_id)
    return _allocation_out(await service.allocation_row(session, allocation))


@router.post("/allocations/{allocation_id}/release", responses=WRITE)
async def release(
    session: Session, principal: ApiPrincipal, allocation_id: AllocationId, body: ReleaseIn
) -> AllocationOut:
    """退回已分配的房源（须填原因），房源重新可分配。"""
    allocation = await service.release(session, principal, allocation_id, body.reason)
    return _allocation_out(await service.allocation_row(session, allocation))


@router.get("/households/{household_id}/flats", responses=COMMON)
async def household_flats(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId
) -> HouseholdFlatsOut:
    """一户选定的安置房面积和分配情况（含已退回的记录）。"""
    found = await service.household_flats(session, principal, household_id)
    return HouseholdFlatsOut(
        household_id=household_id,
        areas_chosen=found.wanted,
        allocations=[_allocation_out(r) for r in found.allocations],
    )
