"""Pages for payment batches (资金发放): the list with the forms that generate the monthly pension batch (a
background job with its progress page) and the compensation batch (补偿款, at once), one batch with its workflow (审核 → 导出代发文件 → 导入回盘文件 → 差错
→ 关闭), its lines, per-village totals, the 发放台账 downloads (PDF/XLSX) and the 对账报告.

Authorisation and audit stay in ``app.payments.service``; a form is only shown to someone who could submit it, and
each POST handler checks the permission first. POST → redirect (303) → GET with a confirmation naming what
changed, except the bank file, which a POST returns as a download (the export is audited by the service). Account
and ID numbers never go into an address; pages show them masked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.agreements import pdf
from app.agreements.api import pdf_response
from app.areas import service as areas
from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal, require
from app.config import get_settings
from app.core.clock import format_date_cn, format_datetime_cn, format_month_cn, today_in_china
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.money import fen_to_yuan, format_yuan
from app.core.params import BIGINT_MAX, INT_MAX
from app.ledger import service as ledger
from app.payments import bankfiles, jobs, reports, service
from app.payments.models import (
    BATCH_KINDS,
    BATCH_STATUSES,
    EXCEPTION_RESOLUTIONS,
    LINE_STATUSES,
    PaymentBatch,
)
from app.plans.service import user_names
from app.roster import exports
from app.socialsecurity import rules as ss_rules
from app.web.errors import status_for
from app.web.forms import FormState, attempt, clamp_page, pager, read_form
from app.web.templating import flash, render

router = APIRouter()

BatchId = Annotated[int, Path(ge=1, le=INT_MAX, title="发放批次编号")]
ExceptionId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="差错编号")]
JobId = Annotated[str, Path(max_length=64, title="任务编号")]
PageQuery = Annotated[int, Query(ge=1, le=100_000, title="页码")]
StatusQuery = Annotated[str | None, Query(max_length=20, title="状态")]
VillageQuery = Annotated[str | None, Query(max_length=200, title="村的区划路径")]
SearchQuery = Annotated[str | None, Query(max_length=40, title="姓名、序号或业务参考号")]
ExceptionSearchQuery = Annotated[
    str | None, Query(max_length=40, title="差错：业务参考号、户名或回盘文件行号")
]
KindQuery = Annotated[str | None, Query(max_length=20, title="批次类型")]
YearQuery = Annotated[str | None, Query(max_length=4, title="发放期所在年份")]
BATCH_PAGE = 50

LINES_PAGE_SIZE = 200
# The batch page lists this many exceptions a page, the open ones first (a bad bank file can leave a great many).
EXCEPTIONS_PAGE = 50
REFRESH_SECONDS = 2
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_UPLOAD_TEXT = "200 MB"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COUNTY_SCOPE = "county"
NEXT_APPROVER = "须由编制人以外的另一位财政人员审核"

GENERATE_LABELS = {"period": "发放期", "scope": "发放范围", "reissue_all": "重发全部失败明细"}
COMP_LABELS = {"comp_period": "发放期", "comp_scope": "发放范围", "comp_reissue_all": "重发全部失败明细"}
APPROVE_LABELS = {"confirm": "确认"}
EXPORT_LABELS = {"format": "文件格式", "confirm": "确认"}
IMPORT_LABELS = {"format": "文件格式", "file": "回盘文件", "confirm": "确认"}
CLOSE_LABELS = {"confirm": "确认"}
DISCARD_LABELS = {"reason": "作废原因", "confirm": "确认"}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _batch_url(batch_id: int, anchor: str = "") -> str:
    return f"/payments/{batch_id}{'#' + anchor if anchor else ''}"


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


DISPLAY: dict[str, Any] = {
    "FORMATS": bankfiles.FORMATS,
    "LINE_STATUSES": LINE_STATUSES,
    "EXCEPTION_RESOLUTIONS": EXCEPTION_RESOLUTIONS,
}


# ------------------------------------------------------------------------------------------------ the list


@dataclass(frozen=True, slots=True)
class Scope:
    value: str
    label: str
    area_id: int | None
    name: str


async def _scopes(session: AsyncSession, principal: Principal) -> tuple[list[Scope], str]:
    """全县 and each township of the caller's county; and the county's path."""
    county = await ledger.county_area(session, principal.county_code)
    townships = [a for a in await areas.children(session, county.id) if a.level == "township"]
    return [
        Scope(COUNTY_SCOPE, f"全县（{county.name}）", None, "全县"),
        *(Scope(str(t.id), t.name, t.id, t.name) for t in townships),
    ], county.path


def _generate_form(values: dict[str, str] | None = None) -> FormState:
    if values is None:
        values = {"period": ss_rules.format_month(ss_rules.month_of(today_in_china())), "scope": COUNTY_SCOPE}
    return FormState.of(GENERATE_LABELS, values)


def _compensation_form(values: dict[str, str] | None = None) -> FormState:
    if values is None:
        values = {
            "comp_period": ss_rules.format_month(ss_rules.month_of(today_in_china())),
            "comp_scope": COUNTY_SCOPE,
        }
    return FormState.of(COMP_LABELS, values)


async def _list_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    form: FormState | None = None,
    comp_form: FormState | None = None,
    status_code: int = 200,
    which: service.BatchFilter | None = None,
    page: int = 1,
) -> HTMLResponse:
    which = which or service.BatchFilter()
    total = await service.count_batches(session, principal, which)
    page = clamp_page(page, total, BATCH_PAGE)
    rows = await service.list_batches(
        session, principal, which, offset=(page - 1) * BATCH_PAGE, limit=BATCH_PAGE
    )
    params = {"kind": which.kind, "status": which.status, "year": which.year}
    scopes, _path = await _scopes(session, principal)
    county = await ledger.county_area(session, principal.county_code)
    return render(
        request,
        "payments/index.html",
        {
            **DISPLAY,
            "nav": "payments",
            "rows": rows,
            "which": which,
            "filtered": any(v is not None for v in params.values()),
            "years": await service.batch_years(session, principal),
            "BATCH_KINDS": BATCH_KINDS,
            "BATCH_STATUSES": BATCH_STATUSES,
            "pager": pager("/payments", params, page=page, total=total, page_size=BATCH_PAGE),
            "county_id": county.id,
            "can_generate": principal.can(Perm.PAYMENT_PREPARE) and principal.can(Perm.PENSION_CLAIM),
            "form": form or _generate_form(),
            "labels": GENERATE_LABELS,
            "can_generate_comp": principal.can(Perm.PAYMENT_PREPARE),
            "comp_form": comp_form or _compensation_form(),
            "comp_labels": COMP_LABELS,
            "scopes": scopes,
            "jobs": jobs.running_jobs(principal),
        },
        status_code=status_code,
    )


@router.get("/payments")
async def batches(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    kind: KindQuery = None,
    status: StatusQuery = None,
    year: YearQuery = None,
    page: PageQuery = 1,
) -> HTMLResponse:
    """发放批次, the latest period first, a page at a time; by kind, status and year (unknown values: any)."""
    which = service.BatchFilter(
        kind=kind if kind in BATCH_KINDS else None,
        status=status if status in BATCH_STATUSES else None,
        year=int(year) if year and year.isdigit() and 2000 <= int(year) <= 2100 else None,
    )
    return await _list_page(request, session, principal, which=which, page=page)


@router.post("/payments/generate", response_model=None)
async def generate(request: Request, session: Session, principal: WebPrincipal) -> Response:
    require(principal, Perm.PAYMENT_PREPARE)
    require(principal, Perm.PENSION_CLAIM)
    state = _generate_form(await read_form(request))
    scopes, county_path = await _scopes(session, principal)
    period: date | None = None
    try:
        period = ss_rules.parse_month(state.value("period"))
    except ValueError as exc:
        state.add("period", str(exc))
    if period is not None and period > ss_rules.month_of(today_in_china()):
        state.add("period", "不能生成未来月份的发放批次")
    scope = next((s for s in scopes if s.value == state.value("scope")), None)
    if scope is None:
        state.add("scope", "请选择发放范围：全县或一个乡镇")
    if state.invalid or period is None or scope is None:
        return await _list_page(request, session, principal, form=state, status_code=422)
    county = await ledger.county_area(session, principal.county_code)
    scope_id = scope.area_id if scope.area_id is not None else county.id
    for row in await service.list_batches(session, principal):
        b = row.batch
        if b.kind == "pension" and b.period == period and b.scope_area_id == scope_id:
            response = _see_other(_batch_url(b.id))
            flash(
                response,
                f"本期该范围的发放批次 {b.number} 已经存在（{row.status_label}），没有重复生成",
                "error",
            )
            return response
    try:
        job = await jobs.start_generate(
            principal,
            county_path,
            period,
            scope_area_id=scope.area_id,
            scope_name=scope.name,
            reissue_all=state.value("reissue_all") == "1",
            sessions=getattr(request.app.state, "sessionmaker", None),
        )
    except Conflict as exc:
        state.add(None, exc.message)
        return await _list_page(request, session, principal, form=state, status_code=status_for(exc))
    return _see_other(f"/payment-jobs/{job.id}")


@router.post("/payments/generate-compensation", response_model=None)
async def generate_compensation(request: Request, session: Session, principal: WebPrincipal) -> Response:
    """The compensation batch: every tranche whose payment condition is recorded and not yet paid or with the
    bank (few rows: generated at once, no job)."""
    require(principal, Perm.PAYMENT_PREPARE)
    state = _compensation_form(await read_form(request))
    scopes, _path = await _scopes(session, principal)
    period: date | None = None
    try:
        period = ss_rules.parse_month(state.value("comp_period"))
    except ValueError as exc:
        state.add("comp_period", str(exc))
    scope = next((s for s in scopes if s.value == state.value("comp_scope")), None)
    if scope is None:
        state.add("comp_scope", "请选择发放范围：全县或一个乡镇")
    if not state.invalid and period is not None and scope is not None:
        month, area_id = period, scope.area_id
        generated = await attempt(
            session,
            state,
            lambda: service.generate_compensation_batch(
                session,
                principal,
                month,
                scope_area_id=area_id,
                reissue_all=state.value("comp_reissue_all") == "1",
            ),
            rename={"period": "comp_period", "scope_area_id": "comp_scope"},
        )
        if generated is not None:
            b = generated.batch
            response = _see_other(_batch_url(b.id))
            if generated.created:
                reissued = f"（其中重发 {generated.reissued} 笔）" if generated.reissued else ""
                flash(
                    response,
                    f"已生成补偿款发放批次 {b.number}：{generated.lines} 笔{reissued}，"
                    f"合计 {format_yuan(generated.amount)} 元，{NEXT_APPROVER}",
                )
            else:
                flash(
                    response,
                    f"本期该范围的补偿款发放批次 {b.number} 已经存在（{BATCH_STATUSES[b.status]}），没有重复生成",
                    "error",
                )
            return response
    return await _list_page(request, session, principal, comp_form=state, status_code=state.status)


@router.get("/payment-jobs/{job_id}")
async def job_page(request: Request, principal: WebPrincipal, job_id: JobId) -> HTMLResponse:
    job = jobs.get_job(principal, job_id)
    response = render(
        request,
        "payments/job.html",
        {"nav": "payments", "job": job, "refresh": None if job.finished else REFRESH_SECONDS},
    )
    if not job.finished:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


# ------------------------------------------------------------------------------------------------ one batch


@dataclass(frozen=True, slots=True)
class BatchForms:
    approve: FormState | None = None
    export: FormState | None = None
    upload: FormState | None = None
    close: FormState | None = None
    discard: FormState | None = None
    resolve: tuple[int, FormState] | None = None


def _resolve_fields(exception_id: int) -> tuple[str, str, str]:
    return f"resolution_{exception_id}", f"note_{exception_id}", f"confirm_{exception_id}"


async def _scope_label(session: AsyncSession, summary: service.BatchSummary) -> str:
    county = await ledger.county_area(session, summary.batch.county_code)
    return f"全县（{county.name}）" if summary.batch.scope_area_id == county.id else summary.scope_name


def export_move(batch: PaymentBatch) -> str:
    """Where the first export moves the batch's money, in words."""
    if batch.kind == "compensation":
        return "从各征收项目的补偿资金专户划至“补偿款代发在途”"
    return "从社保基金专户划至“养老金代发在途”"


