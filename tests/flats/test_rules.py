"""The ordering and matching rules of resettlement flats, without a database."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.core.errors import InvalidInput
from app.flats import rules

D = Decimal


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2022, 9, day, hour, minute, tzinfo=UTC)


def test_signing_order_by_time_then_date_then_number() -> None:
    entries = [
        rules.Signed(1, "FQ-2022-QFZ-0003", date(2022, 9, 1), at(11)),
        rules.Signed(2, "FQ-2022-QFZ-0001", date(2022, 9, 1), at(9)),
        rules.Signed(3, "FQ-2022-QFZ-0002", date(2022, 9, 2), at(8, day=2)),
        rules.Signed(4, "FQ-2022-QFZ-0005", date(2022, 9, 1), at(9)),  # same second as 2: by number
        rules.Signed(
            5, "FQ-2022-QFZ-0004", date(2022, 8, 30), None
        ),  # no time recorded: after those with one
    ]
    assert rules.signing_order(entries) == [2, 4, 1, 3, 5]


REGISTER = [(10, "QFZ-0001"), (11, "QFZ-0002"), (12, "QFZ-0003"), (13, "QFZ-0004"), (14, "QFZ-0005")]


def test_lottery_same_seed_same_order() -> None:
    first = rules.lottery_order("a1b2c3d4", REGISTER)
    assert first == rules.lottery_order("a1b2c3d4", REGISTER)
    assert first == rules.lottery_order("a1b2c3d4", list(reversed(REGISTER)))  # input order does not matter
    assert sorted(first) == [10, 11, 12, 13, 14]


def test_lottery_is_the_published_algorithm() -> None:
    """Anyone can recheck with sha256sum: sort register numbers by SHA-256("seed:register_no")."""
    seed = "2022-09-15 福彩3D 123"
    keys = {hid: hashlib.sha256(f"{seed}:{no}".encode()).hexdigest() for hid, no in REGISTER}
    assert rules.lottery_order(seed, REGISTER) == sorted(keys, key=keys.__getitem__)
    assert rules.lottery_key("abc", "QFZ-0001") == hashlib.sha256(b"abc:QFZ-0001").hexdigest()


def test_lottery_seeds_differ() -> None:
    many = [(i, f"QFZ-{i:04d}") for i in range(1, 31)]
    orders = {tuple(rules.lottery_order(seed, many)) for seed in ("1", "2", "3", "4")}
    assert len(orders) == 4


def test_published_order_appends_late_signers() -> None:
    assert rules.published_order(None, [3, 1, 2]) == [3, 1, 2]
    assert rules.published_order([2, 1], [1, 2, 5, 4]) == [2, 1, 5, 4]


def test_seed_check() -> None:
    assert rules.check_seed("  abc-123 ") == "abc-123"
    for bad in ("", "x" * 101, "种子"):
        with pytest.raises(InvalidInput):
            rules.check_seed(bad)


def test_flats_wanted_and_remaining() -> None:
    option = {"kind": "resettlement_flat", "flats": [{"area": "75"}, {"area": "90.00"}], "cash_area": "5.00"}
    assert rules.flats_wanted(option) == [D("90.00"), D("75.00")]
    assert rules.flats_wanted({"kind": "cash"}) == []
    assert rules.flats_wanted(None) == []
    wanted = [D("90.00"), D("90.00"), D("75.00")]
    assert rules.remaining(wanted, [D("90.00")]) == [D("90.00"), D("75.00")]
    assert rules.remaining(wanted, [D("90.00"), D("75.00"), D("90.00")]) == []


def test_turn_and_refusals() -> None:
    order = [1, 2, 3]
    wanted = {1: [D("90.00")], 2: [D("75.00"), D("110.00")], 3: [D("90.00")]}
    allocated: dict[int, list[Decimal]] = {1: [], 2: [], 3: []}
    assert rules.current_turn(order, wanted, allocated) == 1
    assert rules.allocation_refusal(order, wanted, allocated, 1, D("90")) is None
    assert rules.allocation_refusal(order, wanted, allocated, 2, D("75")) == rules.Refusal(
        "out_of_turn", current=1
    )
    assert rules.allocation_refusal(order, wanted, allocated, 1, D("75")) == rules.Refusal(
        "area", left=(D("90.00"),)
    )
    assert rules.allocation_refusal(order, wanted, allocated, 9, D("90")) == rules.Refusal("not_eligible")
    allocated[1] = [D("90.00")]
    assert rules.allocation_refusal(order, wanted, allocated, 1, D("90")) == rules.Refusal("complete")
    assert rules.current_turn(order, wanted, allocated) == 2
    allocated[2] = [D("110.00")]
    assert rules.current_turn(order, wanted, allocated) == 2  # still one flat to choose
    allocated[2] = [D("110.00"), D("75.00")]
    assert rules.current_turn(order, wanted, allocated) == 3
    allocated[1] = []  # released: back in turn, ahead of 3
    assert rules.current_turn(order, wanted, allocated) == 1
    allocated = {1: [D("90.00")], 2: [D("75.00"), D("110.00")], 3: [D("90.00")]}
    assert rules.current_turn(order, wanted, allocated) is None


def test_bulk_units() -> None:
    planned = rules.bulk_units("", 1, 3, [D("75"), D("90"), D("110")])
    assert [u.number for u in planned[:4]] == ["101", "102", "103", "201"]
    assert planned[-1] == rules.PlannedUnit("303", 3, D("110.00"))
    assert len(planned) == 9
    assert rules.bulk_units("2单元", 12, 12, [D("90")])[0].number == "2单元1201"
    with pytest.raises(InvalidInput):
        rules.bulk_units("", 3, 1, [D("90")])
    with pytest.raises(InvalidInput):
        rules.bulk_units("", 1, 200, [D("90")] * 3)
    with pytest.raises(InvalidInput):
        rules.bulk_units("", 1, 2, [D("0")])


def test_mask_name() -> None:
    assert rules.mask_name("王建国") == "王*国"
    assert rules.mask_name("王明") == "王*"
    assert rules.mask_name("欧阳娜娜") == "欧**娜"
    assert rules.mask_name(None) == "—"
