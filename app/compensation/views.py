"""Household tabs 房屋调查 and 补偿核算, and the reviewer's queue 待审核补偿核算.

Authorisation stays in ``app.compensation.service``; a form is only shown to someone who could submit it. The
survey form has rows for structures and attachments (a few blank ones to fill in); the assessment form previews
(a POST that stores nothing) and submits. Errors sit next to their inputs, in Chinese, with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal
from app.compensation import rules, service
from app.compensation.api import AssessmentId
from app.compensation.models import ASSESSMENT_STATUSES
from app.compensation.schemas import AssessmentIn, SurveySave
from app.core.errors import Conflict, DomainError, InvalidInput
from app.core.params import HouseholdId, PageNo
from app.core.text import QueryText
from app.core.validation import chinese_message, title_along
from app.households.views import household_frame
from app.web.errors import status_for
from app.web.forms import FormState, clamp_page, pager, read_form
from app.web.templating import flash, render

router = APIRouter()

BLANK_ROWS = 3
MAX_ROWS = 100
FLAT_ROWS = 4
SURVEY_FIELDS = ("persons", "contracted_mu", "acquired_mu", "surveyed_on")
ASSESSMENT_FIELDS = ("project_id", "option_kind", "cash_area", "signed_on", "vacated_on")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _message(error: Mapping[str, Any], model: type[SurveySave] | type[AssessmentIn]) -> str:
    """The Chinese message without its title (the label is already next to the input)."""
    message = chinese_message(error, model=model)
    title = title_along(model, error.get("loc", ()))
    if error.get("type") == "missing" and title:
        return f"请填写{title}"
    prefix = f"{title}：" if title else ""
    return message[len(prefix) :] if prefix and message.startswith(prefix) else message


# ---------------------------------------------------------------- 房屋调查


def _row_count(values: Mapping[str, str], prefix: str) -> int:
    n = 0
    while n < MAX_ROWS and f"{prefix}{n}_{'structure' if prefix == 's' else 'code'}" in values:
        n += 1
    return n


def _survey_fields(structures: int, attachments: int) -> list[str]:
    names = [*SURVEY_FIELDS]
    names += [f"s{i}_{k}" for i in range(structures) for k in ("structure", "area")]
    names += [f"a{i}_{k}" for i in range(attachments) for k in ("code", "qty")]
    return names


def _survey_state(inputs: Mapping[str, Any] | None, version: int | None) -> tuple[FormState, int, int]:
    values: dict[str, object] = {"version": version}
    structures = list((inputs or {}).get("structures", []))
    attachments = list((inputs or {}).get("attachments", []))
    if inputs is not None:
        values.update({k: inputs[k] for k in SURVEY_FIELDS})
    for i, s in enumerate(structures):
        values[f"s{i}_structure"], values[f"s{i}_area"] = s["structure"], s["area"]
    for i, a in enumerate(attachments):
        values[f"a{i}_code"], values[f"a{i}_qty"] = a["code"], a["qty"]
    ns, na = len(structures) + BLANK_ROWS, len(attachments) + BLANK_ROWS
    return FormState.of(_survey_fields(ns, na), values), ns, na


def _parse_survey(values: dict[str, str]) -> tuple[FormState, int, int, SurveySave | None, dict[str, str]]:
    """The form as typed, and the survey it describes (None when something is wrong). ``where`` maps the
    model's ``structures.0`` to the form's row ``s2`` (blank rows are skipped)."""
    ns, na = _row_count(values, "s"), _row_count(values, "a")
    state = FormState.of(_survey_fields(ns, na), values)
    data: dict[str, Any] = {
        k: values[k].strip() for k in (*SURVEY_FIELDS, "version") if values.get(k, "").strip()
    }
    where: dict[str, str] = {}
    for key, prefix, a, b, n in (
        ("structures", "s", "structure", "area", ns),
        ("attachments", "a", "code", "qty", na),
    ):
        rows: list[dict[str, str]] = []
        for i in range(n):
            first, second = (
                values.get(f"{prefix}{i}_{a}", "").strip(),
                values.get(f"{prefix}{i}_{b}", "").strip(),
            )
            if not first and not second:
                continue
            if not first:
                state.add(f"{prefix}{i}_{a}", "请选择房屋结构" if prefix == "s" else "请选择附属物")
                continue
            if not second:
                state.add(f"{prefix}{i}_{b}", "请填写面积" if prefix == "s" else "请填写数量")
                continue
            where[f"{key}.{len(rows)}"] = f"{prefix}{i}"
            rows.append({a: first, b: second})
        data[key] = rows
    if "persons" not in data:
        state.add("persons", "请填写安置人口")
    try:
        survey = SurveySave.model_validate({"persons": 0, **data})
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            name = loc[0] if loc else None
            if name in ("structures", "attachments") and len(loc) >= 3:
                name = f"{where.get(f'{loc[0]}.{loc[1]}', '')}_{loc[2]}"
            state.add(name, _message(error, SurveySave))
        return state, ns, na, None, where
    return state, ns, na, None if state.invalid else survey, where


def _domain_field(field: str | None, where: Mapping[str, str]) -> str | None:
    """``structures.1.area`` (a service's field) → ``s3_area`` (the form's input)."""
    if not field:
        return None
    parts = field.split(".")
    if len(parts) == 3 and f"{parts[0]}.{parts[1]}" in where:
        return f"{where[f'{parts[0]}.{parts[1]}']}_{parts[2]}"
    return field


async def _survey_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    household_id: int,
    state: FormState | None = None,
    rows: tuple[int, int] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    view = await service.get_survey(session, principal, household_id)
    catalogue = await service.attachment_catalogue(session, view.household.village_id)
    if state is None or rows is None:
        state, ns, na = _survey_state(view.inputs, view.survey.version if view.survey else None)
    else:
        ns, na = rows
    return render(
        request,
        "compensation/survey.html",
        {
            **frame,
            "survey": view.survey,
            "inputs": view.inputs,
            "form": state,
            "structure_rows": ns,
            "attachment_rows": na,
            "structures": list(rules.STRUCTURES.items()),
            "catalogue": list(catalogue.items()),
            "catalogue_names": catalogue,
            "can_survey": principal.can(Perm.SURVEY_WRITE),
        },
        status_code=status_code,
    )


@router.get("/households/{household_id}/survey")
async def survey_page(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    return await _survey_page(request, session, principal, household_id)


@router.post("/households/{household_id}/survey", response_model=None)
async def survey_save(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> Response:
    values = await read_form(request)
    await service.household_for(session, principal, household_id, Perm.SURVEY_WRITE)
    state, ns, na, data, where = _parse_survey(values)
    status = 422
    if data is not None:
        try:
            before = (await service.get_survey(session, principal, household_id)).inputs
            saved = await service.save_survey(session, principal, household_id, data)
        except (Conflict, InvalidInput) as exc:
            await session.rollback()
            state.add(_domain_field(exc.field, where), exc.message)
            status = status_for(exc)
        else:
            response = _see_other(f"/households/{household_id}/survey")
            if saved.inputs == before:
                flash(response, "未作修改：房屋调查与原来相同")
            else:
                inputs = saved.inputs or {}
                flash(
                    response,
                    f"已保存：房屋调查（安置人口 {inputs.get('persons')} 人，房屋 {len(inputs.get('structures', []))} 处，"
                    f"附属物 {len(inputs.get('attachments', []))} 项）",
                )
            return response
    return await _survey_page(request, session, principal, household_id, state, (ns, na), status)


# ---------------------------------------------------------------- 补偿核算


def _assessment_fields() -> list[str]:
    return [*ASSESSMENT_FIELDS, *(f"flat_{i}" for i in range(FLAT_ROWS))]


def _parse_assessment(values: dict[str, str]) -> tuple[FormState, AssessmentIn | None, dict[int, str]]:
    state = FormState.of(_assessment_fields(), values)
    flats: list[dict[str, str]] = []
    flat_rows: dict[int, str] = {}
    for i in range(FLAT_ROWS):
        area = values.get(f"flat_{i}", "").strip()
        if area:
            flat_rows[len(flats)] = f"flat_{i}"
            flats.append({"area": area})
    option: dict[str, Any] = {"flats": flats}
    if values.get("option_kind", "").strip():
        option["kind"] = values["option_kind"].strip()
    if values.get("cash_area", "").strip():
        option["cash_area"] = values["cash_area"].strip()
    data: dict[str, Any] = {"option": option}
    for key in ("project_id", "signed_on", "vacated_on"):
        if values.get(key, "").strip():
            data[key] = values[key].strip()
    try:
        return state, AssessmentIn.model_validate(data), flat_rows
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ())]
            name = _option_field(".".join(loc), flat_rows)
            message = _message(error, AssessmentIn)
            if error.get("type") == "missing" and name in ("project_id", "option_kind"):
                message = "请选择征收项目" if name == "project_id" else "请选择安置方式"
            state.add(name, message)
        return state, None, flat_rows


def _option_field(field: str | None, flat_rows: Mapping[int, str]) -> str | None:
    """``option.flats.1.area`` → ``flat_2``, ``option.kind`` → ``option_kind`` …"""
    if not field:
        return None
    parts = field.split(".")
    if parts[0] != "option":
        return parts[0]
    if len(parts) >= 3 and parts[1] == "flats" and parts[2].isdigit():
        return flat_rows.get(int(parts[2]), "flat_0")
    return {"kind": "option_kind", "flats": "flat_0", "cash_area": "cash_area"}.get(
        parts[1] if len(parts) > 1 else ""
    )


async def _assessments_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    household_id: int,
    *,
    form: FormState | None = None,
    preview: service.Computed | None = None,
    review_errors: Mapping[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    household = frame["household"]
    view = await service.get_survey(session, principal, household_id)
    rows = await service.history(session, principal, household_id)
    choices = await service.plan_choices(session, household.village_id)
    approved = [r for r in rows if r.assessment.status == "approved"]
    stale = [r for r in approved if service.survey_changed(r.assessment, view.inputs)]
    if form is None:
        only = {"project_id": choices[0].project.id} if len(choices) == 1 else {}
        form = FormState.of(_assessment_fields(), only)
    return render(
        request,
        "compensation/assessments.html",
        {
            **frame,
            "inputs": view.inputs,
            "rows": rows,
            "pending": [r for r in rows if r.assessment.status == "submitted"],
            "stale": stale,
            "choices": [
                (c.project.id, f"{c.project.name}（{c.project.code}，方案第 {c.plan.version} 版）")
                for c in choices
            ],
            "options": list(rules.OPTION_KINDS.items()),
            "form": form,
            "preview": preview,
            "flat_rows": FLAT_ROWS,
            "review_errors": review_errors or {},
            "can_submit": principal.can(Perm.ASSESSMENT_SUBMIT),
            "can_review": principal.can(Perm.ASSESSMENT_APPROVE),
            "STATUSES": ASSESSMENT_STATUSES,
            "OPTION_KINDS": rules.OPTION_KINDS,
            "STRUCTURES": rules.STRUCTURES,
        },
        status_code=status_code,
    )


@router.get("/households/{household_id}/assessments")
async def assessments_page(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    return await _assessments_page(request, session, principal, household_id)


def _add_error(state: FormState, exc: DomainError, flat_rows: Mapping[int, str]) -> None:
    field = exc.field or ""
    if field.startswith(("structures", "attachments", "persons", "survey")):
        state.add(None, f"{exc.message}（请先修改房屋调查）")
    else:
        state.add(_option_field(field, flat_rows), exc.message)


@router.post("/households/{household_id}/assessments/preview")
async def assessment_preview(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    """预览核算：按所选项目的已批准方案算出每一项，不保存。"""
    values = await read_form(request)
    await service.household_for(session, principal, household_id, Perm.ASSESSMENT_SUBMIT)
    state, data, flat_rows = _parse_assessment(values)
    computed, status = None, 422
    if data is not None:
        try:
            computed = await service.preview(session, principal, household_id, data)
            status = 200
        except (Conflict, InvalidInput) as exc:
            _add_error(state, exc, flat_rows)
            status = status_for(exc)
    return await _assessments_page(
        request, session, principal, household_id, form=state, preview=computed, status_code=status
    )


@router.post("/households/{household_id}/assessments", response_model=None)
async def assessment_submit(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> Response:
    """提交审核：冻结方案版本、调查数据和每一项金额。"""
    values = await read_form(request)
    await service.household_for(session, principal, household_id, Perm.ASSESSMENT_SUBMIT)
    state, data, flat_rows = _parse_assessment(values)
    status = 422
    if data is not None:
        try:
            assessment = await service.submit(session, principal, household_id, data)
        except (Conflict, InvalidInput) as exc:
            await session.rollback()
            _add_error(state, exc, flat_rows)
            status = status_for(exc)
        else:
            response = _see_other(f"/households/{household_id}/assessments#assessment-{assessment.id}")
            flash(
                response,
                f"已提交审核：补偿核算第 {assessment.id} 号（{rules.OPTION_KINDS[assessment.option_kind]}，"
                f"应付净额 {rules.yuan(assessment.net_payable)}），等待乡镇审核员审核",
            )
            return response
    return await _assessments_page(request, session, principal, household_id, form=state, status_code=status)


@router.post("/assessments/{assessment_id}/approve", response_model=None)
async def assessment_approve(
    request: Request, session: Session, principal: WebPrincipal, assessment_id: AssessmentId
) -> Response:
    await read_form(request)
    assessment = await service.get_assessment(session, principal, assessment_id)
    url = f"/households/{assessment.household_id}/assessments#assessment-{assessment_id}"
    try:
        await service.approve(session, principal, assessment_id)
    except Conflict as exc:
        await session.rollback()
        response = _see_other(url)
        flash(response, exc.message, "error")
        return response
    response = _see_other(url)
    flash(response, f"已批准：补偿核算第 {assessment_id} 号")
    return response


@router.post("/assessments/{assessment_id}/return", response_model=None)
async def assessment_return(
    request: Request, session: Session, principal: WebPrincipal, assessment_id: AssessmentId
) -> Response:
    values = await read_form(request)
    assessment = await service.get_assessment(session, principal, assessment_id)
    household_id = assessment.household_id
    url = f"/households/{household_id}/assessments#assessment-{assessment_id}"
    try:
        await service.send_back(session, principal, assessment_id, values.get("comment", ""))
    except InvalidInput as exc:
        await session.rollback()
        return await _assessments_page(
            request,
            session,
            principal,
            household_id,
            review_errors={assessment_id: exc.message},
            status_code=422,
        )
    except Conflict as exc:
        await session.rollback()
        response = _see_other(url)
        flash(response, exc.message, "error")
        return response
    response = _see_other(url)
    flash(response, f"已退回：补偿核算第 {assessment_id} 号，意见已转给经办员")
    return response


# ---------------------------------------------------------------- 待审核补偿核算


REVIEWS_PAGE_SIZE = 50


@router.get("/assessments/reviews")
async def reviews(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    q: Annotated[QueryText | None, Query(max_length=50, title="姓名、户口簿编号或村名")] = None,
    page: PageNo = 1,
) -> HTMLResponse:
    """待审核补偿核算, oldest first, 50 a page; found by a member's name, 户口簿编号 or village."""
    search = (q or "").strip() or None
    total = await service.count_pending_reviews(session, principal, search=search)
    page = clamp_page(page, total, REVIEWS_PAGE_SIZE)
    rows: Sequence[service.PendingRow] = await service.pending_reviews(
        session, principal, search=search, offset=(page - 1) * REVIEWS_PAGE_SIZE, limit=REVIEWS_PAGE_SIZE
    )
    return render(
        request,
        "compensation/reviews.html",
        {
            "rows": rows,
            "OPTION_KINDS": rules.OPTION_KINDS,
            "me": principal.user_id,
            "q": search or "",
            "total": total,
            "page_size": REVIEWS_PAGE_SIZE,
            "pager": pager(
                "/assessments/reviews", {"q": search}, page=page, total=total, page_size=REVIEWS_PAGE_SIZE
            ),
        },
    )