def _next_step(summary: service.BatchSummary, names: dict[int, str]) -> str:
    batch = summary.batch
    preparer = names.get(batch.created_by or 0, "")
    match batch.status:
        case "draft":
            return f"本批次由{preparer or '编制人'}编制，{NEXT_APPROVER}。审核通过后导出代发文件。"
        case "approved":
            return (
                f"导出代发文件交银行代发。第一次导出时，本批次资金{export_move(batch)}；"
                "之后再导出（其他格式或重新下载）得到的是同一份文件。"
            )
        case "exported":
            return "把代发文件交银行；银行处理完后，在下方导入银行的回盘文件。"
        case "imported" if summary.pending == 0:
            return (
                f"每笔都已有银行结果，还有 {summary.open_exceptions} 条差错未处理；"
                "在下方逐条处理完后，批次自动变为已对账。"
            )
        case "imported":
            return (
                f"还有 {summary.pending} 笔待银行处理（已导入的回盘文件里没有这些明细）、"
                f"{summary.open_exceptions} 条差错未处理。请向银行索取这些明细的回盘文件后在下方导入"
                "（在“发放明细”中按状态“待银行处理”筛选，可下载 XLSX 交银行核对）；"
                "每笔都有结果且差错处理完后，批次自动变为已对账。"
            )
        case "reconciled":
            again = (
                "，由经办员与户主核实、在户的协议页更正收款账号后，在以后月份的补偿款批次中重发"
                if batch.kind == "compensation"
                else "在以后月份的批次中重发"
            )
            return f"每笔都有结果，差错已处理。核对对账报告后关闭批次；发放失败的{again}。"
        case _:
            return "本批次办理完毕。"


