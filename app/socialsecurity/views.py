"""Pages for land-loss social security (被征地农民社保): acquisition batches with their land table and eligibility
list (公示 → 审核 → 参保), the notice PDF, a pensioner's page (存折, 资格认证, 死亡, 继承人, 多发追回), the list of
enrollments, the household tab 社保, the old-policy roster (manual form and XLSX import), the proof-of-life due
list (page, PDF, XLSX) and what is due for a month.

Authorisation and audit stay in ``app.socialsecurity.service``; a form is only shown to someone who could submit
it, and each POST handler checks the permission first (so a refused caller never learns more from a validation
message). POST → redirect (303) → GET with a confirmation naming what changed; a refused form comes back with the
message next to its field and what was typed kept. ID numbers and account numbers never go into an address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.agreements import pdf
from app.agreements.api import pdf_response
from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal, authorize, require
from app.core.clock import format_date_cn, format_month_cn, today_in_china
from app.core.errors import Conflict, InvalidInput
from app.core.money import fen_to_yuan, format_yuan, yuan_to_fen
from app.core.params import BIGINT_MAX, INT_MAX, HouseholdId
from app.core.validation import chinese_message
from app.households import service as households
from app.households.views import household_frame
from app.plans import service as plans
from app.plans.service import user_names
from app.roster import exports
from app.socialsecurity import roster, rules, service
from app.socialsecurity.models import BATCH_STATUSES, ENROLLMENT_STATUSES, AcquisitionBatch
from app.socialsecurity.schemas import (
    BatchIn,
    BatchUpdate,
    CertificationIn,
    DeathIn,
    HeirIn,
    LandIn,
    NoticeIn,
    OldPolicyIn,
    PassbookIn,
    RecoveryIn,
)
from app.web.errors import status_for
from app.web.forms import FormState, attempt, clamp_page, pager, read_date, read_form, validate
from app.web.templating import flash, render

router = APIRouter()

BatchId = Annotated[int, Path(ge=1, le=INT_MAX, title="征地批次编号")]
EnrollmentId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="参保人员编号")]
PageQuery = Annotated[int, Query(ge=1, le=100_000, title="页码")]
TextQuery = Annotated[str | None, Query(max_length=50)]

LIST_PAGE_SIZE = 100  # the eligibility list
DUE_PAGE_SIZE = 200  # the proof-of-life due list: a county's month can be tens of thousands
PAGE_SIZE = 50  # every other list
# One PDF of the due list holds at most this many people (WeasyPrint: ~65 s and 1.4 GB for 10,000 rows in one
# document): a county's month is printed per village, to post in each village; the XLSX takes any number.
DUE_PDF_MAX_ROWS = 3_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_TEXT = "5 MB"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NEXT_APPROVER = "公示期满后由乡镇审核员审核（不能是公示人本人）"

# NotFound and Forbidden are not caught: they get the error page.
DomainErrors = (Conflict, InvalidInput)

# ------------------------------------------------------------------------------------------------ the forms

PARAM_LABELS: dict[str, str] = {
    "announcement_date": "补偿安置公告日",
    "approved_on": "征地批准日",
    "per_capita_land_threshold_mu": "人均剩余承包地标准（亩）",
    "min_age": "参保最低年龄",
    "pension_age": "领取养老金年龄",
    "fee_standard": "社会保障费标准（元/人）",
    "monthly_pension": "月养老金（元）",
}
BATCH_LABELS: dict[str, str] = {
    "target": "征收项目和村",
    "code": "批次编号",
    "name": "批次名称",
    **PARAM_LABELS,
}
EDIT_LABELS: dict[str, str] = {"name": "批次名称", **PARAM_LABELS}
BATCH_DEFAULTS: dict[str, object] = {
    "per_capita_land_threshold_mu": "0.3",
    "min_age": 16,
    "pension_age": 60,
    "fee_standard": "24000.00",
    "monthly_pension": "260.00",
}
NOTICE_LABELS = {"notice_start": "公示开始日", "notice_days": "公示天数"}
REVIEW_LABELS = {"comment": "退回意见", "confirm": "确认"}
ENROLL_LABELS = {"confirm": "确认"}
PASSBOOK_LABELS = {"bank_name": "开户银行", "account_number": "存折账号", "opened_on": "开户日期"}
CERTIFICATION_LABELS = {"certified_on": "认证日期", "method": "认证方式", "certified_by": "认证人"}
DEATH_LABELS = {"death_date": "死亡日期", "confirm": "确认"}
HEIR_LABELS = {"heir_name": "继承人姓名", "heir_id_number": "继承人身份证号", "relation": "与死者关系"}
RECOVERY_LABELS = {"amount": "追回金额（元）", "recovered_on": "追回日期", "note": "说明"}
HEIR_PAY_LABELS = {"paid_on": "支付日期", "payment_note": "支付说明", "pay_confirm": "确认"}
OLD_POLICY_LABELS = {
    "name": "姓名",
    "id_number": "公民身份号码",
    "lump_sum_received": "老政策一次性领取金额（元）",
    "monthly_subsidy": "老政策月养老补贴（元）",
    "paid_from": "补贴起始年月",
    "paid_through": "补贴发放至年月",
}
SNAPSHOT_LABELS = {
    "name": "批次名称",
    **{k: v.split("（")[0] for k, v in PARAM_LABELS.items()},
}
SHOW_FILTERS = {"eligible": "符合条件", "ineligible": "不符合条件"}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _batch_url(batch_id: int, anchor: str = "") -> str:
    return f"/social-security/batches/{batch_id}{'#' + anchor if anchor else ''}"


def _person_url(enrollment_id: int, anchor: str = "") -> str:
    return f"/social-security/people/{enrollment_id}{'#' + anchor if anchor else ''}"


# ---------------------------------------------------------------------------------------------- display


def mu_text(value: Decimal | None) -> str:
    """Land in mu without trailing zeros: ``1.5``, ``10``, ``0``."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


def reason_text(reasons: Sequence[str], duplicate_of: str | None) -> str:
    """The reasons a person is not eligible, in Chinese; a duplicate names the other enrollment."""
    parts = []
    for code in reasons:
        label = rules.REASONS.get(code, code)
        if code == "duplicate_enrollment" and duplicate_of:
            label = f"{label}（{duplicate_of}）"
        parts.append(label)
    return "；".join(parts)


