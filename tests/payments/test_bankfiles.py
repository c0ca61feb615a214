"""Bank files: export formats, the bank's result files and the strict result reader (app.payments.bankfiles)."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import time
import zipfile
from datetime import UTC, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import openpyxl.writer.excel
import pytest
from openpyxl import Workbook, load_workbook

from app.payments import bankfiles
from app.payments.bankfiles import (
    DEFAULT_FORMAT,
    FORMATS,
    BankFileError,
    ExportLine,
    ParsedResult,
    ResultLine,
    export_file,
    read_result,
    result_file,
)

BATCH = "YL202611-410727"
HEADER = "序号,账号,户名,金额（元）,身份证号,备注"
RESULT_HEADER = HEADER + ",处理结果,失败原因"


def account_hash(account: str) -> bytes:
    return hashlib.sha256(b"test:" + account.encode()).digest()


def line(seq: int, name: str = "张三", amount: int = 26000) -> ExportLine:
    return ExportLine(
        seq=seq,
        account=f"6217990000{seq:09d}",
        name=name,
        amount=amount,
        id_number=f"41072719500101{seq % 1000:03d}X",
        reference=f"{BATCH}-{seq:07d}",
    )


def answered(x: ExportLine, paid: bool = True, reason: str = "") -> ResultLine:
    return ResultLine(x.seq, x.account, x.name, x.amount, x.id_number, x.reference, paid, reason)


LINES = [line(1), line(2, "欧阳·娜娜", 26001), line(3, "张瑋", 1)]  # 瑋 is 0xAD7C in GBK: "|" as its 2nd byte
RESULTS = [answered(LINES[0]), answered(LINES[1], False, "账户已销户"), answered(LINES[2])]


def psbc_result(*rows: str, trailer: str | None = None, end: str = "\r\n") -> bytes:
    """A psbc result file from detail lines; the trailer is computed unless given."""
    if trailer is None:
        amounts = [r.split("|")[3] for r in rows if r.count("|") >= 3]
        total = sum(int(a.replace(".", "")) for a in amounts if a.replace(".", "").isdigit())
        trailer = f"T|{len(rows)}|{total // 100}.{total % 100:02d}|{BATCH}"
    return "".join(f"{r}{end}" for r in (*rows, trailer)).encode("gbk")


def row(
    seq: int = 1, amount: str = "260.00", result: str = "成功", reason: str = "", name: str = "张三"
) -> str:
    x = line(seq)
    return f"{seq}|{x.account}|{name}|{amount}|{x.id_number}|{x.reference}|{result}|{reason}"


def refused(fmt: str, data: bytes) -> str:
    with pytest.raises(BankFileError) as info:
        read_result(fmt, data, account_hash)
    return str(info.value)


# ------------------------------------------------------------------------------------------------- formats


def test_formats_are_keyed_by_code_with_psbc_first_and_default() -> None:
    assert list(FORMATS) == ["psbc", "csv", "xlsx"]
    assert DEFAULT_FORMAT == "psbc"
    assert all(code == spec.code for code, spec in FORMATS.items())
    assert FORMATS["psbc"].label == "邮储银行代发文本（GBK）"
    assert [spec.extension for spec in FORMATS.values()] == ["txt", "csv", "xlsx"]
    assert FORMATS["xlsx"].media_type.startswith("application/vnd.openxmlformats")
    with pytest.raises(BankFileError, match="不支持的文件格式"):
        export_file("pdf", BATCH, LINES)


# ------------------------------------------------------------------------------------------------- export


def test_psbc_export_is_gbk_lines_and_trailer() -> None:
    data = export_file("psbc", BATCH, LINES)
    assert data == (
        "1|6217990000000000001|张三|260.00|41072719500101001X|YL202611-410727-0000001\r\n"
        "2|6217990000000000002|欧阳·娜娜|260.01|41072719500101002X|YL202611-410727-0000002\r\n"
        "3|6217990000000000003|张瑋|0.01|41072719500101003X|YL202611-410727-0000003\r\n"
        "T|3|520.02|YL202611-410727\r\n"
    ).encode("gbk")
    assert b"|\xd5\xc5\xc8\xfd|260.00|" in data  # 张三 in GBK
    assert b"|\xd5\xc5\xac\x7c|0.01|" in data  # 张瑋: the second byte of 瑋 is "|"
    assert data.endswith(b"T|3|520.02|YL202611-410727\r\n")


def test_psbc_export_of_no_lines_is_a_zero_trailer() -> None:
    assert export_file("psbc", BATCH, []) == b"T|0|0.00|YL202611-410727\r\n"


def test_csv_export_has_bom_chinese_header_rows_and_total_row() -> None:
    data = export_file("csv", BATCH, LINES)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").split("\r\n") == [
        HEADER,
        "1,6217990000000000001,张三,260.00,41072719500101001X,YL202611-410727-0000001",
        "2,6217990000000000002,欧阳·娜娜,260.01,41072719500101002X,YL202611-410727-0000002",
        "3,6217990000000000003,张瑋,0.01,41072719500101003X,YL202611-410727-0000003",
        "合计,3,,520.02,,YL202611-410727",
        "",
    ]


def test_xlsx_export_stores_numbers_that_matter_as_text() -> None:
    wb = load_workbook(io.BytesIO(export_file("xlsx", BATCH, LINES)))
    assert wb.sheetnames == ["代发明细"]
    ws = wb["代发明细"]
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values == [
        HEADER.split(","),
        [1, "6217990000000000001", "张三", "260.00", "41072719500101001X", "YL202611-410727-0000001"],
        [2, "6217990000000000002", "欧阳·娜娜", "260.01", "41072719500101002X", "YL202611-410727-0000002"],
        [3, "6217990000000000003", "张瑋", "0.01", "41072719500101003X", "YL202611-410727-0000003"],
        ["合计", 3, None, "520.02", None, "YL202611-410727"],
    ]
    for column in "BDEF":  # 账号, 金额, 身份证号, 备注
        cell = ws[f"{column}2"]
        assert (cell.data_type, cell.number_format) == ("s", "@")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_same_input_gives_same_bytes(fmt: str) -> None:
    assert export_file(fmt, BATCH, LINES) == export_file(fmt, BATCH, list(LINES))
    assert result_file(fmt, BATCH, RESULTS) == result_file(fmt, BATCH, list(RESULTS))


def test_xlsx_bytes_do_not_depend_on_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    first = export_file("xlsx", BATCH, LINES)

    class LaterDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> LaterDatetime:
            return cls(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    later_module = SimpleNamespace(datetime=LaterDatetime, timezone=timezone)
    later = time.time() + 5 * 365 * 86400
    monkeypatch.setattr(openpyxl.writer.excel, "datetime", later_module)
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "localtime", lambda secs=None: time.gmtime(later))
    second = export_file("xlsx", BATCH, LINES)
    assert second == first

    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert today not in core and "2031" not in core
    assert "1980-01-01T00:00:00Z" in core


# ------------------------------------------------------------------------------------------------- writer checks


def test_a_name_gbk_cannot_write_is_refused_naming_the_seq() -> None:
    lines = [line(1), line(2, "刘䶮")]  # 䶮 (U+4DAE) is not in GBK
    with pytest.raises(BankFileError) as info:
        export_file("psbc", BATCH, lines)
    assert str(info.value).startswith("序号 2：户名“刘䶮”中的“䶮”无法用 GBK 编码表示")
    # The other formats are Unicode and take it.
    assert "刘䶮" in export_file("csv", BATCH, lines).decode("utf-8-sig")
    with pytest.raises(BankFileError, match="序号 2：失败原因“䶮”中的“䶮”"):
        result_file("psbc", BATCH, [answered(line(1)), answered(line(2), False, "䶮")])


def test_a_name_gbk_cannot_write_is_found_in_a_later_chunk() -> None:
    lines = [line(seq) for seq in range(1, 2001)]
    lines[1500] = line(1501, "𠮷")
    with pytest.raises(BankFileError, match=r"^序号 1501：户名“𠮷”"):
        export_file("psbc", BATCH, lines)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            ExportLine(2, "6217", "张|三", 1, "41072719500101002X", "R-2"),
            "序号 2：户名“张|三”含有“|”或控制字符",
        ),
        (ExportLine(2, "6217", "张\n三", 1, "41072719500101002X", "R-2"), "序号 2：户名“张\n三”含有"),
        (ExportLine(2, "6217", "", 1, "41072719500101002X", "R-2"), "序号 2：户名为空"),
        (ExportLine(2, "6217-1", "张三", 1, "41072719500101002X", "R-2"), "序号 2：账号应为数字"),
        (ExportLine(2, "６２１７", "张三", 1, "41072719500101002X", "R-2"), "序号 2：账号应为数字"),
        (ExportLine(2, "6217", "张三", 0, "41072719500101002X", "R-2"), "序号 2：金额应为大于零的整数（分）"),
        (ExportLine(2, "6217", "张三", 1, "4107271950010100", "R-2"), "序号 2：身份证号应为 18 位"),
        (ExportLine(2, "6217", "张三", 1, "41072719500101002X", "R 2"), "序号 2：备注（付款参考号）“R 2”"),
        (ExportLine(2, "6217", "张三", 1, "41072719500101002X", ""), "序号 2：备注（付款参考号）为空"),
        (ExportLine(1, "6217", "张三", 1, "41072719500101002X", "R-2"), "序号 1：序号应从小到大排列且不重复"),
        (ExportLine(0, "6217", "张三", 1, "41072719500101002X", "R-2"), "第 2 条明细：序号应为 1 至"),
    ],
)
def test_lines_that_would_break_the_file_are_refused(bad: ExportLine, message: str) -> None:
    with pytest.raises(BankFileError) as info:
        export_file("csv", BATCH, [line(1), bad])
    assert str(info.value).startswith(message)


def test_a_float_amount_is_refused() -> None:
    bad = ExportLine(1, "6217", "张三", 260.0, "41072719500101002X", "R-1")  # type: ignore[arg-type]
    with pytest.raises(BankFileError, match="序号 1：金额应为大于零的整数"):
        export_file("psbc", BATCH, [bad])


def test_a_bad_batch_number_is_refused() -> None:
    for batch_no in ("", " B", "A|B", "B\n"):
        with pytest.raises(BankFileError) as info:
            export_file("psbc", batch_no, LINES)
        assert str(info.value) == f"批次号“{batch_no}”不能为空，不能含有“|”、控制字符或首尾空格"
    with pytest.raises(BankFileError) as info:
        export_file("psbc", "䶮", LINES)
    assert str(info.value) == "批次号中的“䶮”无法用 GBK 编码表示"
    assert export_file("csv", "䶮", LINES).endswith("合计,3,,520.02,,䶮\r\n".encode())


def test_result_file_takes_repeated_seqs_like_a_bank_might_send() -> None:
    data = result_file("psbc", BATCH, [RESULTS[0], RESULTS[0]])
    parsed = read_result("psbc", data, account_hash)
    assert [r[1] for r in parsed.records] == [1, 1]


# ------------------------------------------------------------------------------------------------- round trips


def expected_records(first_row: int) -> list[tuple[int, int, bytes, str, int, str, bool, str]]:
    return [
        (first_row + i, x.seq, account_hash(x.account), x.name, x.amount, x.reference, x.paid, x.reason)
        for i, x in enumerate(RESULTS)
    ]


@pytest.mark.parametrize(("fmt", "first_row"), [("psbc", 1), ("csv", 2), ("xlsx", 2)])
def test_round_trip(fmt: str, first_row: int) -> None:
    exported = export_file(fmt, BATCH, LINES)
    assert exported  # what went to the bank; the bank answers line by line
    parsed = read_result(fmt, result_file(fmt, BATCH, RESULTS), account_hash)
    assert parsed == ParsedResult(
        batch_no=BATCH,
        declared_count=3,
        declared_total=52002,
        count=3,
        total=52002,
        records=expected_records(first_row),
    )


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_trip_of_an_empty_batch(fmt: str) -> None:
    parsed = read_result(fmt, result_file(fmt, BATCH, []), account_hash)
    assert (parsed.batch_no, parsed.count, parsed.total, parsed.records) == (BATCH, 0, 0, [])


def test_psbc_round_trip_over_many_chunks() -> None:
    rng = random.Random(7)
    names = ["张三", "欧阳·娜娜", "张瑋", "和珅", "李四"]
    results = [
        ResultLine(
            seq,
            f"62{rng.randrange(10**16, 10**17)}",
            rng.choice(names),
            rng.randrange(1, 10**8),
            f"41072719500101{seq % 1000:03d}X",
            f"{BATCH}-{seq:07d}",
            seq % 17 != 0,
            "" if seq % 17 else rng.choice(["账户已销户", "户名不符", "账户冻结"]),
        )
        for seq in range(1, 5001)
    ]
    parsed = read_result("psbc", result_file("psbc", BATCH, results), account_hash)
    assert parsed.count == parsed.declared_count == 5000
    assert parsed.total == parsed.declared_total == sum(x.amount for x in results)
    assert parsed.records == [
        (x.seq, x.seq, account_hash(x.account), x.name, x.amount, x.reference, x.paid, x.reason)
        for x in results
    ]


# ------------------------------------------------------------------------------------------------- psbc reader


def test_psbc_accepts_lf_mixed_line_breaks_trailing_blank_lines_and_no_final_break() -> None:
    rows = (row(1), row(2, reason="无"))
    want = read_result("psbc", psbc_result(*rows), account_hash).records
    assert len(want) == 2
    for data in (
        psbc_result(*rows, end="\n"),
        psbc_result(*rows) + b"\r\n\r\n",
        psbc_result(*rows).rstrip(b"\r\n"),
        psbc_result(*rows).replace(b"\r\n", b"\n", 1),
    ):
        assert read_result("psbc", data, account_hash).records == want


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "文件是空的"),
        (b"\r\n\r\n", "文件是空的"),
        (
            psbc_result(row(1), row(2)).replace("张三".encode("gbk"), b"\xff\xfe", 2),
            "第 1 行：含有无法按 GBK 解码的字节",
        ),
        (
            psbc_result(row(1), row(2)).replace(b"|\xd5\xc5\xc8\xfd|", b"|\x81\xff|", 2),
            "第 1 行：含有无法按 GBK 解码的字节",
        ),
        (psbc_result(row(1), row(2) + "|多余"), "第 2 行：应有 8 个字段（以“|”分隔），实有 9 个"),
        (psbc_result(row(1), "2|6217|张三|260.00"), "第 2 行：应有 8 个字段（以“|”分隔），实有 4 个"),
        (psbc_result(row(1), "", row(2)), "第 2 行：空行"),
        (psbc_result(row(1), "a1" + row(2)[1:]), "第 2 行：序号“a1”不是整数"),
        (psbc_result(row(1), " 2" + row(2)[1:]), "第 2 行：序号“ 2”不是整数"),
        (psbc_result(row(1), "２" + row(2)[1:]), "第 2 行：序号“２”不是整数"),
        (psbc_result(row(1), "1" * 5000 + row(2)[1:]), "第 2 行：序号“11111111111111111111…”不是整数"),
        (psbc_result(row(1, amount="26.0")), "第 1 行：金额“26.0”格式不正确（应为两位小数的元）"),
        (psbc_result(row(1, amount="260")), "第 1 行：金额“260”格式不正确（应为两位小数的元）"),
        (psbc_result(row(1, amount="260.001")), "第 1 行：金额“260.001”格式不正确"),
        (psbc_result(row(1, amount="1,260.00")), "第 1 行：金额“1,260.00”格式不正确"),
        (psbc_result(row(1, amount=".50")), "第 1 行：金额“.50”格式不正确"),
        (psbc_result(row(1, amount="+1.00")), "第 1 行：金额“+1.00”格式不正确"),
        (psbc_result(row(1, amount="1_0.00")), "第 1 行：金额“1_0.00”格式不正确"),
        (psbc_result(row(1, amount="2.6.00")), "第 1 行：金额“2.6.00”格式不正确"),
        (psbc_result(row(1, amount="0.00")), "第 1 行：金额“0.00”必须大于零"),
        (psbc_result(row(1, amount="99999999999.00")), "第 1 行：金额“99999999999.00”超出范围"),
        (psbc_result(row(1), row(2, result="OK")), "第 2 行：处理结果“OK”不正确（应为“成功”或“失败”）"),
        (psbc_result(row(1), row(2, result="")), "第 2 行：处理结果“”不正确"),
        (psbc_result(row(1)).replace(b"6217", b"62 7", 1), "第 1 行：账号格式不正确（应为数字）"),
        (psbc_result(row(1, reason="a\rb")), "第 1 行：含有多余的回车符"),
        (psbc_result(row(1), row(2)).replace(b"\r\n", b"\r", 1), "第 1 行：含有多余的回车符"),
        (
            psbc_result(row(1), trailer="T|1|260.00"),
            "第 2 行：文件尾记录格式不正确（应为 T|笔数|总金额|批次号）",
        ),
        (psbc_result(row(1), trailer="T|x|260.00|B"), "第 2 行：文件尾记录的笔数“x”不是整数"),
        (psbc_result(row(1), trailer="T|1|260|B"), "第 2 行：文件尾记录的总金额“260”格式不正确"),
        (psbc_result(row(1), trailer="T|1|260.00|"), "第 2 行：文件尾记录缺少批次号"),
        (
            psbc_result(row(1), row(2), trailer="Z|2|520.00|B"),
            "第 3 行：应有 8 个字段（以“|”分隔），实有 4 个",
        ),
        (psbc_result(row(1), row(2), trailer=row(3)), "文件缺少文件尾记录（T|笔数|总金额|批次号）"),
        (psbc_result(row(1), "T|1|260.00|B", row(2)), "第 3 行：文件尾记录（第 2 行）之后还有内容"),
        (
            psbc_result(row(1), trailer="T|1|260.00|B\r\n\r\nmore"),
            "第 4 行：文件尾记录（第 2 行）之后还有内容",
        ),
    ],
)
def test_psbc_refusals(data: bytes, message: str) -> None:
    assert refused("psbc", data).startswith(message)


def test_psbc_refuses_what_the_bank_was_sent() -> None:
    message = refused("psbc", export_file("psbc", BATCH, LINES))
    assert (
        message
        == "第 1 行：应有 8 个字段（以“|”分隔），实有 6 个；这像是发给银行的代发文件，不是银行返回的回盘文件"
    )


def test_psbc_control_totals_must_match() -> None:
    assert refused("psbc", psbc_result(row(1), row(2), trailer=f"T|3|520.00|{BATCH}")) == (
        "控制总数不符：文件尾记录 3 笔 520.00 元，明细 2 笔 520.00 元"
    )
    assert refused("psbc", psbc_result(row(1), row(2), trailer=f"T|2|520.01|{BATCH}")) == (
        "控制总数不符：文件尾记录 2 笔 520.01 元，明细 2 笔 520.00 元"
    )
    assert refused("psbc", psbc_result(trailer=f"T|1|260.00|{BATCH}")) == (
        "控制总数不符：文件尾记录 1 笔 260.00 元，明细 0 笔 0.00 元"
    )
    empty = read_result("psbc", psbc_result(trailer=f"T|0|0.00|{BATCH}"), account_hash)
    assert (empty.declared_count, empty.count, empty.records) == (0, 0, [])


def test_psbc_hands_over_its_records_in_parts_as_it_reads() -> None:
    """``rows_ready`` gets every record once, in file order, in several parts (one per chunk read); the other
    formats hand over nothing, and a refusal can still come after parts were handed over."""
    results = [
        answered(line(seq), paid=seq % 9 != 0, reason="" if seq % 9 else "账户冻结") for seq in range(1, 3001)
    ]
    data = result_file("psbc", BATCH, results)
    parts: list[list[bankfiles.ResultRecord]] = []
    parsed = read_result("psbc", data, account_hash, rows_ready=parts.append)
    assert len(parts) > 5 and all(parts)
    assert [r for part in parts for r in part] == parsed.records
    assert [r[0] for r in parsed.records] == list(range(1, 3001))

    handed: list[list[bankfiles.ResultRecord]] = []
    read_result("csv", result_file("csv", BATCH, results), account_hash, rows_ready=handed.append)
    assert handed == []

    lines = data.decode("gbk").split("\r\n")
    lines[2500] = lines[2500].replace("|260.00|", "|26O.00|")
    late: list[list[bankfiles.ResultRecord]] = []
    with pytest.raises(BankFileError, match="第 2501 行"):
        read_result("psbc", "\r\n".join(lines).encode("gbk"), account_hash, rows_ready=late.append)
    assert 0 < sum(map(len, late)) < 2500


@pytest.mark.parametrize("fmt", ["psbc", "csv", "xlsx"])
def test_a_file_for_another_batch_is_refused_psbc_before_its_lines_are_read(fmt: str) -> None:
    """``for_batch``: the file names another batch in its trailer / 合计 row. psbc is refused on the trailer,
    before any line is read or handed over (its broken line is not even reached); the tables once read, before
    their control totals are compared."""
    results = [answered(line(seq)) for seq in range(1, 2001)]
    data = result_file(fmt, "YL202305-410727", results)
    if fmt == "psbc":
        lines = data.decode("gbk").split("\r\n")
        lines[10] = lines[10].replace("|260.00|", "|26O.00|")
        data = "\r\n".join(lines).encode("gbk")
    handed: list[list[bankfiles.ResultRecord]] = []
    with pytest.raises(BankFileError) as info:
        read_result(fmt, data, account_hash, for_batch=BATCH, rows_ready=handed.append)
    assert str(info.value) == f"该文件属于批次 YL202305-410727，不是本批次 {BATCH}"
    assert handed == []
    assert read_result(fmt, result_file(fmt, BATCH, results), account_hash, for_batch=BATCH).count == 2000


def test_psbc_names_the_right_line_deep_in_a_large_file() -> None:
    results = [answered(line(seq)) for seq in range(1, 4001)]
    lines = result_file("psbc", BATCH, results).decode("gbk").split("\r\n")
    lines[3776] = lines[3776].replace("|260.00|", "|260.0|")
    assert refused("psbc", "\r\n".join(lines).encode("gbk")).startswith("第 3777 行：金额“260.0”格式不正确")
    lines = result_file("psbc", BATCH, results).decode("gbk").split("\r\n")
    lines[2999] += "|x"
    assert refused("psbc", "\r\n".join(lines).encode("gbk")).startswith("第 3000 行：应有 8 个字段")


def test_psbc_reader_does_not_look_at_names_references_or_reasons() -> None:
    data = psbc_result(row(1, name="", reason="任意"), row(2, name="Ω"))
    parsed = read_result("psbc", data.replace(b"YL202611-410727-0000002", b"???"), account_hash)
    assert [(r[3], r[5]) for r in parsed.records] == [("", "YL202611-410727-0000001"), ("Ω", "???")]


_REFERENCE_AMOUNT = re.compile(r"[0-9]+\.[0-9]{2}")


def reference_read(data: bytes) -> list[tuple[int, int, bytes, str, int, str, bool, str]] | None:
    """A plain line-by-line reading of the psbc rules, to check the column-wise reader against (None: refused)."""
    try:
        text = data.decode("gbk")
    except UnicodeDecodeError:
        return None
    records = []
    trailer: list[str] | None = None
    raws = text.split("\n")
    for row_no, raw in enumerate(raws, 1):
        current = raw.removesuffix("\r") if row_no < len(raws) else raw  # a CR counts only as part of CRLF
        if "\r" in current:
            return None
        if trailer is not None:
            if current:
                return None
            continue
        fields = current.split("|")
        if fields[0] == "T":
            if len(fields) != 4 or not re.fullmatch(r"[0-9]{1,9}", fields[1]):
                return None
            if (
                not re.fullmatch(r"[0-9]+\.[0-9]{2}", fields[2])
                or not fields[3].isprintable()
                or not fields[3]
            ):
                return None
            trailer = fields
            continue
        if len(fields) != 8:
            return None
        seq, account, name, amount, _, reference, result, reason = fields
        if not re.fullmatch(r"[0-9]+", seq) or int(seq) > 999_999_999:
            return None
        if not re.fullmatch(r"[0-9]+", account) or not _REFERENCE_AMOUNT.fullmatch(amount):
            return None
        fen = int(amount.replace(".", ""))
        if not 1 <= fen <= 999_999_999_999 or result not in ("成功", "失败"):
            return None
        records.append(
            (row_no, int(seq), account_hash(account), name, fen, reference, result == "成功", reason)
        )
    if trailer is None:
        return None
    if int(trailer[1]) != len(records) or int(trailer[2].replace(".", "")) != sum(r[4] for r in records):
        return None
    return records


def test_psbc_reader_agrees_with_a_line_by_line_reading_of_damaged_files() -> None:
    rng = random.Random(20261122)
    good = result_file("psbc", BATCH, [answered(line(seq, "张瑋", 26000 + seq)) for seq in range(1, 13)])
    pieces = [
        b"|",
        b"\r",
        b"\n",
        b"\r\n",
        b".",
        b"0",
        b"9",
        b"a",
        b"T",
        b" ",
        "成功".encode("gbk"),
        b"\xad",
        b"",
    ]
    accepted = 0
    for _ in range(1500):
        data = bytearray(good)
        for _ in range(rng.choice((1, 1, 2, 3))):
            at = rng.randrange(len(data))
            data[at : at + rng.choice((0, 1, 1, 2))] = rng.choice(pieces)
        want = reference_read(bytes(data))
        try:
            got: list[Any] | None = read_result("psbc", bytes(data), account_hash).records
        except BankFileError:
            got = None
        assert got == want, bytes(data)
        accepted += got is not None
    assert 20 < accepted < 1400  # both outcomes were exercised


# ------------------------------------------------------------------------------------------------- csv reader


def csv_result(*rows: list[str], bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_HEADER.split(","))
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def csv_row(seq: int = 1, amount: str = "260.00", result: str = "成功", reason: str = "") -> list[str]:
    return row(seq, amount, result, reason).split("|")


def test_csv_with_and_without_bom() -> None:
    with_bom = result_file("csv", BATCH, RESULTS)
    assert with_bom.startswith(b"\xef\xbb\xbf")
    without = with_bom.removeprefix(b"\xef\xbb\xbf")
    assert read_result("csv", without, account_hash) == read_result("csv", with_bom, account_hash)
    assert read_result("csv", without, account_hash).records == expected_records(2)


def test_csv_quoting_padding_and_header_variants_are_read() -> None:
    data = csv_result(
        [*csv_row(1, reason='户名不符, 请核对"张三"'), ""],  # Excel pads rows with empty cells
        ["合计", "1", "", "260.00", "", BATCH, "", ""],
    )
    data = data.replace(
        "金额（元）".encode(), "金额(元) ".encode()
    )  # ASCII brackets and a space are the same header
    parsed = read_result("csv", data + b"\r\n,,,\r\n", account_hash)
    assert parsed.records[0][7] == '户名不符, 请核对"张三"'
    assert (parsed.count, parsed.total, parsed.batch_no) == (1, 26000, BATCH)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "序号,账号\r\n".encode(),
            "第 1 行：表头不正确，应为：序号,账号,户名,金额（元）,身份证号,备注,处理结果,失败原因",
        ),
        (csv_result(csv_row(1)), "文件缺少合计行（合计,笔数,,总金额,,批次号）"),
        (
            csv_result(csv_row(1, amount="260"), ["合计", "1", "", "260.00", "", BATCH]),
            "第 2 行：金额“260”格式不正确（应为两位小数的元）",
        ),
        (
            csv_result(csv_row(1, result="ok"), ["合计", "1", "", "260.00", "", BATCH]),
            "第 2 行：处理结果“ok”不正确",
        ),
        (csv_result(csv_row(1)[:5], ["合计", "1", "", "260.00", "", BATCH]), "第 2 行：应有 8 列，实有 5 列"),
        (csv_result(csv_row(1), [], ["合计", "1", "", "260.00", "", BATCH]), "第 3 行：空行"),
        (
            csv_result(csv_row(1), ["合计", "1", "", "260.00", "", BATCH], csv_row(2)),
            "第 4 行：合计行（第 3 行）之后还有内容",
        ),
        (csv_result(csv_row(1), ["合计", "x", "", "260.00", "", BATCH]), "第 3 行：合计行的笔数“x”不是整数"),
        (
            csv_result(csv_row(1), ["合计", "1", "", "260", "", BATCH]),
            "第 3 行：合计行的总金额“260”格式不正确",
        ),
        (csv_result(csv_row(1), ["合计", "1", "x", "260.00", "", BATCH]), "第 3 行：合计行格式不正确"),
        (csv_result(csv_row(1), ["合计", "1", "", "260.00", "", ""]), "第 3 行：合计行缺少批次号"),
        (
            csv_result(csv_row(1), ["合计", "2", "", "260.00", "", BATCH]),
            "控制总数不符：合计行 2 笔 260.00 元，明细 1 笔 260.00 元",
        ),
        (
            result_file("csv", BATCH, RESULTS).decode("utf-8-sig").encode("gbk"),
            "第 1 行：含有无法按 UTF-8 解码的字节",
        ),
        (b'\xef\xbb\xbf"unclosed\r\n', "第 1 行：CSV 格式不正确（引号不配对等）"),
        (
            export_file("csv", BATCH, LINES),
            "第 1 行：表头不正确，应为：序号,账号,户名,金额（元）,身份证号,备注,处理结果,失败原因；这像是发给银行的代发文件",
        ),
    ],
)
def test_csv_refusals(data: bytes, message: str) -> None:
    assert refused("csv", data).startswith(message)


# ------------------------------------------------------------------------------------------------- xlsx reader


def xlsx_result(*rows: list[object], title: str = "结果") -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.append(RESULT_HEADER.split(","))
    for values in rows:
        ws.append(values)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_xlsx_accepts_numbers_stored_as_numbers() -> None:
    data = xlsx_result(
        [1.0, 6217990000001, "张三", 260, "41072719500101001X", "R-1", "成功", None],
        ["2", "6217990000000000002", "李四", 260.5, 410727195001010020, "R-2", "失败", "账户冻结"],
        [3, "6217990000000000003", "王五", 0.1, "41072719500101003X", "R-3", " 成功 ", ""],
        [4, "6217990000000000004", "赵六", "12.3", "41072719500101004X", "R-4", "成功"],
        ["合计", 4, None, 532.9, None, BATCH],
    )
    parsed = read_result("xlsx", data, account_hash)
    assert [(r[0], r[1], r[2], r[4], r[6], r[7]) for r in parsed.records] == [
        (2, 1, account_hash("6217990000001"), 26000, True, ""),
        (3, 2, account_hash("6217990000000000002"), 26050, False, "账户冻结"),
        (4, 3, account_hash("6217990000000000003"), 10, True, ""),
        (5, 4, account_hash("6217990000000000004"), 1230, True, ""),
    ]
    assert (parsed.declared_total, parsed.total, parsed.batch_no) == (53290, 53290, BATCH)


def test_xlsx_amount_conversion_is_exact() -> None:
    # 0.1 + 0.2 style floats: read by their shortest repr, never through binary arithmetic.
    assert bankfiles._amount_cell(0.3, lenient=True, max_digits=12) == 30
    assert bankfiles._amount_cell(1234567.89, lenient=True, max_digits=12) == 123456789
    assert bankfiles._amount_cell(Decimal("260.10"), lenient=True, max_digits=12) == 26010
    assert bankfiles._amount_cell(Decimal("260.100"), lenient=True, max_digits=12) == 26010
    assert bankfiles._amount_cell(260.001, lenient=True, max_digits=12) is None
    assert bankfiles._amount_cell(0.1 + 0.2, lenient=True, max_digits=12) is None  # 0.30000000000000004
    assert bankfiles._amount_cell(True, lenient=True, max_digits=12) is None
    assert bankfiles._amount_cell(float("nan"), lenient=True, max_digits=12) is None
    assert bankfiles._amount_cell(260, lenient=False, max_digits=12) is None  # csv cells are text


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [[1, "6217", "张三", 260.123, "X", "R-1", "成功"], ["合计", 1, None, 260.12, None, BATCH]],
            "第 2 行：金额“260.123”格式不正确（应为元，最多两位小数）",
        ),
        (
            [[1, "6217", "张三", "260.123", "X", "R-1", "成功"], ["合计", 1, None, 260.12, None, BATCH]],
            "第 2 行：金额“260.123”格式不正确",
        ),
        (
            [[1, "6217", "张三", -1, "X", "R-1", "成功"], ["合计", 1, None, 1, None, BATCH]],
            "第 2 行：金额“-1”格式不正确",
        ),
        (
            [[1, 6.217990000000001e18, "张三", 260, "X", "R-1", "成功"], ["合计", 1, None, 260, None, BATCH]],
            "第 2 行：账号被存成了数字，已丢失末几位",
        ),
        (
            [[1.5, "6217", "张三", 260, "X", "R-1", "成功"], ["合计", 1, None, 260, None, BATCH]],
            "第 2 行：序号“1.5”不是整数",
        ),
        ([[1, "6217", "张三", 260, "X", "R-1", "成功"]], "文件缺少合计行"),
        (
            [[1, "6217", "张三", 260, "X", "R-1", "成功"], ["合计", 1, None, 260.01, None, BATCH]],
            "控制总数不符：合计行 1 笔 260.01 元，明细 1 笔 260.00 元",
        ),
        (
            [[1, "6217", "张三", 260, "X", "R-1", "成功"], [" "], ["合计", 1, None, 260, None, BATCH]],
            "第 3 行：空行",
        ),
    ],
)
def test_xlsx_refusals(rows: list[list[object]], message: str) -> None:
    assert refused("xlsx", xlsx_result(*rows)).startswith(message)


def test_xlsx_blank_rows_after_the_total_row_are_no_content() -> None:
    data = xlsx_result(
        [1, "6217", "张三", 260, "X", "R-1", "成功"],
        ["合计", 1, None, 260, None, BATCH],
        [None, None],
        ["", " "],
    )
    assert read_result("xlsx", data, account_hash).count == 1


def test_a_file_that_is_not_a_workbook_is_refused() -> None:
    assert refused("xlsx", b"PK\x03\x04 not really") == "无法读取该文件，它不是有效的 Excel 工作簿（.xlsx）"
    assert refused("xlsx", result_file("csv", BATCH, RESULTS)).startswith("无法读取该文件")
