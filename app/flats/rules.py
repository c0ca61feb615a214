"""安置房源: the choosing order and the checks on an allocation, as pure functions (no I/O).

Two ways to fix the order in which a village's households choose their flats (domain.md, "Public notice,
agreement, flats"):

* 按签约顺序 — by the time the agreement was signed (``signed_at``, then the signing date, then the agreement
  number, so the order is total);
* 按摇号顺序 — by a recorded lottery. The algorithm is published on the order page so that anyone can redraw it
  from the seed and the list of register numbers alone, with any SHA-256 tool::

      key(户) = SHA-256( UTF-8( 种子 + ":" + 户口簿编号 ) ), written as 64 lowercase hex digits
      order   = households sorted by key, ascending

  e.g. ``printf '%s' 'a1b2c3:QFZ-0001' | sha256sum``. No random number generator of any one language is involved.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core.errors import InvalidInput

LOTTERY_ALGORITHM = (
    "摇号算法：对每户计算 SHA-256（种子 + 英文冒号 + 户口簿编号，按 UTF-8 编码），以 64 位小写十六进制表示；"
    "各户按该值从小到大排列即为选房顺序。任何人可用公布的种子和户口簿编号自行复核，"
    "例如：printf '%s' '种子:户口簿编号' | sha256sum。"
)
SEED_MAX_CHARS = 100
_SEED_OK = re.compile(r"^[0-9A-Za-z_\-.:,/ ]+$")
AREA_STEP = Decimal("0.01")
BULK_MAX_UNITS = 500


# ---------------------------------------------------------------------------------------------- the order


@dataclass(frozen=True, slots=True)
class Signed:
    """A household with a signed agreement, as the signing order sees it."""

    household_id: int
    agreement_number: str
    signed_on: date
    signed_at: datetime | None


def signing_order(entries: Iterable[Signed]) -> list[int]:
    """Household ids by signing time: ``signed_at`` (a signature without a recorded time goes after those with one
    on the same footing), then the signing date, then the agreement number."""
    return [
        e.household_id
        for e in sorted(
            entries,
            key=lambda e: (
                e.signed_at is None,
                e.signed_at or datetime.min,
                e.signed_on,
                e.agreement_number,
                e.household_id,
            ),
        )
    ]


def lottery_key(seed: str, register_no: str) -> str:
    return hashlib.sha256(f"{seed}:{register_no}".encode()).hexdigest()


def lottery_order(seed: str, households: Iterable[tuple[int, str]]) -> list[int]:
    """The drawn order of (household id, register number) pairs: by ``lottery_key``, ascending (see the module
    docstring). The same seed and households always give the same order, whatever order they are given in."""
    return [hid for hid, no in sorted(households, key=lambda p: (lottery_key(seed, p[1]), p[1], p[0]))]


def check_seed(seed: str) -> str:
    """A typed seed: up to 100 plain characters (letters, digits and ``_-.:,/`` and spaces), so it can be read out
    and retyped without doubt."""
    seed = seed.strip()
    if not seed:
        raise InvalidInput("请填写摇号种子，或留空由系统生成", field="seed")
    if len(seed) > SEED_MAX_CHARS:
        raise InvalidInput(f"摇号种子不能超过 {SEED_MAX_CHARS} 个字符", field="seed")
    if not _SEED_OK.match(seed):
        raise InvalidInput("摇号种子只能包含英文字母、数字、空格和 _ - . : , /", field="seed")
    return seed


def published_order(drawn: Sequence[int] | None, by_signing: Sequence[int]) -> list[int]:
    """The order households choose in: the lottery's order if one was drawn, followed by households that became
    eligible after the draw in signing order; else the signing order."""
    if drawn is None:
        return list(by_signing)
    seen = set(drawn)
    return [*drawn, *(h for h in by_signing if h not in seen)]


# ----------------------------------------------------------------------------------- what each household gets


def area(value: Any) -> Decimal:
    """A floor area in ㎡ to two places; refuses what is not a positive number."""
    try:
        result = Decimal(str(value)).quantize(AREA_STEP)
    except (InvalidOperation, ValueError):
        raise InvalidInput("面积应为数字（平方米，最多两位小数）", field="area") from None
    if not result.is_finite() or result <= 0:
        raise InvalidInput("面积应大于 0", field="area")
    return result


def flats_wanted(option: Mapping[str, Any] | None) -> list[Decimal]:
    """The areas of the flats chosen in an assessment's option (``{"kind": "resettlement_flat", "flats":
    [{"area": "90.00"}, …]}``), largest first; none for a cash or existing-housing option."""
    if not option or option.get("kind") != "resettlement_flat":
        return []
    flats = option.get("flats") or []
    return sorted((area(f["area"]) for f in flats if isinstance(f, Mapping) and "area" in f), reverse=True)


def remaining(wanted: Sequence[Decimal], allocated: Sequence[Decimal]) -> list[Decimal]:
    """The chosen areas not yet matched by an allocated flat (as a multiset), largest first."""
    left = Counter(wanted)
    left.subtract(Counter(allocated))
    return sorted((a for a, n in left.items() for _ in range(max(n, 0))), reverse=True)


def current_turn(
    order: Sequence[int], wanted: Mapping[int, Sequence[Decimal]], allocated: Mapping[int, Sequence[Decimal]]
) -> int | None:
    """Whose turn it is: the first household in the order that still lacks a chosen flat; None when all are
    done. A released flat puts its household back in turn ahead of everyone after it."""
    for hid in order:
        if remaining(wanted.get(hid, ()), allocated.get(hid, ())):
            return hid
    return None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an allocation is refused: ``not_eligible``, ``complete``, ``out_of_turn`` (``current`` says whose turn
    it is) or ``area`` (``left`` lists the areas still to choose)."""

    kind: str
    current: int | None = None
    left: tuple[Decimal, ...] = ()


