"""Bank files for batch payments (代发): the file we send to the bank and the result file it sends back.

Formats are adapters keyed by a short code (:data:`FORMATS`); the default ``psbc`` is the Postal Savings Bank-style
GBK text file, one ``|``-separated line per payment and a trailer ``T|笔数|总金额|批次号``. ``csv`` (UTF-8 with BOM)
and ``xlsx`` carry the same columns under Chinese headers and end with a ``合计`` row.

Everything here is pure (bytes in, bytes out). Money is integer fen; in files it is yuan with two decimals.

Reading a result file is strict: anything malformed refuses the whole file with a :class:`BankFileError` whose
Chinese message names the line (行号). Matching references, accounts and names against the batch is the caller's
job. Messages never contain account or ID numbers.

A batch can have a million lines, so the ``psbc`` reader and the writers never work line by line in Python: they
take a chunk of lines at a time, cut it into columns with C-level string operations (split, slice, join, count)
and check whole columns at once. Only when those checks fail does a line-by-line reference check run, to name
the first bad line; the two must accept exactly the same input.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from io import BytesIO, StringIO
from itertools import repeat
from operator import attrgetter, itemgetter, lt
from typing import Any, NoReturn, TypeVar
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.xml.functions import tostring

from app.core.money import fen_to_yuan

__all__ = [
    "DEFAULT_FORMAT",
    "EXPORT_HEADERS",
    "FORMATS",
    "RESULT_HEADERS",
    "BankFileError",
    "BankFormat",
    "ExportLine",
    "ParsedResult",
    "ResultLine",
    "ResultRecord",
    "export_file",
    "read_result",
    "result_file",
]


class BankFileError(ValueError):
    """A bank file that cannot be written or is refused whole; ``str(exc)`` is a Chinese message with the line."""


@dataclass(frozen=True, slots=True)
class BankFormat:
    code: str
    label: str
    extension: str  # without the dot
    media_type: str


FORMATS: dict[str, BankFormat] = {
    "psbc": BankFormat("psbc", "邮储银行代发文本（GBK）", "txt", "text/plain; charset=GBK"),
    "csv": BankFormat("csv", "CSV 表格（UTF-8）", "csv", "text/csv; charset=utf-8"),
    "xlsx": BankFormat(
        "xlsx",
        "Excel 工作簿（XLSX）",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}
DEFAULT_FORMAT = "psbc"

EXPORT_HEADERS: tuple[str, ...] = ("序号", "账号", "户名", "金额（元）", "身份证号", "备注")
RESULT_HEADERS: tuple[str, ...] = (*EXPORT_HEADERS, "处理结果", "失败原因")
EXPORT_SHEET = "代发明细"
RESULT_SHEET = "代发结果"
TOTAL_MARK = "合计"
TRAILER_MARK = "T"

PAID_TEXT = "成功"
FAILED_TEXT = "失败"
_PAID_OF: dict[str, bool] = {PAID_TEXT: True, FAILED_TEXT: False}

# Bounds keep every number inside a PostgreSQL integer / bigint and keep int() away from huge digit strings.
_MAX_SEQ = 999_999_999
_MAX_AMOUNT = 999_999_999_999  # fen per line (just under 100 亿元)
_MAX_TOTAL_DIGITS = 18  # a trailer total in fen stays within bigint
_ID_LENGTH = 18
_XLSX_MAX_ROWS = 1_048_576
_PSBC_FIELDS = 8  # fields of a result line
_AMOUNT_HINT = "应为两位小数的元"
_AMOUNT_HINT_LENIENT = "应为元，最多两位小数"
_FIXED_TIME = datetime(1980, 1, 1)  # the zip epoch: xlsx bytes must not depend on when they were written
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_MAX_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ExportLine:
    seq: int  # 1-based sequence in the batch
    account: str  # full bank account number (digits)
    name: str  # payee name
    amount: int  # fen, > 0
    id_number: str  # full 18-character ID number
    reference: str  # the line's unique reference, written in the remarks (备注) field


@dataclass(frozen=True, slots=True)
class ResultLine:
    seq: int
    account: str
    name: str
    amount: int
    id_number: str
    reference: str
    paid: bool
    reason: str = ""


# A detail line of a result file: (row_no, seq, account_hash(account), name, amount_fen, reference, paid, reason).
ResultRecord = tuple[int, int, bytes, str, int, str, bool, str]


@dataclass(frozen=True, slots=True)
class ParsedResult:
    batch_no: str  # from the trailer / 合计 row
    declared_count: int  # from the trailer
    declared_total: int  # fen, from the trailer
    count: int  # counted from the detail lines
    total: int  # fen, summed from the detail lines
    records: list[ResultRecord]


# ------------------------------------------------------------------------------------------------- writing


def export_file(fmt: str, batch_no: str, lines: Sequence[ExportLine]) -> bytes:
    """The file to send to the bank; lines in ascending ``seq``. Same input, same bytes (the XLSX too)."""
    code = _format(fmt).code
    _check_batch_no(batch_no, gbk=code == "psbc")
    if code == "psbc":
        parts: list[bytes] = []
        total = 0
        for chunk, chunk_total in _checked(lines, with_result=False):
            text = "".join(
                [
                    f"{x.seq}|{x.account}|{x.name}|{x.amount // 100}.{x.amount % 100:02d}|{x.id_number}|"
                    f"{x.reference}\r\n"
                    for x in chunk
                ]
            )
            parts.append(_gbk(text, chunk))
            total += chunk_total
        return _psbc_file(parts, len(lines), total, batch_no)
    total = sum(chunk_total for _, chunk_total in _checked(lines, with_result=False))
    rows = [[x.seq, x.account, x.name, fen_to_yuan(x.amount), x.id_number, x.reference] for x in lines]
    return _table_file(code, EXPORT_HEADERS, EXPORT_SHEET, rows, batch_no, total)


def result_file(fmt: str, batch_no: str, lines: Sequence[ResultLine]) -> bytes:
    """A result file as the bank would send it back (for tests, demo data and benchmarks). Unlike
    :func:`export_file` it takes sequence numbers in any order, repeated too: banks' files are not ours."""
    code = _format(fmt).code
    _check_batch_no(batch_no, gbk=code == "psbc")
    if code == "psbc":
        parts: list[bytes] = []
        total = 0
        for chunk, chunk_total in _checked(lines, with_result=True):
            text = "".join(
                [
                    f"{x.seq}|{x.account}|{x.name}|{x.amount // 100}.{x.amount % 100:02d}|{x.id_number}|"
                    f"{x.reference}|{PAID_TEXT if x.paid else FAILED_TEXT}|{x.reason}\r\n"
                    for x in chunk
                ]
            )
            parts.append(_gbk(text, chunk))
            total += chunk_total
        return _psbc_file(parts, len(lines), total, batch_no)
    total = sum(chunk_total for _, chunk_total in _checked(lines, with_result=True))
    rows = [
        [
            x.seq,
            x.account,
            x.name,
            fen_to_yuan(x.amount),
            x.id_number,
            x.reference,
            PAID_TEXT if x.paid else FAILED_TEXT,
            x.reason,
        ]
        for x in lines
    ]
    return _table_file(code, RESULT_HEADERS, RESULT_SHEET, rows, batch_no, total)


