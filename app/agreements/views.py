"""Pages for public notices, objections and agreements: the household tabs 公示与异议 and 协议 (with the signed
agreement's 补偿款支付 and the forms recording their payment conditions), the village page (公示 and 批量生成协议书
with its job page), and the public verification page of an agreement's QR code.

Authorisation stays in the services. POST → redirect → GET with a confirmation; a refused action shows the same
page again with the reason (for signing: why and until when).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.agreements import jobs, rules, service
from app.agreements.api import pdf_response
from app.agreements.models import AGREEMENT_STATUSES, OBJECTION_STATUSES
from app.agreements.schemas import NoticeIn, ObjectionIn, ResolveIn, SignIn, VoidIn
from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal, require
from app.core.clock import format_date_cn, today_in_china
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.money import format_yuan
from app.core.params import BIGINT_MAX, INT_MAX, HouseholdId, VillageId
from app.households import service as households
from app.households.views import household_frame
from app.payments import compensation
from app.payments.models import TRANCHE_KINDS
from app.web.errors import status_for
from app.web.forms import FormState, attempt, read_form, validate
from app.web.templating import flash, render

router = APIRouter()

NoticeId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="公示编号")]
ObjectionId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="异议编号")]
AgreementId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="协议编号")]
JobId = Annotated[str, Path(max_length=64, title="任务编号")]
AgreementNumber = Annotated[str, Path(max_length=60, title="协议编号")]
NUMBER_FORMAT = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")

OBJECTION_FIELDS = ("raised_on", "raised_by_name", "content")
NOTICE_FIELDS = ("project_id", "started_on", "include_noticed")
REFRESH_SECONDS = 2
TrancheKind = Annotated[str, Path(max_length=20, title="支付节点")]
DEFAULT_BANK = "中国邮政储蓄银行"
# Tranches whose condition (and account) may still be recorded: not with the bank, not paid, not cancelled.
OPEN_TRANCHE_STATES = ("awaiting", "due", "failed")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------- household tab: 公示与异议


async def _notice_tab(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    household_id: int,
    *,
    form: FormState | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    notices = await service.notices_of_household(session, principal, household_id)
    objections = await service.objections_of(session, principal, household_id)
    return render(
        request,
        "agreements/household_notice.html",
        {
            **frame,
            "current_tab": "notice",
            "notices": notices,
            "objections": objections,
            "OBJECTION_STATUSES": OBJECTION_STATUSES,
            "can_manage": principal.can(Perm.NOTICE_MANAGE),
            "form": form or FormState.of(OBJECTION_FIELDS, {"raised_on": today_in_china().isoformat()}),
            "error": error,
            "today": today_in_china(),
        },
        status_code=status_code,
    )


@router.get("/households/{household_id}/notice")
async def household_notice(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    return await _notice_tab(request, session, principal, household_id)


@router.post("/households/{household_id}/objections", response_model=None)
async def objection_new(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> Response:
    state = FormState.of(OBJECTION_FIELDS, await read_form(request))
    data = validate(ObjectionIn, state)
    if data is not None:
        objection = await attempt(
            session,
            state,
            lambda: service.record_objection(
                session,
                principal,
                household_id,
                raised_on=data.raised_on or today_in_china(),
                raised_by_name=data.raised_by_name,
                content=data.content,
            ),
        )
        if objection is not None:
            response = _see_other(f"/households/{household_id}/notice")
            flash(response, f"已登记：{objection.raised_by_name}提出的异议；处理完毕前本户不能签约")
            return response
    return await _notice_tab(request, session, principal, household_id, form=state, status_code=state.status)


@router.post("/objections/{objection_id}/resolve", response_model=None)
async def objection_resolve(
    request: Request, session: Session, principal: WebPrincipal, objection_id: ObjectionId
) -> Response:
    values = await read_form(request)
    objection = await service.get_objection(session, principal, objection_id)
    household_id = objection.household_id
    state = FormState.of(("resolution",), values)
    data = validate(ResolveIn, state)
    if data is None:
        return await _notice_tab(
            request, session, principal, household_id, error="请填写处理结果", status_code=422
        )
    try:
        await service.resolve_objection(session, principal, objection_id, data.resolution)
    except (Conflict, InvalidInput) as exc:
        await session.rollback()
        return await _notice_tab(
            request, session, principal, household_id, error=exc.message, status_code=status_for(exc)
        )
    response = _see_other(f"/households/{household_id}/notice")
    flash(response, "已保存：异议已处理")
    return response


# ---------------------------------------------------------------- household tab: 协议


@dataclass(frozen=True, slots=True)
class Condition:
    """How the form recording a tranche's payment condition reads."""

    title: str  # the form's heading and button
    done: str  # what was recorded, for the confirmation
    date_label: str
    note_label: str
    note_hint: str


