"""Admin and reviewer pages for projects (征收项目) and village plans (一村一方案): project list and form, the
versions of a village's plan, a version with its differences from the previous one, the draft form, submitting,
and the reviewer's queue with approve / send back.

Authorisation stays in ``app.plans.service``; a form or button is shown only to someone who could use it. After a
successful action: redirect (303) and a short confirmation naming what changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal, authorize, require
from app.core.errors import Conflict, InvalidInput
from app.core.params import PlanId, ProjectId, VillageId
from app.core.validation import chinese_message, title_along
from app.plans import display, service
from app.plans.models import PLAN_STATUSES, Plan
from app.plans.schemas import PlanParamsIn, ProjectIn
from app.web.forms import FormState, attempt, read_form, validate
from app.web.templating import flash, render

router = APIRouter()

NEXT_APPROVER = "提交后由乡镇审核员审批（不能是编制人本人）"

# Scalar parameters of the draft form: name → (label, unit).
SCALARS: dict[str, tuple[str, str]] = {
    "relocation_allowance_per_person": ("搬迁补助费", "元/人·次"),
    "transition_allowance_per_person_month": ("临时安置补助费", "元/人·月"),
    "signing_deadline": ("签约期限", "日期，如 2022-09-30"),
    "signing_bonus_per_person": ("按时签约奖励", "元/人"),
    "entitlement_sqm_per_person": ("人均安置面积", "㎡/人"),
    "cash_rate_per_entitled_sqm": ("货币安置单价", "元/㎡（按应安置面积）"),
    "purchase_subsidy_per_entitled_sqm": ("购房补贴单价", "元/㎡（按应安置面积，凭购房合同支付）"),
    "flat_price_within": ("安置房安置价（应安置面积以内）", "元/㎡"),
    "flat_price_excess": ("超面积部分价格", "元/㎡"),
    "flat_max_excess_sqm": ("每户最多可超面积", "㎡"),
    "public_notice_days": ("公示天数", "天"),
}
ATTACHMENT_COLUMNS = {"code": "代码", "name": "名称", "unit": "计量单位", "price": "单价（元）"}
TIER_COLUMNS = {"by": "腾房期限", "rate": "每平方米奖励（元）"}
BLANK_ATTACHMENT_ROWS = 3
BLANK_TIER_ROWS = 2
MAX_ATTACHMENT_ROWS = 200 + BLANK_ATTACHMENT_ROWS
MAX_TIER_ROWS = 20 + BLANK_TIER_ROWS
PROJECT_FIELDS = ("code", "name", "villages")
ABBR = re.compile(r"[A-Z0-9]{1,10}")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _versions_url(plan: Plan) -> str:
    return f"/projects/{plan.project_id}/villages/{plan.village_id}/plans"


# ---------------------------------------------------------------- projects


@router.get("/projects")
async def projects(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    rows = await service.overview(session, principal)
    groups: dict[int, list[service.VillagePlans]] = {}
    for r in rows:
        groups.setdefault(r.row.project.id, []).append(r)
    return render(
        request,
        "projects.html",
        {
            "groups": list(groups.values()),
            "can_manage": principal.can(Perm.PROJECTS_MANAGE),
            "can_review": principal.can(Perm.PLAN_APPROVE),
            "STATUSES": PLAN_STATUSES,
        },
    )


async def _project_form_context(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    return {"villages": await service.county_villages(session, principal)}


@router.get("/projects/new")
async def project_new_form(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    context = await _project_form_context(session, principal)
    return render(request, "project_form.html", {**context, "form": FormState.of(PROJECT_FIELDS)})


@router.post("/projects/new", response_model=None)
async def project_new(request: Request, session: Session, principal: WebPrincipal) -> Response:
    require(principal, Perm.PROJECTS_MANAGE)
    values = await read_form(request)
    context = await _project_form_context(session, principal)
    fields = [*PROJECT_FIELDS, *(f"abbr_{a.id}" for a, _t in context["villages"])]
    state = FormState.of(fields, values)
    chosen = [
        {"village_id": a.id, "abbr": state.value(f"abbr_{a.id}").strip().upper()}
        for a, _t in context["villages"]
        if state.value(f"village_{a.id}")
    ]
    for a, _t in context["villages"]:
        abbr = state.value(f"abbr_{a.id}").strip().upper()
        if not state.value(f"village_{a.id}"):
            continue
        if not abbr:
            state.add(f"abbr_{a.id}", f"请填写{a.name}的简称")
        elif not ABBR.fullmatch(abbr):
            state.add(f"abbr_{a.id}", "简称只能用大写字母和数字，最多 10 位，如 QFZ")
    if not chosen:
        state.add("villages", "请至少选择一个村，并填写它的简称")
    data = validate(ProjectIn, state, extra={"villages": chosen} if chosen else None)
    if data is not None and not state.invalid:
        project = await attempt(
            session,
            state,
            lambda: service.create_project(
                session,
                principal,
                code=data.code,
                name=data.name,
                villages=[(v.village_id, v.abbr) for v in data.villages],
            ),
        )
        if project is not None:
            response = _see_other("/projects")
            flash(
                response,
                f"已保存：新建征收项目 {project.code} {project.name}（{len(data.villages)} 个村）",
            )
            return response
    return render(request, "project_form.html", {**context, "form": state}, status_code=state.status)


# ---------------------------------------------------------------- the versions of a village's plan


@router.get("/projects/{project_id}/villages/{village_id}/plans")
async def plan_versions(
    request: Request, session: Session, principal: WebPrincipal, project_id: ProjectId, village_id: VillageId
) -> HTMLResponse:
    pv = await service.get_project_village(session, principal, project_id, village_id)
    plans = await service.versions(session, principal, project_id, village_id)
    open_version = next((p for p in plans if p.status in ("draft", "submitted")), None)
    return render(
        request,
        "plan_versions.html",
        {
            "pv": pv,
            "plans": plans,
            "open_version": open_version,
            "names": await service.user_names(session, [p.author_id for p in plans]),
            "can_edit": principal.can(Perm.PLAN_EDIT),
            "STATUSES": PLAN_STATUSES,
        },
    )


async def _new_draft_context(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> dict[str, Any]:
    pv = await service.get_project_village(session, principal, project_id, village_id)
    authorize(principal, Perm.PLAN_EDIT, pv.link.area_path)
    plans = await service.versions(session, principal, project_id, village_id)
    return {
        "pv": pv,
        "latest": plans[0] if plans else None,
        "STATUSES": PLAN_STATUSES,
        "next_approver": NEXT_APPROVER,
    }


@router.get("/projects/{project_id}/villages/{village_id}/plans/new")
async def new_draft_form(
    request: Request, session: Session, principal: WebPrincipal, project_id: ProjectId, village_id: VillageId
) -> HTMLResponse:
    context = await _new_draft_context(session, principal, project_id, village_id)
    form = PlanForm.empty() if context["latest"] is None else PlanForm.of({})
    return render(request, "plan_new.html", {**context, **form.context()})


@router.post("/projects/{project_id}/villages/{village_id}/plans/new", response_model=None)
async def new_draft(
    request: Request, session: Session, principal: WebPrincipal, project_id: ProjectId, village_id: VillageId
) -> Response:
    """With an earlier version: a copy of the latest one. For the first version: every parameter from the form."""
    values = await read_form(request)
    context = await _new_draft_context(session, principal, project_id, village_id)
    latest: Plan | None = context["latest"]
    form = PlanForm.posted(values) if latest is None else PlanForm.of({})
    params = form.parse() if latest is None else None
    if latest is not None or params is not None:
        plan = await attempt(
            session, form.state, lambda: service.new_draft(session, principal, project_id, village_id, params)
        )
        if plan is not None:
            pv = context["pv"]
            if latest is None:
                response = _see_other(f"/plans/{plan.id}")
                flash(response, f"已保存：{pv.village_name}第 1 版方案草稿")
            else:
                response = _see_other(f"/plans/{plan.id}/edit")
                flash(
                    response,
                    f"已新建：{pv.village_name}第 {plan.version} 版方案草稿（复制第 {latest.version} 版），"
                    "请修改后提交审核",
                )
            return response
    return render(request, "plan_new.html", {**context, **form.context()}, status_code=form.state.status)


# ---------------------------------------------------------------- the reviewer's queue


@router.get("/plans/reviews")
async def reviews(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    pending = await service.pending_reviews(session, principal)
    rows = {(r.project.id, r.link.village_id): r for r in await service.project_villages(session, principal)}
    return render(
        request,
        "plan_reviews.html",
        {
            "items": [(p, rows.get((p.project_id, p.village_id))) for p in pending],
            "names": await service.user_names(session, [p.author_id for p in pending]),
            "STATUSES": PLAN_STATUSES,
        },
    )


# ---------------------------------------------------------------- one version


async def _plan_context(session: AsyncSession, principal: Principal, plan_id: int) -> dict[str, Any]:
    plan = await service.get_plan(session, principal, plan_id)
    pv = await service.get_project_village(session, principal, plan.project_id, plan.village_id)
    previous = await service.previous_version(session, plan)
    sections, removed = display.compare(plan.params, previous.params if previous else None)
    return {
        "plan": plan,
        "pv": pv,
        "previous": previous,
        "sections": sections,
        "removed": removed,
        "names": await service.user_names(session, [plan.author_id, plan.reviewer_id]),
        "STATUSES": PLAN_STATUSES,
        "can_edit": plan.status == "draft" and principal.can(Perm.PLAN_EDIT),
        "can_review": plan.status == "submitted"
        and principal.can(Perm.PLAN_APPROVE)
        and plan.author_id != principal.user_id,
        "own_submission": plan.status == "submitted" and plan.author_id == principal.user_id,
        "next_approver": NEXT_APPROVER,
    }


def _review_form(values: Mapping[str, object] | None = None) -> FormState:
    return FormState.of(("comment", "confirm"), values)


@router.get("/plans/{plan_id}")
async def plan_page(
    request: Request, session: Session, principal: WebPrincipal, plan_id: PlanId
) -> HTMLResponse:
    context = await _plan_context(session, principal, plan_id)
    return render(request, "plan.html", {**context, "review": _review_form()})


@router.post("/plans/{plan_id}/submit", response_model=None)
async def submit(request: Request, session: Session, principal: WebPrincipal, plan_id: PlanId) -> Response:
    await read_form(request)
    plan = await service.submit(session, principal, plan_id)
    pv = await service.get_project_village(session, principal, plan.project_id, plan.village_id)
    response = _see_other(f"/plans/{plan.id}")
    flash(response, f"已提交审核：{pv.village_name}第 {plan.version} 版方案。{NEXT_APPROVER}")
    return response


async def _review_failed(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    plan_id: int,
    review: FormState,
    status: int,
) -> HTMLResponse:
    context = await _plan_context(session, principal, plan_id)
    return render(request, "plan.html", {**context, "review": review}, status_code=status)


@router.post("/plans/{plan_id}/approve", response_model=None)
async def approve(request: Request, session: Session, principal: WebPrincipal, plan_id: PlanId) -> Response:
    review = _review_form(await read_form(request))
    if review.value("confirm") != "1":
        plan = await service.get_plan(session, principal, plan_id)
        authorize(principal, Perm.PLAN_APPROVE, plan.area_path)
        review.add("confirm", "请先勾选确认：批准后本版本即为现行方案，不能再修改")
        return await _review_failed(request, session, principal, plan_id, review, 422)
    plan = await service.approve(session, principal, plan_id)
    pv = await service.get_project_village(session, principal, plan.project_id, plan.village_id)
    response = _see_other(f"/plans/{plan.id}")
    flash(response, f"已批准：{pv.village_name}第 {plan.version} 版方案，自即日起为现行方案")
    return response


@router.post("/plans/{plan_id}/send-back", response_model=None)
async def send_back(request: Request, session: Session, principal: WebPrincipal, plan_id: PlanId) -> Response:
    review = _review_form(await read_form(request))
    try:
        plan = await service.send_back(session, principal, plan_id, review.value("comment"))
    except InvalidInput as exc:
        await session.rollback()
        review.add_domain_error(exc)
        return await _review_failed(request, session, principal, plan_id, review, 422)
    pv = await service.get_project_village(session, principal, plan.project_id, plan.village_id)
    response = _see_other(f"/plans/{plan.id}")
    flash(response, f"已退回：{pv.village_name}第 {plan.version} 版方案，退回意见已转给编制人")
    return response


# ---------------------------------------------------------------- editing a draft


async def _edit_context(session: AsyncSession, principal: Principal, plan_id: int) -> dict[str, Any]:
    plan = await service.get_plan(session, principal, plan_id)
    authorize(principal, Perm.PLAN_EDIT, plan.area_path)
    if plan.status != "draft":
        raise Conflict("只有草稿可以修改；已提交或已批准的方案不能再改", field="status")
    pv = await service.get_project_village(session, principal, plan.project_id, plan.village_id)
    return {"plan": plan, "pv": pv, "next_approver": NEXT_APPROVER}


@router.get("/plans/{plan_id}/edit")
async def edit_form(
    request: Request, session: Session, principal: WebPrincipal, plan_id: PlanId
) -> HTMLResponse:
    context = await _edit_context(session, principal, plan_id)
    plan: Plan = context["plan"]
    form = PlanForm.of(plan.params, lock_version=plan.lock_version)
    return render(request, "plan_form.html", {**context, **form.context()})


@router.post("/plans/{plan_id}/edit", response_model=None)
async def edit(request: Request, session: Session, principal: WebPrincipal, plan_id: PlanId) -> Response:
    form = PlanForm.posted(await read_form(request))
    params = form.parse()
    lock = form.state.value("lock_version").strip()
    if params is not None:
        before = dict((await service.get_plan(session, principal, plan_id)).params)
        plan = await attempt(
            session,
            form.state,
            lambda: service.update_draft(
                session, principal, plan_id, params, int(lock) if lock.isdigit() else 0
            ),
        )
        if plan is not None:
            pv = await service.get_project_village(session, principal, plan.project_id, plan.village_id)
            changed = display.changed_labels(before, plan.params)
            response = _see_other(f"/plans/{plan.id}")
            what = f"{pv.village_name}第 {plan.version} 版方案草稿"
            flash(
                response,
                f"已保存：{what}（修改 {'、'.join(changed)}）" if changed else f"未作修改：{what}与原来相同",
            )
            return response
    context = await _edit_context(session, principal, plan_id)
    return render(request, "plan_form.html", {**context, **form.context()}, status_code=form.state.status)


# ---------------------------------------------------------------- the draft form


_ROW_KEY = re.compile(r"^(att|tier)_[a-z]+_([0-9]{1,3})$")


class PlanForm:
    """The flat HTML form of a plan's parameters: one input per scalar, per structure and per option, and
    rows for the attachment price list and the early-vacating tiers (with blank rows to add more)."""

    def __init__(self, values: Mapping[str, object], attachment_rows: int, tier_rows: int) -> None:
        self.attachment_rows = attachment_rows
        self.tier_rows = tier_rows
        self.labels = self._labels()
        self.state = FormState.of(self.labels, values)

    @classmethod
    def empty(cls) -> PlanForm:
        return cls({}, 5, 3)

    @classmethod
    def of(cls, params: Mapping[str, Any], *, lock_version: int | None = None) -> PlanForm:
        values: dict[str, object] = {name: params[name] for name in SCALARS if params.get(name) is not None}
        for code, rate in (params.get("structure_rates") or {}).items():
            values[f"rate_{code}"] = rate
        for kind, months in (params.get("transition_months") or {}).items():
            values[f"months_{kind}"] = months
        attachments = list(params.get("attachment_prices") or [])
        for i, row in enumerate(attachments):
            for column in ATTACHMENT_COLUMNS:
                values[f"att_{column}_{i}"] = row.get(column)
        tiers = list(params.get("early_vacate_tiers") or [])
        for i, row in enumerate(tiers):
            for column in TIER_COLUMNS:
                values[f"tier_{column}_{i}"] = row.get(column)
        if lock_version is not None:
            values["lock_version"] = lock_version
        return cls(values, len(attachments) + BLANK_ATTACHMENT_ROWS, len(tiers) + BLANK_TIER_ROWS)

    @classmethod
    def posted(cls, values: Mapping[str, str]) -> PlanForm:
        """The form as submitted: as many rows as were shown (rows beyond the limits are ignored)."""
        counts = {"att": 0, "tier": 0}
        for key in values:
            match = _ROW_KEY.match(key)
            if match:
                counts[match.group(1)] = max(counts[match.group(1)], int(match.group(2)) + 1)
        return cls(values, min(counts["att"], MAX_ATTACHMENT_ROWS), min(counts["tier"], MAX_TIER_ROWS))

    def _labels(self) -> dict[str, str]:
        labels = {
            f"rate_{code}": f"房屋补偿单价（{name}）" for code, name in display.STRUCTURE_LABELS.items()
        }
        labels |= {name: label for name, (label, _unit) in SCALARS.items()}
        labels |= {f"months_{kind}": f"过渡月数（{name}）" for kind, name in display.OPTION_LABELS.items()}
        labels["attachment_prices"] = "附属物价格表"
        labels["early_vacate_tiers"] = "提前腾房奖励档次"
        for i in range(self.attachment_rows):
            for column, title in ATTACHMENT_COLUMNS.items():
                labels[f"att_{column}_{i}"] = f"附属物第 {i + 1} 行 {title}"
        for i in range(self.tier_rows):
            for column, title in TIER_COLUMNS.items():
                labels[f"tier_{column}_{i}"] = f"提前腾房奖励第 {i + 1} 档 {title}"
        labels["lock_version"] = "版本号"
        return labels

    def context(self) -> dict[str, Any]:
        return {
            "form": self.state,
            "labels": self.labels,
            "attachment_rows": range(self.attachment_rows),
            "tier_rows": range(self.tier_rows),
            "scalars": SCALARS,
            "structures": display.STRUCTURE_LABELS,
            "options": display.OPTION_LABELS,
            "attachment_columns": ATTACHMENT_COLUMNS,
            "tier_columns": TIER_COLUMNS,
        }

    def _rows(
        self, prefix: str, count: int, columns: Mapping[str, str]
    ) -> tuple[list[dict[str, str]], list[int]]:
        rows: list[dict[str, str]] = []
        shown: list[int] = []
        for i in range(count):
            row = {c: self.state.value(f"{prefix}_{c}_{i}").strip() for c in columns}
            if any(row.values()):
                rows.append({c: v for c, v in row.items() if v})
                shown.append(i)
        return rows, shown

    def parse(self) -> PlanParamsIn | None:
        """The parameters, or None with the messages next to their inputs."""
        state = self.state

        def value(name: str) -> str:
            return state.value(name).strip()

        for code in display.STRUCTURE_LABELS:
            if not value(f"rate_{code}"):
                state.add(f"rate_{code}", f"请填写{self.labels[f'rate_{code}']}")
        attachments, attachment_index = self._rows("att", self.attachment_rows, ATTACHMENT_COLUMNS)
        tiers, tier_index = self._rows("tier", self.tier_rows, TIER_COLUMNS)
        data: dict[str, object] = {name: value(name) for name in SCALARS if value(name)}
        data |= {
            "structure_rates": {
                c: value(f"rate_{c}") for c in display.STRUCTURE_LABELS if value(f"rate_{c}")
            },
            "transition_months": {
                k: value(f"months_{k}") for k in display.OPTION_LABELS if value(f"months_{k}")
            },
            "attachment_prices": attachments,
            "early_vacate_tiers": tiers,
        }
        try:
            params = PlanParamsIn.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                self._place(error, attachment_index, tier_index)
            return None
        return None if state.invalid else params

    def _place(self, error: Mapping[str, Any], attachment_index: list[int], tier_index: list[int]) -> None:
        loc = tuple(error.get("loc", ()))
        title = title_along(PlanParamsIn, loc)
        if error.get("type") == "missing":
            message = f"请填写{title}" if title else "必填"
        else:
            message = chinese_message(error, model=PlanParamsIn)
            if title and message.startswith(f"{title}："):
                message = message[len(title) + 1 :]
        head = str(loc[0]) if loc else ""
        name: str | None = head
        if head == "structure_rates":
            name = f"rate_{loc[1]}" if len(loc) > 1 else "rate_frame"
        elif head == "transition_months":
            name = f"months_{loc[1]}" if len(loc) > 1 else "months_cash"
        elif head == "attachment_prices" and len(loc) > 2 and isinstance(loc[1], int):
            name = f"att_{loc[2]}_{attachment_index[loc[1]]}"
        elif head == "early_vacate_tiers" and len(loc) > 2 and isinstance(loc[1], int):
            name = f"tier_{loc[2]}_{tier_index[loc[1]]}"
        elif not loc and error.get("type") == "tiers":
            name = "early_vacate_tiers"
        self.state.add(name if name in self.labels else None, message)
