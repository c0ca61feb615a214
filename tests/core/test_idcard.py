"""GB 11643-1999 resident ID numbers: check digit, 15-digit upgrade, lower-case x, impossible dates."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.idcard import (
    InvalidIdNumber,
    check_digit,
    looks_like_id_number,
    make_id_number,
    mask_id_number,
    parse_id_number,
)

TODAY = date(2026, 11, 22)


def test_published_example_with_x_check_digit() -> None:
    # The standard's own example: 11010519491231002X, a woman born 1949-12-31.
    parsed = parse_id_number("11010519491231002X", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "F"
    assert parsed.area_code == "110105"


def test_lower_case_x_is_accepted_and_stored_upper_case() -> None:
    assert parse_id_number("11010519491231002x", today=TODAY).number == "11010519491231002X"


def test_surrounding_and_inner_spaces_are_ignored() -> None:
    assert parse_id_number(" 110105 19491231 002X ", today=TODAY).number == "11010519491231002X"


def test_odd_sequence_is_male() -> None:
    number = make_id_number("410727", date(1960, 3, 15), 123)
    assert parse_id_number(number, today=TODAY).sex == "M"
    assert parse_id_number(make_id_number("410727", date(1960, 3, 15), 124), today=TODAY).sex == "F"


def test_wrong_check_digit_names_the_right_one() -> None:
    with pytest.raises(InvalidIdNumber) as exc:
        parse_id_number("110105194912310021", today=TODAY)
    assert str(exc.value) == "身份证号校验位错误：最后一位应为 X"


def test_fifteen_digit_number_is_upgraded() -> None:
    # 15 digits: area 410727, born (19)600315, sequence 123 → insert "19" and compute the check digit.
    parsed = parse_id_number("410727600315123", today=TODAY)
    first17 = "41072719600315123"
    assert parsed.number == first17 + check_digit(first17)
    assert parsed.number == "410727196003151237"
    assert parsed.birth_date == date(1960, 3, 15)
    assert parsed.sex == "M"


def test_fifteen_digit_number_with_impossible_date_is_refused() -> None:
    with pytest.raises(InvalidIdNumber, match="出生日期 19600230 不存在"):
        parse_id_number("410727600230123", today=TODAY)


@pytest.mark.parametrize(
    ("first17", "why"),
    [
        ("41072719990229123", "不存在"),  # 1999 is not a leap year
        ("41072719801301123", "不存在"),  # month 13
        ("41072719800100123", "不存在"),  # day 0
        ("41072718991231123", "不可能"),  # before 1900
        ("41072720270101123", "不可能"),  # after today
    ],
)
def test_impossible_birth_dates_are_refused(first17: str, why: str) -> None:
    with pytest.raises(InvalidIdNumber, match=why):
        parse_id_number(first17 + check_digit(first17), today=TODAY)


def test_leap_day_is_fine_in_a_leap_year() -> None:
    first17 = "41072720000229124"
    assert parse_id_number(first17 + check_digit(first17), today=TODAY).birth_date == date(2000, 2, 29)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "请填写身份证号"),
        ("   ", "请填写身份证号"),
        ("4107271960031512", "应为18位（旧证15位），现在是16位"),
        ("41072719600315123A", "前17位只能是数字"),
        ("4107271960031512X3", "前17位只能是数字"),
        ("41072760031512X", "15位旧身份证号只能包含数字"),
    ],
)
def test_malformed_numbers_get_chinese_messages(text: str, message: str) -> None:
    with pytest.raises(InvalidIdNumber, match=message):
        parse_id_number(text, today=TODAY)


def test_invalid_id_number_is_a_value_error() -> None:
    assert issubclass(InvalidIdNumber, ValueError)


def test_masking_shows_area_and_last_four() -> None:
    assert mask_id_number("410727196003151237") == "410727********1237"


def test_looks_like_id_number() -> None:
    assert looks_like_id_number("11010519491231002x")
    assert looks_like_id_number("410727600315123")
    assert not looks_like_id_number("王建国")
    assert not looks_like_id_number("12345")


@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    seq=st.integers(min_value=0, max_value=999),
)
def test_generated_numbers_round_trip(birth: date, seq: int) -> None:
    number = make_id_number("410727", birth, seq)
    parsed = parse_id_number(number, today=TODAY)
    assert (parsed.number, parsed.birth_date, parsed.sex) == (number, birth, "M" if seq % 2 else "F")
    # Any single-digit change in the first 17 digits is caught by the check digit (or the date rules).
    i = seq % 17
    altered = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
    with pytest.raises(InvalidIdNumber):
        parse_id_number(altered, today=TODAY)
