"""Payment batches (资金发放) over JSON under /api/v1: generate the monthly pension batch (or a compensation batch),
approve it (a second finance user), export the bank file, import the bank's result file, resolve reconciliation
exceptions, read the reconciliation report, close, and download the 发放台账 (PDF/XLSX).

Money is two-decimal yuan strings, periods ``YYYY-MM``. Payees' ID numbers and accounts are only ever masked here;
the bank file carries them whole, so it is fetched with a POST (nothing to cache or link) and every export and
ledger download is audited. Authorisation and audit stay in ``app.payments.service``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, Response, UploadFile

from app.agreements import pdf
from app.areas import service as areas
from app.auth.deps import ApiPrincipal, Session
from app.auth.policy import Perm, require
from app.core.errors import InvalidInput, NotFound
from app.core.money import fen_to_yuan
from app.core.params import BIGINT_MAX, INT_MAX
from app.core.text import QueryText
from app.payments import bankfiles, reports, service
from app.payments.api_schemas import (
    BankFormatCode,
    BatchKind,
    BatchOut,
    BatchStatus,
    CheckOut,
    DiscardedOut,
    DiscardIn,
    ExceptionOut,
    ExportIn,
    GeneratedOut,
    GenerateIn,
    ImportOutcomeOut,
    LineOut,
    LinePage,
    LineStatus,
    ReconciliationOut,
    ResolveIn,
    ResultImportOut,
)
from app.payments.models import ResultImport
from app.socialsecurity import rules as ss_rules

router = APIRouter(prefix="/api/v1", tags=["资金发放"])

BatchId = Annotated[int, Path(ge=1, le=INT_MAX, title="发放批次编号")]
ExceptionId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="差错编号")]
Limit = Annotated[int, Query(ge=1, le=1000, title="每页条数")]
Offset = Annotated[int, Query(ge=0, le=100_000_000, title="跳过条数")]
VillageQuery = Annotated[QueryText | None, Query(max_length=200, title="村的区划路径（如 /1/4/17/）")]

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
TOO_BIG = "文件过大：最大 200 MB，请联系管理员"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

READ: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不属于本县"},
}
QUERY: dict[int | str, dict[str, Any]] = {**READ, 422: {"description": "查询参数有误"}}
WRITE: dict[int | str, dict[str, Any]] = {
    **READ,
    400: {"description": "请求体无法解析"},
    409: {"description": "批次状态不允许此操作，或与现有数据冲突（本期已有批次、文件已导入、差错已处理）"},
    422: {"description": "输入有误（信息中写明字段）"},
}
GENERATE: dict[int | str, dict[str, Any]] = {
    **WRITE,
    200: {"model": GeneratedOut, "description": "本期该范围的批次已经存在，原样返回（created 为 false）"},
}
_FILE_HEADERS: dict[str, Any] = {
    "Content-Disposition": {"description": "附件文件名", "schema": {"type": "string"}},
    "Cache-Control": {"description": "no-store", "schema": {"type": "string"}},
}
EXPORT: dict[int | str, dict[str, Any]] = {
    **WRITE,
    200: {
        "description": "银行代发文件（同一批次每次导出的内容相同）",
        "content": {"text/plain": {}, "text/csv": {}, XLSX_TYPE: {}},
        "headers": {
            **_FILE_HEADERS,
            "X-Content-SHA256": {
                "description": "文件内容的 SHA-256（十六进制）",
                "schema": {"type": "string"},
            },
        },
    },
}
UPLOAD: dict[int | str, dict[str, Any]] = {**WRITE, 413: {"description": "文件过大"}}
PDF: dict[int | str, dict[str, Any]] = {
    **QUERY,
    200: {"description": "发放台账 PDF", "content": {"application/pdf": {}}, "headers": _FILE_HEADERS},
}
XLSX: dict[int | str, dict[str, Any]] = {
    **QUERY,
    200: {"description": "发放台账 XLSX", "content": {XLSX_TYPE: {}}, "headers": _FILE_HEADERS},
}


def _download(data: bytes, filename: str, media_type: str, headers: dict[str, str] | None = None) -> Response:
    """A file download; the file name in RFC 5987 form too, for names with Chinese characters."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def _yuan_or_none(fen: int | None) -> str | None:
    return None if fen is None else fen_to_yuan(fen)