DISPLAY: dict[str, Any] = {
    "mu_text": mu_text,
    "reason_text": reason_text,
    "cert_expires": rules.certification_expires,
    "BATCH_STATUSES": BATCH_STATUSES,
    "ENROLLMENT_STATUSES": ENROLLMENT_STATUSES,
    "CERTIFICATION_METHODS": rules.CERTIFICATION_METHODS,
}


def _page_of(items: Sequence[Any], page: int, size: int) -> list[Any]:
    return list(items[(page - 1) * size : page * size])


def _int_or_none(raw: str | None, limit: int = INT_MAX) -> int | None:
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= limit else None


def _place_errors(state: FormState, exc: ValidationError, model: type[Any], names: Mapping[str, str]) -> None:
    """Pydantic errors of ``model`` next to the inputs ``names`` maps its fields to ("" → a whole-model error)."""
    for error in exc.errors():
        loc = error.get("loc", ())
        field = str(loc[0]) if loc else ""
        info = model.model_fields.get(field)
        title = info.title if info is not None else None
        message = chinese_message({**error, "loc": ()}, model=model)
        if error.get("type") == "missing" and title:
            message = f"请填写{title}"
        state.add(names.get(field, names.get("", "")) or None, message)


# ------------------------------------------------------------------------------------------------ home