async def _batch_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    batch_id: int,
    *,
    forms: BatchForms | None = None,
    status: str | None = None,
    village: str | None = None,
    search: str | None = None,
    page: int = 1,
    xsearch: str | None = None,
    xpage: int = 1,
    status_code: int = 200,
) -> HTMLResponse:
    forms = forms or BatchForms()
    summary = await service.batch_summary(session, principal, batch_id)
    batch = summary.batch
    counts = {
        None: batch.line_count,
        "pending": summary.pending,
        "paid": summary.paid,
        "failed": summary.failed,
    }
    villages = await service.village_totals(session, principal, batch_id)
    village = village if village in {v.path for v in villages} else None
    search = (search or "").strip() or None
    shown = (
        counts[status]
        if village is None and search is None
        else await service.count_lines(
            session, principal, batch_id, status=status, village_path=village, search=search
        )
    )
    page = clamp_page(page, shown, LINES_PAGE_SIZE)
    lines = await service.batch_lines(
        session,
        principal,
        batch_id,
        status=status,
        village_path=village,
        search=search,
        offset=(page - 1) * LINES_PAGE_SIZE,
        limit=LINES_PAGE_SIZE,
    )
    xsearch = (xsearch or "").strip() or None
    xshown = (
        summary.exceptions
        if xsearch is None
        else await service.count_exceptions(session, principal, batch_id, search=xsearch)
    )
    xpage = clamp_page(xpage, xshown, EXCEPTIONS_PAGE)
    exceptions = await service.exceptions(
        session,
        principal,
        batch_id,
        open_first=True,
        search=xsearch,
        offset=(xpage - 1) * EXCEPTIONS_PAGE,
        limit=EXCEPTIONS_PAGE,
    )
    lines_query = {"status": status, "village": village, "q": search}
    exports = await service.exports_of(session, principal, batch_id)
    imports = await service.imports_of(session, principal, batch_id)
    names = await user_names(
        session,
        [
            batch.created_by,
            batch.approved_by,
            batch.closed_by,
            *(e.exported_by for e in exports),
            *(i.imported_by for i in imports),
            *(e.exception.resolved_by for e in exceptions),
        ],
    )
    prepare = principal.can(Perm.PAYMENT_PREPARE)
    resolve_forms: dict[int, FormState] = {}
    for e in exceptions:
        if e.exception.resolution is None:
            fields = _resolve_fields(e.exception.id)
            resolve_forms[e.exception.id] = FormState.of(fields)
    if forms.resolve is not None:
        resolve_forms[forms.resolve[0]] = forms.resolve[1]
    return render(
        request,
        "payments/batch.html",
        {
            **DISPLAY,
            "nav": "payments",
            "sm": summary,
            "batch": batch,
            "scope_label": await _scope_label(session, summary),
            "names": names,
            "next_step": _next_step(summary, names),
            "villages": villages,
            "lines": lines,
            "status": status,
            "village": village,
            "search": search or "",
            "lines_xlsx_url": _with_query(
                f"/payments/{batch_id}/lines.xlsx", {"status": status, "village": village, "q": search}
            ),
            "counts": counts,
            "pager": pager(
                _batch_url(batch_id),
                {**lines_query, "xq": xsearch, "xpage": xpage if xpage > 1 else None},
                page=page,
                total=shown,
                page_size=LINES_PAGE_SIZE,
                anchor="lines",
            ),
            "exceptions": exceptions,
            "xsearch": xsearch or "",
            "exceptions_page": EXCEPTIONS_PAGE,
            "lines_query": {
                k: v for k, v in {**lines_query, "page": page if page > 1 else None}.items() if v
            },
            "xpager": pager(
                _batch_url(batch_id),
                {**lines_query, "page": page if page > 1 else None, "xq": xsearch},
                page=xpage,
                total=xshown,
                page_size=EXCEPTIONS_PAGE,
                param="xpage",
                anchor="exceptions",
            ),
            "exports": exports,
            "imports": imports,
            "approve_form": forms.approve or FormState.of(APPROVE_LABELS),
            "export_form": forms.export or FormState.of(EXPORT_LABELS),
            "upload_form": forms.upload or FormState.of(IMPORT_LABELS, {"format": bankfiles.DEFAULT_FORMAT}),
            "close_form": forms.close or FormState.of(CLOSE_LABELS),
            "discard_form": forms.discard or FormState.of(DISCARD_LABELS),
            "discard_labels": DISCARD_LABELS,
            "can_discard": batch.status == "draft" and prepare,
            "resolve_forms": resolve_forms,
            "labels": {**EXPORT_LABELS, **IMPORT_LABELS},
            "can_approve": batch.status == "draft" and principal.can(Perm.PAYMENT_APPROVE),
            "own_batch": batch.created_by is not None and batch.created_by == principal.user_id,
            "can_export": batch.status in ("approved", "exported", "imported") and prepare,
            "whole_pdf": batch.line_count <= service.LEDGER_PDF_MAX_LINES,
            "max_pdf_lines": service.LEDGER_PDF_MAX_LINES,
            # once every line has its result, a further file could only be exceptions: no form (unless one failed)
            "can_import": batch.status in ("exported", "imported", "reconciled")
            and prepare
            and (summary.pending > 0 or forms.upload is not None),
            "can_close": batch.status == "reconciled" and prepare,
            "can_train": batch.status in ("exported", "imported")
            and prepare
            and summary.pending > 0
            and not get_settings().is_production,
            "can_resolve": batch.status in ("imported", "reconciled") and prepare,
            "max_upload": MAX_UPLOAD_TEXT,
            "export_move": export_move(batch),
            "compensation": batch.kind == "compensation",
        },
        status_code=status_code,
    )