def batch_out(s: service.BatchSummary) -> BatchOut:
    b = s.batch
    return BatchOut(
        id=b.id,
        number=b.number,
        kind=b.kind,
        kind_label=s.kind_label,
        period=ss_rules.format_month(b.period),
        scope_area_id=b.scope_area_id,
        scope_name=s.scope_name,
        status=b.status,
        status_label=s.status_label,
        line_count=b.line_count,
        total=fen_to_yuan(b.total),
        pending=s.pending,
        paid=s.paid,
        failed=s.failed,
        pending_total=fen_to_yuan(s.pending_total),
        paid_total=fen_to_yuan(s.paid_total),
        failed_total=fen_to_yuan(s.failed_total),
        open_exceptions=s.open_exceptions,
        reissued=s.reissued,
        created_by=b.created_by,
        created_at=b.created_at,
        approved_by=b.approved_by,
        approved_at=b.approved_at,
        exported_at=b.exported_at,
        closed_by=b.closed_by,
        closed_at=b.closed_at,
        version=b.version,
    )


async def _batch(session: Session, principal: ApiPrincipal, batch_id: int) -> BatchOut:
    return batch_out(await service.batch_summary(session, principal, batch_id))


def line_out(line: service.LineView) -> LineOut:
    return LineOut(
        id=line.id,
        seq=line.seq,
        reference=line.reference,
        village=line.village,
        name=line.name,
        id_number_masked=line.id_masked,
        account_masked=line.account_masked,
        months=None if line.months is None else [ss_rules.format_month(m) for m in line.months],
        months_text=line.months_text,
        amount=fen_to_yuan(line.amount),
        account_part=_yuan_or_none(line.account_part),
        pool_part=_yuan_or_none(line.pool_part),
        status=line.status,
        status_label=line.status_label,
        reason=line.reason,
        reissue_of=line.reissue_of,
        resolved_on=line.resolved_on,
    )


def exception_out(view: service.ExceptionView) -> ExceptionOut:
    e = view.exception
    return ExceptionOut(
        id=e.id,
        batch_id=e.batch_id,
        import_id=e.import_id,
        row_no=e.row_no,
        reference=e.reference,
        line_id=e.line_id,
        line_name=view.line_name,
        line_amount=_yuan_or_none(view.line_amount),
        line_status=view.line_status,
        problem=e.problem,
        problem_label=view.problem_label,
        detail=e.detail,
        bank_paid=e.bank_paid,
        bank_name=e.bank_name,
        bank_amount=fen_to_yuan(e.bank_amount),
        bank_reason=e.bank_reason,
        resolution=e.resolution,
        resolution_label=view.resolution_label,
        note=e.note,
        resolved_by=e.resolved_by,
        resolved_at=e.resolved_at,
    )


def result_import_out(r: ResultImport) -> ResultImportOut:
    return ResultImportOut(
        id=r.id,
        format=r.format,
        filename=r.filename,
        sha256=r.sha256.hex(),
        line_count=r.line_count,
        total=fen_to_yuan(r.total),
        paid_count=r.paid_count,
        paid_total=fen_to_yuan(r.paid_total),
        failed_count=r.failed_count,
        failed_total=fen_to_yuan(r.failed_total),
        exception_count=r.exception_count,
        imported_by=r.imported_by,
        imported_at=r.imported_at,
    )


# ------------------------------------------------------------------------------------------------ batches


