"""Old-policy roster import (XLSX → OldPolicyIn rows and per-cell Chinese errors) and the generic XLSX export."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook

from app.core.idcard import make_id_number
from app.socialsecurity.roster import (
    OLD_POLICY_HEADERS,
    RosterError,
    RowError,
    old_policy_template,
    parse_old_policy,
    xlsx_table,
)

NAME, ID, LUMP, SUBSIDY, FROM, THROUGH = OLD_POLICY_HEADERS


def _id(sequence: int, *, ending: str = "digit", born: date = date(1958, 3, 15)) -> str:
    """A valid ID number whose check digit is a digit (``ending="digit"``) or X (``ending="X"``)."""
    for seq in range(sequence, 1000):
        number = make_id_number("410727", born, seq)
        if (number[-1] == "X") == (ending == "X"):
            return number
    raise AssertionError("no sequence found")


def _workbook(headers: Sequence[object], rows: Sequence[Sequence[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _pairs(errors: Sequence[RowError]) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in errors]


def test_template_round_trip() -> None:
    data = old_policy_template()
    assert parse_old_policy(data) == ([], [])

    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["老政策花名册", "填写说明"]
    ws = wb["老政策花名册"]
    assert [c.value for c in ws[1]] == list(OLD_POLICY_HEADERS)
    assert all(c.font.b for c in ws[1])
    assert ws.max_row == 1  # no example data row
    assert ws.column_dimensions["B"].number_format == "@"
    assert ws.freeze_panes == "A2"
    notes = " ".join(str(c.value) for row in wb["填写说明"].iter_rows() for c in row if c.value)
    for word in ("18 位", "两位小数", "2023-07", "同时填写或同时留空", "整行留空"):
        assert word in notes


def test_good_rows_in_any_column_order() -> None:
    numeric_id = _id(11)
    legacy_15 = numeric_id[:6] + numeric_id[8:17]  # a 15-digit legacy number, typed as a number
    x_id = _id(21, ending="X")
    plain_id = _id(31)
    headers = [f"  {ID} ", NAME, THROUGH, FROM, SUBSIDY, LUMP]  # reordered, stray spaces
    rows: list[list[object]] = [
        [int(legacy_15), "张三", date(2023, 7, 1), datetime(2019, 1, 1), 260, 3500.25],
        [x_id.lower(), " 李四 ", "2023年7月", "2020/1", "180.5", "12,000.50"],
        [" ", None, "", None, "  ", None],  # looks empty: skipped
        [plain_id, "王五", None, "", None, 0],
    ]
    records, errors = parse_old_policy(_workbook(headers, rows))

    assert errors == []
    assert [row for row, _ in records] == [2, 3, 5]
    first, second, third = (record for _, record in records)
    assert first.name == "张三"
    assert first.id_number == numeric_id  # upgraded to 18 digits
    assert first.lump_sum_received == Decimal("3500.25")
    assert first.monthly_subsidy == Decimal("260")
    assert (first.paid_from, first.paid_through) == ("2019-01", "2023-07")
    assert second.name == "李四"
    assert second.id_number == x_id  # upper-case X
    assert second.lump_sum_received == Decimal("12000.50")
    assert second.monthly_subsidy == Decimal("180.5")
    assert (second.paid_from, second.paid_through) == ("2020-01", "2023-07")
    assert third.lump_sum_received == Decimal("0")
    assert (third.monthly_subsidy, third.paid_from, third.paid_through) == (None, None, None)


def test_bad_rows_are_reported_by_row_and_column() -> None:
    good = _id(41)
    wrong_check = _id(51)[:17] + str((int(_id(51)[17]) + 1) % 10)
    rows: list[list[object]] = [
        ["赵一", wrong_check, 0, None, None, None],  # row 2: check digit
        ["钱二", _id(61), 100.123, None, None, None],  # row 3: three decimals
        ["孙三", _id(71), 0, 260, None, None],  # row 4: subsidy without months
        ["李四", _id(81), 0, 260, "2023-08", "2023-07"],  # row 5: from after through
        ["周五", good, 0, None, None, None],  # row 6: fine
        ["吴六", good, 0, None, None, None],  # row 7: duplicate of row 6
        [None, _id(91), 0, None, None, None],  # row 8: no name
        [
            "郑七",
            int(_id(101)),
            0,
            None,
            None,
            None,
        ],  # row 9: 18 digits as a number: Excel lost the last ones
        ["王八", _id(111), -5, 260, "2023-13", "二〇二三年"],  # row 10: negative, no such month, not a month
    ]
    records, errors = parse_old_policy(_workbook(OLD_POLICY_HEADERS, rows))

    assert [row for row, _ in records] == [6]
    assert _pairs(errors) == [
        (2, ID),
        (3, LUMP),
        (4, ""),
        (5, ""),
        (7, ID),
        (8, NAME),
        (9, ID),
        (10, LUMP),
        (10, FROM),
        (10, THROUGH),
    ]
    by_row = {(e.row, e.column): e.message for e in errors}
    assert "校验位" in by_row[(2, ID)]
    assert "两位小数" in by_row[(3, LUMP)]
    assert "同时填写或同时留空" in by_row[(4, "")]
    assert "不能晚于" in by_row[(5, "")]
    assert by_row[(7, ID)] == "与第 6 行的身份证号重复"
    assert by_row[(8, NAME)] == "必填"
    assert "文本" in by_row[(9, ID)]
    assert "2023-13" in by_row[(10, FROM)]
    assert "2023-07" in by_row[(10, THROUGH)]
    for error in errors:
        assert good not in error.message and wrong_check not in error.message


def test_data_in_a_column_without_header_is_reported() -> None:
    rows: list[list[object]] = [["张三", _id(11), 0, None, None, None, None, "备注内容"]]
    records, errors = parse_old_policy(_workbook([*OLD_POLICY_HEADERS, None, None], rows))
    assert records == []
    assert _pairs(errors) == [(2, "")]
    assert "H 列" in errors[0].message


def test_wrong_headers_name_missing_and_unknown_columns() -> None:
    headers = ["名字", *OLD_POLICY_HEADERS[1:], "备注"]
    with pytest.raises(RosterError) as caught:
        parse_old_policy(_workbook(headers, [["张三", _id(11), 0, None, None, None, ""]]))
    assert "“姓名”" in caught.value.message
    assert "“名字”" in caught.value.message
    assert "“备注”" in caught.value.message


def test_data_in_header_row_does_not_leak_id_number() -> None:
    number = _id(11)
    with pytest.raises(RosterError) as caught:
        parse_old_policy(_workbook(["张三", number, 0], []))
    assert caught.value.message.startswith("第 1 行应为表头")
    assert number not in caught.value.message
    assert number[:6] + "********" + number[-4:] in caught.value.message


def test_duplicate_header_and_empty_sheet() -> None:
    with pytest.raises(RosterError, match="出现了不止一次"):
        parse_old_policy(_workbook([*OLD_POLICY_HEADERS, NAME], []))
    with pytest.raises(RosterError, match="表格是空的"):
        parse_old_policy(_workbook([], []))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a spreadsheet",
        b"PK\x03\x04garbage",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
    ],
)
def test_unreadable_files(data: bytes) -> None:
    with pytest.raises(RosterError) as caught:
        parse_old_policy(data)
    assert caught.value.message


def test_zip_that_is_not_a_workbook() -> None:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(RosterError, match="xlsx"):
        parse_old_policy(buffer.getvalue())


def test_too_many_rows() -> None:
    rows = [[f"人{i}", _id(i), 0, None, None, None] for i in range(1, 5)]
    data = _workbook(OLD_POLICY_HEADERS, rows)
    assert len(parse_old_policy(data, max_rows=4)[0]) == 4
    with pytest.raises(RosterError, match="超过 3 行"):
        parse_old_policy(data, max_rows=3)


def test_xlsx_table_reads_back() -> None:
    headers = ["姓名", "身份证号", "金额", "日期", "时间", "备注"]
    number = _id(11)
    rows: list[list[object]] = [
        [
            "张三",
            int(number),
            Decimal("12.50"),
            date(2023, 5, 20),
            datetime(2023, 5, 20, 2, 0, tzinfo=UTC),
            None,
        ],
        ["李四", number, 7, date(2024, 1, 2), datetime(2024, 1, 2, 8, 30), '=HYPERLINK("x")'],
    ]
    data = xlsx_table("导出/列表", headers, iter(rows), text_columns=(1,))

    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["导出_列表"]
    ws = wb.active
    assert ws is not None
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == headers
    assert all(c.font.b for c in ws[1])
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert values == [
        ["张三", number, 12.5, datetime(2023, 5, 20), datetime(2023, 5, 20, 10, 0), None],
        ["李四", number, 7, datetime(2024, 1, 2), datetime(2024, 1, 2, 8, 30), '=HYPERLINK("x")'],
    ]
    assert ws["B2"].data_type == "s" and ws["B2"].number_format == "@"
    assert ws["F3"].data_type == "s"  # text, not a formula
    assert (ws.column_dimensions["B"].width or 0) >= 18


def test_xlsx_table_streams_many_rows() -> None:
    rows = ([i, f"第{i}行"] for i in range(5000))
    data = xlsx_table("大表", ["序号", "说明"], rows)
    ws = load_workbook(BytesIO(data), read_only=True).active
    assert ws is not None
    assert sum(1 for _ in ws.iter_rows(values_only=True)) == 5001