@router.get("/payments/{batch_id}")
async def batch_page(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    batch_id: BatchId,
    status: StatusQuery = None,
    village: VillageQuery = None,
    q: SearchQuery = None,
    page: PageQuery = 1,
    xq: ExceptionSearchQuery = None,
    xpage: PageQuery = 1,
) -> HTMLResponse:
    """The batch: its figures, what to do next, its exceptions (the open ones first, found by 业务参考号, name
    or line of the file) and its lines (filtered by status, village and a payee's name, 序号 or 业务参考号), each
    list paged apart."""
    return await _batch_page(
        request,
        session,
        principal,
        batch_id,
        status=status if status in LINE_STATUSES else None,
        village=village,
        search=q,
        page=page,
        xsearch=xq,
        xpage=xpage,
    )


def line_headers(compensation: bool) -> tuple[str, ...]:
    """发放明细's columns, on the batch page (payments/batch.html) and in its XLSX download alike."""
    if compensation:
        middle: tuple[str, ...] = ("收款人", "身份证号", "收款账号", "支付节点", "金额（元）")
    else:
        middle = ("姓名", "身份证号", "存折账号", "发放月份", "金额（元）", "个人账户（元）", "统筹（元）")
    return ("序号", "村", *middle, "状态", "业务参考号")