@router.get("/payments/batches", response_model=list[BatchOut], responses=READ)
async def list_batches(
    session: Session,
    principal: ApiPrincipal,
    kind: Annotated[BatchKind | None, Query(title="批次类型")] = None,
    status: Annotated[BatchStatus | None, Query(title="状态")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, title="发放期所在年份")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000, title="跳过的个数")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, title="最多返回的个数")] = 200,
) -> list[BatchOut]:
    """本县的发放批次（发放期新的在前；可按类型、状态、年度筛选，offset/limit 分页），含各状态笔数和金额。"""
    which = service.BatchFilter(kind=kind, status=status, year=year)
    return [
        batch_out(s)
        for s in await service.list_batches(session, principal, which, offset=offset, limit=limit)
    ]


@router.post("/payments/batches", response_model=GeneratedOut, status_code=201, responses=GENERATE)
async def generate_batch(
    session: Session, principal: ApiPrincipal, body: GenerateIn, response: Response
) -> GeneratedOut:
    """生成发放批次：养老金批次含当月应发、认证恢复后的补发和账号更正后的失败重发；补偿款批次含已满足支付条件的
    协议款项。范围为全县（默认）或一个乡镇。本期该范围的批次已经存在时原样返回（200，created 为 false）。"""
    require(principal, Perm.PAYMENT_PREPARE)
    scope_area_id: int | None = None
    if body.scope_area_code is not None:
        area = await areas.area_by_code(session, body.scope_area_code)
        if area is None:
            raise InvalidInput(f"找不到区划代码 {body.scope_area_code}", field="scope_area_code")
        if area.level not in ("county", "township"):
            raise InvalidInput("发放范围只能是全县或一个乡镇", field="scope_area_code")
        scope_area_id = area.id
    period = ss_rules.parse_month(body.period)
    if body.kind == "pension":
        generated = await service.generate_pension_batch(
            session, principal, period, scope_area_id=scope_area_id, reissue_all=body.reissue_all
        )
    else:
        generated = await service.generate_compensation_batch(
            session, principal, period, scope_area_id=scope_area_id, reissue_all=body.reissue_all
        )
    if not generated.created:
        response.status_code = 200
    summary = await _batch(session, principal, generated.batch.id)
    return GeneratedOut(
        **summary.model_dump(),
        created=generated.created,
        months=generated.months,
        back_pay_months=generated.back_pay_months,
        suspended=generated.suspended,
    )


