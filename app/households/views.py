"""Caseworker pages for the registry: 我的村 → 户列表 → 户详情 → forms for households and their members.

Authorisation stays in the services (and ``app.auth.policy``); a form page is only shown to someone who could
submit it. After a successful save: redirect (303) and a short confirmation naming what changed. ID numbers travel
only in POST bodies, never in a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.audit import service as audit
from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal, authorize, scope_clause
from app.core.idcard import InvalidIdNumber, looks_like_id_number, parse_id_number
from app.core.params import HouseholdId, MemberId, PageNo, VillageId
from app.core.text import QueryText, is_clean
from app.dashboard import service as dashboard
from app.households import progress, service
from app.households.models import RELATIONS, Household, Member
from app.households.schemas import HouseholdIn, HouseholdUpdate, MemberIn, MemberMove, MemberUpdate
from app.roster import exports
from app.web.forms import FormState, attempt, clamp_page, pager, read_form, validate
from app.web.history import FIELD_LABELS, history_rows
from app.web.templating import flash, render

router = APIRouter()

PAGE_SIZE = 20
VILLAGE_PAGE_SIZE = 50  # 我的村: a county has hundreds of villages
STAGE_COLUMNS = ("surveyed", "signed", "vacated", "settled")  # 我的村's progress columns
SEARCH_MAX_CHARS = 50

HOUSEHOLD_NEW_FIELDS = ("group_id", "register_no", "address", "head_name", "head_id_number", "head_phone")
HOUSEHOLD_EDIT_FIELDS = ("group_id", "register_no", "address")
MEMBER_NEW_FIELDS = ("name", "id_number", "relation", "phone", "registered_on")
MEMBER_EDIT_FIELDS = ("name", "relation", "status", "phone", "id_number", "registered_on")
MOVE_FIELDS = ("target_register_no", "relation")
SELECTS = ("group_id", "relation", "status")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _head(row: service.HouseholdRow) -> str:
    """Who a household is known by on a confirmation: its head, or its register number when it has none."""
    return row.head_name or f"户口簿编号 {row.household.register_no} 户"


def _owner(row: service.HouseholdRow) -> str:
    return f"{row.head_name or ''}户（户口簿编号 {row.household.register_no}）"


def _changed_labels(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [FIELD_LABELS.get(k, k) for k in after if before.get(k) != after.get(k)]


# ---------------------------------------------------------------- villages and the household list


@router.get("/villages")
async def villages(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    q: Annotated[QueryText | None, Query(max_length=SEARCH_MAX_CHARS, title="村或乡镇名称")] = None,
    page: PageNo = 1,
) -> HTMLResponse:
    """我的村: the villages in the caller's areas with their households, people and progress (how many
    households have reached each stage), found by a fragment of the village's or township's name, paged."""
    q = (q or "").strip()
    every = await service.list_villages(session, principal)
    rows = [r for r in every if q in r.village.name or q in r.township_name] if q else every
    totals = (sum(r.household_count for r in rows), sum(r.member_count for r in rows))
    page = clamp_page(page, len(rows), VILLAGE_PAGE_SIZE)
    shown = rows[(page - 1) * VILLAGE_PAGE_SIZE : page * VILLAGE_PAGE_SIZE]
    # the stages of the villages on this page only: a county's hundreds are counted on their dashboard
    reached = {
        village_id: {s.code: s.reached.households for s in stage_rows}
        for village_id, stage_rows in (
            await dashboard.village_stages(session, principal, [r.village.id for r in shown])
        ).items()
    }
    return render(
        request,
        "villages.html",
        {
            "rows": shown,
            "total_villages": len(every),
            "found": len(rows),
            "q": q,
            "totals": totals,
            "progress": {r.village.id: reached.get(r.village.id, {}) for r in shown},
            # summed when every village found is on this page
            "stage_totals": {
                code: sum(reached.get(r.village.id, {}).get(code, 0) for r in shown) for code in STAGE_COLUMNS
            }
            if len(shown) == len(rows)
            else None,
            "searchable": len(every) > VILLAGE_PAGE_SIZE or bool(q),
            "page_size": VILLAGE_PAGE_SIZE,
            "pager": pager(
                request.url.path, {"q": q}, page=page, total=len(rows), page_size=VILLAGE_PAGE_SIZE
            ),
        },
    )


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


@router.get("/villages/{village_id}/households")
async def households(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    village_id: VillageId,
    q: Annotated[QueryText | None, Query(max_length=SEARCH_MAX_CHARS, title="姓名")] = None,
    page: PageNo = 1,
) -> HTMLResponse:
    village = await service.get_village(session, principal, village_id)
    q = (q or "").strip()
    rows, total = await service.list_households(
        session, principal, village_id, q=q or None, page=page, page_size=PAGE_SIZE
    )
    links = pager(request.url.path, {"q": q}, page=page, total=total, page_size=PAGE_SIZE)
    return render(
        request,
        "households.html",
        {
            "village": village,
            "rows": rows,
            "total": total,
            "q": q,
            "pager": links,
            "by_id_number": False,
        },
    )


# The list's columns, on the page (households.html) and in its XLSX download alike.
HOUSEHOLD_HEADERS = ("户口簿编号", "户主", "村民小组", "住址", "在册人数")
EXPORT_MAX_ROWS = 100_000


def household_cells(r: service.HouseholdRow) -> tuple[object, ...]:
    return (
        r.household.register_no,
        r.head_name or "（暂无在册户主）",
        r.group_name or "未分组",
        r.household.address,
        r.member_count,
    )


@router.get("/villages/{village_id}/households.xlsx")
async def households_xlsx(
    session: Session,
    principal: WebPrincipal,
    village_id: VillageId,
    q: Annotated[QueryText | None, Query(max_length=SEARCH_MAX_CHARS, title="姓名")] = None,
) -> Response:
    """The household list (all pages, the same name filter) as XLSX; the download is audited."""
    village = await service.get_village(session, principal, village_id)
    q = (q or "").strip()
    rows, _total = await service.list_households(
        session, principal, village_id, q=q or None, page=1, page_size=EXPORT_MAX_ROWS
    )
    return await exports.audited_xlsx(
        session,
        principal,
        what="households",
        detail={"village": village.name, "village_id": village.id, "q": q or None},
        title=f"{village.name}户列表",
        headers=HOUSEHOLD_HEADERS,
        rows=[household_cells(r) for r in rows],
        text_columns=(0,),
        filename=f"{village.name}户列表{'-' + q if q else ''}.xlsx",
    )


@router.get("/villages/{village_id}/households/search")
async def search_again(village_id: VillageId) -> RedirectResponse:
    """Someone who logged in half-way through a search lands here: back to the list."""
    return _see_other(f"/villages/{village_id}/households")


@router.post("/villages/{village_id}/households/search", response_model=None)
async def search(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> Response:
    """One search box: a name fragment goes to the (bookmarkable) list; an ID number is answered here, in the
    POST response, so that it never appears in a URL, a redirect or an access log."""
    values = await read_form(request)
    village = await service.get_village(session, principal, village_id)
    text = values.get("q", "").strip()
    list_url = f"/villages/{village.id}/households"
    if not text:
        return _see_other(list_url)
    # Names have no digits: anything with a digit is taken as an (attempted) ID number and kept out of the URL.
    if looks_like_id_number(text) or _has_digit(text):
        context: dict[str, Any] = {
            "village": village,
            "q": text,
            "by_id_number": True,
            "pager": None,
            "rows": [],
            "total": 0,
        }
        try:
            parse_id_number(text)
        except InvalidIdNumber as exc:
            context["search_error"] = str(exc)
            return render(request, "households.html", context, status_code=422)
        found = await service.find_by_id_number(session, principal, text)
        context["rows"] = [r for r in found if r.household.village_id == village.id]
        context["total"] = len(context["rows"])
        return render(request, "households.html", context)
    if len(text) > SEARCH_MAX_CHARS or not is_clean(text):
        return render(
            request,
            "households.html",
            {
                "village": village,
                "q": text,
                "by_id_number": False,
                "pager": None,
                "rows": [],
                "total": 0,
                "search_error": f"姓名最多 {SEARCH_MAX_CHARS} 个字，且不能含有特殊字符",
            },
            status_code=422,
        )
    return _see_other(f"{list_url}?{urlencode({'q': text, 'page': 1})}")


# ---------------------------------------------------------------- a new household


async def _group_options(session: AsyncSession, village_id: int) -> list[tuple[int, str]]:
    return [(g.id, g.name) for g in await service.groups_of(session, village_id)]


async def _new_household_context(
    session: AsyncSession, principal: Principal, village_id: int
) -> dict[str, Any]:
    village = await service.get_village(session, principal, village_id)
    authorize(principal, Perm.REGISTRY_WRITE, village.path)
    return {"village": village, "groups": await _group_options(session, village.id)}


@router.get("/villages/{village_id}/households/new")
async def household_new_form(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> HTMLResponse:
    context = await _new_household_context(session, principal, village_id)
    return render(
        request,
        "household_form.html",
        {**context, "form": FormState.of(HOUSEHOLD_NEW_FIELDS), "household": None},
    )


@router.post("/villages/{village_id}/households/new", response_model=None)
async def household_new(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> Response:
    state = FormState.of(HOUSEHOLD_NEW_FIELDS, await read_form(request))
    data = validate(HouseholdIn, state, extra={"village_id": village_id}, choose=SELECTS)
    if data is not None:
        household = await attempt(
            session,
            state,
            lambda: service.create_household(session, principal, data),
            rename={"id_number": "head_id_number", "village_id": "group_id"},
        )
        if household is not None:
            response = _see_other(f"/households/{household.id}")
            flash(response, f"已保存：新增被征收户 户主 {data.head_name}（户口簿编号 {data.register_no}）")
            return response
    context = await _new_household_context(session, principal, village_id)
    return render(
        request,
        "household_form.html",
        {**context, "form": state, "household": None},
        status_code=state.status,
    )


# ---------------------------------------------------------------- the household page


async def household_frame(session: AsyncSession, principal: Principal, household_id: int) -> dict[str, Any]:
    """What every household tab page shows above its own content: header, progress hint, tab bar.

    Tab pages render a template that extends ``household_page.html`` with ``{**frame, ...}``."""
    row = await service.household_row(session, principal, household_id)
    members = list(await service.members_of(session, household_id))
    return {
        "row": row,
        "household": row.household,
        "members": members,
        "next_step": await progress.next_step(session, principal, household_id, members),
        "can_write": principal.can(Perm.REGISTRY_WRITE),
    }


async def _household_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    household_id: int,
    *,
    revealed: Mapping[int, str] | None = None,
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    events = await audit.household_history(session, household_id)
    history = await history_rows(session, events, member_names={m.id: m.name for m in frame["members"]})
    return render(
        request,
        "household.html",
        {
            **frame,
            "history": history,
            "revealed": revealed or {},
            "can_reveal": principal.can(Perm.ID_REVEAL),
        },
    )


@router.get("/households/{household_id}")
async def household_page(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    return await _household_page(request, session, principal, household_id)


# ---------------------------------------------------------------- editing a household


async def _household_edit_context(
    session: AsyncSession, principal: Principal, household_id: int
) -> dict[str, Any]:
    row = await service.household_row(session, principal, household_id)
    authorize(principal, Perm.REGISTRY_WRITE, row.household.area_path)
    village = await service.get_village(session, principal, row.household.village_id)
    return {
        "row": row,
        "household": row.household,
        "village": village,
        "groups": await _group_options(session, village.id),
    }


@router.get("/households/{household_id}/edit")
async def household_edit_form(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    context = await _household_edit_context(session, principal, household_id)
    h: Household = context["household"]
    form = FormState.of(
        HOUSEHOLD_EDIT_FIELDS,
        {"group_id": h.group_id, "register_no": h.register_no, "address": h.address, "version": h.version},
    )
    return render(request, "household_form.html", {**context, "form": form})


@router.post("/households/{household_id}/edit", response_model=None)
async def household_edit(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> Response:
    state = FormState.of(HOUSEHOLD_EDIT_FIELDS, await read_form(request))
    data = validate(HouseholdUpdate, state, choose=SELECTS)
    if data is not None:
        row = await service.household_row(session, principal, household_id)
        before = service.household_snapshot(row.household)
        household = await attempt(
            session, state, lambda: service.update_household(session, principal, household_id, data)
        )
        if household is not None:
            changed = _changed_labels(before, service.household_snapshot(household))
            response = _see_other(f"/households/{household_id}")
            flash(
                response,
                f"已保存：{_head(row)}的户信息（修改 {'、'.join(changed)}）"
                if changed
                else f"未作修改：{_head(row)}的户信息与原来相同",
            )
            return response
    context = await _household_edit_context(session, principal, household_id)
    return render(request, "household_form.html", {**context, "form": state}, status_code=state.status)


# ---------------------------------------------------------------- adding a member


async def _member_new_context(
    session: AsyncSession, principal: Principal, household_id: int
) -> dict[str, Any]:
    row = await service.household_row(session, principal, household_id)
    authorize(principal, Perm.REGISTRY_WRITE, row.household.area_path)
    return {"row": row, "household": row.household, "member": None}


@router.get("/households/{household_id}/members/new")
async def member_new_form(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    context = await _member_new_context(session, principal, household_id)
    return render(request, "member_form.html", {**context, "form": FormState.of(MEMBER_NEW_FIELDS)})


@router.post("/households/{household_id}/members/new", response_model=None)
async def member_new(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> Response:
    state = FormState.of(MEMBER_NEW_FIELDS, await read_form(request))
    data = validate(MemberIn, state, choose=SELECTS)
    if data is not None:
        member = await attempt(
            session, state, lambda: service.add_member(session, principal, household_id, data)
        )
        if member is not None:
            row = await service.household_row(session, principal, household_id)
            response = _see_other(f"/households/{household_id}")
            flash(response, f"已保存：{_head(row)}的家庭成员（新增 1 人：{member.name}）")
            return response
    context = await _member_new_context(session, principal, household_id)
    return render(request, "member_form.html", {**context, "form": state}, status_code=state.status)


# ---------------------------------------------------------------- editing a member


async def _member_context(session: AsyncSession, principal: Principal, member_id: int) -> dict[str, Any]:
    member, household = await service.get_member(session, principal, member_id)
    authorize(principal, Perm.REGISTRY_WRITE, household.area_path)
    row = await service.household_row(session, principal, household.id)
    return {"row": row, "household": household, "member": member}


@router.get("/members/{member_id}/edit")
async def member_edit_form(
    request: Request, session: Session, principal: WebPrincipal, member_id: MemberId
) -> HTMLResponse:
    context = await _member_context(session, principal, member_id)
    m: Member = context["member"]
    form = FormState.of(
        MEMBER_EDIT_FIELDS,
        {
            "name": m.name,
            "relation": m.relation,
            "status": m.status,
            "phone": m.phone,
            "registered_on": m.registered_on.isoformat() if m.registered_on else "",
            "version": m.version,
        },
    )
    return render(request, "member_form.html", {**context, "form": form})


@router.post("/members/{member_id}/edit", response_model=None)
async def member_edit(
    request: Request, session: Session, principal: WebPrincipal, member_id: MemberId
) -> Response:
    state = FormState.of(MEMBER_EDIT_FIELDS, await read_form(request))
    data = validate(MemberUpdate, state, choose=SELECTS)
    if data is not None:
        old, household = await service.get_member(session, principal, member_id)
        before, old_hash = service.member_snapshot(old), old.id_number_hash
        member = await attempt(
            session, state, lambda: service.update_member(session, principal, member_id, data)
        )
        if member is not None:
            changed = _changed_labels(before, service.member_snapshot(member))
            if member.id_number_hash != old_hash and "身份证号" not in changed:
                changed.append("身份证号")  # corrected digits may hide behind the same masked form
            row = await service.household_row(session, principal, household.id)
            response = _see_other(f"/households/{household.id}")
            flash(
                response,
                f"已保存：{_head(row)}的家庭成员（修改 {member.name}：{'、'.join(changed)}）"
                if changed
                else f"未作修改：{member.name}的信息与原来相同",
            )
            return response
    context = await _member_context(session, principal, member_id)
    return render(request, "member_form.html", {**context, "form": state}, status_code=state.status)


# ---------------------------------------------------------------- moving a member to another household


async def _household_by_register_no(
    session: AsyncSession, principal: Principal, register_no: str
) -> Household | None:
    """A household in the caller's areas by its 户口簿编号 (unique within a county)."""
    return await session.scalar(
        select(Household).where(
            Household.register_no == register_no,
            Household.county_code == principal.county_code,
            scope_clause(principal, Household.area_path),
        )
    )