def line_cells(line: service.LineView, compensation: bool) -> tuple[object, ...]:
    """One line as the page shows it; amounts in yuan with two decimals."""
    status = line.status_label + (f"：{line.reason}" if line.reason else "")
    if line.resolved_on:
        status += f"（{format_date_cn(line.resolved_on)}）"
    parts: tuple[object, ...] = ()
    if not compensation:
        parts = tuple("" if v is None else fen_to_yuan(v) for v in (line.account_part, line.pool_part))
    what = line.months_text + ("（重发）" if line.reissue_of else "")
    return (
        line.seq,
        line.village,
        line.name,
        line.id_masked,
        line.account_masked,
        what,
        fen_to_yuan(line.amount),
        *parts,
        status,
        line.reference,
    )


@router.get("/payments/{batch_id}/lines.xlsx")
async def lines_xlsx(
    session: Session,
    principal: WebPrincipal,
    batch_id: BatchId,
    status: StatusQuery = None,
    village: VillageQuery = None,
    q: SearchQuery = None,
) -> Response:
    """发放明细 (all pages, the page's filters) as XLSX, ID and account numbers masked; audited."""
    batch = await service.get_batch(session, principal, batch_id)
    shown = status if status in LINE_STATUSES else None
    path = _village_path(village)
    search = (q or "").strip() or None
    lines = await service.batch_lines(
        session, principal, batch_id, status=shown, village_path=path, search=search, limit=None
    )
    compensation = batch.kind == "compensation"
    headers = line_headers(compensation)
    data = await exports.build(
        f"发放明细 {batch.number}",
        headers,
        [line_cells(line, compensation) for line in lines],
        text_columns=range(3, len(headers)),
    )
    await service.record_download(
        session,
        principal,
        batch,
        "lines",
        {"format": "xlsx", "status": shown, "village": path, "search": search, "rows": len(lines)},
    )
    suffix = f"-{LINE_STATUSES[shown]}" if shown else ""
    return exports.xlsx_response(data, f"发放明细-{batch.number}{suffix}.xlsx")


@router.post("/payments/{batch_id}/approve", response_model=None)
async def approve(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    require(principal, Perm.PAYMENT_APPROVE)
    state = FormState.of(APPROVE_LABELS, await read_form(request))
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：审核通过后即可导出代发文件发放")
    else:
        try:
            batch = await attempt(session, state, lambda: service.approve_batch(session, principal, batch_id))
        except Forbidden as exc:  # the preparer: say why, on the page, not on an error page
            await session.rollback()
            state.add(None, exc.message)
            state.status = 403
            batch = None
        if batch is not None:
            response = _see_other(_batch_url(batch_id))
            flash(
                response,
                f"已审核通过：发放批次 {batch.number}（{batch.line_count} 笔，合计 {format_yuan(batch.total)} 元），"
                "下一步导出代发文件",
            )
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(approve=state), status_code=state.status
    )