CONDITIONS: dict[str, Condition] = {
    "vacate": Condition(
        "登记腾房交付验收", "腾房交付验收", "验收日期", "验收单号", "腾房交付验收单的编号，如 QFZ-001"
    ),
    "purchase_subsidy": Condition(
        "登记购房合同审核", "购房合同审核", "审核日期", "合同编号", "经审核的购房合同编号"
    ),
}
CONDITION_FIELDS = ("on", "note", "bank_name", "account_number")
HANDOVER_LABELS = {"handover_on": "验收日期", "handover_note": "验收单号"}
HANDOVER_FIELDS = tuple(HANDOVER_LABELS)
DIFFERENCE_LABELS = {
    "difference_on": "收款日期",
    "receipt_no": "收据号或银行流水号",
    "difference_confirm": "确认",
}
DIFFERENCE_FIELDS = tuple(DIFFERENCE_LABELS)


def tranche_fields(kind: str) -> dict[str, str]:
    """The form's input names: prefixed by the tranche's kind (a household has at most one signed agreement,
    so the kind tells its forms apart on the page)."""
    return {name: f"{kind}_{name}" for name in CONDITION_FIELDS}


def tranche_labels(kind: str) -> dict[str, str]:
    c = CONDITIONS[kind]
    names = tranche_fields(kind)
    return {
        names["on"]: c.date_label,
        names["note"]: c.note_label,
        names["bank_name"]: "开户银行",
        names["account_number"]: "收款账号",
    }


def _condition_form(view: compensation.TrancheView, today: date) -> FormState:
    t, names = view.tranche, tranche_fields(view.tranche.kind)
    return FormState.of(
        names.values(),
        {
            names["on"]: (t.due_on or today).isoformat(),
            names["note"]: t.condition_note or "",
            names["bank_name"]: t.bank_name or DEFAULT_BANK,
        },
    )


