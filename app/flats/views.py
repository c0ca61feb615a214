"""Pages for resettlement flats (安置房源): buildings and units (admin), the published choosing order with its
lottery seed, allocation in that order and release (caseworker), and the household tab 安置房.

Authorisation stays in ``app.flats.service`` (and ``app.auth.policy``); forms are only shown to someone who could
submit them. POST → redirect → GET with a short confirmation; errors re-render the page with the message next to
its field and what was typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal
from app.core.params import BIGINT_MAX, INT_MAX, HouseholdId, VillageId
from app.flats import rules, service
from app.flats.schemas import AllocateForm, BuildingIn, LotteryIn, ReleaseIn, UnitIn, UnitsBulkIn
from app.households.views import household_frame
from app.payments import compensation as payables
from app.web.forms import FormState, attempt, read_form, validate
from app.web.templating import flash, render

router = APIRouter()

ProjectId = Annotated[int, Path(ge=1, le=INT_MAX, title="征收项目编号")]
BuildingId = Annotated[int, Path(ge=1, le=INT_MAX, title="楼栋编号")]
AllocationId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="分配编号")]

BUILDING_FIELDS = ("name",)
UNIT_FIELDS = ("number", "floor", "area")
BULK_FIELDS = ("prefix", "floor_from", "floor_to", "areas")
LOTTERY_FIELDS = ("seed", "confirm")
ALLOCATE_FIELDS = ("unit_id",)
RELEASE_FIELDS = ("reason",)


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _order_url(village_id: int) -> str:
    return f"/villages/{village_id}/flats"


# ---------------------------------------------------------------------------------------------- the index


@router.get("/flats")
async def flats_index(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    rows = await service.project_villages(session, principal)
    return render(request, "flats/index.html", {"rows": rows})


# ------------------------------------------------------------------------------------------------ buildings


async def _buildings_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    project = await service.get_project(session, principal, project_id)
    rows = await service.list_buildings(session, principal, project_id)
    villages = [r for r in await service.project_villages(session, principal) if r.project.id == project_id]
    return render(
        request,
        "flats/buildings.html",
        {
            "project": project,
            "rows": rows,
            "villages": villages,
            "form": form or FormState.of(BUILDING_FIELDS),
            "can_manage": principal.can(Perm.PROJECTS_MANAGE),
        },
        status_code=status_code,
    )


@router.get("/projects/{project_id}/buildings")
async def buildings(
    request: Request, session: Session, principal: WebPrincipal, project_id: ProjectId
) -> HTMLResponse:
    return await _buildings_page(request, session, principal, project_id)


@router.post("/projects/{project_id}/buildings", response_model=None)
async def building_new(
    request: Request, session: Session, principal: WebPrincipal, project_id: ProjectId
) -> Response:
    state = FormState.of(BUILDING_FIELDS, await read_form(request))
    data = validate(BuildingIn, state)
    if data is not None:
        building = await attempt(
            session, state, lambda: service.add_building(session, principal, project_id, data)
        )
        if building is not None:
            response = _see_other(f"/buildings/{building.id}")
            flash(response, f"已保存：新增楼栋 {building.name}，请登记房源")
            return response
    return await _buildings_page(request, session, principal, project_id, state, state.status)


# ------------------------------------------------------------------------------------------------ units


async def _building_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    building_id: int,
    *,
    unit_form: FormState | None = None,
    bulk_form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    building, project = await service.get_building(session, principal, building_id)
    units = await service.building_units(session, principal, building_id)
    return render(
        request,
        "flats/building.html",
        {
            "building": building,
            "project": project,
            "units": units,
            "available": sum(1 for u in units if not u.allocated),
            "unit_form": unit_form or FormState.of(UNIT_FIELDS),
            "bulk_form": bulk_form or FormState.of(BULK_FIELDS, {"floor_from": 1}),
            "can_manage": principal.can(Perm.PROJECTS_MANAGE),
            "max_units": rules.BULK_MAX_UNITS,
        },
        status_code=status_code,
    )


@router.get("/buildings/{building_id}")
async def building(
    request: Request, session: Session, principal: WebPrincipal, building_id: BuildingId
) -> HTMLResponse:
    return await _building_page(request, session, principal, building_id)


@router.post("/buildings/{building_id}/units", response_model=None)
async def unit_new(
    request: Request, session: Session, principal: WebPrincipal, building_id: BuildingId
) -> Response:
    state = FormState.of(UNIT_FIELDS, await read_form(request))
    data = validate(UnitIn, state)
    if data is not None:
        unit = await attempt(session, state, lambda: service.add_unit(session, principal, building_id, data))
        if unit is not None:
            response = _see_other(f"/buildings/{building_id}")
            flash(
                response, f"已保存：新增房源 {unit.number}（{unit.floor}层，{rules.format_area(unit.area)}）"
            )
            return response
    return await _building_page(
        request, session, principal, building_id, unit_form=state, status_code=state.status
    )


@router.post("/buildings/{building_id}/units/bulk", response_model=None)
async def units_bulk(
    request: Request, session: Session, principal: WebPrincipal, building_id: BuildingId
) -> Response:
    state = FormState.of(BULK_FIELDS, await read_form(request))
    data = validate(UnitsBulkIn, state)
    if data is not None:
        units = await attempt(
            session, state, lambda: service.add_units_bulk(session, principal, building_id, data)
        )
        if units is not None:
            response = _see_other(f"/buildings/{building_id}")
            flash(response, f"已保存：批量登记房源 {len(units)} 套（{units[0].number}—{units[-1].number}）")
            return response
    return await _building_page(
        request, session, principal, building_id, bulk_form=state, status_code=state.status
    )


# ------------------------------------------------------------------------------------- the published order


@dataclass
class OrderSection:
    """One project's order on the village page, with the forms that act on it."""

    view: service.OrderView
    choices: list[tuple[int, str]]
    lottery_form: FormState
    allocate_form: FormState
    unpaid_difference: int = 0  # what the household whose turn it is still owes for its flats (fen)