@router.get("/payments/batches/{batch_id}", response_model=BatchOut, responses=READ)
async def get_batch(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> BatchOut:
    """一个发放批次：状态，待处理、已发放和失败的笔数及金额，未处理的差错数。"""
    return await _batch(session, principal, batch_id)


@router.get("/payments/batches/{batch_id}/lines", response_model=LinePage, responses=QUERY)
async def batch_lines(
    session: Session,
    principal: ApiPrincipal,
    batch_id: BatchId,
    status: Annotated[
        LineStatus | None, Query(title="状态（pending 待银行处理 / paid 已发放 / failed 失败）")
    ] = None,
    offset: Offset = 0,
    limit: Limit = 200,
) -> LinePage:
    """发放明细，按序号；身份证号和账号已遮挡。"""
    summary = await service.batch_summary(session, principal, batch_id)
    total = {
        None: summary.batch.line_count,
        "pending": summary.pending,
        "paid": summary.paid,
        "failed": summary.failed,
    }[status]
    lines = await service.batch_lines(session, principal, batch_id, status=status, offset=offset, limit=limit)
    return LinePage(items=[line_out(line) for line in lines], total=total, offset=offset, limit=limit)


@router.post("/payments/batches/{batch_id}/approve", response_model=BatchOut, responses=WRITE)
async def approve_batch(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> BatchOut:
    """审核通过待审核的批次（财政局，且不是编制人）。"""
    await service.approve_batch(session, principal, batch_id)
    return await _batch(session, principal, batch_id)


@router.post("/payments/batches/{batch_id}/export", response_class=Response, responses=EXPORT)
async def export_batch(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, body: ExportIn
) -> Response:
    """导出银行代发文件（含完整账号和身份证号，每次导出都记入操作记录）。第一次导出时本批次资金从社保基金专户划至
    代发在途；之后每次导出同一格式得到的是同一份文件，其 SHA-256 在 X-Content-SHA256 中。"""
    kept = await service.export_batch(session, principal, batch_id, body.format)
    batch = await service.get_batch(session, principal, batch_id)
    spec = bankfiles.FORMATS[body.format]
    return _download(
        kept.content,
        f"{batch.number}-代发文件.{spec.extension}",
        spec.media_type,
        {"X-Content-SHA256": kept.sha256.hex()},
    )


def _file_name(raw: str) -> str:
    return raw.replace("\\", "/").rsplit("/", 1)[-1].strip()[:150]


@router.post("/payments/batches/{batch_id}/results", response_model=ImportOutcomeOut, responses=UPLOAD)
async def import_results(
    request: Request,
    session: Session,
    principal: ApiPrincipal,
    batch_id: BatchId,
    fmt: Annotated[BankFormatCode | None, Form(alias="format", title="文件格式")] = None,
    file: Annotated[UploadFile | None, File(title="回盘文件")] = None,
) -> ImportOutcomeOut:
    """导入银行的回盘文件（multipart：format 和 file）：按业务参考号逐笔对应，核对账号、户名和金额；对上的记为已发放
    或失败，对不上的进入差错。控制总数不符、属于其他批次或已导入过的文件整份不导入。"""
    require(principal, Perm.PAYMENT_PREPARE)
    await service.get_batch(session, principal, batch_id)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise HTTPException(413, TOO_BIG)
    if fmt is None:
        raise InvalidInput("请选择回盘文件的格式", field="format")
    if file is None or not file.filename:
        raise InvalidInput("请选择银行的回盘文件", field="file")
    filename = _file_name(file.filename) or "回盘文件"
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, TOO_BIG)
    if not data:
        raise InvalidInput(f"文件“{filename}”是空的，请选择银行的回盘文件", field="file")
    outcome = await service.import_results(
        session, principal, batch_id, fmt=fmt, filename=filename, content=data
    )
    summary = await service.batch_summary(session, principal, batch_id)
    return ImportOutcomeOut(
        **result_import_out(outcome.result_import).model_dump(),
        batch_status=summary.batch.status,
        batch_status_label=summary.status_label,
    )


@router.get("/payments/batches/{batch_id}/exceptions", response_model=list[ExceptionOut], responses=QUERY)
async def list_exceptions(
    session: Session,
    principal: ApiPrincipal,
    batch_id: BatchId,
    open_only: Annotated[bool, Query(title="只列未处理的")] = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000, title="跳过前多少条")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, title="最多列出多少条")] = 1_000,
    q: Annotated[
        str | None, Query(max_length=40, title="回盘文件行号（数字），或业务参考号、户名的一部分")
    ] = None,
) -> list[ExceptionOut]:
    """差错：回盘文件中找不到对应明细、账号/户名/金额不符或重复的行，及其处理情况；按回盘文件的行序，
    每次最多 limit 条（默认 1000），用 offset 取后面的；q 按行号、业务参考号或户名查找。"""
    views = await service.exceptions(
        session, principal, batch_id, open_only=open_only, offset=offset, limit=limit, search=q
    )
    return [exception_out(v) for v in views]


@router.post("/payments/exceptions/{exception_id}/resolve", response_model=ExceptionOut, responses=WRITE)
async def resolve_exception(
    session: Session, principal: ApiPrincipal, exception_id: ExceptionId, body: ResolveIn
) -> ExceptionOut:
    """处理一条差错：与银行核实后确认已发放或失败（每笔明细只能确认一次），或作“不属于本批次”处理；须写明说明。
    每笔都有结果且差错处理完后，批次自动变为已对账。"""
    require(principal, Perm.PAYMENT_PREPARE)
    resolved = await service.resolve_exception(
        session, principal, exception_id, resolution=body.resolution, note=body.note
    )
    [view] = await service.exceptions(session, principal, resolved.batch_id, exception_id=resolved.id)
    return exception_out(view)


