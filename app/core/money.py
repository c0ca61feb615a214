"""Money is integer fen (分) everywhere; ``Decimal`` appears only at the edges (JSON, forms, files).

``to_chinese_capital`` writes amounts in Chinese capitals (大写) after the examples of the central bank's
《支付结算办法》: a 零 is written where the rules require it and left out where they allow either.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_GROUP_UNITS = ("", "万", "亿", "万亿")
_CENT = Decimal("0.01")


class InvalidAmount(ValueError):
    """Not an amount of money; ``str(exc)`` is a Chinese message."""


def round_half_up(value: Decimal) -> int:
    """Decimal yuan → integer fen, rounded half-up (the rule for every computed line)."""
    return int((value / _CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan_to_fen(text: str | Decimal | int) -> int:
    """Parse an amount in yuan with at most two decimals (``"1200.00"``) into fen; more decimals are refused."""
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidAmount(f"金额格式不正确：{text}") from None
    if not value.is_finite():
        raise InvalidAmount(f"金额格式不正确：{text}")
    if value != value.quantize(_CENT):
        raise InvalidAmount(f"金额最多两位小数：{text}")
    return int(value * 100)


def fen_to_yuan(fen: int) -> str:
    """``120050`` → ``"1200.50"`` (the JSON form of money)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_yuan(fen: int) -> str:
    """``9470000`` → ``"94,700.00"`` (the on-screen and printed form; add 元 in the template)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def _group_words(value: int) -> str:
    """Words for 1..9999 inside one 万-group, with a 零 for every inner run of zeros."""
    digits = f"{value:04d}"
    out: list[str] = []
    pending_zero = False
    started = False
    for i, ch in enumerate(digits):
        d = int(ch)
        if d == 0:
            pending_zero = started
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[d] + _SMALL_UNITS[3 - i])
        started = True
    return "".join(out)


def _yuan_words(yuan: int) -> str:
    groups: list[int] = []
    while yuan:
        yuan, rest = divmod(yuan, 10000)
        groups.append(rest)
    if len(groups) > len(_GROUP_UNITS):
        raise InvalidAmount("金额过大")
    out: list[str] = []
    higher_written = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        # A lower group that starts with zeros needs one 零 after the higher part (壹拾万零伍佰); when only the
        # 万位 is zero and the 千位 is not (壹拾万柒仟), the rules allow either and we leave it out.
        if higher_written and group < 1000:
            out.append("零")
        out.append(_group_words(group) + _GROUP_UNITS[index])
        higher_written = True
    return "".join(out)


def to_chinese_capital(fen: int) -> str:
    """94,700.00 → 玖万肆仟柒佰元整; 16,409.02 → 壹万陆仟肆佰零玖元零贰分; 0 → 零元整."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("fen must be an int")
    if fen < 0:
        return "负" + to_chinese_capital(-fen)
    yuan, cents = divmod(fen, 100)
    jiao, fen_part = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "零元整"
    out = ""
    if yuan:
        out = _yuan_words(yuan) + "元"
    if cents == 0:
        return out + "整"
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif yuan:
        # 角位 is zero but 分位 is not: the rules require 元 to be followed by 零.
        out += "零"
    if fen_part:
        out += _DIGITS[fen_part] + "分"
    return out