async def _agreement_tab(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    household_id: int,
    *,
    error: str | None = None,
    condition: tuple[str, FormState] | None = None,
    handover_form: FormState | None = None,
    difference_form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    agreements = await service.agreements_of(session, principal, household_id)
    refusals: dict[int, str | None] = {}
    today = today_in_china()
    for a in agreements:
        if a.status == "draft":
            refusals[a.id] = await service.signing_refusal(session, a.household_id, a.assessment_id, today)
    has_live = any(a.status != "voided" for a in agreements)
    tranches = await compensation.tranches_of_household(session, principal, household_id)
    signed = {a.id for a in agreements if a.status == "signed"}
    forms: dict[int, FormState] = {}
    if principal.can(Perm.AGREEMENT_MANAGE):
        for view in tranches:
            if view.tranche.agreement_id in signed and view.state in OPEN_TRANCHE_STATES:
                if condition is not None and condition[0] == view.tranche.kind:
                    forms[view.tranche.id] = condition[1]
                else:
                    forms[view.tranche.id] = _condition_form(view, today)
    # A signed agreement that pays nothing on the handover records it on its own (登记腾房交付验收).
    # (as service.pays_on_handover, from the tranches already read)
    pays_on_handover = {
        t.tranche.agreement_id for t in tranches if t.tranche.kind == "vacate" and t.state != "cancelled"
    }
    handover_agreement = next(
        (a for a in agreements if a.id in signed and a.id not in pays_on_handover), None
    )
    handover = await service.handover_of(session, handover_agreement.id) if handover_agreement else None
    if handover_agreement is None or handover is not None:
        if handover_form is not None:  # refused, and no form to show it next to: say it on top
            error = "；".join([*handover_form.general, *handover_form.errors.values()]) or error
        handover_form = None
    elif handover_form is None:
        handover_form = FormState.of(HANDOVER_FIELDS, {"handover_on": today.isoformat()})
    # Where the flats cost more than the compensation the household owes the difference (安置房差价); finance
    # records its receipt.
    owing = next((a for a in agreements if a.id in signed and compensation.difference_owed(a)), None)
    difference = await compensation.difference_of(session, owing.id) if owing else None
    if owing is None or difference is not None or not principal.can(Perm.LEDGER_POST):
        if difference_form is not None:  # refused, and no form to show it next to: say it on top
            error = "；".join([*difference_form.general, *difference_form.errors.values()]) or error
        difference_form = None
    elif difference_form is None:
        difference_form = FormState.of(DIFFERENCE_FIELDS, {"difference_on": today.isoformat()})
    if condition is not None:
        kind, state = condition
        # The full account number is only ever posted, never shown back.
        state.values[tranche_fields(kind)["account_number"]] = ""
        if not any(form is state for form in forms.values()):  # no form to show it next to: say it on top
            error = "；".join([*state.general, *state.errors.values()]) or error
    return render(
        request,
        "agreements/household_agreements.html",
        {
            **frame,
            "current_tab": "agreement",
            "agreements": agreements,
            "refusals": refusals,
            "has_live": has_live,
            "STATUSES": AGREEMENT_STATUSES,
            "can_issue": principal.can(Perm.AGREEMENT_MANAGE),
            "can_void": principal.can(Perm.AGREEMENT_VOID),
            "error": error,
            "today": today,
            "verify_url": service.verify_url_of,
            "allocations": await service.allocations_for(session, household_id),
            "tranches": tranches,
            "tranche_forms": forms,
            "CONDITIONS": CONDITIONS,
            "tranche_fields": tranche_fields,
            "tranche_labels": tranche_labels,
            "handover_agreement": handover_agreement,
            "handover": handover,
            "handover_form": handover_form,
            "HANDOVER_LABELS": HANDOVER_LABELS,
            "owing": owing,
            "owed": compensation.difference_owed(owing) if owing else 0,
            "difference": difference,
            "difference_form": difference_form,
            "DIFFERENCE_LABELS": DIFFERENCE_LABELS,
        },
        status_code=status_code,
    )


@router.get("/households/{household_id}/agreements")
async def household_agreements(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    return await _agreement_tab(request, session, principal, household_id)


async def _refused(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    household_id: int,
    exc: Conflict | InvalidInput,
) -> HTMLResponse:
    await session.rollback()
    return await _agreement_tab(
        request, session, principal, household_id, error=exc.message, status_code=status_for(exc)
    )


@router.post("/households/{household_id}/agreements", response_model=None)
async def agreement_issue(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> Response:
    values = await read_form(request)
    project_id = values.get("project_id", "").strip()
    chosen = int(project_id) if project_id.isdigit() and 0 < int(project_id) <= INT_MAX else None
    try:
        agreement = await service.issue_agreement(session, principal, household_id, chosen)
    except (Conflict, InvalidInput) as exc:
        return await _refused(request, session, principal, household_id, exc)
    response = _see_other(f"/households/{household_id}/agreements")
    flash(response, f"已出具：协议书 {agreement.number}（草稿），请打印后交户主核对签字")
    return response


@router.get("/agreements/{agreement_id}/pdf")
async def agreement_pdf(session: Session, principal: WebPrincipal, agreement_id: AgreementId) -> Response:
    agreement = await service.get_agreement(session, principal, agreement_id)
    return pdf_response(agreement.pdf, f"{agreement.number}.pdf")


@router.post("/agreements/{agreement_id}/render", response_model=None)
async def agreement_rerender(
    request: Request, session: Session, principal: WebPrincipal, agreement_id: AgreementId
) -> Response:
    await read_form(request)
    agreement = await service.get_agreement(session, principal, agreement_id)
    household_id = agreement.household_id
    try:
        agreement = await service.rerender(session, principal, agreement_id)
    except (Conflict, InvalidInput) as exc:
        return await _refused(request, session, principal, household_id, exc)
    response = _see_other(f"/households/{household_id}/agreements")
    flash(response, f"已重新生成：协议书 {agreement.number}（草稿）；此前打印的草稿作废不用")
    return response


@router.post("/agreements/{agreement_id}/sign", response_model=None)
async def agreement_sign(
    request: Request, session: Session, principal: WebPrincipal, agreement_id: AgreementId
) -> Response:
    state = FormState.of(("signed_on",), await read_form(request))
    agreement = await service.get_agreement(session, principal, agreement_id)
    household_id = agreement.household_id
    data = validate(SignIn, state)
    if data is None:
        return await _agreement_tab(
            request,
            session,
            principal,
            household_id,
            error="签约日期格式不正确，请按 2022-09-08 的格式填写",
            status_code=422,
        )
    try:
        agreement = await service.sign(session, principal, agreement_id, data.signed_on)
    except (Conflict, InvalidInput) as exc:
        return await _refused(request, session, principal, household_id, exc)
    response = _see_other(f"/households/{household_id}/agreements")
    flash(response, f"已登记签约：协议书 {agreement.number}，签约日期 {agreement.signed_on}")
    return response


@router.post("/agreements/{agreement_id}/void", response_model=None)
async def agreement_void(
    request: Request, session: Session, principal: WebPrincipal, agreement_id: AgreementId
) -> Response:
    state = FormState.of(("reason",), await read_form(request))
    agreement = await service.get_agreement(session, principal, agreement_id)
    household_id = agreement.household_id
    data = validate(VoidIn, state)
    if data is None:
        return await _agreement_tab(
            request, session, principal, household_id, error="请填写作废原因", status_code=422
        )
    try:
        agreement = await service.void(session, principal, agreement_id, data.reason)
    except (Conflict, InvalidInput) as exc:
        return await _refused(request, session, principal, household_id, exc)
    response = _see_other(f"/households/{household_id}/agreements")
    flash(response, f"已作废：协议书 {agreement.number}；可为本户重新出具协议书")
    return response


def _date_and_note(
    state: FormState, on_field: tuple[str, str], note_field: tuple[str, str], max_len: int = 200
) -> tuple[date | None, str]:
    """A condition's date and its document number (验收单号, 合同编号, 收据号) read off the form, each (name,
    label); what is missing or malformed is added to ``state``."""
    (on_name, on_label), (note_name, note_label) = on_field, note_field
    on: date | None = None
    raw_on = state.value(on_name).strip()
    if not raw_on:
        state.add(on_name, f"请填写{on_label}")
    else:
        try:
            on = date.fromisoformat(raw_on)
        except ValueError:
            state.add(on_name, f"日期格式应为 2022-09-25：{raw_on}")
    note = state.value(note_name).strip()
    if not note:
        state.add(note_name, f"请填写{note_label}")
    elif len(note) > max_len:
        state.add(note_name, f"{note_label}最多 {max_len} 字")
    return on, note


@router.post("/agreements/{agreement_id}/tranches/{kind}", response_model=None)
async def tranche_condition(
    request: Request, session: Session, principal: WebPrincipal, agreement_id: AgreementId, kind: TrancheKind
) -> Response:
    """登记腾房交付验收 / 登记购房合同审核: the tranche's payment condition and the account to pay into."""
    require(principal, Perm.AGREEMENT_MANAGE)
    values = await read_form(request)
    if kind not in CONDITIONS:
        raise NotFound("找不到该支付节点")
    agreement = await service.get_agreement(session, principal, agreement_id)
    household_id = agreement.household_id
    c, names = CONDITIONS[kind], tranche_fields(kind)
    state = FormState.of(names.values(), values)
    on, note = _date_and_note(state, (names["on"], c.date_label), (names["note"], c.note_label))
    bank_name = state.value(names["bank_name"]).strip() or DEFAULT_BANK
    if len(bank_name) > 60:
        state.add(names["bank_name"], "开户银行最多 60 字")
    account = state.value(names["account_number"])
    if not account.strip():
        state.add(names["account_number"], "请填写收款账号（户主本人的银行账号）")
    if not state.invalid and on is not None:
        when = on
        tranche = await attempt(
            session,
            state,
            lambda: compensation.record_condition(
                session,
                principal,
                agreement_id,
                kind=kind,
                on=when,
                note=note,
                bank_name=bank_name,
                account_number=account,
            ),
            rename=names,
        )
        if tranche is not None:
            response = _see_other(f"/households/{household_id}/agreements#tranches")
            flash(
                response,
                f"已登记{c.done}（{format_date_cn(when)}）：{TRANCHE_KINDS[kind]} {format_yuan(tranche.amount)} 元"
                f"转为应支付，收款账户 {tranche.bank_name} {tranche.account_masked}，由财政局在补偿款发放批次中支付",
            )
            return response
    return await _agreement_tab(
        request, session, principal, household_id, condition=(kind, state), status_code=state.status
    )


@router.post("/agreements/{agreement_id}/handover", response_model=None)
async def handover(
    request: Request, session: Session, principal: WebPrincipal, agreement_id: AgreementId
) -> Response:
    """登记腾房交付验收 of an agreement that pays nothing on the handover (the household owes the difference for
    its flats, or is paid only on its purchase contract)."""
    require(principal, Perm.AGREEMENT_MANAGE)
    values = await read_form(request)
    agreement = await service.get_agreement(session, principal, agreement_id)
    household_id = agreement.household_id
    state = FormState.of(HANDOVER_FIELDS, values)
    on, note = _date_and_note(state, ("handover_on", "验收日期"), ("handover_note", "验收单号"))
    if not state.invalid and on is not None:
        when = on
        recorded = await attempt(
            session,
            state,
            lambda: service.record_handover(session, principal, agreement_id, on=when, note=note),
            rename={"on": "handover_on", "note": "handover_note"},
        )
        if recorded is not None:
            response = _see_other(f"/households/{household_id}/agreements#handover")
            flash(
                response,
                f"已登记腾房交付验收（{format_date_cn(when)}，验收单号 {note}）：协议 {agreement.number}",
            )
            return response
    return await _agreement_tab(
        request, session, principal, household_id, handover_form=state, status_code=state.status
    )


@router.post("/agreements/{agreement_id}/difference", response_model=None)
async def difference(
    request: Request, session: Session, principal: WebPrincipal, agreement_id: AgreementId
) -> Response:
    """登记收取安置房差价 (finance): the household paid what its agreement says it owes for its flats."""
    require(principal, Perm.LEDGER_POST)
    values = await read_form(request)
    agreement = await service.get_agreement(session, principal, agreement_id)
    household_id = agreement.household_id
    state = FormState.of(DIFFERENCE_FIELDS, values)
    on, receipt_no = _date_and_note(
        state, ("difference_on", "收款日期"), ("receipt_no", "收据号或银行流水号"), max_len=100
    )
    if state.value("difference_confirm") != "1":
        state.add("difference_confirm", "请先勾选确认：已核对银行到账凭证或收据")
    if not state.invalid and on is not None:
        when = on
        recorded = await attempt(
            session,
            state,
            lambda: compensation.record_difference(
                session, principal, agreement_id, on=when, receipt_no=receipt_no
            ),
            rename={"on": "difference_on"},
        )
        if recorded is not None:
            response = _see_other(f"/households/{household_id}/agreements#difference")
            flash(
                response,
                f"已登记收取安置房差价 {format_yuan(recorded.amount)} 元（{format_date_cn(when)}，"
                f"{receipt_no}）：协议 {agreement.number}",
            )
            return response
    return await _agreement_tab(
        request, session, principal, household_id, difference_form=state, status_code=state.status
    )


# ---------------------------------------------------------------- the village: notices and bulk agreements


async def _village_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    village_id: int,
    project_id: int | None,
    *,
    form: FormState | None = None,
    bulk_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    village = await households.get_village(session, principal, village_id)
    projects = await service.projects_of_village(session, principal, village_id)
    project = next((p for p in projects if p.id == project_id), projects[0] if projects else None)
    rows: list[service.VillageAgreementRow] = []
    candidates = 0
    if project is not None:
        rows = await service.village_rows(session, principal, project.id, village_id)
        candidates = len(
            await service.notice_candidates(session, project.id, village_id, include_noticed=False)
        )
    notices = [
        n
        for n in await service.notices_of_village(session, principal, village_id)
        if project is None or n.project_id == project.id
    ]
    values: dict[str, Any] = {"started_on": today_in_china().isoformat()}
    if project is not None:
        values["project_id"] = project.id
    return render(
        request,
        "agreements/village.html",
        {
            "village": village,
            "projects": projects,
            "project": project,
            "rows": rows,
            "signable": [r for r in rows if r.agreement is None and r.refusal is None],
            "notices": notices,
            "candidates": candidates,
            "form": form or FormState.of(NOTICE_FIELDS, values),
            "can_notice": principal.can(Perm.NOTICE_MANAGE),
            "can_issue": principal.can(Perm.AGREEMENT_MANAGE),
            "period": rules.notice_period_text,
            "STATUSES": AGREEMENT_STATUSES,
            "bulk_error": bulk_error,
        },
        status_code=status_code,
    )


@router.get("/villages/{village_id}/notices")
async def village_notices(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    village_id: VillageId,
    project_id: Annotated[int | None, Query(ge=1, le=INT_MAX, title="征收项目")] = None,
) -> HTMLResponse:
    return await _village_page(request, session, principal, village_id, project_id)


@router.post("/villages/{village_id}/notices", response_model=None)
async def notice_new(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> Response:
    state = FormState.of(NOTICE_FIELDS, await read_form(request))
    data = validate(NoticeIn, state, choose=("project_id",))
    project_id = None
    if data is not None:
        project_id = data.project_id
        notice = await attempt(
            session,
            state,
            lambda: service.create_notice(
                session,
                principal,
                data.project_id,
                village_id,
                started_on=data.started_on,
                include_noticed=data.include_noticed,
            ),
        )
        if notice is not None:
            response = _see_other(f"/notices/{notice.id}")
            flash(
                response,
                f"已发布公示：{len(notice.entries)} 户，{rules.notice_period_text(notice.started_on, notice.days)}",
            )
            return response
    return await _village_page(
        request, session, principal, village_id, project_id, form=state, status_code=state.status
    )


@router.get("/notices/{notice_id}")
async def notice_page(
    request: Request, session: Session, principal: WebPrincipal, notice_id: NoticeId
) -> HTMLResponse:
    notice = await service.get_notice(session, principal, notice_id)
    village = await households.get_village(session, principal, notice.village_id)
    return render(
        request,
        "agreements/notice.html",
        {
            "notice": notice,
            "village": village,
            "period": rules.notice_period_text(notice.started_on, notice.days),
            "signable_from": rules.signable_from(notice.started_on, notice.days),
            "totals": {
                k: sum(int(e[k]) for e in notice.entries)
                for k in ("persons", "compensation_total", "flat_price_due", "net_payable")
            },
        },
    )


@router.get("/notices/{notice_id}/pdf")
async def notice_pdf(session: Session, principal: WebPrincipal, notice_id: NoticeId) -> Response:
    notice = await service.get_notice(session, principal, notice_id)
    return pdf_response(notice.pdf, f"公示-{notice.id}-{notice.started_on.isoformat()}.pdf")


@router.post("/villages/{village_id}/agreements/bulk", response_model=None)
async def bulk_start(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> Response:
    values = await read_form(request)
    raw = values.get("project_id", "").strip()
    project_id = int(raw) if raw.isdigit() and 0 < int(raw) <= INT_MAX else INT_MAX
    try:
        job = await jobs.start(
            session, principal, project_id, village_id, getattr(request.app.state, "sessionmaker", None)
        )
    except (Conflict, InvalidInput) as exc:
        await session.rollback()
        chosen = project_id if project_id != INT_MAX else None
        return await _village_page(
            request,
            session,
            principal,
            village_id,
            chosen,
            bulk_error=exc.message,
            status_code=status_for(exc),
        )
    return _see_other(f"/agreement-jobs/{job.id}")


@router.get("/agreement-jobs/{job_id}")
async def bulk_job(request: Request, principal: WebPrincipal, job_id: JobId) -> HTMLResponse:
    job = jobs.get_job(principal, job_id)
    response = render(
        request,
        "agreements/job.html",
        {"job": job, "refresh": None if job.finished else REFRESH_SECONDS},
    )
    if not job.finished:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@router.get("/agreement-jobs/{job_id}/download", response_model=None)
async def bulk_download(principal: WebPrincipal, job_id: JobId) -> Response:
    job = jobs.get_job(principal, job_id)
    if not job.finished or job.path is None:
        raise Conflict(f"还在生成中：已生成 {job.done} / {job.total} 份，请稍后再下载")
    return FileResponse(job.path, media_type="application/zip", filename=job.filename)


# ---------------------------------------------------------------- public: 协议核验


@router.get("/verify/agreement/{number}")
async def verify_page(
    request: Request,
    session: Session,
    number: AgreementNumber,
    h: Annotated[str | None, Query(max_length=64, title="校验码")] = None,
) -> HTMLResponse:
    """Public (no login): what the QR code on an agreement opens."""
    if NUMBER_FORMAT.match(number):
        result = await service.verify(session, number, h)
    else:
        result = service.Verification(number, found=False, matches=False)
    response = render(
        request, "agreements/verify.html", {"v": result}, status_code=200 if result.found else 404
    )
    response.headers["X-Robots-Tag"] = "noindex"
    return response
