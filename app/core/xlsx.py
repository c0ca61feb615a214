"""Spreadsheets in and out, for every roster (花名册) and list: reading an uploaded XLSX row by row with per-cell
Chinese errors, building a fill-in template, and the generic one-sheet XLSX export of a list.

A roster is read row by row: every problem becomes a :class:`RowError` naming the spreadsheet row as the user sees
it (header = row 1) and the Chinese column header, so a page can list all of them at once. A file that cannot be
read at all (not an XLSX, no header, wrong header) raises :class:`RosterError` instead. Messages are Simplified
Chinese and never contain a full ID number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from io import BytesIO
from itertools import chain, islice
from typing import Any, TypeVar

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from pydantic import ValidationError

from app.core.clock import CHINA_TZ
from app.core.errors import InvalidInput
from app.core.idcard import IdNumber, InvalidIdNumber, mask_id_number, parse_id_number
from app.core.validation import chinese_message

T = TypeVar("T")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTES_SHEET = "填写说明"
_MAX_MESSAGE_TEXT = 30
_MAX_LISTED = 10

Row = tuple[object, ...]


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


class RowsInvalid(InvalidInput):
    """A whole import refused: every row that is wrong, with the column and why."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"导入被拒绝：{len(errors)} 处错误，未保存任何数据。请改正后重新导入。")
        self.errors = list(errors)