def allocation_refusal(
    order: Sequence[int],
    wanted: Mapping[int, Sequence[Decimal]],
    allocated: Mapping[int, Sequence[Decimal]],
    household_id: int,
    unit_area: Decimal,
) -> Refusal | None:
    """None when ``household_id`` may take a unit of ``unit_area`` now: it is in the order, it is its turn, and
    the area is one of its chosen areas not yet allocated."""
    if household_id not in order:
        return Refusal("not_eligible")
    left = remaining(wanted.get(household_id, ()), allocated.get(household_id, ()))
    if not left:
        return Refusal("complete")
    turn = current_turn(order, wanted, allocated)
    if turn != household_id:
        return Refusal("out_of_turn", current=turn)
    if unit_area.quantize(AREA_STEP) not in left:
        return Refusal("area", left=tuple(left))
    return None


# ------------------------------------------------------------------------------------------ units in bulk


@dataclass(frozen=True, slots=True)
class PlannedUnit:
    number: str
    floor: int
    area: Decimal


def unit_number(prefix: str, floor: int, position: int) -> str:
    """房号: the floor followed by the position on it in two digits (3楼2号 → ``302``), after an optional prefix
    such as ``2单元``."""
    return f"{prefix}{floor}{position:02d}"


def bulk_units(prefix: str, floor_from: int, floor_to: int, areas: Sequence[Decimal]) -> list[PlannedUnit]:
    """Floors ``floor_from``–``floor_to`` × one unit per given area (position 1, 2, … on every floor)."""
    if floor_from < 1 or floor_to < floor_from:
        raise InvalidInput("楼层范围有误：起始楼层应不小于 1，且不大于结束楼层", field="floor_to")
    if not areas:
        raise InvalidInput("请至少填写一个户型面积", field="areas")
    count = (floor_to - floor_from + 1) * len(areas)
    if count > BULK_MAX_UNITS:
        raise InvalidInput(f"一次最多登记 {BULK_MAX_UNITS} 套，本次为 {count} 套", field="floor_to")
    return [
        PlannedUnit(unit_number(prefix, floor, pos), floor, area(a))
        for floor in range(floor_from, floor_to + 1)
        for pos, a in enumerate(areas, start=1)
    ]


# ------------------------------------------------------------------------------------------------ display


def mask_name(name: str | None) -> str:
    """A name as published: 王建国 → 王*国, 王明 → 王*, 欧阳娜娜 → 欧**娜."""
    if not name:
        return "—"
    if len(name) == 1:
        return name
    if len(name) == 2:
        return f"{name[0]}*"
    return f"{name[0]}{'*' * (len(name) - 2)}{name[-1]}"


def format_area(value: Decimal) -> str:
    return f"{value.quantize(AREA_STEP)}㎡"


def format_areas(values: Iterable[Decimal]) -> str:
    return "、".join(format_area(v) for v in values) or "—"
