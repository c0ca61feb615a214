"""The old-policy roster (老政策花名册) imported from XLSX (the reading helpers, and the generic XLSX table export
re-exported here, live in :mod:`app.core.xlsx`).

Every problem becomes a :class:`RowError` naming the spreadsheet row as the user sees it (header = row 1) and the
Chinese column header, so the page can list all of them at once. A file that cannot be read at all (not an XLSX,
no header, wrong header) raises :class:`RosterError` instead. Messages are Simplified Chinese and never contain a
full ID number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from app.core.clock import today_in_china
from app.core.xlsx import CellError as _CellError
from app.core.xlsx import RosterError as RosterError
from app.core.xlsx import RowError as RowError
from app.core.xlsx import blank as _blank
from app.core.xlsx import cell_id_text as _id_text
from app.core.xlsx import cell_month as _month
from app.core.xlsx import cell_text as _text
from app.core.xlsx import (
    data_rows,
    header_columns,
    model_errors,
    read_row,
    read_sheet,
    save,
    template_workbook,
)
from app.core.xlsx import xlsx_table as xlsx_table
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
_COLUMN_ORDER: dict[str, int] = {h: i for i, h in enumerate(OLD_POLICY_HEADERS)}
_TEMPLATE_WIDTHS = (14, 24, 28, 26, 16, 18)
_TEMPLATE_FORMATS = ("@", "@", "0.00", "0.00", "@", "@")


# ------------------------------------------------------------------------------------------------ template


def old_policy_template() -> bytes:
    """An empty roster for users to fill: the header row on sheet 老政策花名册 and instructions on 填写说明."""
    return save(
        template_workbook(
            OLD_POLICY_SHEET, OLD_POLICY_HEADERS, _TEMPLATE_WIDTHS, _TEMPLATE_FORMATS, _template_notes()
        )
    )


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
    return read_sheet(data, OLD_POLICY_SHEET, lambda rows: _parse_rows(rows, max_rows=max_rows))


def _parse_rows(
    rows: Iterator[tuple[object, ...]], *, max_rows: int
) -> tuple[list[tuple[int, OldPolicyIn]], list[RowError]]:
    header = next(rows, None)
    columns = header_columns(header or (), OLD_POLICY_HEADERS)
    records: list[tuple[int, OldPolicyIn]] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    today = today_in_china()
    for row_number, values in data_rows(rows, max_rows=max_rows):
        record, row_errors = _parse_row(row_number, values, columns, first_row_of, today)
        if record is not None:
            records.append((row_number, record))
        errors.extend(row_errors)
    return records, errors


def _parse_row(
    row_number: int,
    values: Sequence[object],
    columns: dict[str, int],
    first_row_of: dict[str, int],
    today: date,
) -> tuple[OldPolicyIn | None, list[RowError]]:
    fields = {f: (_HEADER_OF[f], _CONVERTERS[f]) for f in _OLD_POLICY_FIELDS}
    read = read_row(
        row_number, values, columns, fields, id_field="id_number", first_row_of=first_row_of, today=today
    )
    errors = read.errors
    record: OldPolicyIn | None = None
    try:
        record = OldPolicyIn.model_validate(read.payload)
    except ValidationError as exc:
        errors.extend(model_errors(row_number, exc, read, _HEADER_OF))

    errors.sort(key=lambda e: _COLUMN_ORDER.get(e.column, len(_COLUMN_ORDER)))
    return (record if not errors else None), errors


# --------------------------------------------------------------------------------------------- cell values


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


_CONVERTERS: dict[str, Callable[[object], object]] = {
    "name": _text,
    "id_number": _id_text,
    "lump_sum_received": _money,
    "monthly_subsidy": _money,
    "paid_from": _month,
    "paid_through": _month,
}