def _format(fmt: str) -> BankFormat:
    found = FORMATS.get(fmt)
    if found is None:
        raise BankFileError(f"不支持的文件格式：{_shown(fmt)}")
    return found


def _psbc_file(parts: list[bytes], count: int, total: int, batch_no: str) -> bytes:
    parts.append(f"{TRAILER_MARK}|{count}|{fen_to_yuan(total)}|{batch_no}\r\n".encode("gbk"))
    return b"".join(parts)


def _gbk(text: str, chunk: Sequence[ExportLine] | Sequence[ResultLine]) -> bytes:
    try:
        return text.encode("gbk")
    except UnicodeEncodeError as exc:
        # Every other field was checked to be ASCII, so the character is in a name or a reason.
        ch = text[exc.start]
        line = chunk[text.count("\n", 0, exc.start)]
        if ch in line.name:
            field, value = "户名", line.name
        else:
            field, value = "失败原因", getattr(line, "reason", "")
        raise BankFileError(
            f"序号 {line.seq}：{field}“{_shown(value)}”中的“{ch}”无法用 GBK 编码表示，写不进邮储代发文件；"
            "请核对用字，或改用 CSV / XLSX 格式"
        ) from None


# Lines are checked and written a few hundred at a time: column operations over a chunk stay in the CPU cache
# (about twice as fast as whole-list columns for a million lines on the test machine).
_WRITE_CHUNK = 512
_Line = TypeVar("_Line", ExportLine, ResultLine)

_get_seq = attrgetter("seq")
_get_account = attrgetter("account")
_get_name = attrgetter("name")
_get_amount = attrgetter("amount")
_get_id = attrgetter("id_number")
_get_reference = attrgetter("reference")
_get_paid = attrgetter("paid")
_get_reason = attrgetter("reason")


def _checked(lines: Sequence[_Line], *, with_result: bool) -> Iterator[tuple[Sequence[_Line], int]]:
    """The lines in chunks, each with its total in fen, once checked to be writable without breaking the file.

    Column-wise checks (:func:`_chunk_total`) run first; :func:`_line_problem` names the first bad line only
    when they fail, so both must accept exactly the same lines. Export lines must come in ascending ``seq``.
    """
    previous_seq = 0
    for offset in range(0, len(lines), _WRITE_CHUNK):
        chunk = lines[offset : offset + _WRITE_CHUNK]
        chunk_total = _chunk_total(chunk, with_result=with_result, previous_seq=previous_seq)
        if chunk_total is None:
            _raise_line_problem(chunk, offset, previous_seq, with_result=with_result)
        previous_seq = chunk[-1].seq
        yield chunk, chunk_total


