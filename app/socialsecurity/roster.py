"""Spreadsheets in and out: the old-policy roster (老政策花名册) imported from XLSX, and a generic XLSX table export.

The roster is read row by row: every problem becomes a :class:`RowError` naming the spreadsheet row as the user
sees it (header = row 1) and the Chinese column header, so the page can list all of them at once. A file that
cannot be read at all (not an XLSX, no header, wrong header) raises :class:`RosterError` instead. Messages are
Simplified Chinese and never contain a full ID number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from io import BytesIO
from itertools import chain, islice
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from pydantic import ValidationError

from app.core.clock import CHINA_TZ, today_in_china
from app.core.idcard import InvalidIdNumber, mask_id_number, parse_id_number
from app.core.validation import chinese_message
from app.socialsecurity.schemas import OldPolicyIn

OLD_POLICY_SHEET = "老政策花名册"
OLD_POLICY_NOTES_SHEET = "填写说明"
OLD_POLICY_HEADERS: tuple[str, ...] = (
    "姓名",
    "公民身份号码",
    "老政策一次性领取金额（元）",
    "老政策月养老补贴（元）",
    "补贴起始年月",
    "补贴发放至年月",
)
_OLD_POLICY_FIELDS: tuple[str, ...] = (
    "name",
    "id_number",
    "lump_sum_received",
    "monthly_subsidy",
    "paid_from",
    "paid_through",
)
_HEADER_OF: dict[str, str] = dict(zip(_OLD_POLICY_FIELDS, OLD_POLICY_HEADERS, strict=True))
_ID_HEADER = _HEADER_OF["id_number"]
_COLUMN_ORDER: dict[str, int] = {h: i for i, h in enumerate(OLD_POLICY_HEADERS)}
_TEMPLATE_WIDTHS = (14, 24, 28, 26, 16, 18)
_TEMPLATE_FORMATS = ("@", "@", "0.00", "0.00", "@", "@")
_MAX_MESSAGE_TEXT = 30
_MAX_LISTED = 10


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # spreadsheet row number: header is row 1, the first data row is 2
    column: str  # the Chinese column header; "" when the problem concerns the whole row
    message: str


class RosterError(Exception):
    """The file cannot be read at all; ``message`` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _CellError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------------------ template


