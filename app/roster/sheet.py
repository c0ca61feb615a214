"""户籍花名册 as a spreadsheet: the template to fill, and reading a filled one into rows whose cells are each valid.

Checks that need more than one row or the database (the same household on several rows, one head per household,
villages in the caller's areas, people registered elsewhere) are ``rules.plan_import``'s; here each row on its own:
the cells can be read, the ID number is valid (GB 11643, with its Chinese messages), the relation is a known word,
and an ID number appears once in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from openpyxl.worksheet.datavalidation import DataValidation
from pydantic import Field, ValidationError

from app.core.clock import today_in_china
from app.core.text import CleanText, OptionalCleanText
from app.core.xlsx import (
    CellError,
    Row,
    RowError,
    cell,
    cell_date,
    cell_id_text,
    cell_text,
    data_rows,
    header_columns,
    model_errors,
    read_row,
    read_sheet,
    safe_text,
    save,
    template_workbook,
)
from app.households.models import RELATIONS
from app.households.schemas import MemberIn
from app.roster import rules
from app.roster.rules import (
    ADDRESS,
    GROUP,
    HEADERS,
    ID_NUMBER,
    NAME,
    PHONE,
    REGISTER_NO,
    REGISTERED_ON,
    RELATION,
    VILLAGE,
    RosterRow,
)

SHEET = "户籍花名册"
MAX_ROWS = 20_000
_WIDTHS = (16, 16, 16, 30, 12, 24, 16, 16, 16)
_FORMATS = ("@", "@", "@", "@", "@", "@", "@", "@", "@")
_RELATION_CHOICES = "、".join(RELATIONS.values())
_PROGRESS_EVERY = 500

Progress = Callable[[int], None]


class RosterRowIn(MemberIn):
    """One row: the member's fields as the registry's own form checks them, and where the household is."""

    village: CleanText = Field(min_length=1, max_length=60, title=VILLAGE)
    group: OptionalCleanText = Field(default=None, max_length=60, title=GROUP)
    register_no: CleanText = Field(min_length=1, max_length=32, title=REGISTER_NO)
    address: OptionalCleanText = Field(default=None, max_length=200, title=ADDRESS)


_HEADER_OF: dict[str, str] = {
    "village": VILLAGE,
    "group": GROUP,
    "register_no": REGISTER_NO,
    "address": ADDRESS,
    "name": NAME,
    "id_number": ID_NUMBER,
    "relation": RELATION,
    "phone": PHONE,
    "registered_on": REGISTERED_ON,
}
_CONVERTERS: dict[str, Callable[[object], object]] = {
    "village": cell_text,
    "group": cell_text,
    "register_no": cell_text,
    "address": cell_text,
    "name": cell_text,
    "id_number": cell_id_text,
    "relation": cell_text,
    "phone": cell_text,
    "registered_on": cell_date,
}
_FIELDS = {name: (header, _CONVERTERS[name]) for name, header in _HEADER_OF.items()}


# ------------------------------------------------------------------------------------------------ template


def template() -> bytes:
    """An empty 户籍花名册: the header row on sheet 户籍花名册 (与户主关系 offered as a drop-down) and 填写说明."""
    wb = template_workbook(SHEET, HEADERS, _WIDTHS, _FORMATS, _notes())
    ws = wb[SHEET]
    column = "ABCDEFGHI"[rules.COLUMN_ORDER[RELATION]]
    choices = DataValidation(
        type="list",
        formula1='"' + ",".join(RELATIONS.values()) + '"',
        allow_blank=True,
        showErrorMessage=False,  # other words (妻、长子 …) are accepted too
    )
    choices.add(f"{column}2:{column}{MAX_ROWS + 1}")
    ws.add_data_validation(choices)
    return save(wb)


def _notes() -> tuple[tuple[str, str], ...]:
    return (
        (
            VILLAGE,
            "必填。村名（如 前方庄村），或村的 12 位区划代码；只能填写您负责区域内的村。重名的村请填区划代码。",
        ),
        (
            GROUP,
            "选填。村民小组名称（如 第一村民小组）或其区划代码；同一户的各行须相同，除第一行外可以留空。",
        ),
        (
            REGISTER_NO,
            "必填，最多 32 个字符。同一村中户口簿编号相同的各行为同一户；户口簿编号在全县唯一。"
            "已登记的户按“村 + 户口簿编号”找到，不会重复新增。",
        ),
        (ADDRESS, "每户第一行必填，最多 200 字；同一户的其他行可以留空，填写的须与第一行相同。"),
        (NAME, "必填，最多 50 个字，与户口簿一致。"),
        (
            ID_NUMBER,
            "必填，18 位公民身份号码（最后一位可以是 X；15 位旧证号会自动升级为 18 位）。"
            "本列已设为文本格式，请勿改为数字格式，否则 Excel 会丢失后几位。同一身份证号在一个文件中只能出现一次；"
            "已是其他户在册成员的人不能导入（请在该户页面办理迁移）。",
        ),
        (
            RELATION,
            f"必填。可填：{_RELATION_CHOICES}（也可写 妻、夫、长子、儿媳、孙女、父亲 等）。"
            "每户有且只有一位户主。",
        ),
        (PHONE, "选填。11 位手机号或带区号的固定电话；留空的保留原来登记的电话。"),
        (
            REGISTERED_ON,
            "选填。户籍迁入本户的日期，如 2023-05-20（也可写 2023/5/20 或 2023年5月20日）；"
            "迁入早于系统登记的留空。不能早于出生日期，不能晚于今天。",
        ),
        (
            "导入规则",
            "先逐行校验全部内容，任何一行有错，整个文件都不导入，页面列出每处错误（行号、列名、问题）；"
            "改正后重新上传即可。同一份花名册再次导入不会重复新增；已登记的成员按身份证号对应，"
            "姓名、与户主关系等有变化的按文件更新。花名册中没有列出的已登记成员保持不变（迁出、死亡请在户详情页办理）。",
        ),
        ("表头", "第 1 行为表头，请勿修改表头文字；列的顺序可以调整，选填的列可以删除，但不能增加其他列。"),
        ("空行", f"每行填写一人；整行留空的行会被跳过。一个文件最多 {MAX_ROWS} 行。"),
    )


# ------------------------------------------------------------------------------------------------- reading


@dataclass
class Parsed:
    rows: list[RosterRow] = field(default_factory=list)  # the rows without any error of their own
    errors: list[RowError] = field(default_factory=list)
    count: int = 0  # data rows read
    incomplete: set[tuple[str, str]] = field(default_factory=set)  # (村, 户口簿编号) of rows with errors


def parse_roster(data: bytes, *, progress: Progress | None = None, today: date | None = None) -> Parsed:
    """Every row of the file, checked on its own. Raises ``RosterError`` when the file cannot be read at all or
    has more than ``MAX_ROWS`` rows."""
    day = today or today_in_china()
    return read_sheet(data, SHEET, lambda rows: _parse_rows(rows, day, progress))


def _parse_rows(rows: Iterator[Row], today: date, progress: Progress | None) -> Parsed:
    columns = header_columns(next(rows, ()), HEADERS, optional=rules.OPTIONAL_HEADERS)
    out = Parsed()
    first_row_of: dict[str, int] = {}
    for row_number, values in data_rows(rows, max_rows=MAX_ROWS):
        out.count += 1
        row, row_errors = _parse_row(row_number, values, columns, first_row_of, today)
        if row is not None:
            out.rows.append(row)
        else:
            out.incomplete.add(_household_key(values, columns))
        out.errors.extend(row_errors)
        if progress is not None and out.count % _PROGRESS_EVERY == 0:
            progress(out.count)
    if progress is not None:
        progress(out.count)
    return out


def _household_key(values: Row, columns: dict[str, int]) -> tuple[str, str]:
    """Which household a row with errors was meant for, as far as can be told."""
    parts = []
    for header in (VILLAGE, REGISTER_NO):
        try:
            parts.append(cell_text(cell(values, columns, header)) or "")
        except CellError:
            parts.append("")
    return rules.area_key(parts[0]), parts[1]


def _parse_row(
    row_number: int,
    values: Row,
    columns: dict[str, int],
    first_row_of: dict[str, int],
    today: date,
) -> tuple[RosterRow | None, list[RowError]]:
    read = read_row(
        row_number, values, columns, _FIELDS, id_field="id_number", first_row_of=first_row_of, today=today
    )
    errors, payload = read.errors, read.payload
    birth = read.id_number.birth_date if read.id_number else None
    relation = payload.get("relation")
    if isinstance(relation, str):
        code = rules.relation_code(relation)
        if code is None:
            errors.append(
                RowError(row_number, RELATION, f"不认识“{safe_text(relation)}”：可填 {_RELATION_CHOICES}")
            )
            read.failed.add("relation")
        else:
            payload["relation"] = code
    record: RosterRowIn | None = None
    try:
        record = RosterRowIn.model_validate(payload)
    except ValidationError as exc:
        errors.extend(model_errors(row_number, exc, read, _HEADER_OF))
    if record is not None and record.registered_on is not None and birth is not None:
        if record.registered_on < birth:
            errors.append(RowError(row_number, REGISTERED_ON, "户籍迁入日期不能早于出生日期"))
        elif record.registered_on > today:
            errors.append(RowError(row_number, REGISTERED_ON, "户籍迁入日期不能晚于今天"))
    if errors or record is None:
        return None, errors
    return (
        RosterRow(
            row=row_number,
            village=record.village,
            group=record.group,
            register_no=record.register_no,
            address=record.address,
            name=record.name,
            id_number=record.id_number,
            relation=record.relation,
            phone=record.phone,
            registered_on=record.registered_on,
        ),
        errors,
    )