def _chunk_total(
    chunk: Sequence[ExportLine] | Sequence[ResultLine], *, with_result: bool, previous_seq: int
) -> int | None:
    seqs = list(map(_get_seq, chunk))
    amounts: list[int] = list(map(_get_amount, chunk))
    if not (
        _all_type(seqs, int)
        and min(seqs) >= 1
        and max(seqs) <= _MAX_SEQ
        and (with_result or (seqs[0] > previous_seq and all(map(lt, seqs, seqs[1:]))))
        and _all_type(amounts, int)
        and min(amounts) >= 1
        and max(amounts) <= _MAX_AMOUNT
    ):
        return None
    try:  # join raises TypeError for anything but str: that is the type check
        accounts = list(map(_get_account, chunk))
        text = "".join(accounts)
        if not (all(accounts) and _ascii_digits(text)):
            return None
        names = list(map(_get_name, chunk))
        text = "".join(names)
        if not (all(names) and text.isprintable() and "|" not in text):
            return None
        ids = list(map(_get_id, chunk))
        text = "".join(ids)
        if not (len(text) == _ID_LENGTH * len(ids) and set(map(len, ids)) == {_ID_LENGTH}):
            return None
        if not (text.isascii() and text.encode().isalnum()):
            return None
        refs = list(map(_get_reference, chunk))
        text = "".join(refs)
        if not (all(refs) and text.isascii() and text.isprintable() and "|" not in text and " " not in text):
            return None
        if with_result:
            if not _all_type(list(map(_get_paid, chunk)), bool):
                return None
            text = "".join(map(_get_reason, chunk))
            if not (text.isprintable() and "|" not in text):
                return None
    except TypeError:
        return None
    return sum(amounts)


def _all_type(values: Iterable[object], kind: type) -> bool:
    return set(map(type, values)) == {kind}


def _raise_line_problem(
    chunk: Sequence[ExportLine] | Sequence[ResultLine], offset: int, previous_seq: int, *, with_result: bool
) -> NoReturn:
    items: Sequence[ExportLine | ResultLine] = chunk
    for index, line in enumerate(items, offset + 1):
        problem = _line_problem(line, with_result=with_result)
        seq = line.seq
        if problem is None and not with_result and seq <= previous_seq:
            problem = "序号应从小到大排列且不重复"
        if problem is not None:
            where = f"序号 {seq}" if type(seq) is int and 1 <= seq <= _MAX_SEQ else f"第 {index} 条明细"
            raise BankFileError(f"{where}：{problem}")
        previous_seq = seq
    raise AssertionError("column checks and line checks disagree")  # pragma: no cover


def _line_problem(line: ExportLine | ResultLine, *, with_result: bool) -> str | None:
    """The reference rules for one line (see :func:`_chunk_total`)."""
    if type(line.seq) is not int or not 1 <= line.seq <= _MAX_SEQ:
        return f"序号应为 1 至 {_MAX_SEQ} 的整数"
    if not isinstance(line.account, str) or not (line.account and _ascii_digits(line.account)):
        return "账号应为数字"
    if not isinstance(line.name, str) or not line.name:
        return "户名为空"
    if not line.name.isprintable() or "|" in line.name:
        return f"户名“{_shown(line.name)}”含有“|”或控制字符"
    if type(line.amount) is not int or line.amount < 1:
        return "金额应为大于零的整数（分）"
    if line.amount > _MAX_AMOUNT:
        return "金额超出范围"
    ident = line.id_number
    if not isinstance(ident, str) or len(ident) != _ID_LENGTH or not (ident.isascii() and ident.isalnum()):
        return "身份证号应为 18 位"
    ref = line.reference
    if not isinstance(ref, str) or not ref:
        return "备注（付款参考号）为空"
    if not (ref.isascii() and ref.isprintable()) or "|" in ref or " " in ref:
        return f"备注（付款参考号）“{_shown(ref)}”只能含有 ASCII 字母、数字和符号，不能有空格或“|”"
    if with_result and isinstance(line, ResultLine):
        if type(line.paid) is not bool:
            return "处理结果应为是否成功"
        if not isinstance(line.reason, str) or not line.reason.isprintable() or "|" in line.reason:
            return f"失败原因“{_shown(str(line.reason))}”含有“|”或控制字符"
    return None


def _check_batch_no(batch_no: str, *, gbk: bool) -> None:
    if (
        not isinstance(batch_no, str)
        or not batch_no
        or batch_no != batch_no.strip()
        or not batch_no.isprintable()
        or "|" in batch_no
    ):
        raise BankFileError(f"批次号“{_shown(str(batch_no))}”不能为空，不能含有“|”、控制字符或首尾空格")
    if gbk:
        try:
            batch_no.encode("gbk")
        except UnicodeEncodeError as exc:
            raise BankFileError(f"批次号中的“{batch_no[exc.start]}”无法用 GBK 编码表示") from None