class CellError(Exception):
    """One cell cannot be read; ``message`` says why, in Chinese (the caller adds row and column)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------------------ template


def template_workbook(
    sheet_title: str,
    headers: Sequence[str],
    widths: Sequence[int],
    formats: Sequence[str],
    notes: Iterable[tuple[str, str]],
) -> Workbook:
    """An empty roster to fill: the bold, frozen header row on ``sheet_title`` (column widths and number formats
    set, so that Excel keeps 18-digit ID numbers as text) and the instructions on a second sheet 填写说明."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet_title
    ws.append(list(headers))
    bold = Font(bold=True)
    for index, (width, number_format) in enumerate(zip(widths, formats, strict=True), 1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = width
        # Column style: cells typed later inherit it, so Excel keeps 18-digit ID numbers and "2023-07" as text.
        ws.column_dimensions[letter].number_format = number_format
        ws.cell(row=1, column=index).font = bold
    ws.freeze_panes = "A2"

    sheet = wb.create_sheet(NOTES_SHEET)
    sheet.append(["列名", "填写要求"])
    for cell in sheet[1]:
        cell.font = bold
    for row in notes:
        sheet.append(list(row))
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 90
    wrap = Alignment(wrap_text=True, vertical="top")
    for cell_a, cell_b in sheet.iter_rows(min_row=2, max_col=2):
        cell_a.alignment = wrap
        cell_b.alignment = wrap
    return wb


# -------------------------------------------------------------------------------------------------- reading


def read_sheet(data: bytes, sheet_title: str, parse: Callable[[Iterator[Row]], T]) -> T:
    """Open an uploaded workbook and hand the rows of the sheet ``sheet_title`` (else the first sheet) to
    ``parse``. Raises :class:`RosterError` when the file is not a readable XLSX."""
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
        sheet = next((s for s in sheets if s.title == sheet_title), sheets[0])
        if isinstance(sheet, ReadOnlyWorksheet):
            sheet.reset_dimensions()  # some programs write a wrong <dimension>; read whatever is there
        return parse(_values(sheet))
    finally:
        wb.close()


def _values(sheet: Any) -> Iterator[Row]:
    rows = sheet.iter_rows(values_only=True)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a damaged sheet fails part way through
            raise RosterError("文件内容已损坏，无法读取，请在 Excel 中重新保存后再上传") from exc
        yield tuple(row)


def data_rows(rows: Iterator[Row], *, max_rows: int) -> Iterator[tuple[int, Row]]:
    """``(row number, values)`` of the rows after the header, fully empty rows skipped; raises RosterError past
    ``max_rows`` data rows."""
    count = 0
    for row_number, values in enumerate(rows, start=2):
        if all(blank(v) for v in values):
            continue
        count += 1
        if count > max_rows:
            raise RosterError(f"数据超过 {max_rows} 行，请拆分为多个文件分批导入")
        yield row_number, values


def _header_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def header_columns(
    header: Sequence[object], headers: Sequence[str], *, optional: Collection[str] = ()
) -> dict[str, int]:
    """Header text → 0-based column index; raises RosterError for missing (unless ``optional``), unknown or
    repeated headers. Spaces and full-width forms in the file's headers are forgiven."""
    keys = {_header_key(h): h for h in headers}
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for index, value in enumerate(header):
        if blank(value):
            continue
        text = str(value).strip()
        known = keys.get(_header_key(text))
        if known is None:
            unknown.append(text)
        elif known in columns:
            raise RosterError(f"表头“{known}”出现了不止一次，请删除重复的列")
        else:
            columns[known] = index
    if not columns and not unknown:
        expected = "、".join(headers)
        raise RosterError(f"表格是空的：第 1 行应为表头（{expected}），请使用下载的模板填写")
    missing = [h for h in headers if h not in columns and h not in optional]
    if missing or unknown:
        parts: list[str] = []
        if missing:
            parts.append("缺少列" + "、".join(f"“{h}”" for h in missing))
        if unknown:
            shown = "、".join(f"“{safe_text(h)}”" for h in unknown[:_MAX_LISTED])
            more = f"等 {len(unknown)} 列" if len(unknown) > _MAX_LISTED else ""
            parts.append(f"有不认识的列{shown}{more}")
        lead = "第 1 行应为表头" if not columns else "表头与模板不符"
        raise RosterError(f"{lead}：" + "；".join(parts) + "。请使用下载的模板填写，不要增删或改名表头")
    return columns


def stray_cells(row_number: int, values: Sequence[object], columns: dict[str, int]) -> list[RowError]:
    """Errors for cells filled in under no header: their content would be lost silently."""
    known = set(columns.values())
    return [
        RowError(row_number, "", f"第 {get_column_letter(index + 1)} 列没有表头，其中的内容无法导入")
        for index, value in enumerate(values)
        if index not in known and not blank(value)
    ]


def cell(values: Sequence[object], columns: dict[str, int], header: str) -> object:
    """The raw value under ``header`` (None when the column is absent or the row is short)."""
    index = columns.get(header)
    return values[index] if index is not None and index < len(values) else None


@dataclass
class RowRead:
    """One row's cells read by their converters (see :func:`read_row`)."""

    payload: dict[str, object]  # field → converted value (empty cells left out)
    failed: set[str]  # fields already reported: a model's errors about them would only repeat them
    errors: list[RowError]
    id_number: IdNumber | None = None


def read_row(
    row_number: int,
    values: Sequence[object],
    columns: dict[str, int],
    fields: Mapping[str, tuple[str, Callable[[object], object]]],
    *,
    id_field: str,
    first_row_of: dict[str, int],
    today: date,
) -> RowRead:
    """Each field's cell through its converter (``fields``: field → (header, converter)), cells without a
    header reported, and the ID number in ``id_field`` checked (GB 11643, normalised in the payload) and unique
    in the file (``first_row_of``: number → the row it first appeared on)."""
    read = RowRead({}, set(), stray_cells(row_number, values, columns))
    for name, (header, convert) in fields.items():
        try:
            value = convert(cell(values, columns, header))
        except CellError as exc:
            read.errors.append(RowError(row_number, header, exc.message))
            read.failed.add(name)
            continue
        if value is not None:
            read.payload[name] = value
    if id_field in read.failed:
        return read
    header = fields[id_field][0]
    raw = read.payload.get(id_field)
    try:
        parsed = parse_id_number(raw if isinstance(raw, str) else "", today=today)
    except InvalidIdNumber as exc:
        read.errors.append(RowError(row_number, header, str(exc)))
        read.failed.add(id_field)
        return read
    read.payload[id_field], read.id_number = parsed.number, parsed
    first = first_row_of.setdefault(parsed.number, row_number)
    if first != row_number:
        read.errors.append(RowError(row_number, header, f"与第 {first} 行的身份证号重复"))
    return read


def model_errors(
    row_number: int, exc: ValidationError, read: RowRead, header_of: Mapping[str, str]
) -> list[RowError]:
    """A row model's validation errors as RowErrors under their columns, leaving out those about fields already
    reported (and whole-row checks when something is: on incomplete data they would only mislead)."""
    errors: list[RowError] = []
    for error in exc.errors():
        loc = error.get("loc", ())
        name = loc[0] if loc and isinstance(loc[0], str) else None
        if (name is None and read.failed) or name in read.failed:
            continue
        message = chinese_message({**error, "loc": ()})  # the column is reported separately
        errors.append(RowError(row_number, header_of.get(name or "", ""), message))
    return errors


# --------------------------------------------------------------------------------------------- cell values


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: object) -> str | None:
    if blank(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | date | time):
        raise CellError("应为文本")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    raise CellError("应为文本")