@router.post("/payments/{batch_id}/export", response_model=None)
async def export(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    """The bank file as a download (POST: it carries full account and ID numbers; the service audits it)."""
    require(principal, Perm.PAYMENT_PREPARE)
    state = FormState.of(EXPORT_LABELS, await read_form(request))
    summary = await service.batch_summary(session, principal, batch_id)
    fmt = state.value("format")
    if fmt not in bankfiles.FORMATS:
        state.add("format", "请选择代发文件格式")
    elif summary.batch.status == "approved" and state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：第一次导出时本批次资金划至代发在途")
    if not state.invalid:
        number = summary.batch.number
        kept = await attempt(session, state, lambda: service.export_batch(session, principal, batch_id, fmt))
        if kept is not None:
            spec = bankfiles.FORMATS[fmt]
            return _download(kept.content, f"{number}-代发文件.{spec.extension}", spec.media_type)
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(export=state), status_code=state.status
    )


@router.post("/payments/{batch_id}/training-result", response_model=None)
async def training_result(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> Response:
    """模拟银行回盘: on demo and training sites, a result file for the pending lines to practise the import with."""
    require(principal, Perm.PAYMENT_PREPARE)
    state = FormState.of(EXPORT_LABELS, await read_form(request))
    summary = await service.batch_summary(session, principal, batch_id)
    fmt = state.value("format")
    if fmt not in bankfiles.FORMATS:
        state.add("format", "请选择回盘文件格式")
    if not state.invalid:
        number = summary.batch.number
        content = await attempt(
            session, state, lambda: service.training_result(session, principal, batch_id, fmt)
        )
        if content is not None:
            spec = bankfiles.FORMATS[fmt]
            return _download(content, f"{number}-模拟回盘.{spec.extension}", spec.media_type)
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(upload=state), status_code=state.status
    )


def _file_name(raw: str) -> str:
    return raw.replace("\\", "/").rsplit("/", 1)[-1].strip()[:150]