def _table_file(
    code: str,
    headers: tuple[str, ...],
    sheet_title: str,
    rows: list[list[object]],
    batch_no: str,
    total: int,
) -> bytes:
    total_row: list[object] = [TOTAL_MARK, len(rows), None, fen_to_yuan(total), None, batch_no]
    if code == "csv":
        return _csv_file(headers, rows, total_row)
    return _xlsx_file(headers, sheet_title, rows, total_row)


def _csv_file(headers: Sequence[str], rows: list[list[object]], total_row: list[object]) -> bytes:
    out = StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    writer.writerow(total_row)
    return out.getvalue().encode("utf-8-sig")


# Columns stored as text so Excel keeps long numbers and the two decimals: 账号, 金额, 身份证号, 备注.
_XLSX_TEXT_COLUMNS = frozenset({1, 3, 4, 5})
_XLSX_WIDTHS = (8, 24, 12, 14, 22, 30, 10, 24)


def _xlsx_file(
    headers: Sequence[str], sheet_title: str, rows: list[list[object]], total_row: list[object]
) -> bytes:
    if len(rows) + 2 > _XLSX_MAX_ROWS:
        raise BankFileError(f"明细超过 XLSX 的行数上限（{_XLSX_MAX_ROWS - 2} 行），请改用其他格式")
    wb = Workbook(write_only=True)  # openpyxl spools the sheet through a temporary file of its own
    wb.properties.created = _FIXED_TIME
    wb.properties.creator = "anzhi"
    ws = wb.create_sheet(sheet_title)
    for index, width in enumerate(_XLSX_WIDTHS[: len(headers)], 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=header)
        cell.font = bold
        header_cells.append(cell)
    ws.append(header_cells)
    for row in (*rows, total_row):
        cells: list[object] = []
        for index, value in enumerate(row):
            text_column = index in _XLSX_TEXT_COLUMNS
            if isinstance(value, str) and (text_column or value.startswith("=")):
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # a bank's "=..." reason stays text, never a formula
                if text_column:
                    cell.number_format = "@"
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
    buffer = BytesIO()
    wb.save(buffer)
    # openpyxl stamps "modified" with the current time while saving and the zip entries with the local time;
    # rewrite both so the same batch always gives the same bytes (and the same SHA-256).
    wb.properties.modified = _FIXED_TIME
    return _fixed_zip(buffer.getvalue(), {"docProps/core.xml": tostring(wb.properties.to_tree())})


def _fixed_zip(raw: bytes, replace: dict[str, bytes]) -> bytes:
    out = BytesIO()
    with ZipFile(BytesIO(raw)) as src, ZipFile(out, "w", ZIP_DEFLATED) as dst:
        for info in src.infolist():  # openpyxl writes the parts in a fixed order
            entry = ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = ZIP_DEFLATED
            entry.create_system = 3  # Unix, whatever the machine
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, replace.get(info.filename) or src.read(info))
    return out.getvalue()


# ------------------------------------------------------------------------------------------------- reading


def read_result(
    fmt: str,
    data: bytes,
    account_hash: Callable[[str], bytes],
    *,
    for_batch: str | None = None,
    rows_ready: Callable[[list[ResultRecord]], None] | None = None,
) -> ParsedResult:
    """Parse a bank result file, or refuse it whole with a :class:`BankFileError`.

    Each record is ``(row_no, seq, account_hash(account), name, amount_fen, reference, paid, reason)`` where
    ``row_no`` is the physical line (psbc, csv) or sheet row (xlsx), 1-based. The declared count and total of the
    trailer / 合计 row must equal the counted ones.

    ``for_batch``: the number of the batch the file must answer for. A psbc file for another batch is refused on
    its trailer, before a line is read; the other formats name their batch in the last row, so theirs is compared
    once they are read (before their control totals).

    ``rows_ready`` is handed the records of the psbc file a part at a time, in order, as they are read (so that
    they can be stored while the rest is read); the whole file can still be refused after that. The other formats
    hand over nothing: their records are in the result.
    """
    code = _format(fmt).code
    if not data:
        raise BankFileError("文件是空的")
    if code == "psbc":
        parsed = _read_psbc(data, account_hash, for_batch, rows_ready)
    elif code == "csv":
        parsed = _read_table(_csv_rows(data), account_hash, lenient=False)
    else:
        parsed = _read_xlsx(data, account_hash)
    if code != "psbc":  # a psbc file was compared on its trailer, before a line was read
        _check_batch(parsed.batch_no, for_batch)
    if parsed.count != parsed.declared_count or parsed.total != parsed.declared_total:
        where = "文件尾记录" if code == "psbc" else "合计行"
        raise BankFileError(
            f"控制总数不符：{where} {parsed.declared_count} 笔 {fen_to_yuan(parsed.declared_total)} 元，"
            f"明细 {parsed.count} 笔 {fen_to_yuan(parsed.total)} 元"
        )
    return parsed


