"""Resident ID numbers (公民身份号码) as defined by GB 11643-1999.

An 18-digit number is a 6-digit area code, an 8-digit birth date, a 3-digit sequence (odd for men) and a check
digit by ISO 7064 MOD 11-2. Legacy 15-digit numbers (YYMMDD, no check digit) are upgraded by inserting ``19``
before the year and computing the check digit. Birth date and sex are always derived from the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)
_SHAPE_18 = re.compile(r"\d{17}[\dX]")
_SHAPE_15 = re.compile(r"\d{15}")
_SPACES = re.compile(r"\s+")


class InvalidIdNumber(ValueError):
    """The text is not a valid resident ID number; ``str(exc)`` is a Chinese message for the user."""


@dataclass(frozen=True, slots=True)
class IdNumber:
    number: str
    birth_date: date
    sex: str  # "M" or "F"
    area_code: str

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def mask_id_number(number: str) -> str:
    """``410727********1234``: area code and last four shown, the rest hidden."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def looks_like_id_number(text: str) -> bool:
    """True when a search box input should be treated as an ID number rather than a name."""
    t = text.strip().upper()
    return bool(_SHAPE_18.fullmatch(t) or _SHAPE_15.fullmatch(t))


def _birth_date(digits: str, today: date) -> date:
    try:
        born = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise InvalidIdNumber(f"身份证号中的出生日期 {digits} 不存在，请核对第7至14位") from None
    if born < _EARLIEST_BIRTH or born > today:
        raise InvalidIdNumber(f"身份证号中的出生日期 {digits} 不可能（早于1900年或晚于今天），请核对")
    return born


def parse_id_number(text: str, *, today: date | None = None) -> IdNumber:
    """Validate and normalise an ID number; 15-digit numbers come back upgraded to 18 digits.

    ``today`` bounds the birth date (no one is born in the future); it defaults to the current date.
    """
    if not isinstance(text, str):
        raise InvalidIdNumber("身份证号应为文本")
    raw = _SPACES.sub("", text).upper()
    if not raw:
        raise InvalidIdNumber("请填写身份证号")
    today = today or date.today()
    if len(raw) == 15:
        if not _SHAPE_15.fullmatch(raw):
            raise InvalidIdNumber("15位旧身份证号只能包含数字")
        first17 = raw[:6] + "19" + raw[6:]
        born = _birth_date(first17[6:14], today)
        raw = first17 + check_digit(first17)
    elif len(raw) == 18:
        if not _SHAPE_18.fullmatch(raw):
            raise InvalidIdNumber("身份证号前17位只能是数字，最后一位是数字或 X")
        born = _birth_date(raw[6:14], today)
        expected = check_digit(raw[:17])
        if raw[17] != expected:
            raise InvalidIdNumber(f"身份证号校验位错误：最后一位应为 {expected}")
    else:
        raise InvalidIdNumber(f"身份证号应为18位（旧证15位），现在是{len(raw)}位")
    sex = "M" if int(raw[16]) % 2 == 1 else "F"
    return IdNumber(number=raw, birth_date=born, sex=sex, area_code=raw[:6])


def make_id_number(area_code: str, birth_date: date, sequence: int) -> str:
    """Build a valid 18-digit number (for demo data and tests); ``sequence`` is 0–999, odd for men."""
    if len(area_code) != 6 or not area_code.isdigit() or not 0 <= sequence <= 999:
        raise ValueError("area_code must be 6 digits and sequence 0-999")
    first17 = f"{area_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)
