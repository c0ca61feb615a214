"""The public page's words and stages (app/public/rules.py): pure, no database."""

from __future__ import annotations

import functools
from datetime import date

from app.public import rules

D = date(2023, 3, 1)


def test_timeline_marks_earlier_stages_done_when_a_later_one_is_reached() -> None:
    steps = rules.timeline({"surveyed": None, "assessed": D, "noticed": None})
    assert [(s.code, s.done, s.on) for s in steps] == [
        ("surveyed", True, None),
        ("assessed", True, D),
        ("noticed", False, None),
        ("signed", False, None),
        ("vacated", False, None),
        ("settled", False, None),
    ]
    assert rules.current_stage(steps) == "补偿核算"
    assert rules.current_stage(rules.timeline({})) == "尚未调查登记"


def test_settled_needs_handover_every_tranche_paid_and_the_flat() -> None:
    paid = [("due", date(2023, 4, 2)), ("due", date(2023, 5, 6))]
    assert rules.settled_on(option_kind="cash", vacated_on=D, tranches=paid, flat_allocated_on=None) == date(
        2023, 5, 6
    )
    assert (
        rules.settled_on(option_kind="cash", vacated_on=None, tranches=paid, flat_allocated_on=None) is None
    )
    unpaid = [*paid, ("awaiting", None)]
    assert rules.settled_on(option_kind="cash", vacated_on=D, tranches=unpaid, flat_allocated_on=None) is None
    flat = "resettlement_flat"
    assert rules.settled_on(option_kind=flat, vacated_on=D, tranches=[], flat_allocated_on=None) is None
    assert rules.settled_on(
        option_kind=flat, vacated_on=D, tranches=[], flat_allocated_on=date(2024, 1, 9)
    ) == date(2024, 1, 9)
    # a household that owes the difference for its flats is settled when it has paid it
    owes = functools.partial(
        rules.settled_on, option_kind=flat, vacated_on=D, tranches=[], flat_allocated_on=date(2024, 1, 9)
    )
    assert owes(owes_difference=True) is None
    assert owes(owes_difference=True, difference_paid_on=date(2024, 2, 1)) == date(2024, 2, 1)


def test_payment_and_month_states() -> None:
    assert rules.payment_state(True, True) == "已到账"
    assert rules.payment_state(False, True) == "发放失败，将重新发放"
    assert rules.payment_state(None, True) == "银行处理中"
    assert rules.payment_state(None, False) == "待发放"
    assert rules.pension_month_state("paid", None, False) == "已到账"
    assert rules.pension_month_state("claimed", False, True) == "发放失败，将重新发放"
    assert rules.pension_month_state("suspended", None, False).startswith("暂停发放")


def test_next_proof_of_life() -> None:
    # Enrolled before the pension starts: the clock starts with the pension.
    assert rules.next_certification_due(date(2023, 5, 30), date(2023, 6, 1), None, None) == date(2024, 6, 1)
    assert rules.next_certification_due(date(2023, 5, 30), date(2023, 6, 1), date(2024, 2, 29), None) == date(
        2025, 2, 28
    )
    assert rules.next_certification_due(date(2023, 5, 30), date(2023, 6, 1), None, date(2024, 1, 1)) is None


def test_names_and_numbers_are_compared_as_meant() -> None:
    assert rules.clean_name(" 王 建国\u3000") == "王建国"
    assert rules.clean_name("ＡＢ") == "AB"  # full-width letters folded
    assert rules.clean_id_text(" 410727 19600315 123x ") == "41072719600315123X"