@router.get("/members/{member_id}/move")
async def member_move_form(
    request: Request, session: Session, principal: WebPrincipal, member_id: MemberId
) -> HTMLResponse:
    context = await _member_context(session, principal, member_id)
    form = FormState.of(MOVE_FIELDS)
    if context["member"].status != "registered":
        form.add(None, "只能迁移在册成员")
    return render(request, "member_move.html", {**context, "form": form})


async def _move_target(session: AsyncSession, principal: Principal, state: FormState) -> Household | None:
    register_no = state.value("target_register_no").strip()
    if not register_no:
        state.add("target_register_no", "请填写迁入户的户口簿编号")
        return None
    if len(register_no) > 32 or not is_clean(register_no):
        state.add("target_register_no", "户口簿编号格式不正确，请核对")
        return None
    target = await _household_by_register_no(session, principal, register_no)
    if target is None:
        state.add("target_register_no", f"找不到户口簿编号为 {register_no} 的户，或它不在您负责的区域内")
    return target


@router.post("/members/{member_id}/move", response_model=None)
async def member_move(
    request: Request, session: Session, principal: WebPrincipal, member_id: MemberId
) -> Response:
    state = FormState.of(MOVE_FIELDS, await read_form(request))
    _member, source = await service.get_member(session, principal, member_id)
    source_row = await service.household_row(session, principal, source.id)
    target = await _move_target(session, principal, state)
    data = validate(
        MemberMove,
        state,
        extra={"target_household_id": target.id} if target else None,
        choose=SELECTS,
        rename={"target_household_id": "target_register_no"},
    )
    if data is not None and target is not None:
        moved = await attempt(
            session,
            state,
            lambda: service.move_member(session, principal, member_id, data),
            rename={"target_household_id": "target_register_no"},
        )
        if moved is not None:
            target_row = await service.household_row(session, principal, target.id)
            response = _see_other(f"/households/{target.id}")
            flash(
                response,
                (
                    f"已保存：{moved.name} 已从{_owner(source_row)}迁入{_owner(target_row)}，"
                    f"在新户中为{RELATIONS[moved.relation]}"
                ),
            )
            return response
    context = await _member_context(session, principal, member_id)
    return render(request, "member_move.html", {**context, "form": state}, status_code=state.status)


# ---------------------------------------------------------------- showing a full ID number once


@router.get("/members/{member_id}/reveal")
async def reveal_again(session: Session, principal: WebPrincipal, member_id: MemberId) -> RedirectResponse:
    _member, household = await service.get_member(session, principal, member_id)
    return _see_other(f"/households/{household.id}")


@router.post("/members/{member_id}/reveal")
async def reveal(
    request: Request, session: Session, principal: WebPrincipal, member_id: MemberId
) -> HTMLResponse:
    """The household page with this member's full number shown once (the service records the read)."""
    await read_form(request)
    number = await service.reveal_id_number(session, principal, member_id)
    _member, household = await service.get_member(session, principal, member_id)
    return await _household_page(request, session, principal, household.id, revealed={member_id: number})