def cell_id_text(value: object) -> str | None:
    if blank(value):
        return None
    if isinstance(value, bool):
        raise CellError("应为文本")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        raise CellError("身份证号被 Excel 存成了数字，后几位已丢失；请将本列设为文本格式后重新填写")
    if not isinstance(value, str):
        raise CellError("应为文本")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text.isascii():
        raise CellError("身份证号只能包含数字和 X")
    return text


_DATE = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")
_DATE_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_DATE_HINT = "日期格式应为 2023-05-20（也可写 2023/5/20 或 2023年5月20日）"
_MONTH = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*月?")
_MONTH_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})")
_MONTH_HINT = "年月格式应为 2023-07（也可写 2023/7 或 2023年7月）"


def _calendar_cell(
    value: object,
    hint: str,
    patterns: Sequence[re.Pattern[str]],
    of_date: Callable[[date], T],
    of_match: Callable[[re.Match[str]], T],
) -> T | None:
    """A date cell, or text matching one of ``patterns``; a bare number is refused (2023.1 could be January or
    October: no guessing)."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        return of_date(value.date())
    if isinstance(value, date):
        return of_date(value)
    if isinstance(value, bool | float):
        raise CellError(hint)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise CellError(hint)
    text = unicodedata.normalize("NFKC", value).strip()
    for pattern in patterns:
        match = pattern.fullmatch(text)
        if match:
            return of_match(match)
    raise CellError(hint)


def _date_of(match: re.Match[str]) -> date:
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise CellError(f"日期 {match.group(0)} 不存在，请核对") from None


def cell_date(value: object) -> date | None:
    """A date cell, or text such as 2023-05-20, 2023/5/20, 2023年5月20日, 2023.05.20, 20230520."""
    return _calendar_cell(value, _DATE_HINT, (_DATE, _DATE_COMPACT), lambda d: d, _date_of)


def cell_month(value: object) -> str | None:
    """``"2023-07"`` from a date cell or text such as 2023-07, 2023/7, 2023年7月, 2023.07, 202307 (a full date
    gives its month)."""
    return _calendar_cell(
        value,
        _MONTH_HINT,
        (_MONTH, _DATE, _MONTH_COMPACT),
        lambda d: f"{d.year:04d}-{d.month:02d}",
        lambda m: f"{m.group(1)}-{int(m.group(2)):02d}",
    )


_LONG_DIGITS = re.compile(r"[0-9]{15,17}[0-9Xx]?")


def safe_text(text: str) -> str:
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
    above: Sequence[str] = (),
) -> bytes:
    """One-sheet XLSX of ``headers`` and ``rows`` (streamed, write-only): bold frozen header row, column widths
    from the header and the first rows, ``text_columns`` (0-based) stored as text. Aware datetimes are shown in
    China Standard Time; text starting with ``=`` is stored as text, never as a formula. ``above``: lines of text
    before the header (a title, what the table is of), each in its own row's first cell, the first one bold."""
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
    ws.freeze_panes = f"A{len(above) + 2}"  # (write-only: widths and panes go before the first row)
    for index, line in enumerate(above):
        cell = WriteOnlyCell(ws, value=_clean_text(line))
        cell.data_type = "s"
        if index == 0:
            cell.font = Font(bold=True, size=14)
        ws.append([cell])

    bold = Font(bold=True)
    header_cells: list[object] = []
    for header in headers:
        head = WriteOnlyCell(ws, value=_clean_text(str(header)))
        head.font = bold
        head.data_type = "s"
        header_cells.append(head)
    ws.append(header_cells)
    converted = ([_export_value(v, i in text_set) for i, v in enumerate(row)] for row in iterator)
    for row_values in chain(sample, converted):
        ws.append([_export_cell(ws, value, index in text_set) for index, value in enumerate(row_values)])
    return save(wb)


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
        out = WriteOnlyCell(ws, value=value)
        out.data_type = "s"  # "=..." from a user stays text: no formula injection
        if as_text:
            out.number_format = "@"
        return out
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


def save(wb: Workbook) -> bytes:
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
