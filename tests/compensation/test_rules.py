"""Assessment rules (domain.md, "Assessment rules"), without a database: every line, each option, the split
option, the boundaries and the rounding."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from app.compensation.rules import (
    Assessment,
    AssessmentError,
    Attachment,
    AttachmentPrice,
    Option,
    PlanParams,
    Structure,
    Survey,
    assess,
)
from app.core.money import to_chinese_capital
from app.plans.schemas import demo_params

DEADLINE = date(2022, 9, 30)
PLAN: PlanParams = demo_params(DEADLINE).to_rules()
EXAMPLE = Survey(
    persons=4,
    structures=(
        Structure("brick_concrete", D("120.50")),
        Structure("brick_wood", D("35.00")),
        Structure("simple", D("12.00")),
    ),
    attachments=(Attachment("wall", D(25)), Attachment("well", D(1))),
)
FLATS = Option("resettlement_flat", (D("90.00"), D("75.00")))


def amounts(result: Assessment, code: str) -> list[int]:
    return [line.amount for line in result.lines if line.code == code]


def test_worked_example_to_the_fen() -> None:
    r = assess(PLAN, EXAMPLE, FLATS, signed_on=date(2022, 9, 1), vacated_on=date(2022, 9, 20))
    assert amounts(r, "house") == [10_845_000, 2_275_000, 360_000]
    assert amounts(r, "attachment") == [200_000, 150_000]
    assert amounts(r, "relocation") == [960_000]
    assert amounts(r, "transition") == [4_320_000]
    assert amounts(r, "signing_bonus") == [4_000_000]
    assert amounts(r, "early_vacate") == [3_350_000]
    assert r.compensation_total == 26_460_000
    assert r.entitled_area == D(160) and r.flat_area == D(165)
    assert r.flat_price_due == 16_990_000
    assert r.net_payable == 9_470_000
    assert to_chinese_capital(r.net_payable) == "玖万肆仟柒佰元整"
    assert r.compensation_total == sum(line.amount for line in r.lines)


def test_every_line_states_its_basis() -> None:
    r = assess(PLAN, EXAMPLE, FLATS, signed_on=date(2022, 9, 1), vacated_on=date(2022, 9, 20))
    bases = {line.label: line.basis for line in r.lines}
    assert bases["房屋补偿费（砖混）"] == "120.50㎡ × 900.00元/㎡"
    assert bases["附属物补偿费（围墙）"] == "25米 × 80.00元/米"
    assert bases["搬迁补助费"] == "4人 × 1,200.00元 × 2次"
    assert bases["临时安置补助费"] == "4人 × 450.00元/月 × 24个月"
    assert bases["提前腾房奖励"] == "167.50㎡ × 200.00元/㎡（2022-09-30前腾房）"
    assert r.flat_price_basis == "160.00㎡ × 1,000.00元/㎡ + 5.00㎡ × 1,980.00元/㎡"


def test_cash_option() -> None:
    r = assess(PLAN, EXAMPLE, Option("cash"), signed_on=DEADLINE, vacated_on=DEADLINE)
    assert amounts(r, "relocation") == [480_000]  # one move
    assert amounts(r, "transition") == [4 * 45_000 * 6]
    assert amounts(r, "cash_resettlement") == [160 * 250_000]
    assert r.flat_price_due == 0 and r.net_payable == r.compensation_total


def test_existing_housing_option_is_payable_on_proof() -> None:
    r = assess(PLAN, EXAMPLE, Option("existing_housing"))
    (line,) = [x for x in r.lines if x.code == "purchase_subsidy"]
    assert line.amount == 160 * 280_000 and line.payable_on_proof
    assert amounts(r, "transition") == [4 * 45_000 * 6]


def test_flat_option_with_unused_entitlement() -> None:
    r = assess(PLAN, EXAMPLE, Option("resettlement_flat", (D("90.00"),)))
    assert r.flat_price_due == 90 * 100_000
    assert amounts(r, "unused_entitlement") == [70 * 250_000]


def test_split_option_cash_area_and_flats() -> None:
    # 160 ㎡ entitled: 60 ㎡ in cash, flats against the other 100 ㎡; 110 ㎡ of flats → 10 ㎡ excess.
    r = assess(PLAN, EXAMPLE, Option("resettlement_flat", (D("110.00"),), cash_area=D("60.00")))
    assert amounts(r, "cash_resettlement") == [60 * 250_000]
    assert r.flat_price_due == 100 * 100_000 + 10 * 198_000
    assert amounts(r, "unused_entitlement") == []
    # 60 ㎡ in cash and a 90 ㎡ flat: 10 ㎡ unused, paid at the cash rate.
    r = assess(PLAN, EXAMPLE, Option("resettlement_flat", (D("90.00"),), cash_area=D("60.00")))
    assert amounts(r, "unused_entitlement") == [10 * 250_000]
    assert r.flat_price_due == 90 * 100_000


def test_cash_area_above_entitlement_is_refused() -> None:
    with pytest.raises(AssessmentError) as exc:
        assess(PLAN, EXAMPLE, Option("resettlement_flat", (D("10.00"),), cash_area=D("160.01")))
    assert exc.value.field == "option.cash_area"
    assert "超过应安置面积 160.00㎡" in exc.value.message


@pytest.mark.parametrize(("total_flat", "ok"), [("175.00", True), ("175.01", False)])
def test_excess_at_and_above_the_maximum(total_flat: str, ok: bool) -> None:
    option = Option("resettlement_flat", (D(total_flat),))
    if ok:
        r = assess(PLAN, EXAMPLE, option)
        assert r.flat_price_due == 160 * 100_000 + 15 * 198_000
    else:
        with pytest.raises(AssessmentError) as exc:
            assess(PLAN, EXAMPLE, option)
        assert exc.value.field == "option.flats" and "最多 15.00㎡" in exc.value.message


@pytest.mark.parametrize(
    ("signed_on", "bonus"),
    [
        (DEADLINE - timedelta(days=1), 4_000_000),
        (DEADLINE, 4_000_000),
        (DEADLINE + timedelta(days=1), 0),
        (None, 0),
    ],
)
def test_signing_bonus_on_the_deadline_day(signed_on: date | None, bonus: int) -> None:
    assert amounts(assess(PLAN, EXAMPLE, FLATS, signed_on=signed_on), "signing_bonus") == [bonus]


@pytest.mark.parametrize(
    ("vacated_on", "rate"),
    [
        (DEADLINE, 20_000),  # on the first tier's day
        (DEADLINE + timedelta(days=1), 10_000),  # the day after: second tier
        (DEADLINE + timedelta(days=30), 10_000),  # on the second tier's day
        (DEADLINE + timedelta(days=31), 0),  # after every tier
        (None, 0),
    ],
)
def test_early_vacate_tier_edges(vacated_on: date | None, rate: int) -> None:
    r = assess(PLAN, EXAMPLE, FLATS, vacated_on=vacated_on)
    assert amounts(r, "early_vacate") == [round(D("167.50") * rate / 100 * 100) if rate else 0]


def test_each_line_is_rounded_half_up_and_totals_are_sums_of_rounded_lines() -> None:
    survey = Survey(
        persons=1, structures=(Structure("brick_concrete", D("0.01")), Structure("brick_wood", D("0.01")))
    )
    plan = (
        demo_params(DEADLINE)
        .model_copy(update={"structure_rates": {"brick_concrete": D("0.50"), "brick_wood": D("0.50")}})
        .to_rules()
    )
    r = assess(plan, survey, Option("cash"))
    # 0.01 ㎡ × 0.50 元 = 0.005 元 → 1 fen each (half-up), so the total holds 2 fen, not round(0.01) = 1.
    assert amounts(r, "house") == [1, 1]
    assert r.compensation_total == sum(line.amount for line in r.lines)


def test_half_up_not_bankers() -> None:
    survey = Survey(persons=0, attachments=(Attachment("tree", D("0.25")),))
    plan = replace(PLAN, attachment_prices=(AttachmentPrice("tree", "树木", "棵", 10),))
    # 0.25 × 0.10 元 = 0.025 元 = 2.5 fen → 3 fen (banker's rounding would give 2).
    assert amounts(assess(plan, survey, Option("cash")), "attachment") == [3]


@pytest.mark.parametrize(
    ("survey", "option", "field"),
    [
        (Survey(4, (Structure("stone", D(10)),)), Option("cash"), "structures.0.structure"),
        (Survey(4, (), (Attachment("pool", D(1)),)), Option("cash"), "attachments.0.code"),
        (Survey(4, (Structure("simple", D(-1)),)), Option("cash"), "structures.0.area"),
        (Survey(-1), Option("cash"), "persons"),
        (Survey(4), Option("castle"), "option.kind"),
        (Survey(4), Option("resettlement_flat"), "option.flats"),
        (Survey(4), Option("cash", (D(90),)), "option.flats"),
    ],
)
def test_bad_inputs_name_their_field(survey: Survey, option: Option, field: str) -> None:
    with pytest.raises(AssessmentError) as exc:
        assess(PLAN, survey, option)
    assert exc.value.field == field