def _check_batch(batch_no: str, for_batch: str | None) -> None:
    if for_batch is not None and batch_no != for_batch:
        raise BankFileError(f"该文件属于批次 {batch_no}，不是本批次 {for_batch}")


def _decode(data: bytes, encoding: str, label: str, hint: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BankFileError(f"第 {line} 行：含有无法按 {label} 解码的字节，{hint}") from None


# Lines are handled a chunk of about this many bytes at a time: each column operation then runs over objects that
# are still in the CPU cache. On the 2-core test machine this reads 1M lines in about half the time of whole-file
# columns (~1.4 s instead of ~2.8 s, not counting account_hash).
_CHUNK_BYTES = 32 * 1024
_NEWLINES = b"\r\n"


def _read_psbc(
    data: bytes,
    account_hash: Callable[[str], bytes],
    for_batch: str | None,
    rows_ready: Callable[[list[ResultRecord]], None] | None,
) -> ParsedResult:
    end = len(data)
    while end and data[end - 1] in _NEWLINES:  # blank lines after the trailer are no content
        end -= 1
    if not end:
        raise BankFileError("文件是空的")
    start = data.rfind(b"\n", 0, end) + 1  # the trailer is the last line
    try:
        trailer = _psbc_trailer(data[start:end].decode("gbk").split("|"))
    except UnicodeDecodeError:
        _psbc_diagnose(data)
    if isinstance(trailer, str) or b"\r" in data[end:].replace(b"\r\n", b""):
        _psbc_diagnose(data)
    declared_count, declared_total, batch_no = trailer
    _check_batch(batch_no, for_batch)

    # GBK never uses CR or LF inside a two-byte character, so the bytes can be cut at any LF.
    records: list[ResultRecord] = []
    total = 0
    pos = 0
    while pos < start:
        cut = data.find(b"\n", pos + _CHUNK_BYTES, start) + 1 or start
        first = len(records)
        chunk_total = _psbc_chunk(data[pos:cut], first + 1, account_hash, records)
        if chunk_total is None:
            _psbc_diagnose(data)
        total += chunk_total
        pos = cut
        if rows_ready is not None:
            rows_ready(records[first:])
    return ParsedResult(batch_no, declared_count, declared_total, len(records), total, records)


def _psbc_chunk(
    raw: bytes,
    first_row: int,
    account_hash: Callable[[str], bytes],
    records: list[ResultRecord],
) -> int | None:
    """Append the records of whole detail lines to ``records`` and return their total, or None if anything is
    wrong (then :func:`_psbc_diagnose` names the line). Works on columns, never line by line."""
    try:
        text = raw.decode("gbk")
    except UnicodeDecodeError:
        return None
    d = text.count("\n")
    cr_count = text.count("\r")
    if not cr_count:
        sep = "\n"
    elif cr_count == d:
        sep = "\r\n"  # as we write it; the line-break check below proves every CR is part of a CRLF
    else:
        text = text.replace("\r\n", "\n")  # CRLF and LF mixed
        if "\r" in text:
            return None
        sep = "\n"
    n7 = (_PSBC_FIELDS - 1) * d
    if text.count("|") != n7:
        return None
    # Split on "|" only: each line's last field (reason) and the next line's first (seq) come out joined as
    # "reason<sep>seq", at every 7th position. If each of those holds exactly one line break, every line has
    # exactly 8 fields.
    flat = text.split("|")
    joined = flat[7 : n7 + 1 : 7]
    if list(map(str.count, joined, repeat(sep))).count(1) != d:
        return None
    parts = sep.join(joined).split(sep)  # reason1, seq2, reason2, ..., reason_d, ""
    reasons = parts[0::2]
    seqs = parts[1::2]
    seqs[-1] = flat[0]  # seq 1 was never joined
    seqs.insert(0, seqs.pop())
    seq_text = "".join(seqs)
    accounts = flat[1:n7:7]
    account_text = "".join(accounts)
    amounts = flat[3:n7:7]
    if not (
        _ascii_digits(seq_text)
        and all(seqs)
        and _ascii_digits(account_text)
        and all(accounts)
        and _amounts_look_right(amounts)
    ):
        return None
    try:
        seq_numbers = list(map(int, seqs))
        fen = list(map(int, "|".join(amounts).replace(".", "").split("|")))
        paid = list(map(_PAID_OF.__getitem__, flat[6:n7:7]))
    except (ValueError, KeyError):  # a digit string too long for int(), a result other than 成功/失败
        return None
    if max(seq_numbers) > _MAX_SEQ or min(fen) < 1 or max(fen) > _MAX_AMOUNT:
        return None
    records.extend(
        zip(
            range(first_row, first_row + d),
            seq_numbers,
            map(account_hash, accounts),
            flat[2:n7:7],
            fen,
            flat[5:n7:7],
            paid,
            reasons,
            strict=True,
        )
    )
    return sum(fen)


def _amounts_look_right(amounts: list[str]) -> bool:
    """Every amount is ``digits.dd``: a dot third from the end, one dot each, digits around it."""
    text = "".join(amounts)
    return (
        min(map(len, amounts)) >= 4
        and "".join(map(itemgetter(-3), amounts)) == "." * len(amounts)
        and text.count(".") == len(amounts)
        and _ascii_digits(text.replace(".", ""))
    )


def _ascii_digits(text: str) -> bool:
    """Only 0-9 (str.isdigit also takes other scripts' digits); bytes.isdigit is ten times faster."""
    return text.isascii() and text.encode().isdigit()


def _psbc_trailer(fields: list[str]) -> tuple[int, int, str] | str:
    """``T|笔数|总金额|批次号`` → (count, total fen, batch no), or what is wrong with it."""
    if len(fields) != 4 or fields[0] != TRAILER_MARK:
        return "文件尾记录格式不正确（应为 T|笔数|总金额|批次号）"
    _, count_text, total_text, batch_no = fields
    count = _count_value(count_text)
    if count is None:
        return f"文件尾记录的笔数“{_shown(count_text)}”不是整数"
    total = _yuan_text(total_text, exact=True, max_digits=_MAX_TOTAL_DIGITS)
    if total is None:
        return f"文件尾记录的总金额“{_shown(total_text)}”格式不正确（{_AMOUNT_HINT}）"
    if not batch_no:
        return "文件尾记录缺少批次号"
    if not batch_no.isprintable():
        return "文件尾记录的批次号含有控制字符"
    return count, total, batch_no


def _psbc_diagnose(data: bytes) -> NoReturn:
    """The line-by-line reference reader, run only when the column checks found something wrong: raises for the
    first problem in file order."""
    raws = data.split(b"\n")
    trailer_at = 0
    offset = 0
    for row_no, raw in enumerate(raws, 1):
        try:
            line = raw.decode("gbk")
        except UnicodeDecodeError:
            raise BankFileError(
                f"第 {row_no} 行：含有无法按 GBK 解码的字节，文件编码不正确或已损坏"
            ) from None
        if row_no < len(raws):
            line = line.removesuffix("\r")  # only the CR of a CRLF
        if "\r" in line:
            raise BankFileError(f"第 {row_no} 行：含有多余的回车符")
        if trailer_at:
            if line:
                raise BankFileError(f"第 {row_no} 行：文件尾记录（第 {trailer_at} 行）之后还有内容")
            continue
        if not line and not data[offset:].replace(b"\r\n", b"").strip(b"\n"):
            break  # only line breaks are left: the file ends here
        fields = line.split("|")
        if fields[0] == TRAILER_MARK:
            trailer = _psbc_trailer(fields)
            if isinstance(trailer, str):
                raise BankFileError(f"第 {row_no} 行：{trailer}")
            trailer_at = row_no
        else:
            problem = _psbc_line_problem(fields)
            if problem is not None:
                raise BankFileError(f"第 {row_no} 行：{problem}")
        offset += len(raw) + 1
    if not trailer_at:
        raise BankFileError("文件缺少文件尾记录（T|笔数|总金额|批次号）")
    raise BankFileError("文件格式不正确")  # pragma: no cover - the column checks refused what this accepts


def _psbc_line_problem(fields: list[str]) -> str | None:
    if fields == [""]:
        return "空行"
    if len(fields) != _PSBC_FIELDS:
        hint = (
            "；这像是发给银行的代发文件，不是银行返回的回盘文件" if len(fields) == len(EXPORT_HEADERS) else ""
        )
        return f"应有 {_PSBC_FIELDS} 个字段（以“|”分隔），实有 {len(fields)} 个{hint}"
    seq, account, _name, amount, _id_number, _reference, result, _reason = fields
    if _count_value(seq, limit=_MAX_SEQ) is None:
        return f"序号“{_shown(seq)}”不是整数"
    if not (account and account.isascii() and account.isdigit()):
        return "账号格式不正确（应为数字）"
    fen = _yuan_text(amount, exact=True)
    if fen is None:
        return f"金额“{_shown(amount)}”格式不正确（{_AMOUNT_HINT}）"
    problem = _amount_range_problem(amount, fen)
    if problem is not None:
        return problem
    if result not in _PAID_OF:
        return f"处理结果“{_shown(result)}”不正确（应为“{PAID_TEXT}”或“{FAILED_TEXT}”）"
    return None


def _count_value(text: str, limit: int = _MAX_SEQ) -> int | None:
    if not (text and text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(limit)):
        return None
    value = int(text)
    return value if value <= limit else None


def _yuan_text(text: str, *, exact: bool, max_digits: int = 16) -> int | None:
    """Yuan text → fen without floats: ``digits.dd`` when ``exact``, else ``digits`` with at most two decimals."""
    whole, dot, cents = text.partition(".")
    if exact and (not dot or len(cents) != 2):
        return None
    if dot and not 1 <= len(cents) <= 2:
        return None
    if not (whole and whole.isascii() and whole.isdigit()):
        return None
    if cents and not (cents.isascii() and cents.isdigit()):
        return None
    if len(whole.lstrip("0")) > max_digits:
        return None
    return int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)


