"""The 发放台账 renderers (app.payments.reports): pagination and page subtotals, the PDF's pages, header, subtotals,
合计 and 大写 (pdftotext), rows lining up across the drawn columns (pdftotext -bbox), and the XLSX."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import date
from io import BytesIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from pypdf import PdfReader

from app.core.money import format_yuan, to_chinese_capital
from app.payments import reports
from app.payments.reports import LedgerDoc, LedgerRow, ledger_pdf, ledger_xlsx, page_rows

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None,
    reason="poppler-utils is not installed (scripts/bootstrap.sh installs it)",
)

VILLAGES = ("前方庄村", "后方庄村", "城关镇东关村")
LAST_CAP = reports.ROWS_PER_PAGE - reports.SUMMARY_ROWS


def make_rows(n: int, *, start_amount: int = 26000) -> list[LedgerRow]:
    return [
        LedgerRow(
            seq=i,
            village=VILLAGES[i % len(VILLAGES)],
            name=f"张{'一二三四五六七八九十'[i % 10]}",
            id_masked=f"410727********{i:04d}",
            account_masked=f"6217************{i:04d}",
            months="2026年3月至2026年9月（7个月）" if i % 4 == 0 else "2026年10月",
            amount=start_amount + i,
            status="待银行处理" if i % 3 else "已发放",
            reference=f"FQPEN{i:06d}",
        )
        for i in range(1, n + 1)
    ]


def make_doc(rows: Sequence[LedgerRow], **overrides: str) -> LedgerDoc:
    fields = {
        "title": "被征地农民养老金发放台账",
        "batch_no": "FQ-PEN-202611-0001",
        "county": "封丘县",
        "scope": "城关镇",
        "period": "2026年11月",
    }
    fields.update(overrides)
    return LedgerDoc(generated_on=date(2026, 11, 5), rows=rows, **fields)


def pdftotext(data: bytes, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        ["pdftotext", *args, "-", "-"],  # noqa: S607
        input=data,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def page_texts(data: bytes) -> list[str]:
    """The text of each page, whitespace removed."""
    count = len(PdfReader(BytesIO(data)).pages)
    return [
        re.sub(r"\s+", "", pdftotext(data, "-layout", "-f", str(n), "-l", str(n)))
        for n in range(1, count + 1)
    ]


# ------------------------------------------------------------------------------------------------ pagination


def test_page_rows_fixed_size_pages_in_order() -> None:
    rows = make_rows(70)
    pages = page_rows(rows, 30)
    assert [len(p) for p in pages] == [30, 30, 10]
    assert [r for p in pages for r in p] == rows


def test_page_rows_empty_ledger_has_one_empty_page() -> None:
    assert page_rows([], 30) == [[]]


def test_page_rows_leaves_room_for_the_totals_on_the_last_page() -> None:
    # 54 rows: the last page's 24 rows leave room for 合计 and the signatures.
    assert [len(p) for p in page_rows(make_rows(54), 30)] == [30, LAST_CAP]
    # 55 or 60: the rows after the first full page do not fit with the totals; the final page gets LAST_CAP.
    assert [len(p) for p in page_rows(make_rows(55), 30)] == [30, 1, LAST_CAP]
    assert [len(p) for p in page_rows(make_rows(60), 30)] == [30, 6, LAST_CAP]
    # Fewer rows per page than fit on a page: no rebalancing.
    assert [len(p) for p in page_rows(make_rows(60), 20)] == [20, 20, 20]
    assert [len(p) for p in page_rows(make_rows(25), 10, last_page_rows=4)] == [10, 10, 1, 4]


def test_page_rows_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="rows_per_page"):
        page_rows(make_rows(3), 0)
    with pytest.raises(ValueError, match="last_page_rows"):
        page_rows(make_rows(3), 5, last_page_rows=6)
    with pytest.raises(ValueError, match="rows_per_page"):
        ledger_pdf(make_doc(make_rows(3)), rows_per_page=reports.ROWS_PER_PAGE + 1)
    with pytest.raises(ValueError, match="pages_per_chunk"):
        ledger_pdf(make_doc(make_rows(3)), pages_per_chunk=0)


@given(
    amounts=st.lists(st.integers(min_value=0, max_value=10**9), max_size=200),
    rows_per_page=st.integers(min_value=1, max_value=reports.ROWS_PER_PAGE),
)
def test_page_subtotals_add_up_to_the_total(amounts: list[int], rows_per_page: int) -> None:
    rows = [
        LedgerRow(i, "村", "名", "id", "acct", "2026年10月", amount, "已发放", str(i))
        for i, amount in enumerate(amounts, 1)
    ]
    pages = page_rows(rows, rows_per_page)
    assert [r for p in pages for r in p] == rows
    assert sum(sum(r.amount for r in p) for p in pages) == sum(amounts)
    assert all(1 <= len(p) <= rows_per_page for p in pages) or pages == [[]]
    assert len(pages[-1]) <= min(rows_per_page, LAST_CAP)


# ------------------------------------------------------------------------------------------------------- PDF


def test_render_runs_in_a_roomy_frame() -> None:
    """The frame put under each chunk's render (see app.payments.reports) has the room it is meant to have, and
    passes results and exceptions through."""
    if sys.implementation.name == "cpython":
        assert reports._ROOMY_CALL.__code__.co_nlocals >= reports._STACK_ROOM_SLOTS
    assert reports._in_own_stack_chunk(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        reports._in_own_stack_chunk(lambda: 1 // 0)


@needs_poppler
def test_ledger_pdf_pages_headers_subtotals_and_total() -> None:
    rows = make_rows(70)
    doc = make_doc(rows)
    # 3 pages in chunks of 2: two WeasyPrint documents joined into one.
    data = ledger_pdf(doc, rows_per_page=30, pages_per_chunk=2)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(BytesIO(data))
    assert len(reader.pages) == 3
    assert reader.metadata is not None
    assert reader.metadata.title == "被征地农民养老金发放台账（FQ-PEN-202611-0001）"
    for pdf_page in reader.pages:  # A4 landscape
        assert round(float(pdf_page.mediabox.width)) == 842
        assert round(float(pdf_page.mediabox.height)) == 595

    texts = page_texts(data)
    expected = page_rows(rows, 30)
    total = sum(r.amount for r in rows)
    for number, (text, page) in enumerate(zip(texts, expected, strict=True), 1):
        assert "被征地农民养老金发放台账" in text
        assert "批次号：FQ-PEN-202611-0001" in text
        assert "封丘县" in text and "范围：城关镇" in text and "发放期间：2026年11月" in text
        assert f"第{number}页共3页" in text
        for header in reports.HEADERS:
            assert header in text
        page_total = sum(r.amount for r in page)
        # the page's total in figures and in capitals (大写), like the grand total
        assert (
            f"本页小计：{len(page)}笔，大写：{to_chinese_capital(page_total)}{format_yuan(page_total)}"
            in text
        )
        for row in page:
            assert row.reference in text
            assert row.id_masked in text and row.account_masked in text
        if number < 3:
            assert "合计" not in text and "制表人" not in text
    last = texts[-1]
    assert f"合计：70笔{format_yuan(total)}" in last
    assert f"合计金额（大写）：{to_chinese_capital(total)}" in last
    assert to_chinese_capital(total) == "壹万捌仟贰佰贰拾肆元捌角伍分"  # 18,224.85
    for label in ("制表人", "复核人", "审批人（财政局）", "银行经办人", "日期"):
        assert label in last
    assert "制表日期：2026年11月5日" in last
    # Only the masked numbers are printed: no run of digits long enough to be an ID or account number.
    assert not re.search(r"\d{10,}", "".join(texts))


@needs_poppler
def test_compensation_ledger_without_period() -> None:
    doc = make_doc(make_rows(2, start_amount=5_000_000), title="征收补偿款发放台账", period="")
    (text,) = page_texts(ledger_pdf(doc))
    assert "征收补偿款发放台账" in text
    assert "发放期间" not in text
    assert "第1页共1页" in text
    assert f"合计：2笔{format_yuan(10_000_003)}" in text


@needs_poppler
def test_empty_ledger_renders_one_page_with_zero_total() -> None:
    data = ledger_pdf(make_doc([]))
    assert data.startswith(b"%PDF-")
    (text,) = page_texts(data)
    assert "第1页共1页" in text
    assert "本页小计：0笔，大写：零元整0.00" in text
    assert "合计：0笔0.00" in text
    assert "合计金额（大写）：零元整" in text
    assert "制表人" in text


@needs_poppler
def test_full_pages_fit_and_long_values_do_not_wrap() -> None:
    """ROWS_PER_PAGE rows on a page, and LAST_CAP rows with the totals and signatures on the last one, fit
    whatever the values: long ones are cut, never wrapped, and a long title or scope stays on its line."""
    long = "很长的村名" * 20
    rows = [
        LedgerRow(
            seq=i,
            village=long,
            name="欧阳\n娜仁其木格" * 5,
            id_masked="410727********1234",
            account_masked="6217************1234\r\n",
            months="2026年3月至2026年9月（7个月）\u2028补发" * 5,
            amount=99_999_999_99,
            status="失败\n（账户已销户）" * 3,
            reference="R" * 80,
        )
        for i in range(1, reports.ROWS_PER_PAGE + LAST_CAP + 1)
    ]
    doc = make_doc(rows, scope="城关镇" * 30)
    data = ledger_pdf(doc)
    assert len(PdfReader(BytesIO(data)).pages) == 2
    texts = page_texts(data)
    page_total = to_chinese_capital(reports.ROWS_PER_PAGE * 99_999_999_99)
    assert f"本页小计：{reports.ROWS_PER_PAGE}笔，大写：{page_total}" in texts[0]  # the longest capitals fit
    assert f"本页小计：{LAST_CAP}笔" in texts[1]
    assert "银行经办人" in texts[1]


def word_boxes(data: bytes) -> list[tuple[str, float]]:
    """(word, yMin) of every word of the first page, from ``pdftotext -bbox``."""
    html = pdftotext(data, "-bbox", "-f", "1", "-l", "1")
    return [
        (m.group(2), float(m.group(1)))
        for m in re.finditer(
            r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)</word>', html
        )
    ]


@needs_poppler
def test_rows_line_up_across_columns() -> None:
    """Each column is drawn as one block of lines: row k must sit at the same height in every column, also when
    a value needs a fallback font (rare characters, other scripts), is empty, or held a line break."""
    odd = ["𠮷", "ꆈꌠꉙ", "ئۇيغۇر", "ᠮᠣᠩᠭᠣᠯ", "∮∯", "", "王\n建国", "😀", "甲\u2029乙", "丙\r\n丁"]
    rows = [
        LedgerRow(
            seq=i,
            village=f"V{i:02d}{odd[i % len(odd)]}",
            name=f"N{i:02d}{odd[(i + 3) % len(odd)]}",
            id_masked=f"410727********{i:04d}",
            account_masked=f"6217************{i:04d}",
            months=f"M{i:02d}{odd[(i + 5) % len(odd)]}",
            amount=100 * i,
            status=f"S{i:02d}{odd[(i + 1) % len(odd)]}",
            reference=f"REF{i:04d}",
        )
        for i in range(1, 21)
    ]
    tagged: dict[str, float] = {}
    for word, y in word_boxes(ledger_pdf(make_doc(rows), rows_per_page=20)):
        match = re.match(r"[VNMS]\d\d|REF\d{4}|410727\*+\d{4}|6217\*+\d{4}|\d+\.00$", word)
        if match:
            tagged.setdefault(match.group(0), y)
    row_height = reports.ROW_MM * 72 / 25.4
    first = tagged["REF0001"]
    for row in rows:
        y = first + (row.seq - 1) * row_height  # one row height further down per row
        keys = (
            f"V{row.seq:02d}",
            f"N{row.seq:02d}",
            row.id_masked,
            row.account_masked,
            f"M{row.seq:02d}",
            format_yuan(row.amount),
            f"S{row.seq:02d}",
            row.reference,
        )
        for key in keys:
            assert abs(tagged[key] - y) < 0.5, (key, tagged[key], y)


# ------------------------------------------------------------------------------------------------------ XLSX


def test_ledger_xlsx_columns_rows_and_total() -> None:
    rows = make_rows(70)
    data = ledger_xlsx(make_doc(rows))
    ws = load_workbook(BytesIO(data)).active
    assert ws is not None
    assert ws.title == "被征地农民养老金发放台账"
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    # The PDF's page head as title lines, the header frozen under them.
    assert values[0][0] == "被征地农民养老金发放台账" and ws["A1"].font.b
    assert (
        values[1][0]
        == "批次号：FQ-PEN-202611-0001　封丘县　范围：城关镇　发放期间：2026年11月　制表日期：2026年11月5日"
    )
    assert ws.freeze_panes == "A4"
    values = values[2:]
    assert values[0] == list(reports.HEADERS)
    assert len(values) == 1 + 70 + 1 + 3
    first = rows[0]
    assert values[1] == [
        1,
        first.village,
        first.name,
        "410727********0001",
        "6217************0001",
        "2026年10月",
        "260.01",
        "待银行处理",
        "FQPEN000001",
    ]
    assert [v[0] for v in values[1:71]] == list(range(1, 71))
    total = sum(r.amount for r in rows)
    # The PDF's signature block under the total, after a blank row.
    assert [v for v in values[-2] if v] == ["制表人：", "复核人：", "审批人（财政局）：", "银行经办人："]
    assert [v for v in values[-1] if v] == ["日期："] * 4
    assert not any(values[-3])
    assert values[-4] == [
        "合计",
        "70 笔",
        None,
        None,
        None,
        f"大写：{to_chinese_capital(total)}",
        "18224.85",
        None,
        None,
    ]
    # ID, account, amount and reference are text cells.
    for column in ("D", "E", "G", "I"):
        assert ws[f"{column}4"].data_type == "s"
        assert ws[f"{column}4"].number_format == "@"


def test_ledger_xlsx_empty() -> None:
    ws = load_workbook(BytesIO(ledger_xlsx(make_doc([])))).active
    assert ws is not None
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[2:4] == [
        list(reports.HEADERS),
        ["合计", "0 笔", None, None, None, "大写：零元整", "0.00", None, None],
    ]
    assert len(values) == 7