@router.post("/payments/batches/{batch_id}/discard", response_model=DiscardedOut, responses=WRITE)
async def discard_batch(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, body: DiscardIn
) -> DiscardedOut:
    """作废草稿批次（审核前）：删除批次及其发放明细，退回所领取的月份（补偿款节点），本期该范围可以重新生成；记入操作
    记录。审核通过后的批次不能作废（409）。"""
    gone = await service.discard_batch(session, principal, batch_id, reason=body.reason)
    return DiscardedOut(number=gone.number, lines=gone.line_count, total=fen_to_yuan(gone.total))


@router.post("/payments/batches/{batch_id}/close", response_model=BatchOut, responses=WRITE)
async def close_batch(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> BatchOut:
    """关闭已对账的批次；发放失败的在以后月份的批次中重发。"""
    await service.close_batch(session, principal, batch_id)
    return await _batch(session, principal, batch_id)


@router.get("/payments/batches/{batch_id}/reconciliation", response_model=ReconciliationOut, responses=READ)
async def reconciliation(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> ReconciliationOut:
    """对账报告：导入的回盘文件、差错、本批次的记账，以及各项核对（明细合计、代发在途余额与待处理金额等）。"""
    report = await service.reconciliation(session, principal, batch_id)
    return ReconciliationOut(
        batch=batch_out(report.summary),
        imports=[result_import_out(i) for i in report.imports],
        exceptions=[exception_out(e) for e in report.exceptions],
        exception_count=report.summary.exceptions,
        postings={code: fen_to_yuan(net) for code, net in sorted(report.postings.items())},
        clearing_left=fen_to_yuan(report.clearing_left),
        ledger_agrees=report.ledger_agrees,
        checks=[CheckOut(name=name, ok=ok, detail=detail) for name, ok, detail in report.checks],
    )


# ------------------------------------------------------------------------------------------------ 发放台账


def _village_path(raw: str | None) -> str | None:
    """An area path (``/1/4/17/``) or nothing; anything else is refused."""
    text = (raw or "").strip()
    if not text:
        return None
    parts = text.split("/")
    if len(parts) < 3 or parts[0] or parts[-1] or not all(p.isascii() and p.isdigit() for p in parts[1:-1]):
        raise InvalidInput("村的区划路径格式不正确（如 /1/4/17/）", field="village")
    return text


async def _ledger(
    session: Session, principal: ApiPrincipal, batch_id: int, village: str | None, fmt: str
) -> tuple[reports.LedgerDoc, str]:
    """The ledger of the batch (or of one village in it) and its file name; the download is audited."""
    path = _village_path(village)
    batch = await service.get_batch(session, principal, batch_id)
    doc = await service.ledger_doc(session, principal, batch_id, village_path=path, pdf=fmt == "pdf")
    if path is not None and not doc.rows:
        raise NotFound("本批次在该村没有发放明细")
    await service.record_download(
        session,
        principal,
        batch,
        "ledger",
        {"format": fmt, "scope": doc.scope, "village": path, "rows": len(doc.rows)},
    )
    return doc, f"发放台账-{doc.batch_no}{'-' + doc.scope if path else ''}.{fmt}"


@router.get(
    "/payments/batches/{batch_id}/ledger.pdf",
    response_class=Response,
    responses={**PDF, 409: {"description": "整批超过 20,000 笔：请按村下载 PDF 或下载 XLSX"}},
)
async def ledger_pdf(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, village: VillageQuery = None
) -> Response:
    """发放台账 PDF（全批次或一个村）：每笔一行，每页小计，合计及大写，签字栏；身份证号和账号已遮挡。"""
    doc, filename = await _ledger(session, principal, batch_id, village, "pdf")
    return _download(await pdf.render_in_thread(reports.ledger_pdf, doc), filename, "application/pdf")


@router.get("/payments/batches/{batch_id}/ledger.xlsx", response_class=Response, responses=XLSX)
async def ledger_xlsx(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, village: VillageQuery = None
) -> Response:
    """发放台账 XLSX（全批次或一个村），列与 PDF 相同。"""
    doc, filename = await _ledger(session, principal, batch_id, village, "xlsx")
    return _download(reports.ledger_xlsx(doc), filename, XLSX_TYPE)
