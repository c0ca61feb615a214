"""发放台账 (payment ledger) as PDF and XLSX, from rows the caller has already read and masked, and the 对账报告
(reconciliation report) as PDF; no database here.

The PDF is A4 landscape with one row per payment, a header on every page (title, batch, county/scope/period,
"第 x 页 共 y 页"), a 本页小计 line (count, amount, 大写) on every page and, on the last page, the 合计 (count,
amount, 大写) and the signature block. Page subtotals must be exact, so the pages are cut here in Python, not by
the layout engine: every row has a fixed height and cannot wrap (long values are cut with an ellipsis), each page
holds at most ``rows_per_page`` rows, and each page is followed by a forced page break. Knowing the page count, we
print the page numbers ourselves.

Speed: WeasyPrint spends about 1 ms per table cell (styles, table layout, drawing), which puts a page of 30 rows
× 9 columns at 0.33 s and a 10,000-row ledger at 110 s. So the template draws the table instead of laying out a
``<table>``: per page, each column is one block holding that column's values one per line, at a left offset
computed here, with rules at multiples of the row height (see ``pdf_templates/payment_ledger.html``): about
0.1 s a page.

Memory: WeasyPrint keeps the layout of every page of a document until it is written (10,000 rows in one
document: 1.4 GB), so the pages are rendered in chunks of ``pages_per_chunk``, each chunk its own document, and
the chunk PDFs are joined with pypdf, which copies the finished pages' objects and keeps no layout.

CPython (3.11 and 3.12; 3.13 and 3.14 until the fix for gh-142183) frees a chunk of its frame stack as soon as
the calls return below it, and allocates it again on the next call: when one of WeasyPrint's hot layout calls sits on a chunk boundary, every
call costs an mmap, a munmap and four page faults. Whether that happens depends on how deep the caller's stack
is: measured here, between 35,000 and 450,000 page faults for 40 pages, up to 25 s of system time for 10,000
rows. ``_in_own_stack_chunk`` runs each chunk's render above a frame that makes CPython give it a chunk of its own
with room to spare, so no boundary is crossed, whatever the caller.
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Any, TypeVar

from app.agreements.pdf import TEMPLATE_DIR, html_of, html_to_pdf
from app.core.clock import format_date_cn
from app.core.money import fen_to_yuan, format_yuan, to_chinese_capital
from app.socialsecurity.roster import xlsx_table

# What fits on one A4 landscape page (8 mm margins, 194 mm high) under the page header: header line + rows +
# 本页小计 at ROW_MM each.
ROWS_PER_PAGE = 30
ROW_MM = 5
# The 合计 and 大写 lines and the signature block take the room of this many rows: the last page holds at most
# ROWS_PER_PAGE - SUMMARY_ROWS rows (see ``page_rows``).
SUMMARY_ROWS = 6
PAGES_PER_CHUNK = 20

TEMPLATE = "payment_ledger.html"
# (header, width in mm, alignment class); the widths add up to the page's 273 mm between the margins.
COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("序号", 11, "center"),
    ("村", 29, ""),
    ("姓名", 20, ""),
    ("身份证号", 38, ""),
    ("存折/账号", 38, ""),
    ("发放月份/款项", 48, ""),
    ("金额（元）", 27, "num"),
    ("状态", 20, ""),
    ("业务参考号", 42, ""),
)
HEADERS = tuple(header for header, _, _ in COLUMNS)
_AMOUNT = 6  # index of 金额 in COLUMNS
# 身份证号, 存折/账号, 发放月份/款项, 金额, 业务参考号: text, so Excel neither rounds long digit runs nor reads
# "2026-10" as a date.
_XLSX_TEXT_COLUMNS = (3, 4, 5, 6, 8)
# Unused local slots of the frame that ``_in_own_stack_chunk`` puts under a render: 8,500 × 8 bytes ≈ 68 KB, so
# CPython allocates a 128 KB chunk for it and the render's frames get the other ~60 KB, twice what this
# template's deepest layout needs (measured: ~30 KB of room already crossed no boundary).
_STACK_ROOM_SLOTS = 8_500

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    seq: int
    village: str
    name: str
    id_masked: str  # "410727********1234"
    account_masked: str  # "6217************1234"
    months: str  # "2026-10", "2026-03至2026-09（7个月）", or a tranche label for compensation lines
    amount: int  # fen
    status: str  # 待银行处理 / 已发放 / 失败 / ...
    reference: str


@dataclass(frozen=True, slots=True)
class LedgerDoc:
    title: str  # "被征地农民养老金发放台账" / "征收补偿款发放台账"
    batch_no: str
    county: str  # "封丘县"
    scope: str  # "全县" / "城关镇" / "前方庄村"
    period: str  # "2026年11月", or "" for compensation batches
    generated_on: date
    rows: Sequence[LedgerRow]


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    left: float  # mm from the table's left edge
    width: float  # mm
    align: str  # a CSS class: "", "center", "num"
    text: str  # the page's values of this column, one per line


@dataclass(frozen=True, slots=True)
class _Cell:
    """A cell of a 小计/合计 line, spanning some columns."""

    line: int  # 0 = the header line
    left: float
    width: float
    align: str
    text: str
    end: bool  # the rightmost cell of its line


@dataclass(frozen=True, slots=True)
class _Page:
    number: int  # 1-based, over the whole document
    count: int
    amount: int  # fen
    last: bool
    lines: int  # header + rows + 小计 (+ 合计 + 大写 on the last page)
    columns: Sequence[_Column]
    summary: Sequence[_Cell]


@dataclass(frozen=True, slots=True)
class _Total:
    count: int
    amount: int  # fen


def page_rows(
    rows: Sequence[LedgerRow], rows_per_page: int, *, last_page_rows: int | None = None
) -> list[list[LedgerRow]]:
    """The rows cut into pages of ``rows_per_page``, in order; always at least one page (an empty ledger has one
    empty page).

    The last page also carries the 合计 and the signatures, so it holds at most ``last_page_rows`` rows (default:
    ``min(rows_per_page, ROWS_PER_PAGE - SUMMARY_ROWS)``, what leaves room for them on a page). When more rows
    are left for the last page, they are split in two: the final page gets ``last_page_rows`` rows and the page
    before it the rest.
    """
    if rows_per_page < 1:
        raise ValueError("rows_per_page must be at least 1")
    if last_page_rows is None:
        last_page_rows = min(rows_per_page, ROWS_PER_PAGE - SUMMARY_ROWS)
    if not 1 <= last_page_rows <= rows_per_page:
        raise ValueError("last_page_rows must be between 1 and rows_per_page")
    items = list(rows)
    pages = [items[i : i + rows_per_page] for i in range(0, len(items), rows_per_page)] or [[]]
    tail = pages[-1]
    if len(tail) > last_page_rows:
        cut = len(tail) - last_page_rows
        pages[-1:] = [tail[:cut], tail[cut:]]
    return pages


def _one_line(text: str) -> str:
    """A value on one line: every run of whitespace, line and paragraph separators included, becomes a space (a
    newline would shift the column's later values down a row)."""
    return " ".join(text.split())


def _cells(row: LedgerRow) -> tuple[str, ...]:
    return (
        str(row.seq),
        _one_line(row.village),
        _one_line(row.name),
        _one_line(row.id_masked),
        _one_line(row.account_masked),
        _one_line(row.months),
        format_yuan(row.amount),
        _one_line(row.status),
        _one_line(row.reference),
    )


def _lefts() -> list[float]:
    lefts = [0.0]
    for _, width, _ in COLUMNS[:-1]:
        lefts.append(lefts[-1] + width)
    return lefts


def _span(line: int, first: int, end: int, text: str, align: str = "") -> _Cell:
    """A cell over COLUMNS[first:end] on ``line``."""
    left = sum(width for _, width, _ in COLUMNS[:first])
    width = sum(width for _, width, _ in COLUMNS[first:end])
    return _Cell(line=line, left=left, width=width, align=align, text=text, end=end == len(COLUMNS))


def _page(number: int, rows: Sequence[LedgerRow], last: bool, total: _Total) -> _Page:
    count = len(rows)
    amount = sum(r.amount for r in rows)
    values = [_cells(r) for r in rows]
    columns = [
        _Column(
            header=header,
            left=left,
            width=width,
            align=align,
            text="\n".join(v[index] for v in values),
        )
        for index, ((header, width, align), left) in enumerate(zip(COLUMNS, _lefts(), strict=True))
    ]
    line = count + 1
    summary = [
        _span(line, 0, _AMOUNT, f"本页小计：{count} 笔，大写：{to_chinese_capital(amount)}"),
        _span(line, _AMOUNT, _AMOUNT + 1, format_yuan(amount), "num"),
        _span(line, _AMOUNT + 1, len(COLUMNS), ""),
    ]
    if last:
        summary += [
            _span(line + 1, 0, _AMOUNT, f"合计：{total.count} 笔"),
            _span(line + 1, _AMOUNT, _AMOUNT + 1, format_yuan(total.amount), "num"),
            _span(line + 1, _AMOUNT + 1, len(COLUMNS), ""),
            _span(line + 2, 0, len(COLUMNS), f"合计金额（大写）：{to_chinese_capital(total.amount)}"),
        ]
    return _Page(
        number=number,
        count=count,
        amount=amount,
        last=last,
        lines=count + (4 if last else 2),
        columns=columns,
        summary=summary,
    )


def _total(doc: LedgerDoc) -> _Total:
    return _Total(count=len(doc.rows), amount=sum(r.amount for r in doc.rows))


def ledger_chunks(doc: LedgerDoc, *, rows_per_page: int, pages_per_chunk: int) -> Iterator[str]:
    """The HTML of each chunk of ``pages_per_chunk`` consecutive pages, in order."""
    cut = page_rows(doc.rows, rows_per_page)
    total = _total(doc)
    for start in range(0, len(cut), pages_per_chunk):
        pages = [
            _page(number, rows, number == len(cut), total)
            for number, rows in enumerate(cut[start : start + pages_per_chunk], start + 1)
        ]
        yield html_of(TEMPLATE, {"d": doc, "pages": pages, "total_pages": len(cut), "row_mm": ROW_MM})


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def _roomy_call() -> Callable[..., Any]:
    """``_call`` with a frame of ``_STACK_ROOM_SLOTS`` more (never assigned) local variables, on CPython."""
    if sys.implementation.name != "cpython":
        return _call
    code = _call.__code__
    names = code.co_varnames + tuple(f"_room{i}" for i in range(_STACK_ROOM_SLOTS))
    try:
        roomy = code.replace(co_varnames=names, co_nlocals=len(names))
    except (TypeError, ValueError):  # a CPython whose code objects no longer take this: no harm, no room
        return _call
    return types.FunctionType(roomy, _call.__globals__, "_roomy_call")


_ROOMY_CALL = _roomy_call()


def _in_own_stack_chunk(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` with its frames in a frame-stack chunk of their own (see the module's docstring)."""
    result: T = _ROOMY_CALL(fn, *args)
    return result


def _write_pdf(html: str, font_config: Any) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf(font_config=font_config)
    return pdf


def render_chunk(html: str, font_config: Any = None) -> bytes:
    """One chunk's HTML (from ``ledger_chunks``) as a PDF. ``font_config``: a WeasyPrint ``FontConfiguration``
    to share between chunks."""
    return _in_own_stack_chunk(_write_pdf, html, font_config)


def ledger_pdf(
    doc: LedgerDoc, *, rows_per_page: int = ROWS_PER_PAGE, pages_per_chunk: int = PAGES_PER_CHUNK
) -> bytes:
    """The ledger as one PDF: pages cut by ``page_rows``, rendered ``pages_per_chunk`` pages per WeasyPrint
    document, the chunks joined. ``rows_per_page`` may be lower than ``ROWS_PER_PAGE``, never higher (the rows
    would no longer fit on the page and the page numbers would be wrong)."""
    if not 1 <= rows_per_page <= ROWS_PER_PAGE:
        raise ValueError(f"rows_per_page must be between 1 and {ROWS_PER_PAGE}")
    if pages_per_chunk < 1:
        raise ValueError("pages_per_chunk must be at least 1")
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()  # fonts found once, shared by the chunks
    chunks: list[bytes] = []
    for html in ledger_chunks(doc, rows_per_page=rows_per_page, pages_per_chunk=pages_per_chunk):
        chunks.append(render_chunk(html, font_config))
        # A chunk's layout is a web of reference cycles: free it before the next one is built, so peak memory
        # stays that of one chunk.
        gc.collect()
    if len(chunks) == 1:
        return chunks[0]
    return join_pdfs(chunks)


def join_pdfs(parts: Sequence[bytes]) -> bytes:
    """One PDF of the pages of ``parts``, in order, with the first part's metadata (title, creator)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for index, part in enumerate(parts):
        reader = PdfReader(BytesIO(part))
        writer.append(reader, import_outline=False)
        if index == 0 and reader.metadata is not None:
            writer.add_metadata(dict(reader.metadata))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def ledger_xlsx(doc: LedgerDoc) -> bytes:
    """The ledger as one sheet: the PDF's columns, one row per payment, then a 合计 row (count, amount, 大写).
    Amounts are text in yuan with two decimals ("260.00"): ``xlsx_table`` stores numbers without a number format,
    and 260 shown for 260.00 would not do in a ledger. 身份证号, 存折/账号 and 业务参考号 are text."""
    total = _total(doc)
    rows: list[Sequence[object]] = [
        (
            r.seq,
            r.village,
            r.name,
            r.id_masked,
            r.account_masked,
            r.months,
            fen_to_yuan(r.amount),
            r.status,
            r.reference,
        )
        for r in doc.rows
    ]
    rows.append(
        (
            "合计",
            f"{total.count} 笔",
            "",
            "",
            "",
            f"大写：{to_chinese_capital(total.amount)}",
            fen_to_yuan(total.amount),
            "",
            "",
        )
    )
    rows += [(), *SIGNATURE_ROWS]
    return xlsx_table(doc.title, HEADERS, rows, text_columns=_XLSX_TEXT_COLUMNS, above=ledger_heading(doc))


# The PDF's signature block (pdf_templates/payment_ledger.html), as rows under the XLSX ledger's total.
SIGNATURE_ROWS: tuple[tuple[str, ...], ...] = (
    ("制表人：", "", "复核人：", "", "审批人（财政局）：", "", "银行经办人："),
    ("日期：", "", "日期：", "", "日期：", "", "日期："),
)


def ledger_heading(doc: LedgerDoc) -> list[str]:
    """The title lines of the XLSX ledger: what the PDF's page head says."""
    where = f"{doc.county}　范围：{doc.scope}" + (f"　发放期间：{doc.period}" if doc.period else "")
    return [doc.title, f"批次号：{doc.batch_no}　{where}　制表日期：{format_date_cn(doc.generated_on)}"]


# ------------------------------------------------------------------------------------------------ 对账报告


@dataclass(frozen=True, slots=True)
class ImportRow:
    filename: str
    sha256: str  # the first 16 hex digits
    by: str
    at: str
    lines: int
    total: int
    paid: int
    paid_total: int
    failed: int
    failed_total: int
    exceptions: int


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    row_no: int
    reference: str
    problem: str
    detail: str
    outcome: str  # "已发放：银行补发（张静）" or "待处理"


@dataclass(frozen=True, slots=True)
class ReconciliationDoc:
    """The 对账报告 page's content, as text and fen, for the PDF the finance bureau signs and files."""

    batch_no: str
    kind: str
    period: str
    scope: str
    status: str
    created_by: str
    approved_by: str
    agrees: bool
    pending: int
    open_exceptions: int
    totals: tuple[tuple[str, str, int | None], ...]  # (label, count, amount in fen or None)
    checks: tuple[tuple[str, bool, str], ...]
    imports: tuple[ImportRow, ...]
    exception_count: int  # all of the batch's; ``exceptions`` may list fewer (the first, by line of the file)
    exceptions: tuple[ExceptionRow, ...]
    generated_on: date


def reconciliation_pdf(doc: ReconciliationDoc) -> bytes:
    """The reconciliation report on A4 (tables repeat their header on a new page), with the signature block."""
    return html_to_pdf(html_of("reconciliation.html", {"d": doc}))