def _amount_range_problem(shown: str, fen: int) -> str | None:
    if fen < 1:
        return f"金额“{_shown(shown)}”必须大于零"
    if fen > _MAX_AMOUNT:
        return f"金额“{_shown(shown)}”超出范围"
    return None


# ------------------------------------------------------------------------------------------- csv and xlsx


def _csv_rows(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    text = _decode(data, "utf-8-sig", "UTF-8", "CSV 回盘文件应为 UTF-8 编码（Excel 中另存为“CSV UTF-8”）")
    reader = csv.reader(StringIO(text, newline=""), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BankFileError(f"第 {reader.line_num} 行：CSV 格式不正确（引号不配对等）") from exc
        yield reader.line_num, row


def _read_xlsx(data: bytes, account_hash: Callable[[str], bytes]) -> ParsedResult:
    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key errors) for files it cannot read
        raise BankFileError("无法读取该文件，它不是有效的 Excel 工作簿（.xlsx）") from exc
    try:
        if not wb.worksheets:
            raise BankFileError("工作簿中没有工作表")
        sheet = wb.worksheets[0]
        if not isinstance(sheet, ReadOnlyWorksheet):
            raise BankFileError("第一个工作表不是数据表")
        sheet.reset_dimensions()  # some programs write a wrong <dimension>; read whatever is there
        return _read_table(_xlsx_rows(sheet), account_hash, lenient=True)
    finally:
        wb.close()


def _xlsx_rows(sheet: Any) -> Iterator[tuple[int, Sequence[object]]]:
    # Any: the openpyxl stubs type iter_rows for the normal worksheet only, not the read-only one.
    rows = sheet.iter_rows(min_row=1, values_only=True)
    row_no = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a damaged sheet fails part way through
            raise BankFileError(f"第 {row_no + 1} 行：工作表内容已损坏，无法读取") from exc
        row_no += 1
        yield row_no, row


def _read_table(
    rows: Iterable[tuple[int, Sequence[object]]], account_hash: Callable[[str], bytes], *, lenient: bool
) -> ParsedResult:
    """The csv and xlsx reader: header row, detail rows, then the 合计 row; blank rows may only follow it.

    ``lenient`` (xlsx) accepts amounts stored as numbers and fewer than two decimals; csv text must be exact.
    """
    header_at = 0
    total_at = 0
    footer: tuple[int, int, str] | None = None
    records: list[ResultRecord] = []
    total = 0
    for row_no, raw in rows:
        cells = _trimmed(raw)
        if not cells:
            if header_at and not total_at:
                raise BankFileError(f"第 {row_no} 行：空行")
            continue
        if total_at:
            raise BankFileError(f"第 {row_no} 行：合计行（第 {total_at} 行）之后还有内容")
        if not header_at:
            _check_header(row_no, cells)
            header_at = row_no
            continue
        first = cells[0]
        if isinstance(first, str) and first.strip() == TOTAL_MARK:
            footer = _total_row(row_no, cells, lenient=lenient)
            total_at = row_no
            continue
        record = _table_record(row_no, cells, account_hash, lenient=lenient)
        records.append(record)
        total += record[4]
    if not header_at:
        raise BankFileError("文件是空的")
    if footer is None:
        raise BankFileError("文件缺少合计行（合计,笔数,,总金额,,批次号）")
    declared_count, declared_total, batch_no = footer
    return ParsedResult(batch_no, declared_count, declared_total, len(records), total, records)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _trimmed(cells: Sequence[object]) -> list[object]:
    """The row without its trailing blank cells (Excel pads rows to the widest one)."""
    end = len(cells)
    while end and _blank(cells[end - 1]):
        end -= 1
    return list(cells[:end])


def _header_key(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""


_RESULT_HEADER_KEYS = tuple(_header_key(h) for h in RESULT_HEADERS)


def _check_header(row_no: int, cells: list[object]) -> None:
    keys = tuple(_header_key(c) for c in cells)
    if keys != _RESULT_HEADER_KEYS:
        hint = "；这像是发给银行的代发文件，不是银行返回的回盘文件" if keys == _RESULT_HEADER_KEYS[:6] else ""
        raise BankFileError(f"第 {row_no} 行：表头不正确，应为：{','.join(RESULT_HEADERS)}{hint}")


def _table_record(
    row_no: int, cells: list[object], account_hash: Callable[[str], bytes], *, lenient: bool
) -> ResultRecord:
    if len(cells) < _PSBC_FIELDS - 1 or len(cells) > _PSBC_FIELDS:
        raise BankFileError(f"第 {row_no} 行：应有 {_PSBC_FIELDS} 列，实有 {len(cells)} 列")
    cells += [None] * (_PSBC_FIELDS - len(cells))
    seq_cell, account_cell, name_cell, amount_cell, _id_cell, reference_cell, result_cell, reason_cell = cells
    seq = _int_cell(seq_cell, _MAX_SEQ)
    if seq is None:
        raise BankFileError(f"第 {row_no} 行：序号“{_shown_cell(seq_cell)}”不是整数")
    account = _account_cell(row_no, account_cell)
    name = _text_cell(name_cell, strip=False)
    fen = _amount_cell(amount_cell, lenient=lenient, max_digits=12)
    if fen is None:
        hint = _AMOUNT_HINT_LENIENT if lenient else _AMOUNT_HINT
        raise BankFileError(f"第 {row_no} 行：金额“{_shown_cell(amount_cell)}”格式不正确（{hint}）")
    problem = _amount_range_problem(_shown_cell(amount_cell), fen)
    if problem is not None:
        raise BankFileError(f"第 {row_no} 行：{problem}")
    result = _text_cell(result_cell)
    if result not in _PAID_OF:
        raise BankFileError(
            f"第 {row_no} 行：处理结果“{_shown(result)}”不正确（应为“{PAID_TEXT}”或“{FAILED_TEXT}”）"
        )
    return (
        row_no,
        seq,
        account_hash(account),
        name,
        fen,
        _text_cell(reference_cell),
        _PAID_OF[result],
        _text_cell(reason_cell),
    )


def _total_row(row_no: int, cells: list[object], *, lenient: bool) -> tuple[int, int, str]:
    cells = cells + [None] * (6 - len(cells))
    shape = "合计行格式不正确（应为：合计,笔数,,总金额,,批次号）"
    if len(cells) > 6 or not _blank(cells[2]) or not _blank(cells[4]):
        raise BankFileError(f"第 {row_no} 行：{shape}")
    count = _int_cell(cells[1], _MAX_SEQ)
    if count is None:
        raise BankFileError(f"第 {row_no} 行：合计行的笔数“{_shown_cell(cells[1])}”不是整数")
    total = _amount_cell(cells[3], lenient=lenient, max_digits=_MAX_TOTAL_DIGITS)
    if total is None:
        hint = _AMOUNT_HINT_LENIENT if lenient else _AMOUNT_HINT
        raise BankFileError(f"第 {row_no} 行：合计行的总金额“{_shown_cell(cells[3])}”格式不正确（{hint}）")
    batch_no = _text_cell(cells[5])
    if not batch_no:
        raise BankFileError(f"第 {row_no} 行：合计行缺少批次号")
    return count, total, batch_no


def _int_cell(value: object, limit: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= limit else None
    if isinstance(value, str):
        return _count_value(value.strip(), limit)
    number = _as_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return _int_cell(int(number), limit)


def _as_decimal(value: object) -> Decimal | None:
    """A numeric cell as an exact Decimal; a float by its shortest repr (260.1, not 260.0999…)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    else:
        return None
    return number if number.is_finite() else None


_EXACT_FLOAT_DIGITS = 15  # Excel keeps 15 significant digits of a number


def _account_cell(row_no: int, value: object) -> str:
    text: str | None = None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = str(value)
    elif isinstance(value, float):
        number = _as_decimal(value)
        if number is not None and number == number.to_integral_value() and number >= 0:
            text = str(int(number))
            if len(text) > _EXACT_FLOAT_DIGITS:
                raise BankFileError(
                    f"第 {row_no} 行：账号被存成了数字，已丢失末几位；请把账号列设为文本后重新生成文件"
                )
    if not (text and text.isascii() and text.isdigit()):
        raise BankFileError(f"第 {row_no} 行：账号格式不正确（应为数字）")
    return text


def _amount_cell(value: object, *, lenient: bool, max_digits: int) -> int | None:
    """A cell in yuan → fen, exactly; text must be ``digits.dd`` unless ``lenient`` (xlsx)."""
    if isinstance(value, str):
        return _yuan_text(value.strip(), exact=not lenient, max_digits=max_digits)
    amount = _as_decimal(value) if lenient else None
    if amount is None or amount < 0:
        return None
    fen = amount * 100
    if fen != fen.to_integral_value() or len(str(int(fen))) > max_digits + 2:
        return None
    return int(fen)


def _text_cell(value: object, *, strip: bool = True) -> str:
    """Text from a cell; names are kept exactly as written (the caller compares them with the batch)."""
    if value is None:
        return ""
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return text.strip() if strip else text


def _shown_cell(value: object) -> str:
    return "" if value is None else _shown(str(value))


def _shown(text: str) -> str:
    """User text for a message, shortened."""
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"
