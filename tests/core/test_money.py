"""Amounts in Chinese capitals (大写), after the central bank's 《支付结算办法》 examples in domain.md."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.core.money import (
    InvalidAmount,
    fen_to_yuan,
    format_yuan,
    round_half_up,
    to_chinese_capital,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (9_470_000, "玖万肆仟柒佰元整"),
        (140_950, "壹仟肆佰零玖元伍角"),
        (600_714, "陆仟零柒元壹角肆分"),
        (1_640_902, "壹万陆仟肆佰零玖元零贰分"),
        (1_050, "壹拾元伍角"),
        (7, "柒分"),
        (0, "零元整"),
        (10_700_053, "壹拾万柒仟元伍角叁分"),
        # More cases from the same rules:
        (100, "壹元整"),
        (1_000, "壹拾元整"),
        (1_500, "壹拾伍元整"),
        (168_032, "壹仟陆佰捌拾元叁角贰分"),  # 元位 is 0 and 角 is not: the 零 is left out
        (100_010, "壹仟元壹角"),
        (50, "伍角"),
        (5, "伍分"),
        (55, "伍角伍分"),
        (101, "壹元零壹分"),
        (1_000_500, "壹万零伍元整"),
        (10_050_000, "壹拾万零伍佰元整"),  # 万位 and 千位 both 0: the 零 is required
        (10_000_000_000, "壹亿元整"),
        (10_000_000_100, "壹亿零壹元整"),
        (10_000_500_000, "壹亿伍仟元整"),  # only the 万位 zero run ends before a non-zero 千位
        (11_000_000_000, "壹亿壹仟万元整"),
        (2_600_000_000, "贰仟陆佰万元整"),
        (5_625_240_000, "伍仟陆佰贰拾伍万贰仟肆佰元整"),  # 56,252,400.00 paid out in the real story
        (26_460_000, "贰拾陆万肆仟陆佰元整"),
    ],
)
def test_chinese_capitals(fen: int, words: str) -> None:
    assert to_chinese_capital(fen) == words


def test_negative_amounts_are_marked() -> None:
    assert to_chinese_capital(-9_470_000) == "负玖万肆仟柒佰元整"


def test_only_integers_are_amounts() -> None:
    with pytest.raises(TypeError):
        to_chinese_capital(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_chinese_capital(True)


def test_zheng_follows_yuan_only() -> None:
    for fen in (50, 150, 1_050, 123_450):
        assert not to_chinese_capital(fen).endswith("整")


def test_round_half_up_to_the_fen() -> None:
    assert round_half_up(Decimal("0.005")) == 1
    assert round_half_up(Decimal("0.0049")) == 0
    assert round_half_up(Decimal("120.50") * Decimal("900.00")) == 10_845_000
    assert round_half_up(Decimal("1.125")) == 113
    assert round_half_up(Decimal("-1.125")) == -113


def test_yuan_strings() -> None:
    assert yuan_to_fen("1200.00") == 120_000
    assert yuan_to_fen("1,200.5") == 120_050
    assert fen_to_yuan(120_050) == "1200.50"
    assert fen_to_yuan(-5) == "-0.05"
    assert format_yuan(9_470_000) == "94,700.00"
    with pytest.raises(InvalidAmount, match="最多两位小数"):
        yuan_to_fen("1.005")
    with pytest.raises(InvalidAmount, match="格式不正确"):
        yuan_to_fen("abc")
    with pytest.raises(InvalidAmount, match="格式不正确"):
        yuan_to_fen("NaN")