def old_policy_template() -> bytes:
    """An empty roster for users to fill: the header row on sheet 老政策花名册 and instructions on 填写说明."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = OLD_POLICY_SHEET
    ws.append(list(OLD_POLICY_HEADERS))
    bold = Font(bold=True)
    for index, (width, number_format) in enumerate(zip(_TEMPLATE_WIDTHS, _TEMPLATE_FORMATS, strict=True), 1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = width
        # Column style: cells typed later inherit it, so Excel keeps 18-digit ID numbers and "2023-07" as text.
        ws.column_dimensions[letter].number_format = number_format
        ws.cell(row=1, column=index).font = bold
    ws.freeze_panes = "A2"

    notes = wb.create_sheet(OLD_POLICY_NOTES_SHEET)
    notes.append(["列名", "填写要求"])
    for cell in notes[1]:
        cell.font = bold
    for row in _template_notes():
        notes.append(list(row))
    notes.column_dimensions["A"].width = 28
    notes.column_dimensions["B"].width = 90
    wrap = Alignment(wrap_text=True, vertical="top")
    for cell_a, cell_b in notes.iter_rows(min_row=2, max_col=2):
        cell_a.alignment = wrap
        cell_b.alignment = wrap
    return _save(wb)


def _template_notes() -> tuple[tuple[str, str], ...]:
    name, id_number, lump_sum, subsidy, paid_from, paid_through = OLD_POLICY_HEADERS
    return (
        (name, "必填，最多 50 个字。"),
        (
            id_number,
            "必填，18 位公民身份号码（最后一位可以是 X；15 位旧证号会自动升级为 18 位）。"
            "本列已设为文本格式，请勿改为数字格式，否则 Excel 会丢失后几位。同一身份证号在一个文件中只能出现一次。",
        ),
        (lump_sum, "按老政策已一次性领取的金额，单位为元，最多两位小数，如 12000.50；未领取的填 0 或留空。"),
        (subsidy, "按老政策每月领取的养老补贴，单位为元，最多两位小数，如 260.00；没有月补贴的留空。"),
        (paid_from, "月补贴从哪个月开始发放，按 2023-07 的格式填写（也可写 2023/7 或 2023年7月）。"),
        (paid_through, "月补贴已经发放到哪个月（含该月），格式同上，不能早于补贴起始年月。"),
        (
            "月补贴三列",
            f"“{subsidy}”“{paid_from}”“{paid_through}”三列须同时填写或同时留空。",
        ),
        ("表头", "第 1 行为表头，请勿修改或删除表头文字；列的顺序可以调整，但不能增加其他列。"),
        ("空行", "每行填写一人；整行留空的行会被跳过。一个文件最多 20000 行。"),
    )


# ------------------------------------------------------------------------------------------------- import


def parse_old_policy(
    data: bytes, *, max_rows: int = 20000
) -> tuple[list[tuple[int, OldPolicyIn]], list[RowError]]:
    """Read an old-policy roster: ``([(row number, record), ...], [RowError, ...])``.

    Only rows without any error are returned as records. Fully empty rows are skipped. Raises
    :class:`RosterError` when the file is not a readable XLSX, its header row is wrong, or it has more than
    ``max_rows`` data rows.
    """
    if not data:
        raise RosterError("上传的文件是空的")
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for files it cannot read
        raise RosterError(
            "无法读取该文件，请上传 Excel 工作簿（.xlsx）。旧版 .xls 文件请先在 Excel 中另存为 .xlsx 格式"
        ) from exc
    try:
        sheets = wb.worksheets
        if not sheets:
            raise RosterError("工作簿中没有工作表")
        sheet = next((s for s in sheets if s.title == OLD_POLICY_SHEET), sheets[0])
        if isinstance(sheet, ReadOnlyWorksheet):
            sheet.reset_dimensions()  # some programs write a wrong <dimension>; read whatever is there
        return _parse_rows(_values(sheet), max_rows=max_rows)
    finally:
        wb.close()


def _values(sheet: Any) -> Iterator[tuple[object, ...]]:
    rows = sheet.iter_rows(values_only=True)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a damaged sheet fails part way through
            raise RosterError("文件内容已损坏，无法读取，请在 Excel 中重新保存后再上传") from exc
        yield tuple(row)


def _parse_rows(
    rows: Iterator[tuple[object, ...]], *, max_rows: int
) -> tuple[list[tuple[int, OldPolicyIn]], list[RowError]]:
    header = next(rows, None)
    columns = _header_columns(header or ())
    records: list[tuple[int, OldPolicyIn]] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    count = 0
    today = today_in_china()
    for row_number, values in enumerate(rows, start=2):
        if all(_blank(v) for v in values):
            continue
        count += 1
        if count > max_rows:
            raise RosterError(f"数据超过 {max_rows} 行，请拆分为多个文件分批导入")
        record, row_errors = _parse_row(row_number, values, columns, first_row_of, today)
        if record is not None:
            records.append((row_number, record))
        errors.extend(row_errors)
    return records, errors


def _header_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_HEADER_KEYS: dict[str, str] = {_header_key(h): h for h in OLD_POLICY_HEADERS}


def _header_columns(header: Sequence[object]) -> dict[str, int]:
    """Header text → 0-based column index; raises RosterError for missing, unknown or repeated headers."""
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for index, value in enumerate(header):
        if _blank(value):
            continue
        text = str(value).strip()
        known = _HEADER_KEYS.get(_header_key(text))
        if known is None:
            unknown.append(text)
        elif known in columns:
            raise RosterError(f"表头“{known}”出现了不止一次，请删除重复的列")
        else:
            columns[known] = index
    if not columns and not unknown:
        expected = "、".join(OLD_POLICY_HEADERS)
        raise RosterError(f"表格是空的：第 1 行应为表头（{expected}），请使用下载的模板填写")
    missing = [h for h in OLD_POLICY_HEADERS if h not in columns]
    if missing or unknown:
        parts: list[str] = []
        if missing:
            parts.append("缺少列" + "、".join(f"“{h}”" for h in missing))
        if unknown:
            shown = "、".join(f"“{_safe_text(h)}”" for h in unknown[:_MAX_LISTED])
            more = f"等 {len(unknown)} 列" if len(unknown) > _MAX_LISTED else ""
            parts.append(f"有不认识的列{shown}{more}")
        lead = "第 1 行应为表头" if not columns else "表头与模板不符"
        raise RosterError(f"{lead}：" + "；".join(parts) + "。请使用下载的模板填写，不要增删或改名表头")
    return columns


def _parse_row(
    row_number: int,
    values: Sequence[object],
    columns: dict[str, int],
    first_row_of: dict[str, int],
    today: date,
) -> tuple[OldPolicyIn | None, list[RowError]]:
    errors: list[RowError] = []
    payload: dict[str, object] = {}
    failed: set[str] = set()  # fields already reported; pydantic's errors about them are noise

    known_indexes = set(columns.values())
    for index, value in enumerate(values):
        if index not in known_indexes and not _blank(value):
            errors.append(
                RowError(row_number, "", f"第 {get_column_letter(index + 1)} 列没有表头，其中的内容无法导入")
            )

    for field, header in _HEADER_OF.items():
        index = columns[header]
        raw = values[index] if index < len(values) else None
        try:
            converted = _CONVERTERS[field](raw)
        except _CellError as exc:
            errors.append(RowError(row_number, header, exc.message))
            failed.add(field)
            continue
        if converted is not None:
            payload[field] = converted

    if "id_number" not in failed:
        raw_id = payload.get("id_number")
        try:
            parsed = parse_id_number(raw_id if isinstance(raw_id, str) else "", today=today)
        except InvalidIdNumber as exc:
            errors.append(RowError(row_number, _ID_HEADER, str(exc)))
            failed.add("id_number")
        else:
            payload["id_number"] = parsed.number
            first = first_row_of.setdefault(parsed.number, row_number)
            if first != row_number:
                errors.append(RowError(row_number, _ID_HEADER, f"与第 {first} 行的身份证号重复"))

    record: OldPolicyIn | None = None
    try:
        record = OldPolicyIn.model_validate(payload)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc", ())
            name = loc[0] if loc and isinstance(loc[0], str) else None
            if name is None and failed:
                continue  # a whole-record check on incomplete data would only mislead
            if name in failed:
                continue
            message = chinese_message({**error, "loc": ()})  # the column is reported separately
            errors.append(RowError(row_number, _HEADER_OF.get(name or "", ""), message))

    errors.sort(key=lambda e: _COLUMN_ORDER.get(e.column, len(_COLUMN_ORDER)))
    return (record if not errors else None), errors


# --------------------------------------------------------------------------------------------- cell values


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | date | time):
        raise _CellError("应为文本")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    raise _CellError("应为文本")


def _id_text(value: object) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise _CellError("应为文本")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        raise _CellError("身份证号被 Excel 存成了数字，后几位已丢失；请将本列设为文本格式后重新填写")
    if not isinstance(value, str):
        raise _CellError("应为文本")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text.isascii():
        raise _CellError("身份证号只能包含数字和 X")
    return text


_CURRENCY_MARKS = re.compile(r"[\s,，¥￥]|元$")
_CENT = Decimal("0.01")


def _money(value: object) -> Decimal | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise _CellError("应为数字（单位：元）")
    amount: Decimal
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(str(value))  # the shortest repr: 1234.56 stays 1234.56
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = _CURRENCY_MARKS.sub("", unicodedata.normalize("NFKC", value).strip())
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise _CellError("应为数字（单位：元）") from None
    else:
        raise _CellError("应为数字（单位：元）")
    if not amount.is_finite():
        raise _CellError("应为数字（单位：元）")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        rounded = amount.quantize(_CENT)
        if rounded != amount:
            raise _CellError("金额最多两位小数（单位：元）")
        amount = rounded  # 100.000 is 100.00
    return amount


_MONTH = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*月?")
_MONTH_DAY = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*[0-9]{1,2}\s*日?")
_MONTH_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})")
_MONTH_HINT = "年月格式应为 2023-07（也可写 2023/7 或 2023年7月）"


def _month(value: object) -> str | None:
    """``"2023-07"`` from a date cell or text such as 2023-07, 2023/7, 2023年7月, 2023.07, 202307."""
    if _blank(value):
        return None
    if isinstance(value, (datetime, date)):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, bool | float):
        raise _CellError(_MONTH_HINT)  # 2023.1 could be January or October: refuse to guess
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise _CellError(_MONTH_HINT)
    text = unicodedata.normalize("NFKC", value).strip()
    for pattern in (_MONTH, _MONTH_DAY, _MONTH_COMPACT):
        match = pattern.fullmatch(text)
        if match:
            return f"{match.group(1)}-{int(match.group(2)):02d}"
    raise _CellError(_MONTH_HINT)


_CONVERTERS: dict[str, Callable[[object], object]] = {
    "name": _text,
    "id_number": _id_text,
    "lump_sum_received": _money,
    "monthly_subsidy": _money,
    "paid_from": _month,
    "paid_through": _month,
}

_LONG_DIGITS = re.compile(r"[0-9]{15,17}[0-9Xx]?")


def _safe_text(text: str) -> str:
    """User text for a message: ID-like digit runs masked, long text shortened."""
    masked = _LONG_DIGITS.sub(lambda m: mask_id_number(m.group(0)), text)
    return masked if len(masked) <= _MAX_MESSAGE_TEXT else masked[:_MAX_MESSAGE_TEXT] + "…"


# ------------------------------------------------------------------------------------------------- export


_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
_SAMPLE_ROWS = 200
_MIN_WIDTH = 8
_MAX_WIDTH = 60
_EXACT_INT_LIMIT = 10**15  # Excel keeps 15 significant digits


def xlsx_table(
    sheet_title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    text_columns: Sequence[int] = (),
) -> bytes:
    """One-sheet XLSX of ``headers`` and ``rows`` (streamed, write-only): bold frozen header row, column widths
    from the header and the first rows, ``text_columns`` (0-based) stored as text. Aware datetimes are shown in
    China Standard Time; text starting with ``=`` is stored as text, never as a formula."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet_title))
    text_set = frozenset(text_columns)
    iterator = iter(rows)
    sample = [
        [_export_value(v, i in text_set) for i, v in enumerate(row)] for row in islice(iterator, _SAMPLE_ROWS)
    ]
    widths = [_display_width(h) for h in headers]
    for row_values in sample:
        for index, value in enumerate(row_values):
            width = _display_width(_shown(value))
            if index < len(widths):
                widths[index] = max(widths[index], width)
            else:
                widths.append(width)
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
    ws.freeze_panes = "A2"

    bold = Font(bold=True)
    header_cells: list[object] = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=_clean_text(str(header)))
        cell.font = bold
        cell.data_type = "s"
        header_cells.append(cell)
    ws.append(header_cells)
    converted = ([_export_value(v, i in text_set) for i, v in enumerate(row)] for row in iterator)
    for row_values in chain(sample, converted):
        ws.append([_export_cell(ws, value, index in text_set) for index, value in enumerate(row_values)])
    return _save(wb)