async def _order_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    village_id: int,
    *,
    project_id: int | None = None,
    lottery_form: FormState | None = None,
    allocate_form: FormState | None = None,
    release_form: FormState | None = None,
    release_id: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The village's published order in each of its projects; a form that failed is shown again in the section
    of ``project_id``."""
    village = await service.get_village(session, principal, village_id)
    sections = []
    for view in await service.orders_of_village(session, principal, village_id):
        current = view.current
        choices: list[tuple[int, str]] = []
        unpaid = 0
        if current is not None and principal.can(Perm.FLATS_ALLOCATE):
            unpaid = await payables.unpaid_difference(
                session, current.household.household_id, view.project.id
            )
            for unit, building_name in await service.available_units(session, view.project.id, current.left):
                choices.append(
                    (
                        unit.id,
                        f"{building_name} {unit.number}（{unit.floor}层，{rules.format_area(unit.area)}）",
                    )
                )
        mine = view.project.id == project_id
        sections.append(
            OrderSection(
                view,
                choices,
                (lottery_form if mine and lottery_form else FormState.of(LOTTERY_FIELDS)),
                (allocate_form if mine and allocate_form else FormState.of(ALLOCATE_FIELDS)),
                unpaid,
            )
        )
    return render(
        request,
        "flats/order.html",
        {
            "village": village,
            "sections": sections,
            "algorithm": rules.LOTTERY_ALGORITHM,
            "lottery_key": rules.lottery_key,
            "can_allocate": principal.can(Perm.FLATS_ALLOCATE),
            "release_form": release_form or FormState.of(RELEASE_FIELDS),
            "release_id": release_id,
            "format_areas": rules.format_areas,
        },
        status_code=status_code,
    )


@router.get("/villages/{village_id}/flats")
async def order_page(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> HTMLResponse:
    return await _order_page(request, session, principal, village_id)


def _project_of(values: dict[str, str]) -> int | None:
    raw = values.get("project_id", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@router.post("/villages/{village_id}/lottery", response_model=None)
async def lottery_draw(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> Response:
    values = await read_form(request)
    state = FormState.of(LOTTERY_FIELDS, values)
    confirmed = values.get("confirm") == "yes"
    data = validate(LotteryIn, state) if confirmed else None
    if not confirmed:
        state.add("confirm", "请勾选确认：摇号结果一经公布不能重摇")
    if data is not None:
        lottery = await attempt(
            session,
            state,
            lambda: service.draw_lottery(session, principal, data.project_id, village_id, data.seed),
        )
        if lottery is not None:
            response = _see_other(_order_url(village_id))
            flash(response, f"已摇号：种子 {lottery.seed}，共 {len(lottery.order)} 户，选房顺序已公布")
            return response
    return await _order_page(
        request,
        session,
        principal,
        village_id,
        project_id=_project_of(values),
        lottery_form=state,
        status_code=state.status,
    )


@router.post("/villages/{village_id}/allocate", response_model=None)
async def allocate(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> Response:
    values = await read_form(request)
    state = FormState.of(ALLOCATE_FIELDS, values)
    data = validate(AllocateForm, state, choose=("unit_id",))
    if data is not None:

        async def allocate_unit() -> service.AllocationRow:
            allocation = await service.allocate(
                session,
                principal,
                data.unit_id,
                data.household_id,
                project_id=data.project_id,
                village_id=village_id,
            )
            return await service.allocation_row(session, allocation)

        row = await attempt(session, state, allocate_unit)
        if row is not None:
            response = _see_other(_order_url(village_id))
            flash(response, f"已分配：{row.building} {row.unit.number}（{rules.format_area(row.unit.area)}）")
            return response
    return await _order_page(
        request,
        session,
        principal,
        village_id,
        project_id=_project_of(values),
        allocate_form=state,
        status_code=state.status,
    )


@router.post("/allocations/{allocation_id}/release", response_model=None)
async def release(
    request: Request, session: Session, principal: WebPrincipal, allocation_id: AllocationId
) -> Response:
    state = FormState.of(RELEASE_FIELDS, await read_form(request))
    data = validate(ReleaseIn, state)
    _project_id, village_id = await service.allocation_target(session, principal, allocation_id)
    if data is not None:

        async def release_unit() -> service.AllocationRow:
            allocation = await service.release(session, principal, allocation_id, data.reason)
            return await service.allocation_row(session, allocation)

        row = await attempt(session, state, release_unit)
        if row is not None:
            response = _see_other(_order_url(village_id))
            flash(response, f"已退回：{row.building} {row.unit.number}，该房源可重新分配")
            return response
    return await _order_page(
        request,
        session,
        principal,
        village_id,
        release_form=state,
        release_id=allocation_id,
        status_code=state.status,
    )


# --------------------------------------------------------------------------------------- the household tab


@router.get("/households/{household_id}/flats")
async def household_flats(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    found = await service.household_flats(session, principal, household_id)
    context: dict[str, Any] = {**frame, "flats": found, "format_areas": rules.format_areas}
    return render(request, "flats/household.html", context)


# ---------------------------------------------------------------- public: 摇号结果公布


@router.get("/public/lotteries/{lottery_id}")
async def public_lottery_page(
    request: Request, session: Session, lottery_id: Annotated[int, Path(ge=1, le=INT_MAX)]
) -> HTMLResponse:
    """Public (no login): a drawn lottery's seed, algorithm and order, so anyone can recheck it."""
    published = await service.public_lottery(session, lottery_id)
    response = render(
        request, "flats/public_lottery.html", {"p": published, "algorithm": rules.LOTTERY_ALGORITHM}
    )
    response.headers["X-Robots-Tag"] = "noindex"
    return response