@router.get("/social-security")
async def home(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    status: TextQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    rows = await service.list_batches(session, principal)
    wanted = status if status in BATCH_STATUSES else None
    if wanted:
        rows = [r for r in rows if r.batch.status == wanted]
    pending = await service.pending_batch_reviews(session, principal)
    return render(
        request,
        "social/index.html",
        {
            **DISPLAY,
            "nav": "social_reviews"
            if wanted == "noticed" and principal.can(Perm.SOCIAL_APPROVE)
            else "social",
            "rows": _page_of(rows, page, PAGE_SIZE),
            "total": len(rows),
            "status": wanted,
            "pending": pending,
            "pager": pager(
                "/social-security", {"status": wanted}, page=page, total=len(rows), page_size=PAGE_SIZE
            ),
            "can_manage": principal.can(Perm.SOCIAL_BATCH_MANAGE),
            "can_review": principal.can(Perm.SOCIAL_APPROVE),
            "next_month": rules.format_month(rules.add_months(rules.month_of(today_in_china()), 1)),
            "this_month": rules.format_month(rules.month_of(today_in_china())),
            "today_date": today_in_china(),
        },
    )


# ------------------------------------------------------------------------------------------- a new batch


async def _targets(session: AsyncSession, principal: Principal) -> list[tuple[str, str]]:
    rows = await plans.project_villages(session, principal)
    return [
        (f"{r.project.id}:{r.link.village_id}", f"{r.project.code} {r.project.name} · {r.village_name}")
        for r in rows
    ]


def _new_batch_page(
    request: Request, targets: list[tuple[str, str]], form: FormState, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "social/batch_form.html",
        {"form": form, "labels": BATCH_LABELS, "targets": targets, "batch": None},
        status_code=status_code,
    )


@router.get("/social-security/batches/new")
async def batch_new_form(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    require(principal, Perm.SOCIAL_BATCH_MANAGE)
    targets = await _targets(session, principal)
    form = FormState.of(BATCH_LABELS, BATCH_DEFAULTS)
    if len(targets) == 1:
        form.values["target"] = targets[0][0]
    return _new_batch_page(request, targets, form)


@router.post("/social-security/batches/new", response_model=None)
async def batch_new(request: Request, session: Session, principal: WebPrincipal) -> Response:
    require(principal, Perm.SOCIAL_BATCH_MANAGE)
    state = FormState.of(BATCH_LABELS, await read_form(request))
    targets = await _targets(session, principal)
    project_raw, _sep, village_raw = state.value("target").partition(":")
    project_id, village_id = _int_or_none(project_raw), _int_or_none(village_raw)
    extra = {"project_id": project_id, "village_id": village_id} if project_id and village_id else None
    if state.value("target").strip() and extra is None:
        state.add("target", "请从列表中选择征收项目和村")
    data = validate(
        BatchIn,
        state,
        extra=extra,
        choose=("project_id", "village_id"),
        rename={"project_id": "target", "village_id": "target"},
    )
    if data is not None and not state.invalid:

        async def create() -> tuple[AcquisitionBatch, service.BatchRow]:
            batch = await service.create_batch(session, principal, data)
            return batch, await service.batch_row(session, principal, batch.id)

        created = await attempt(
            session, state, create, rename={"village_id": "target", "project_id": "target"}
        )
        if created is not None:
            batch, row = created
            response = _see_other(_batch_url(batch.id))
            flash(
                response,
                f"已保存：新建征地批次 {batch.code} {batch.name}（{row.village_name}），"
                "请登记各户承包地面积和被征收面积",
            )
            return response
    return _new_batch_page(request, targets, state, state.status)


# -------------------------------------------------------------------------------------------- one batch


def _land_fields(rows: Sequence[service.LandRow]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for r in rows:
        no = r.household.register_no
        labels[f"c_{r.household.id}"] = f"户口簿编号 {no} 的承包地面积（亩）"
        labels[f"a_{r.household.id}"] = f"户口簿编号 {no} 的被征收面积（亩）"
    return labels


def _land_form(rows: Sequence[service.LandRow]) -> FormState:
    values: dict[str, object] = {}
    for r in rows:
        values[f"c_{r.household.id}"] = mu_text(r.contracted_mu)
        values[f"a_{r.household.id}"] = mu_text(r.acquired_mu)
    return FormState.of(_land_fields(rows), values)


def _review_form(values: Mapping[str, object] | None = None) -> FormState:
    return FormState.of(REVIEW_LABELS, values)


def _notice_form(values: Mapping[str, object] | None = None) -> FormState:
    return FormState.of(
        NOTICE_LABELS, values or {"notice_start": today_in_china().isoformat(), "notice_days": 7}
    )


@dataclass(frozen=True, slots=True)
class BatchForms:
    land: FormState | None = None
    notice: FormState | None = None
    review: FormState | None = None
    enroll: FormState | None = None


async def _batch_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    batch_id: int,
    *,
    forms: BatchForms | None = None,
    show: str | None = None,
    page: int = 1,
    status_code: int = 200,
) -> HTMLResponse:
    forms = forms or BatchForms()
    row = await service.batch_row(session, principal, batch_id)
    batch = row.batch
    land = await service.land_rows(session, principal, batch_id)
    entries = await service.eligibility_list(session, principal, batch_id)
    eligible = sum(1 for e in entries if e.eligible)
    shown = [e for e in entries if show is None or e.eligible == (show == "eligible")]
    names = await user_names(session, [batch.noticed_by, batch.reviewed_by, batch.created_by])
    today = today_in_china()
    draft = batch.status == "draft"
    noticed = batch.status == "noticed"
    return render(
        request,
        "social/batch.html",
        {
            **DISPLAY,
            "row": row,
            "batch": batch,
            "names": names,
            "land": land,
            "land_labels": _land_fields(land),
            "land_form": forms.land or _land_form(land),
            "land_recorded": sum(1 for r in land if r.contracted_mu is not None),
            "entries": _page_of(shown, page, LIST_PAGE_SIZE),
            "first_index": (page - 1) * LIST_PAGE_SIZE,
            "listed": len(entries),
            "eligible": eligible,
            "shown_total": len(shown),
            "show": show,
            "SHOW_FILTERS": SHOW_FILTERS,
            "pager": pager(
                _batch_url(batch_id), {"show": show}, page=page, total=len(shown), page_size=LIST_PAGE_SIZE
            ),
            "notice_form": forms.notice or _notice_form(),
            "review_form": forms.review or _review_form(),
            "enroll_form": forms.enroll or FormState.of(ENROLL_LABELS),
            "can_land": draft and principal.can(Perm.SOCIAL_CASE_WRITE),
            "can_notice": draft and principal.can(Perm.SOCIAL_CASE_WRITE),
            "can_edit": draft and principal.can(Perm.SOCIAL_BATCH_MANAGE),
            "can_review": noticed
            and principal.can(Perm.SOCIAL_APPROVE)
            and batch.noticed_by != principal.user_id,
            "own_notice": noticed and batch.noticed_by is not None and batch.noticed_by == principal.user_id,
            "notice_over": batch.notice_end is not None and today > batch.notice_end,
            "can_enroll": batch.status == "approved" and principal.can(Perm.SOCIAL_CASE_WRITE),
            "next_approver": NEXT_APPROVER,
            "today": today,
        },
        status_code=status_code,
    )


@router.get("/social-security/batches/{batch_id}")
async def batch_page(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    batch_id: BatchId,
    show: TextQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    return await _batch_page(
        request, session, principal, batch_id, show=show if show in SHOW_FILTERS else None, page=page
    )


# 参保人员名册's columns, on the batch page (social/batch.html) and in its XLSX download alike.
LIST_HEADERS = (
    "序号",
    "户口簿编号",
    "姓名",
    "身份证号",
    "出生日期",
    "公告日年龄",
    "在册人数",
    "剩余承包地（亩）",
    "结果",
    "原因",
)


@router.get("/social-security/batches/{batch_id}/list.xlsx")
async def batch_list_xlsx(
    session: Session, principal: WebPrincipal, batch_id: BatchId, show: TextQuery = None
) -> Response:
    """参保人员名册 (all pages, the same filter) as XLSX, ID numbers masked; the download is audited."""
    row = await service.batch_row(session, principal, batch_id)
    shown = show if show in SHOW_FILTERS else None
    entries = [
        e
        for e in await service.eligibility_list(session, principal, batch_id)
        if shown is None or e.eligible == (shown == "eligible")
    ]
    cells = [
        (
            index,
            e.register_no,
            e.name,
            e.id_number_masked,
            e.birth_date,
            e.age_on_announcement,
            e.household_members,
            mu_text(e.remaining_mu),
            "符合" if e.eligible else "不符合",
            reason_text(e.reasons, e.duplicate_of),
        )
        for index, e in enumerate(entries, 1)
    ]
    suffix = f"-{SHOW_FILTERS[shown]}" if shown else ""
    return await exports.audited_xlsx(
        session,
        principal,
        what="eligibility_list",
        detail={"batch": row.batch.code, "show": shown},
        title="参保人员名册",
        headers=LIST_HEADERS,
        rows=cells,
        text_columns=(1, 3, 7),
        filename=f"参保人员名册-{row.batch.code}{suffix}.xlsx",
    )


async def _batch_for(
    session: AsyncSession, principal: Principal, batch_id: int, perm: Perm
) -> AcquisitionBatch:
    """The batch (404 outside the caller's areas), then the permission (403)."""
    batch = await service.get_batch(session, principal, batch_id)
    authorize(principal, perm, batch.area_path)
    return batch


@router.post("/social-security/batches/{batch_id}/land", response_model=None)
async def land_save(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> Response:
    await _batch_for(session, principal, batch_id, Perm.SOCIAL_CASE_WRITE)
    values = await read_form(request)
    rows = await service.land_rows(session, principal, batch_id)
    state = FormState.of(_land_fields(rows), values)
    items: list[LandIn] = []
    for r in rows:
        hid = r.household.id
        contracted, acquired = state.value(f"c_{hid}").strip(), state.value(f"a_{hid}").strip()
        if not contracted and not acquired:
            continue  # a household left blank is skipped
        if not contracted:
            state.add(f"c_{hid}", "请填写承包地面积（不登记该户就把两项都留空）")
            continue
        if not acquired:
            state.add(f"a_{hid}", "请填写被征收面积，没有被征收的填 0（不登记该户就把两项都留空）")
            continue
        try:
            items.append(
                LandIn.model_validate(
                    {"household_id": hid, "contracted_mu": contracted, "acquired_mu": acquired}
                )
            )
        except ValidationError as exc:
            _place_errors(
                state, exc, LandIn, {"contracted_mu": f"c_{hid}", "acquired_mu": f"a_{hid}", "": f"a_{hid}"}
            )
    if not items and not state.invalid:
        state.add(None, "请至少填写一户的承包地面积和被征收面积")
    if not state.invalid:
        changed = await attempt(session, state, lambda: service.set_land(session, principal, batch_id, items))
        if changed is not None:
            response = _see_other(_batch_url(batch_id, "list"))
            if changed:
                flash(
                    response, f"已保存：{changed} 户的承包地面积和被征收面积，下方名册预览已按新数据重新认定"
                )
            else:
                flash(response, "未作修改：填写的面积与原来相同")
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(land=state), status_code=state.status
    )


@router.post("/social-security/batches/{batch_id}/notice", response_model=None)
async def notice(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    await _batch_for(session, principal, batch_id, Perm.SOCIAL_CASE_WRITE)
    state = _notice_form(await read_form(request))
    data = validate(NoticeIn, state)
    if data is not None:

        async def start() -> tuple[AcquisitionBatch, service.BatchRow]:
            batch = await service.start_notice(session, principal, batch_id, data)
            return batch, await service.batch_row(session, principal, batch_id)

        started = await attempt(session, state, start)
        if started is not None:
            batch, row = started
            response = _see_other(_batch_url(batch_id))
            flash(
                response,
                f"已公示：{batch.code} 参保人员名册（{row.listed} 人，其中符合条件 {row.eligible} 人），"
                f"公示期 {format_date_cn(batch.notice_start)}至{format_date_cn(batch.notice_end)}。{NEXT_APPROVER}",
            )
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(notice=state), status_code=state.status
    )


@router.post("/social-security/batches/{batch_id}/approve", response_model=None)
async def approve(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    await _batch_for(session, principal, batch_id, Perm.SOCIAL_APPROVE)
    state = _review_form(await read_form(request))
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：审核通过后即可按名册办理参保")
    else:
        batch = await attempt(session, state, lambda: service.approve_batch(session, principal, batch_id))
        if batch is not None:
            response = _see_other(_batch_url(batch_id))
            flash(response, f"已审核通过：{batch.code} 参保人员名册，经办员可以办理参保")
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(review=state), status_code=state.status
    )


@router.post("/social-security/batches/{batch_id}/send-back", response_model=None)
async def send_back(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> Response:
    await _batch_for(session, principal, batch_id, Perm.SOCIAL_APPROVE)
    state = _review_form(await read_form(request))
    batch = await attempt(
        session, state, lambda: service.send_back_batch(session, principal, batch_id, state.value("comment"))
    )
    if batch is None:
        return await _batch_page(
            request, session, principal, batch_id, forms=BatchForms(review=state), status_code=state.status
        )
    response = _see_other(_batch_url(batch_id))
    flash(
        response,
        f"已退回：{batch.code} 参保人员名册回到编制中，退回意见已转给经办员；修改后可重新公示",
    )
    return response


@router.post("/social-security/batches/{batch_id}/enroll", response_model=None)
async def enroll(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    await _batch_for(session, principal, batch_id, Perm.SOCIAL_CASE_WRITE)
    state = FormState.of(ENROLL_LABELS, await read_form(request))
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：参保办理后不能撤销")
    else:

        async def enroll_all() -> tuple[int, AcquisitionBatch]:
            count = await service.enroll_batch(session, principal, batch_id)
            return count, await service.get_batch(session, principal, batch_id)

        enrolled = await attempt(session, state, enroll_all)
        if enrolled is not None:
            count, batch = enrolled
            response = _see_other(f"/social-security/people?batch_id={batch_id}")
            flash(response, f"已办理参保：{batch.code} {batch.name} 共 {count} 人，个人账户已记入")
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(enroll=state), status_code=state.status
    )


# ------------------------------------------------------------------------------------------ editing a batch


async def _editable(session: AsyncSession, principal: Principal, batch_id: int) -> service.BatchRow:
    row = await service.batch_row(session, principal, batch_id)
    authorize(principal, Perm.SOCIAL_BATCH_MANAGE, row.batch.area_path)
    if row.batch.status != "draft":
        raise Conflict("名册已公示，批次参数不能再修改；如需修改请由审核员退回")
    return row


def _edit_values(batch: AcquisitionBatch) -> dict[str, object]:
    return {
        "name": batch.name,
        "announcement_date": batch.announcement_date.isoformat(),
        "approved_on": batch.approved_on.isoformat(),
        "per_capita_land_threshold_mu": mu_text(batch.per_capita_land_threshold_mu),
        "min_age": batch.min_age,
        "pension_age": batch.pension_age,
        "fee_standard": fen_to_yuan(batch.fee_standard),
        "monthly_pension": fen_to_yuan(batch.monthly_pension),
        "version": batch.version,
    }


@router.get("/social-security/batches/{batch_id}/edit")
async def batch_edit_form(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> HTMLResponse:
    row = await _editable(session, principal, batch_id)
    return render(
        request,
        "social/batch_form.html",
        {
            "form": FormState.of(EDIT_LABELS, _edit_values(row.batch)),
            "labels": EDIT_LABELS,
            "row": row,
            "batch": row.batch,
        },
    )


@router.post("/social-security/batches/{batch_id}/edit", response_model=None)
async def batch_edit(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> Response:
    row = await _editable(session, principal, batch_id)
    state = FormState.of(EDIT_LABELS, await read_form(request))
    data = validate(BatchUpdate, state)
    if data is not None:
        before = service.batch_snapshot(row.batch)
        batch = await attempt(
            session, state, lambda: service.update_batch(session, principal, batch_id, data)
        )
        if batch is not None:
            after = service.batch_snapshot(batch)
            changed = [label for key, label in SNAPSHOT_LABELS.items() if before.get(key) != after.get(key)]
            response = _see_other(_batch_url(batch_id))
            flash(
                response,
                f"已保存：征地批次 {batch.code}（修改 {'、'.join(changed)}）"
                if changed
                else f"未作修改：征地批次 {batch.code} 的参数与原来相同",
            )
            return response
    row = await _editable(session, principal, batch_id)
    return render(
        request,
        "social/batch_form.html",
        {"form": state, "labels": EDIT_LABELS, "row": row, "batch": row.batch},
        status_code=state.status,
    )


# ---------------------------------------------------------------------------------------- the notice PDF


def render_notice_pdf(context: Mapping[str, Any]) -> bytes:
    return pdf.html_to_pdf(pdf.html_of("social_notice.html", {"n": context, **DISPLAY}))


@router.get("/social-security/batches/{batch_id}/notice.pdf")
async def notice_pdf(session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    row = await service.batch_row(session, principal, batch_id)
    batch = row.batch
    if batch.status == "draft" or batch.notice_start is None or batch.notice_end is None:
        raise Conflict("参保人员名册尚未公示，还没有公示文件；经办员公示名册后即可下载")
    entries = await service.eligibility_list(session, principal, batch_id)
    context = {
        "title": f"{row.village_name}{batch.name}参保人员名册公示",
        "batch": batch,
        "village": row.village_name,
        "project_code": row.project_code,
        "eligible": [e for e in entries if e.eligible],
        "ineligible": [e for e in entries if not e.eligible],
        "threshold": mu_text(batch.per_capita_land_threshold_mu),
    }
    data = await pdf.render_in_thread(render_notice_pdf, context)
    await service.record_export(
        session, principal, "eligibility_notice", {"batch": batch.code, "format": "pdf"}, rows=len(entries)
    )
    return pdf_response(data, f"参保人员名册公示-{batch.code}.pdf")


# ----------------------------------------------------------------------------------------- a person


PASSBOOK_FIELDS = tuple(PASSBOOK_LABELS)
CERTIFICATION_FIELDS = tuple(CERTIFICATION_LABELS)
DEATH_FIELDS = tuple(DEATH_LABELS)
HEIR_FIELDS = tuple(HEIR_LABELS)
RECOVERY_FIELDS = tuple(RECOVERY_LABELS)
HEIR_PAY_FIELDS = tuple(HEIR_PAY_LABELS)


@dataclass(frozen=True, slots=True)
class PersonForms:
    passbook: FormState | None = None
    certification: FormState | None = None
    death: FormState | None = None
    heir: FormState | None = None
    recovery: FormState | None = None
    heir_pay: FormState | None = None


async def _person_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    enrollment_id: int,
    *,
    forms: PersonForms | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    forms = forms or PersonForms()
    view = await service.person_view(session, principal, enrollment_id)
    enrollment = view.enrollment
    today = today_in_china()
    active = enrollment.status == "active"
    write = principal.can(Perm.SOCIAL_CASE_WRITE)
    overpayment = view.overpayment
    outstanding = overpayment.amount - overpayment.recovered if overpayment else 0
    return render(
        request,
        "social/person.html",
        {
            **DISPLAY,
            "v": view,
            "e": enrollment,
            "months": list(reversed(view.months)),
            "pension_started": enrollment.pension_start_month <= rules.month_of(today),
            "outstanding": outstanding,
            "passbook_form": forms.passbook
            or FormState.of(PASSBOOK_FIELDS, {"bank_name": "中国邮政储蓄银行"}),
            "certification_form": forms.certification
            or FormState.of(
                CERTIFICATION_FIELDS,
                {
                    "certified_on": today.isoformat(),
                    "method": "in_person",
                    "certified_by": principal.full_name or principal.username,
                },
            ),
            "death_form": forms.death or FormState.of(DEATH_FIELDS),
            "heir_form": forms.heir or FormState.of(HEIR_FIELDS),
            "recovery_form": forms.recovery
            or FormState.of(RECOVERY_FIELDS, {"recovered_on": today.isoformat()}),
            "heir_pay_form": forms.heir_pay or FormState.of(HEIR_PAY_FIELDS, {"paid_on": today.isoformat()}),
            "labels": {
                **PASSBOOK_LABELS,
                **CERTIFICATION_LABELS,
                **DEATH_LABELS,
                **HEIR_LABELS,
                **RECOVERY_LABELS,
                **HEIR_PAY_LABELS,
            },
            "can_passbook": active and write,
            "can_certify": active and write,
            "can_death": active and write,
            "can_heir": not active and write and (view.heir is None or view.heir.status != "paid"),
            "can_pay_heir": view.heir is not None
            and view.heir.status == "due"
            and principal.can(Perm.LEDGER_POST),
            "can_recover": overpayment is not None
            and outstanding > 0
            and principal.can(Perm.RECOVERY_RECORD),
            "method_choices": list(rules.CERTIFICATION_METHODS.items()),
            "today": today,
        },
        status_code=status_code,
    )


@router.get("/social-security/people/{enrollment_id}")
async def person_page(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> HTMLResponse:
    return await _person_page(request, session, principal, enrollment_id)


async def _enrollment_for(session: AsyncSession, principal: Principal, enrollment_id: int, perm: Perm) -> str:
    """The person's name (404 outside the caller's areas), after the permission check (403)."""
    enrollment = await service.get_enrollment(session, principal, enrollment_id)
    authorize(principal, perm, enrollment.area_path)
    return enrollment.name


@router.post("/social-security/people/{enrollment_id}/passbook", response_model=None)
async def passbook(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> Response:
    name = await _enrollment_for(session, principal, enrollment_id, Perm.SOCIAL_CASE_WRITE)
    state = FormState.of(PASSBOOK_FIELDS, await read_form(request))
    data = validate(PassbookIn, state)
    if data is not None:
        book = await attempt(
            session, state, lambda: service.set_passbook(session, principal, enrollment_id, data)
        )
        if book is not None:
            response = _see_other(_person_url(enrollment_id, "passbook"))
            flash(
                response, f"已保存：{name}的失地农民养老金专用存折（{book.bank_name} {book.account_masked}）"
            )
            return response
    return await _person_page(
        request,
        session,
        principal,
        enrollment_id,
        forms=PersonForms(passbook=state),
        status_code=state.status,
    )


@router.post("/social-security/people/{enrollment_id}/certifications", response_model=None)
async def certification(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> Response:
    name = await _enrollment_for(session, principal, enrollment_id, Perm.SOCIAL_CASE_WRITE)
    state = FormState.of(CERTIFICATION_FIELDS, await read_form(request))
    data = validate(CertificationIn, state, choose=("method",))
    if data is not None:
        certified = await attempt(
            session, state, lambda: service.record_certification(session, principal, enrollment_id, data)
        )
        if certified is not None:
            response = _see_other(_person_url(enrollment_id, "certifications"))
            flash(
                response,
                f"已保存：{name}的资格认证（{format_date_cn(data.certified_on)}，"
                f"{rules.CERTIFICATION_METHODS[data.method]}），"
                f"下次应在 {format_date_cn(rules.certification_expires(data.certified_on))} 前认证",
            )
            return response
    return await _person_page(
        request,
        session,
        principal,
        enrollment_id,
        forms=PersonForms(certification=state),
        status_code=state.status,
    )


@router.post("/social-security/people/{enrollment_id}/death", response_model=None)
async def death(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> Response:
    name = await _enrollment_for(session, principal, enrollment_id, Perm.SOCIAL_CASE_WRITE)
    state = FormState.of(DEATH_FIELDS, await read_form(request))
    data = validate(DeathIn, state)
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：登记死亡后停发养老金，不能撤销")
    if data is not None and not state.invalid:
        outcome = await attempt(
            session, state, lambda: service.record_death(session, principal, enrollment_id, data)
        )
        if outcome is not None:
            parts = [f"已登记死亡：{name}，死亡日期 {format_date_cn(data.death_date)}，次月起停发养老金"]
            if outcome.cancelled_months:
                parts.append(f"取消未发放的 {outcome.cancelled_months} 个月")
            if outcome.overpayment is not None:
                parts.append(f"死亡后多发 {format_yuan(outcome.overpayment.amount)} 元待追回")
            parts.append(f"个人账户余额 {format_yuan(outcome.heir_amount)} 元，请登记继承人")
            response = _see_other(_person_url(enrollment_id, "death"))
            flash(response, "；".join(parts))
            return response
    return await _person_page(
        request, session, principal, enrollment_id, forms=PersonForms(death=state), status_code=state.status
    )


@router.post("/social-security/people/{enrollment_id}/heir", response_model=None)
async def heir(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> Response:
    name = await _enrollment_for(session, principal, enrollment_id, Perm.SOCIAL_CASE_WRITE)
    state = FormState.of(HEIR_FIELDS, await read_form(request))
    data = validate(HeirIn, state)
    if data is not None:
        payment = await attempt(
            session, state, lambda: service.set_heir(session, principal, enrollment_id, data)
        )
        if payment is not None:
            response = _see_other(_person_url(enrollment_id, "death"))
            flash(
                response,
                f"已保存：{name}的继承人 {payment.heir_name}（{payment.relation}），"
                f"应支付个人账户余额 {format_yuan(payment.amount)} 元",
            )
            return response
    return await _person_page(
        request, session, principal, enrollment_id, forms=PersonForms(heir=state), status_code=state.status
    )


@router.post("/social-security/people/{enrollment_id}/heir-payment", response_model=None)
async def heir_payment(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> Response:
    """支付继承人: finance records that the individual-account balance was paid to the heir (posted once)."""
    name = await _enrollment_for(session, principal, enrollment_id, Perm.LEDGER_POST)
    state = FormState.of(HEIR_PAY_FIELDS, await read_form(request))
    paid_on = read_date(state, "paid_on", "请填写支付日期")
    note = state.value("payment_note").strip()
    if not note:
        state.add("payment_note", "请填写支付说明，如 转账凭证号或领款人签收")
    elif len(note) > 200:
        state.add("payment_note", "支付说明最多 200 字")
    if state.value("pay_confirm") != "1":
        state.add("pay_confirm", "请先勾选确认：个人账户余额已支付给继承人，登记后不能撤销")
    if paid_on is not None and not state.invalid:
        on = paid_on
        heir = await attempt(
            session,
            state,
            lambda: service.pay_heir(session, principal, enrollment_id, paid_on=on, note=note),
            rename={"paid_on": "paid_on", "note": "payment_note"},
        )
        if heir is not None:
            response = _see_other(_person_url(enrollment_id, "death"))
            flash(
                response,
                f"已支付：{name}的个人账户余额 {format_yuan(heir.amount)} 元已于 {format_date_cn(on)} "
                f"支付给继承人 {heir.heir_name}（{heir.relation}）",
            )
            return response
    return await _person_page(
        request,
        session,
        principal,
        enrollment_id,
        forms=PersonForms(heir_pay=state),
        status_code=state.status,
    )


@router.post("/social-security/people/{enrollment_id}/recoveries", response_model=None)
async def recovery(
    request: Request, session: Session, principal: WebPrincipal, enrollment_id: EnrollmentId
) -> Response:
    name = await _enrollment_for(session, principal, enrollment_id, Perm.RECOVERY_RECORD)
    state = FormState.of(RECOVERY_FIELDS, await read_form(request))
    data = validate(RecoveryIn, state)
    if data is not None:
        overpayment = await attempt(
            session, state, lambda: service.record_recovery(session, principal, enrollment_id, data)
        )
        if overpayment is not None:
            left = overpayment.amount - overpayment.recovered
            response = _see_other(_person_url(enrollment_id, "overpayment"))
            flash(
                response,
                f"已登记追回：{name} {format_yuan(yuan_to_fen(data.amount))} 元，"
                + (f"尚未追回 {format_yuan(left)} 元" if left else "多发金额已全部追回"),
            )
            return response
    return await _person_page(
        request,
        session,
        principal,
        enrollment_id,
        forms=PersonForms(recovery=state),
        status_code=state.status,
    )


# ------------------------------------------------------------------------------------------ enrollments


@router.get("/social-security/people")
async def people(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    q: TextQuery = None,
    batch_id: TextQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    name = (q or "").strip()
    batches = await service.list_batches(session, principal)
    by_id = {r.batch.id: r for r in batches}
    chosen = _int_or_none(batch_id)
    chosen = chosen if chosen in by_id else None
    rows, total = await service.list_enrollments(
        session,
        principal,
        batch_id=chosen,
        name=name or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "social/people.html",
        {
            **DISPLAY,
            "rows": rows,
            "total": total,
            "q": name,
            "batch_id": chosen,
            "batches": by_id,
            "batch_choices": [
                (r.batch.id, f"{r.batch.code} {r.batch.name}（{r.village_name}）")
                for r in batches
                if r.batch.status == "enrolled"
            ],
            "pager": pager(
                "/social-security/people",
                {"q": name, "batch_id": chosen},
                page=page,
                total=total,
                page_size=PAGE_SIZE,
            ),
        },
    )


# ---------------------------------------------------------------------------------- the household tab


@dataclass(frozen=True, slots=True)
class BatchResult:
    row: service.BatchRow
    entries: list[service.EntryView]


@router.get("/households/{household_id}/social")
async def household_social(
    request: Request, session: Session, principal: WebPrincipal, household_id: HouseholdId
) -> HTMLResponse:
    frame = await household_frame(session, principal, household_id)
    household = frame["household"]
    enrollments = await service.enrollments_of_household(session, principal, household_id)
    by_member = {e.member_id: e for e in enrollments}
    by_person = {e.person_hash: e for e in enrollments}
    members = [(m, by_member.get(m.id) or by_person.get(m.id_number_hash)) for m in frame["members"]]
    shown = {e.id for _m, e in members if e is not None}
    results: list[BatchResult] = []
    for row in await service.list_batches(session, principal):
        if row.batch.village_id != household.village_id:
            continue
        entries = await service.eligibility_list(session, principal, row.batch.id)
        results.append(BatchResult(row, [e for e in entries if e.household_id == household_id]))
    return render(
        request,
        "social/household.html",
        {
            **frame,
            **DISPLAY,
            "current_tab": "social",
            "member_rows": members,
            "other_enrollments": [e for e in enrollments if e.id not in shown],
            "results": results,
        },
    )


# ---------------------------------------------------------------------------------------- old policy

OLD_POLICY_FIELDS = tuple(OLD_POLICY_LABELS)


async def _old_policy_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    page: int = 1,
    form: FormState | None = None,
    import_error: str | None = None,
    row_errors: Sequence[roster.RowError] = (),
    filename: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    records, total = await service.list_old_policy(
        session, principal, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "social/old_policy.html",
        {
            **DISPLAY,
            "records": records,
            "total": total,
            "pager": pager("/social-security/old-policy", {}, page=page, total=total, page_size=PAGE_SIZE),
            "form": form or FormState.of(OLD_POLICY_FIELDS),
            "labels": OLD_POLICY_LABELS,
            "can_write": principal.can(Perm.SOCIAL_CASE_WRITE),
            "import_error": import_error,
            "row_errors": list(row_errors),
            "filename": filename,
            "max_upload": MAX_UPLOAD_TEXT,
            "headers": roster.OLD_POLICY_HEADERS,
        },
        status_code=status_code,
    )


@router.get("/social-security/old-policy")
async def old_policy(
    request: Request, session: Session, principal: WebPrincipal, page: PageQuery = 1
) -> HTMLResponse:
    return await _old_policy_page(request, session, principal, page=page)


@router.post("/social-security/old-policy", response_model=None)
async def old_policy_record(request: Request, session: Session, principal: WebPrincipal) -> Response:
    require(principal, Perm.SOCIAL_CASE_WRITE)
    state = FormState.of(OLD_POLICY_FIELDS, await read_form(request))
    data = validate(OldPolicyIn, state)
    if data is not None:
        outcome = await attempt(session, state, lambda: service.record_old_policy(session, principal, data))
        if outcome is not None:
            what = {"created": "新增", "updated": "已更新", "unchanged": "与原记录相同，未作修改"}[
                outcome.change
            ]
            response = _see_other("/social-security/old-policy")
            flash(response, f"已保存：{outcome.record.name}的老政策记录（{what}）")
            return response
    return await _old_policy_page(request, session, principal, form=state, status_code=state.status)


def _download(data: bytes, filename: str, media_type: str) -> Response:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/social-security/old-policy/template.xlsx")
async def old_policy_template(principal: WebPrincipal) -> Response:
    require(principal, Perm.REGISTRY_READ)
    return _download(roster.old_policy_template(), "老政策花名册模板.xlsx", XLSX_TYPE)


@router.post("/social-security/old-policy/import", response_model=None)
async def old_policy_import(request: Request, session: Session, principal: WebPrincipal) -> Response:
    require(principal, Perm.SOCIAL_CASE_WRITE)
    too_big = f"文件过大：最大 {MAX_UPLOAD_TEXT}。请把花名册拆分为几个文件分批导入"
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        return await _old_policy_page(request, session, principal, import_error=too_big, status_code=413)
    await read_form(request)  # the CSRF check
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _old_policy_page(
            request, session, principal, import_error="请选择要导入的花名册文件（.xlsx）", status_code=422
        )
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:150]
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return await _old_policy_page(
            request, session, principal, import_error=too_big, filename=filename, status_code=413
        )
    try:
        rows, errors = roster.parse_old_policy(data)
    except roster.RosterError as exc:
        return await _old_policy_page(
            request, session, principal, import_error=exc.message, filename=filename, status_code=422
        )
    if errors:
        return await _old_policy_page(
            request,
            session,
            principal,
            import_error=f"导入被拒绝：{len(errors)} 处错误，未保存任何数据。请改正后重新导入。",
            row_errors=errors,
            filename=filename,
            status_code=422,
        )
    if not rows:
        return await _old_policy_page(
            request,
            session,
            principal,
            import_error="文件中没有数据行：请从第 2 行起每行填写一人",
            filename=filename,
            status_code=422,
        )
    try:
        result = await service.import_old_policy(session, principal, rows, source=filename)
    except service.RowsInvalid as exc:
        await session.rollback()
        return await _old_policy_page(
            request,
            session,
            principal,
            import_error=exc.message,
            row_errors=exc.errors,
            filename=filename,
            status_code=422,
        )
    except DomainErrors as exc:
        await session.rollback()
        return await _old_policy_page(
            request,
            session,
            principal,
            import_error=f"导入被拒绝，未保存任何数据：{exc.message}",
            filename=filename,
            status_code=status_for(exc),
        )
    response = _see_other("/social-security/old-policy")
    flash(
        response,
        f"已导入：新增 {result.created} 人，更新 {result.updated} 人，未变 {result.unchanged} 人（{filename}）",
    )
    return response


# ------------------------------------------------------------------------------- proof of life due


@dataclass(frozen=True, slots=True)
class DueQuery:
    month: date | None
    month_text: str
    village_id: int | None
    error: str | None

    def params(self) -> dict[str, object]:
        return {"month": self.month_text, "village_id": self.village_id}


def _due_query(month: str | None, village_id: str | None) -> DueQuery:
    text = (month or "").strip()
    if not text:
        first = rules.add_months(rules.month_of(today_in_china()), 1)
        return DueQuery(first, rules.format_month(first), _int_or_none(village_id), None)
    try:
        return DueQuery(rules.parse_month(text), text, _int_or_none(village_id), None)
    except ValueError as exc:
        return DueQuery(None, text, _int_or_none(village_id), str(exc))


@dataclass(frozen=True, slots=True)
class VillageGroup:
    village_name: str
    rows: list[service.CertificationDueRow]


def _by_village(rows: Sequence[service.CertificationDueRow]) -> list[VillageGroup]:
    groups: dict[str, list[service.CertificationDueRow]] = {}
    for r in rows:
        groups.setdefault(r.village_name, []).append(r)
    return [VillageGroup(name, items) for name, items in groups.items()]


def _due_month(query: DueQuery) -> date:
    if query.month is None:
        raise InvalidInput(query.error or "年月格式应为 YYYY-MM，如 2023-08", field="month")
    return query.month


async def _due_rows(
    session: AsyncSession, principal: Principal, query: DueQuery
) -> list[service.CertificationDueRow]:
    return await service.certification_due_list(
        session, principal, month=_due_month(query), village_id=query.village_id
    )


DUE_HEADERS = ("村", "姓名", "公民身份号码", "户口簿编号", "上次认证", "到期日", "已逾期")


@router.get("/social-security/certification-due")
async def certification_due(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    month: TextQuery = None,
    village_id: TextQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    """资格认证到期名单: by village, 200 a page, with its PDF (per village when long) and XLSX."""
    query = _due_query(month, village_id)
    villages = await households.list_villages(session, principal)
    rows: list[service.CertificationDueRow] = []
    total = overdue = 0
    if query.month is not None:
        total, overdue = await service.certification_due_count(
            session, principal, month=query.month, village_id=query.village_id
        )
        page = clamp_page(page, total, DUE_PAGE_SIZE)
        rows = await service.certification_due_list(
            session,
            principal,
            month=query.month,
            village_id=query.village_id,
            offset=(page - 1) * DUE_PAGE_SIZE,
            limit=DUE_PAGE_SIZE,
        )
    params = {k: v for k, v in query.params().items() if v not in (None, "")}
    return render(
        request,
        "social/certification_due.html",
        {
            **DISPLAY,
            "query": query,
            "groups": _by_village(rows),
            "total": total,
            "overdue": overdue,
            "village_choices": [(v.village.id, f"{v.township_name} {v.village.name}") for v in villages],
            "exports": urlencode(params),
            "whole_pdf": total <= DUE_PDF_MAX_ROWS,
            "pdf_max_rows": DUE_PDF_MAX_ROWS,
            "page_size": DUE_PAGE_SIZE,
            "pager": pager(
                "/social-security/certification-due", params, page=page, total=total, page_size=DUE_PAGE_SIZE
            ),
        },
        status_code=422 if query.error else 200,
    )


def render_due_pdf(context: Mapping[str, Any]) -> bytes:
    return pdf.html_to_pdf(pdf.html_of("certification_due.html", {"d": context, **DISPLAY}))


@router.get("/social-security/certification-due.pdf")
async def certification_due_pdf(
    session: Session, principal: WebPrincipal, month: TextQuery = None, village_id: TextQuery = None
) -> Response:
    query = _due_query(month, village_id)
    due_month = _due_month(query)
    total, _overdue = await service.certification_due_count(
        session, principal, month=due_month, village_id=query.village_id
    )
    if total > DUE_PDF_MAX_ROWS:
        raise InvalidInput(
            f"名单共 {total:,} 人，超过一份 PDF 的上限（{DUE_PDF_MAX_ROWS:,} 人）。请先选择村，按村下载 PDF"
            "（每村一份，便于张贴）；全部名单请下载 XLSX",
            field="village_id",
        )
    rows = await _due_rows(session, principal, query)
    assert query.month is not None
    context = {
        "title": f"资格认证到期名单（{format_month_cn(query.month)}）",
        "month": query.month,
        "groups": _by_village(rows),
        "total": len(rows),
        "today": today_in_china(),
    }
    data = await pdf.render_in_thread(render_due_pdf, context)
    await service.record_export(
        session, principal, "certification_due", {"month": query.month_text, "format": "pdf"}, rows=len(rows)
    )
    return pdf_response(data, f"资格认证到期名单-{query.month_text}.pdf")


@router.get("/social-security/certification-due.xlsx")
async def certification_due_xlsx(
    session: Session, principal: WebPrincipal, month: TextQuery = None, village_id: TextQuery = None
) -> Response:
    query = _due_query(month, village_id)
    rows = await _due_rows(session, principal, query)
    data = roster.xlsx_table(
        "资格认证到期名单",
        DUE_HEADERS,
        (
            (
                r.village_name,
                r.name,
                r.id_number_masked,
                r.register_no,
                r.last_certified_on,
                r.expires_on,
                "是" if r.overdue else "否",
            )
            for r in rows
        ),
        text_columns=(2, 3),
    )
    await service.record_export(
        session, principal, "certification_due", {"month": query.month_text, "format": "xlsx"}, rows=len(rows)
    )
    return _download(data, f"资格认证到期名单-{query.month_text}.xlsx", XLSX_TYPE)


# ---------------------------------------------------------------------------------- what is due


@router.get("/social-security/due")
async def due(
    request: Request, session: Session, principal: WebPrincipal, period: TextQuery = None
) -> HTMLResponse:
    text = (period or "").strip() or rules.format_month(rules.month_of(today_in_china()))
    error = None
    try:
        month: date | None = rules.parse_month(text)
    except ValueError as exc:
        month, error = None, str(exc)
    rows = [] if month is None else await service.due_summary(session, principal, month)
    totals = {
        key: sum(getattr(r, key) for r in rows)
        for key in ("people", "regular", "back_pay", "suspended", "amount")
    }
    return render(
        request,
        "social/due.html",
        {**DISPLAY, "period": text, "month": month, "error": error, "rows": rows, "totals": totals},
        status_code=422 if error else 200,
    )