def _sheet_title(title: str) -> str:
    cleaned = _SHEET_TITLE_BAD.sub("_", _clean_text(title)).strip().strip("'")[:31].strip()
    return cleaned or "Sheet1"


def _clean_text(text: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _export_value(value: object, as_text: bool) -> object:
    """A value openpyxl can store: str, int, float, Decimal, date, datetime (naive), time, bool or None."""
    if value is None:
        return None
    if as_text:
        if isinstance(value, datetime):
            value = _naive(value)
        return _clean_text(str(value))
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool | float | Decimal):
        return value
    if isinstance(value, int):
        return value if abs(value) < _EXACT_INT_LIMIT else str(value)
    if isinstance(value, datetime):
        return _naive(value)
    if isinstance(value, date):
        return value
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    return _clean_text(str(value))


def _naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(CHINA_TZ).replace(tzinfo=None)


def _export_cell(ws: WriteOnlyWorksheet, value: object, as_text: bool) -> object:
    if isinstance(value, str) and (as_text or value.startswith("=")):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # "=..." from a user stays text: no formula injection
        if as_text:
            cell.number_format = "@"
        return cell
    return value


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return str(value)


def _display_width(text: str) -> int:
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)
            for line in text.splitlines()
        ),
        default=0,
    )


def _save(wb: Workbook) -> bytes:
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