@router.post("/payments/{batch_id}/import", response_model=None)
async def import_results(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> Response:
    """Start importing the bank's result file (a background job: a big file takes a while)."""
    require(principal, Perm.PAYMENT_PREPARE)
    too_big = f"文件过大：最大 {MAX_UPLOAD_TEXT}，请联系管理员"
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        state = FormState.of(IMPORT_LABELS)
        state.add("file", too_big)
        return await _batch_page(
            request, session, principal, batch_id, forms=BatchForms(upload=state), status_code=413
        )
    state = FormState.of(IMPORT_LABELS, await read_form(request))
    summary = await service.batch_summary(session, principal, batch_id)
    fmt = state.value("format")
    if fmt not in bankfiles.FORMATS:
        state.add("format", "请选择回盘文件的格式")
    upload = (await request.form()).get("file")
    data = b""
    filename = ""
    if not isinstance(upload, UploadFile) or not upload.filename:
        state.add("file", "请选择银行的回盘文件")
    else:
        filename = _file_name(upload.filename) or "回盘文件"
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            state.add("file", too_big)
        elif not data:
            state.add("file", f"文件“{filename}”是空的，请选择银行的回盘文件")
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：导入后银行结果记入发放明细和账务，不能撤销")
    if summary.batch.status not in ("exported", "imported", "reconciled"):
        state.add(None, f"{service.STATUS_REFUSALS['import']}（当前状态：{summary.status_label}）")
    if state.invalid:
        status_code = 413 if state.error("file") == too_big else 409 if state.general else 422
        return await _batch_page(
            request, session, principal, batch_id, forms=BatchForms(upload=state), status_code=status_code
        )
    county = await ledger.county_area(session, summary.batch.county_code)
    try:
        job = await jobs.start_import(
            principal,
            summary,
            county.path,
            fmt=fmt,
            filename=filename,
            content=data,
            sessions=getattr(request.app.state, "sessionmaker", None),
        )
    except Conflict as exc:
        state.add(None, exc.message)
        return await _batch_page(
            request, session, principal, batch_id, forms=BatchForms(upload=state), status_code=409
        )
    return _see_other(f"/payment-jobs/{job.id}")


@router.post("/payments/{batch_id}/exceptions/{exception_id}/resolve", response_model=None)
async def resolve(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId, exception_id: ExceptionId
) -> Response:
    require(principal, Perm.PAYMENT_PREPARE)
    found = await service.exceptions(session, principal, batch_id, exception_id=exception_id)
    if not found:
        raise NotFound("找不到该差错")
    row_no, reference = found[0].exception.row_no, found[0].exception.reference
    resolution_field, note_field, confirm_field = _resolve_fields(exception_id)
    submitted = await read_form(request)
    state = FormState.of((resolution_field, note_field, confirm_field), submitted)
    # the page of exceptions the form was on (hidden fields): shown again, with the error or after the save
    xsearch = submitted.get("xq", "").strip()[:40] or None
    xpage_text = submitted.get("xpage", "")
    xpage = int(xpage_text) if xpage_text.isascii() and xpage_text.isdigit() and len(xpage_text) <= 5 else 1
    resolution, note = state.value(resolution_field), state.value(note_field).strip()
    if resolution not in EXCEPTION_RESOLUTIONS:
        state.add(resolution_field, "请选择处理结果")
    if not note:
        state.add(note_field, "请填写处理说明（如与银行核实的情况）")
    if state.value(confirm_field) != "1":
        state.add(confirm_field, "请先勾选确认：处理后不能更改")
    if not state.invalid:
        resolved = await attempt(
            session,
            state,
            lambda: service.resolve_exception(
                session, principal, exception_id, resolution=resolution, note=note
            ),
            rename={"resolution": resolution_field, "note": note_field},
        )
        if resolved is not None:
            summary = await service.batch_summary(session, principal, batch_id)
            message = (
                f"已处理差错：回盘文件第 {row_no} 行（业务参考号 {reference}），"
                f"{EXCEPTION_RESOLUTIONS[resolution]}"
            )
            if summary.batch.status == "reconciled":
                message += "；本批次每笔都有结果且差错已处理完，已对账，可以关闭批次"
            back = _with_query(
                f"/payments/{batch_id}", {"xq": xsearch, "xpage": str(xpage) if xpage > 1 else None}
            )
            response = _see_other(back + "#exceptions")
            flash(response, message)
            return response
    return await _batch_page(
        request,
        session,
        principal,
        batch_id,
        forms=BatchForms(resolve=(exception_id, state)),
        xsearch=xsearch,
        xpage=max(1, xpage),
        status_code=state.status,
    )


@router.post("/payments/{batch_id}/discard", response_model=None)
async def discard(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    """作废草稿: the draft and its lines go, what it claimed is given back; POST → 303 → the batch list."""
    require(principal, Perm.PAYMENT_PREPARE)
    state = FormState.of(DISCARD_LABELS, await read_form(request))
    reason = state.value("reason").strip()
    if not reason:
        state.add("reason", "请填写作废原因，如 部分人员存折账号有误，更正后重新生成")
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：作废后本批次的发放明细全部删除")
    if not state.invalid:
        gone = await attempt(
            session, state, lambda: service.discard_batch(session, principal, batch_id, reason=reason)
        )
        if gone is not None:
            response = _see_other("/payments")
            flash(
                response,
                f"已作废草稿批次 {gone.number}（{gone.line_count} 笔，合计 {format_yuan(gone.total)} 元）；"
                "更正数据后可以重新生成本期该范围的批次",
            )
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(discard=state), status_code=state.status
    )


@router.post("/payments/{batch_id}/close", response_model=None)
async def close(request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    require(principal, Perm.PAYMENT_PREPARE)
    state = FormState.of(CLOSE_LABELS, await read_form(request))
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：关闭后本批次不能再导入回盘文件")
    else:
        batch = await attempt(session, state, lambda: service.close_batch(session, principal, batch_id))
        if batch is not None:
            response = _see_other(_batch_url(batch_id))
            flash(response, f"已关闭发放批次 {batch.number}")
            return response
    return await _batch_page(
        request, session, principal, batch_id, forms=BatchForms(close=state), status_code=state.status
    )


# ------------------------------------------------------------------------------------------------ reports


async def _reconciliation(
    session: AsyncSession, principal: Principal, batch_id: int
) -> tuple[service.Reconciliation, dict[int, str], str]:
    report = await service.reconciliation(session, principal, batch_id)
    batch = report.summary.batch
    names = await user_names(
        session,
        [
            batch.created_by,
            batch.approved_by,
            *(i.imported_by for i in report.imports),
            *(e.exception.resolved_by for e in report.exceptions),
        ],
    )
    return report, names, await _scope_label(session, report.summary)


@router.get("/payments/{batch_id}/reconciliation")
async def reconciliation(
    request: Request, session: Session, principal: WebPrincipal, batch_id: BatchId
) -> HTMLResponse:
    report, names, scope_label = await _reconciliation(session, principal, batch_id)
    return render(
        request,
        "payments/reconciliation.html",
        {
            **DISPLAY,
            "nav": "payments",
            "r": report,
            "sm": report.summary,
            "batch": report.summary.batch,
            "scope_label": scope_label,
            "names": names,
        },
    )


def reconciliation_doc(
    report: service.Reconciliation, names: dict[int, str], scope_label: str, today: date
) -> reports.ReconciliationDoc:
    """The 对账报告 page's figures and words, for its PDF."""
    sm, batch = report.summary, report.summary.batch

    def name(user_id: int | None) -> str:
        return names.get(user_id, "") if user_id is not None else ""

    def outcome(e: service.ExceptionView) -> str:
        x = e.exception
        if not x.resolution:
            return "待处理"
        return f"{e.resolution_label}：{x.note}（{name(x.resolved_by)}）"

    return reports.ReconciliationDoc(
        batch_no=batch.number,
        kind=sm.kind_label,
        period=format_month_cn(batch.period),
        scope=scope_label,
        status=sm.status_label,
        created_by=name(batch.created_by),
        approved_by=name(batch.approved_by),
        agrees=report.ledger_agrees,
        pending=sm.pending,
        open_exceptions=sm.open_exceptions,
        totals=(
            ("送银行代发", str(batch.line_count), batch.total),
            ("已发放", str(sm.paid), sm.paid_total),
            ("发放失败", str(sm.failed), sm.failed_total),
            ("待银行处理", str(sm.pending), sm.pending_total),
            ("差错（未处理/全部）", f"{sm.open_exceptions} / {sm.exceptions}", None),
            ("代发在途余额", "", report.clearing_left),
        ),
        checks=tuple(report.checks),
        imports=tuple(
            reports.ImportRow(
                filename=i.filename,
                sha256=i.sha256.hex()[:16],
                by=name(i.imported_by),
                at=format_datetime_cn(i.imported_at),
                lines=i.line_count,
                total=i.total,
                paid=i.paid_count,
                paid_total=i.paid_total,
                failed=i.failed_count,
                failed_total=i.failed_total,
                exceptions=i.exception_count,
            )
            for i in report.imports
        ),
        exception_count=sm.exceptions,
        exceptions=tuple(
            reports.ExceptionRow(
                row_no=e.exception.row_no,
                reference=e.exception.reference,
                problem=e.problem_label,
                detail=e.exception.detail,
                outcome=outcome(e),
            )
            for e in report.exceptions
        ),
        generated_on=today,
    )


@router.get("/payments/{batch_id}/reconciliation.pdf")
async def reconciliation_pdf(session: Session, principal: WebPrincipal, batch_id: BatchId) -> Response:
    """The 对账报告 as a PDF to sign and file."""
    report, names, scope_label = await _reconciliation(session, principal, batch_id)
    doc = reconciliation_doc(report, names, scope_label, today_in_china())
    data = await pdf.render_in_thread(reports.reconciliation_pdf, doc)
    return pdf_response(data, f"对账报告-{doc.batch_no}.pdf")


def _with_query(path: str, params: dict[str, str | None]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


def _village_path(raw: str | None) -> str | None:
    """An area path (``/1/4/17/``) or nothing; anything else is refused."""
    text = (raw or "").strip()
    if not text:
        return None
    parts = text.split("/")
    if len(parts) < 3 or parts[0] or parts[-1] or not all(p.isascii() and p.isdigit() for p in parts[1:-1]):
        raise InvalidInput("村的区划路径格式不正确", field="village")
    return text


async def _ledger_doc(
    session: AsyncSession, principal: Principal, batch_id: int, village: str | None, *, pdf: bool = False
) -> tuple[reports.LedgerDoc, Any]:
    path = _village_path(village)
    batch = await service.get_batch(session, principal, batch_id)
    doc = await service.ledger_doc(session, principal, batch_id, village_path=path, pdf=pdf)
    if path is not None and not doc.rows:
        raise NotFound("本批次在该村没有发放明细")
    return doc, batch


def _ledger_name(doc: reports.LedgerDoc, village: str | None, ext: str) -> str:
    return f"发放台账-{doc.batch_no}{'-' + doc.scope if village else ''}.{ext}"


@router.get("/payments/{batch_id}/ledger.pdf")
async def ledger_pdf(
    session: Session, principal: WebPrincipal, batch_id: BatchId, village: VillageQuery = None
) -> Response:
    doc, batch = await _ledger_doc(session, principal, batch_id, village, pdf=True)
    data = await pdf.render_in_thread(reports.ledger_pdf, doc)
    await service.record_download(
        session,
        principal,
        batch,
        "ledger",
        {"format": "pdf", "scope": doc.scope, "village": _village_path(village), "rows": len(doc.rows)},
    )
    return pdf_response(data, _ledger_name(doc, village, "pdf"))


@router.get("/payments/{batch_id}/ledger.xlsx")
async def ledger_xlsx(
    session: Session, principal: WebPrincipal, batch_id: BatchId, village: VillageQuery = None
) -> Response:
    doc, batch = await _ledger_doc(session, principal, batch_id, village)
    data = await asyncio.to_thread(reports.ledger_xlsx, doc)
    await service.record_download(
        session,
        principal,
        batch,
        "ledger",
        {"format": "xlsx", "scope": doc.scope, "village": _village_path(village), "rows": len(doc.rows)},
    )
    return _download(data, _ledger_name(doc, village, "xlsx"), XLSX_TYPE)
