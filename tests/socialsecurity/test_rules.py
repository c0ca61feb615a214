"""Land-loss social security rules (domain.md, "Land-loss social security"), without a database: the worked
example, ages and birthdays, the land threshold decided exactly, every reason, bridging old and new policy, the
pension start month, month arithmetic, proof of life and month states, and the individual account."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from app.socialsecurity.rules import (
    CERTIFICATION_METHODS,
    CERTIFICATION_VALID_MONTHS,
    MONTH_STATES,
    REASONS,
    BatchParams,
    Eligibility,
    HouseholdLand,
    account_balance,
    account_credit,
    add_months,
    age_on,
    birthday_at,
    certification_due,
    certification_expires,
    eligibility,
    format_month,
    land_within_threshold,
    last_certification,
    month_of,
    month_state,
    months_between,
    parse_month,
    pension_start_month,
    quote,
    registered_on,
    split_payout,
)

# The batch of domain.md's example, with the default parameters.
BATCH = BatchParams(
    announcement_date=date(2023, 1, 10),
    approved_on=date(2023, 5, 20),
    per_capita_land_threshold_mu=D("0.3"),
    min_age=16,
    pension_age=60,
    fee_standard=2_400_000,
    monthly_pension=26_000,
)
# (3.0 − 1.8) / 4 = 0.3: exactly on the threshold.
LAND_AT_THRESHOLD = HouseholdLand(contracted_mu=D("3.0"), acquired_mu=D("1.8"), members=4)
EXAMPLE_BIRTH = date(1960, 3, 15)


def judge(
    *,
    birth_date: date = EXAMPLE_BIRTH,
    registered: bool = True,
    land: HouseholdLand = LAND_AT_THRESHOLD,
    other_enrollment: bool = False,
    params: BatchParams = BATCH,
) -> Eligibility:
    return eligibility(
        params,
        birth_date=birth_date,
        registered_on_announcement=registered,
        land=land,
        other_enrollment=other_enrollment,
    )


# ---------------------------------------------------------------------------------------------- the example


def test_domain_example_quote() -> None:
    q = quote(
        BATCH,
        birth_date=date(1960, 3, 15),
        registered_on_announcement=True,
        land=LAND_AT_THRESHOLD,
        other_enrollment=False,
        old_lump_sum=500_000,
        old_monthly_paid_through=date(2023, 7, 1),
    )
    assert q.eligibility == Eligibility(eligible=True, reasons=(), age_on_announcement=62)
    assert q.account_credit == 1_900_000
    assert q.monthly_pension == 26_000
    assert q.pension_start_month == date(2023, 8, 1)
    assert format_month(q.pension_start_month) == "2023-08"


def test_domain_example_without_old_subsidy_starts_month_after_approval() -> None:
    """The old subsidy covered June and July: without it the pension would have started in June."""
    q = quote(
        BATCH,
        birth_date=date(1960, 3, 15),
        registered_on_announcement=True,
        land=LAND_AT_THRESHOLD,
        other_enrollment=False,
    )
    assert q.pension_start_month == date(2023, 6, 1)
    assert q.account_credit == 2_400_000


def test_quote_carries_ineligibility_and_still_computes_amounts() -> None:
    q = quote(
        BATCH,
        birth_date=date(2010, 1, 1),
        registered_on_announcement=False,
        land=LAND_AT_THRESHOLD,
        other_enrollment=True,
        old_lump_sum=3_000_000,
    )
    assert not q.eligibility.eligible
    assert q.eligibility.reasons == ("not_registered", "under_min_age", "duplicate_enrollment")
    assert q.eligibility.age_on_announcement == 13
    assert q.account_credit == 0
    assert q.pension_start_month == date(2070, 2, 1)


# ---------------------------------------------------------------------------------------------- ages


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2007, 1, 10), date(2023, 1, 10), 16),  # the 16th birthday counts
        (date(2007, 1, 10), date(2023, 1, 9), 15),  # the day before does not
        (date(1963, 5, 20), date(2023, 5, 20), 60),  # the 60th birthday counts
        (date(1963, 5, 20), date(2023, 5, 19), 59),
        (date(1963, 5, 20), date(2023, 5, 21), 60),
        (date(1963, 12, 31), date(2023, 12, 31), 60),
        (date(1963, 12, 31), date(2023, 12, 30), 59),
        (date(1964, 1, 1), date(2023, 12, 31), 59),
        (date(2004, 2, 29), date(2023, 2, 28), 18),  # 29 Feb birth, common year: not yet on 28 Feb
        (date(2004, 2, 29), date(2023, 3, 1), 19),  # ... but on 1 Mar
        (date(2004, 2, 29), date(2024, 2, 28), 19),  # leap year: not yet on 28 Feb
        (date(2004, 2, 29), date(2024, 2, 29), 20),  # ... on 29 Feb itself
        (date(1964, 2, 29), date(2024, 2, 29), 60),
        (date(1963, 2, 28), date(2023, 2, 28), 60),
        (date(2023, 6, 1), date(2023, 6, 1), 0),
    ],
)
def test_age_on(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


@pytest.mark.parametrize(
    ("birth", "age", "day"),
    [
        (date(1960, 3, 15), 60, date(2020, 3, 15)),
        (date(2007, 1, 10), 16, date(2023, 1, 10)),
        (date(2004, 2, 29), 19, date(2023, 3, 1)),  # common year: 1 March
        (date(2004, 2, 29), 20, date(2024, 2, 29)),  # leap year: 29 February
        (date(1963, 2, 28), 60, date(2023, 2, 28)),
        (date(1963, 12, 31), 60, date(2023, 12, 31)),
        (date(1990, 7, 4), 0, date(1990, 7, 4)),
    ],
)
def test_birthday_at(birth: date, age: int, day: date) -> None:
    assert birthday_at(birth, age) == day


@pytest.mark.parametrize(
    "birth", [date(2004, 2, 29), date(1960, 3, 15), date(1963, 12, 31), date(1964, 1, 1)]
)
@pytest.mark.parametrize("age", [1, 15, 16, 59, 60, 61, 64])
def test_birthday_at_agrees_with_age_on(birth: date, age: int) -> None:
    day = birthday_at(birth, age)
    assert age_on(birth, day) == age
    assert age_on(birth, day - timedelta(days=1)) == age - 1


# ---------------------------------------------------------------------------------------------- land


def test_land_exactly_at_threshold_is_within() -> None:
    assert land_within_threshold(LAND_AT_THRESHOLD, D("0.3"))


def test_land_a_ten_thousandth_of_a_mu_above_threshold_is_not() -> None:
    # (3.0 − 1.7999) = 1.2001 > 0.3 × 4
    land = HouseholdLand(contracted_mu=D("3.0"), acquired_mu=D("1.7999"), members=4)
    assert not land_within_threshold(land, D("0.3"))
    # ... and a ten-thousandth below is within
    land = HouseholdLand(contracted_mu=D("3.0"), acquired_mu=D("1.8001"), members=4)
    assert land_within_threshold(land, D("0.3"))


def test_land_decided_exactly_where_floats_would_fail() -> None:
    # With floats 0.3 * 3 == 0.8999999999999999 < 0.9: the household would wrongly fail.
    assert not (0.9 <= 0.3 * 3)
    land = HouseholdLand(contracted_mu=D("0.9"), acquired_mu=D("0"), members=3)
    assert land_within_threshold(land, D("0.3"))
    # 0.1 + 0.2 style: 0.3 remaining for one member on a 0.3 threshold.
    land = HouseholdLand(contracted_mu=D("0.1") + D("0.2"), acquired_mu=D("0"), members=1)
    assert land_within_threshold(land, D("0.3"))


def test_land_division_would_not_terminate_but_comparison_is_exact() -> None:
    # 1.0 / 3 is 0.333…; against a threshold of 0.3333 it is above, against 0.3334 within.
    land = HouseholdLand(contracted_mu=D("1.0"), acquired_mu=D("0"), members=3)
    assert not land_within_threshold(land, D("0.3333"))
    assert land_within_threshold(land, D("0.3334"))


@pytest.mark.parametrize("members", [0, -1])
def test_land_with_no_members_is_not_within(members: int) -> None:
    land = HouseholdLand(contracted_mu=D("0"), acquired_mu=D("0"), members=members)
    assert not land_within_threshold(land, D("0.3"))


def test_land_all_acquired_is_within_even_a_zero_threshold() -> None:
    land = HouseholdLand(contracted_mu=D("5.5"), acquired_mu=D("5.5"), members=2)
    assert land_within_threshold(land, D("0"))


def test_land_acquired_more_than_contracted_counts_as_none_remaining() -> None:
    land = HouseholdLand(contracted_mu=D("2.0"), acquired_mu=D("2.5"), members=1)
    assert land_within_threshold(land, D("0"))


# ---------------------------------------------------------------------------------------------- eligibility

LAND_ABOVE = HouseholdLand(contracted_mu=D("3.0"), acquired_mu=D("1.7999"), members=4)
MINOR_BIRTH = date(2007, 1, 11)  # 15 on the announcement date 2023-01-10


def test_eligible_person_has_no_reasons() -> None:
    assert judge() == Eligibility(eligible=True, reasons=(), age_on_announcement=62)


@pytest.mark.parametrize(
    ("reason", "birth", "registered", "land", "other"),
    [
        ("not_registered", EXAMPLE_BIRTH, False, LAND_AT_THRESHOLD, False),
        ("under_min_age", MINOR_BIRTH, True, LAND_AT_THRESHOLD, False),
        ("land_above_threshold", EXAMPLE_BIRTH, True, LAND_ABOVE, False),
        ("duplicate_enrollment", EXAMPLE_BIRTH, True, LAND_AT_THRESHOLD, True),
    ],
)
def test_each_reason_alone(
    reason: str, birth: date, registered: bool, land: HouseholdLand, other: bool
) -> None:
    result = judge(birth_date=birth, registered=registered, land=land, other_enrollment=other)
    assert not result.eligible
    assert result.reasons == (reason,)
    assert reason in REASONS


def test_all_reasons_together_in_order() -> None:
    result = judge(birth_date=MINOR_BIRTH, registered=False, land=LAND_ABOVE, other_enrollment=True)
    assert result == Eligibility(
        eligible=False,
        reasons=("not_registered", "under_min_age", "land_above_threshold", "duplicate_enrollment"),
        age_on_announcement=15,
    )
    assert list(result.reasons) == list(REASONS)


def test_reasons_keep_their_order_when_some_are_missing() -> None:
    result = judge(registered=False, other_enrollment=True)
    assert result.reasons == ("not_registered", "duplicate_enrollment")
    result = judge(birth_date=MINOR_BIRTH, land=LAND_ABOVE)
    assert result.reasons == ("under_min_age", "land_above_threshold")


def test_no_members_gives_land_reason() -> None:
    land = HouseholdLand(contracted_mu=D("0"), acquired_mu=D("0"), members=0)
    assert judge(land=land).reasons == ("land_above_threshold",)


@pytest.mark.parametrize(
    ("birth", "eligible", "age"),
    [
        (date(2007, 1, 10), True, 16),  # 16th birthday on the announcement date
        (date(2007, 1, 11), False, 15),  # 16 the day after
        (date(2006, 1, 9), True, 17),
    ],
)
def test_min_age_on_announcement_date(birth: date, eligible: bool, age: int) -> None:
    result = judge(birth_date=birth)
    assert result.eligible is eligible
    assert result.age_on_announcement == age


def test_min_age_follows_batch_parameter() -> None:
    params = replace(BATCH, min_age=18)
    assert judge(birth_date=date(2005, 1, 10), params=params).eligible
    assert judge(birth_date=date(2005, 1, 11), params=params).reasons == ("under_min_age",)


def test_threshold_follows_batch_parameter() -> None:
    params = replace(BATCH, per_capita_land_threshold_mu=D("0.2999"))
    assert judge(params=params).reasons == ("land_above_threshold",)


def test_reason_and_other_labels_are_chinese() -> None:
    assert set(REASONS) == {"not_registered", "under_min_age", "land_above_threshold", "duplicate_enrollment"}
    assert set(MONTH_STATES) == {"waiting", "regular", "back_pay", "suspended", "after_death"}
    assert set(CERTIFICATION_METHODS) == {"in_person", "video", "home_visit", "data_match"}
    for label in [*REASONS.values(), *MONTH_STATES.values(), *CERTIFICATION_METHODS.values()]:
        assert label and all(not ch.isascii() for ch in label)


# ---------------------------------------------------------------------------------------------- registered_on

DAY = date(2023, 1, 10)


@pytest.mark.parametrize(
    ("joined", "left", "registered"),
    [
        (None, None, True),
        (DAY, None, True),  # joined on the day: counts
        (DAY + timedelta(days=1), None, False),  # joined the day after
        (DAY - timedelta(days=1), None, True),
        (None, DAY, False),  # left on the day: no longer counts
        (None, DAY + timedelta(days=1), True),  # left the day after
        (None, DAY - timedelta(days=1), False),
        (DAY, DAY + timedelta(days=1), True),
        (DAY, DAY, False),
        (date(2000, 1, 1), date(2010, 1, 1), False),
        (date(2000, 1, 1), date(2030, 1, 1), True),
    ],
)
def test_registered_on(joined: date | None, left: date | None, registered: bool) -> None:
    assert registered_on(DAY, joined_on=joined, left_on=left) is registered


# ---------------------------------------------------------------------------------------------- account credit


@pytest.mark.parametrize(
    ("fee", "lump", "credit"),
    [
        (2_400_000, 500_000, 1_900_000),
        (2_400_000, 0, 2_400_000),
        (2_400_000, 2_400_000, 0),  # equal: nothing left
        (2_400_000, 2_400_001, 0),  # above: never below zero
        (2_400_000, 9_000_000, 0),
        (2_400_000, 2_399_999, 1),
        (0, 0, 0),
    ],
)
def test_account_credit(fee: int, lump: int, credit: int) -> None:
    assert account_credit(fee, lump) == credit


# ---------------------------------------------------------------------------------------------- pension start


@pytest.mark.parametrize(
    ("params", "birth", "old_through", "start"),
    [
        # approval wins: 60 long ago, no old subsidy
        (BATCH, date(1955, 6, 10), None, date(2023, 6, 1)),
        # approval wins over an old subsidy that ended earlier
        (BATCH, date(1955, 6, 10), date(2023, 3, 1), date(2023, 6, 1)),
        # approval month itself covered by the old subsidy: the month after it
        (BATCH, date(1955, 6, 10), date(2023, 5, 1), date(2023, 6, 1)),
        # 60th birthday wins (60 on 2023-09-20, after approval)
        (BATCH, date(1963, 9, 20), None, date(2023, 10, 1)),
        (BATCH, date(1963, 9, 20), date(2023, 7, 1), date(2023, 10, 1)),
        # old monthly subsidy wins (domain.md example)
        (BATCH, date(1960, 3, 15), date(2023, 7, 1), date(2023, 8, 1)),
        # paid-through given as any day of the month
        (BATCH, date(1960, 3, 15), date(2023, 7, 31), date(2023, 8, 1)),
        # under 60 at approval: the month after the 60th birthday
        (BATCH, date(1970, 4, 5), None, date(2030, 5, 1)),
        (BATCH, date(1995, 11, 30), None, date(2055, 12, 1)),
        # birthday on the 1st of a month: still the month after
        (BATCH, date(1963, 7, 1), None, date(2023, 8, 1)),
        # birthday on the last day of a month
        (BATCH, date(1963, 7, 31), None, date(2023, 8, 1)),
        # December → January, each candidate in turn
        (BATCH, date(1963, 12, 15), None, date(2024, 1, 1)),
        (replace(BATCH, approved_on=date(2023, 12, 5)), date(1950, 1, 1), None, date(2024, 1, 1)),
        (BATCH, date(1950, 1, 1), date(2023, 12, 1), date(2024, 1, 1)),
        # 29 Feb births: 60 on 29 Feb 2024 (leap), 61 on 1 Mar 2025 (common)
        (BATCH, date(1964, 2, 29), None, date(2024, 3, 1)),
        (replace(BATCH, pension_age=61), date(1964, 2, 29), None, date(2025, 4, 1)),
    ],
)
def test_pension_start_month(params: BatchParams, birth: date, old_through: date | None, start: date) -> None:
    assert pension_start_month(params, birth, old_through) == start


def test_pension_start_month_is_always_a_first_day() -> None:
    for day in range(1, 29):
        birth = date(1963, 8, day)
        assert pension_start_month(BATCH, birth, date(2023, 1, day)).day == 1


# ---------------------------------------------------------------------------------------------- months


@pytest.mark.parametrize(
    ("day", "months", "result"),
    [
        (date(2023, 1, 31), 1, date(2023, 2, 28)),  # clamped to the end of a common February
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # ... of a leap February
        (date(2023, 3, 31), 1, date(2023, 4, 30)),
        (date(2023, 3, 1), 1, date(2023, 4, 1)),
        (date(2023, 5, 31), -3, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),  # year rollover
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2023, 11, 30), 2, date(2024, 1, 30)),
        (date(2023, 1, 1), 0, date(2023, 1, 1)),
        (date(2023, 1, 31), 0, date(2023, 1, 31)),
        (date(2023, 6, 1), -18, date(2021, 12, 1)),
        (date(2023, 6, 1), 120, date(2033, 6, 1)),
    ],
)
def test_add_months(day: date, months: int, result: date) -> None:
    assert add_months(day, months) == result


@pytest.mark.parametrize(
    ("day", "month"),
    [
        (date(2023, 8, 1), date(2023, 8, 1)),
        (date(2023, 8, 31), date(2023, 8, 1)),
        (date(2024, 2, 29), date(2024, 2, 1)),
    ],
)
def test_month_of(day: date, month: date) -> None:
    assert month_of(day) == month


def test_months_between_across_a_year() -> None:
    assert months_between(date(2023, 11, 1), date(2024, 2, 1)) == [
        date(2023, 11, 1),
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]


def test_months_between_single_and_empty() -> None:
    assert months_between(date(2023, 8, 1), date(2023, 8, 1)) == [date(2023, 8, 1)]
    assert months_between(date(2023, 9, 1), date(2023, 8, 1)) == []


def test_months_between_mid_month_days() -> None:
    assert months_between(date(2023, 1, 31), date(2023, 3, 15)) == [
        date(2023, 1, 1),
        date(2023, 2, 1),
        date(2023, 3, 1),
    ]


def test_months_between_counts_a_whole_span() -> None:
    months = months_between(date(2020, 1, 1), date(2029, 12, 1))
    assert len(months) == 120
    assert all(m.day == 1 for m in months)
    assert months == sorted(set(months))


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2023-08", date(2023, 8, 1)),
        ("2023-01", date(2023, 1, 1)),
        ("2023-12", date(2023, 12, 1)),
        (" 2023-08 ", date(2023, 8, 1)),
        ("1900-01", date(1900, 1, 1)),
        ("2200-12", date(2200, 12, 1)),
    ],
)
def test_parse_month(text: str, month: date) -> None:
    assert parse_month(text) == month


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2023",
        "2023-8",
        "23-08",
        "2023/08",
        "2023-08-01",
        "202308",
        "abcd-ef",
        "2023-0a",
        "-2023-08",
        "2023--08",
    ],
)
def test_parse_month_rejects_bad_formats(text: str) -> None:
    with pytest.raises(ValueError, match="年月格式应为 YYYY-MM"):
        parse_month(text)


@pytest.mark.parametrize("text", ["2023-13", "2023-00", "2023-99", "1899-12", "2201-01", "0000-01"])
def test_parse_month_rejects_months_that_do_not_exist(text: str) -> None:
    with pytest.raises(ValueError, match="不存在的年月"):
        parse_month(text)


@pytest.mark.parametrize("text", ["２０２３-08", "2023-٠٨", "202²-08"])
def test_parse_month_rejects_non_ascii_digits_with_a_chinese_message(text: str) -> None:
    with pytest.raises(ValueError, match="年月格式应为 YYYY-MM"):
        parse_month(text)


@pytest.mark.parametrize(
    ("month", "text"),
    [(date(2023, 8, 1), "2023-08"), (date(2023, 12, 1), "2023-12"), (date(987, 1, 1), "0987-01")],
)
def test_format_month(month: date, text: str) -> None:
    assert format_month(month) == text


def test_format_and_parse_round_trip() -> None:
    for month in months_between(date(2022, 1, 1), date(2025, 12, 1)):
        assert parse_month(format_month(month)) == month


# ---------------------------------------------------------------------------------------------- proof of life


@pytest.mark.parametrize(
    ("certified", "expires"),
    [
        (date(2023, 3, 15), date(2024, 3, 15)),
        (date(2023, 1, 31), date(2024, 1, 31)),
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2023, 12, 1), date(2024, 12, 1)),
    ],
)
def test_certification_expires(certified: date, expires: date) -> None:
    assert CERTIFICATION_VALID_MONTHS == 12
    assert certification_expires(certified) == expires


def test_last_certification() -> None:
    baseline = date(2023, 2, 15)
    certs = [date(2023, 11, 20), date(2022, 12, 1), date(2024, 6, 1), date(2023, 6, 1)]
    # the baseline (enrollment) counts as the first; earlier ones are ignored
    assert last_certification(baseline, [date(2022, 12, 1)], date.max) == baseline
    assert last_certification(baseline, [], date(2030, 1, 1)) == baseline
    # unordered input, on or before the day
    assert last_certification(baseline, certs, date(2023, 11, 19)) == date(2023, 6, 1)
    assert last_certification(baseline, certs, date(2023, 11, 20)) == date(2023, 11, 20)
    assert last_certification(baseline, certs, date.max) == date(2024, 6, 1)
    assert last_certification(baseline, iter(certs), date(2024, 5, 31)) == date(2023, 11, 20)


@pytest.mark.parametrize(
    ("baseline", "certs", "next_month", "expires", "due"),
    [
        # expires mid-month of next_month: due
        (date(2023, 2, 15), [], date(2024, 2, 1), date(2024, 2, 15), True),
        # expires the month after next_month: not yet due
        (date(2023, 2, 15), [], date(2024, 1, 1), date(2024, 2, 15), False),
        # expires on the last day of next_month: due
        (date(2023, 1, 31), [], date(2024, 1, 1), date(2024, 1, 31), True),
        (date(2023, 1, 31), [], date(2023, 12, 1), date(2024, 1, 31), False),
        # expires on the first day of the following month: still holds for that month, not due
        (date(2023, 2, 1), [], date(2024, 1, 1), date(2024, 2, 1), False),
        # already expired: due
        (date(2022, 5, 10), [], date(2024, 1, 1), date(2023, 5, 10), True),
        # a later certification moves the date
        (
            date(2023, 2, 15),
            [date(2023, 6, 1), date(2023, 11, 20)],
            date(2024, 2, 1),
            date(2024, 11, 20),
            False,
        ),
        (
            date(2023, 2, 15),
            [date(2023, 11, 20), date(2023, 6, 1)],
            date(2024, 11, 1),
            date(2024, 11, 20),
            True,
        ),
        # a certification before the baseline does not count
        (date(2023, 2, 15), [date(2023, 1, 1)], date(2024, 2, 1), date(2024, 2, 15), True),
    ],
)
def test_certification_due(
    baseline: date, certs: list[date], next_month: date, expires: date, due: bool
) -> None:
    assert certification_due(baseline, certs, next_month) == (expires, due)


def test_certification_due_agrees_with_month_state() -> None:
    """Due for ``next_month`` exactly when the month after it would be suspended without a new certification."""
    baseline = date(2023, 2, 15)
    for next_month in months_between(date(2023, 6, 1), date(2024, 6, 1)):
        _, due = certification_due(baseline, [], next_month)
        following = add_months(next_month, 1)
        state = month_state(
            following,
            start_month=date(2023, 3, 1),
            baseline=baseline,
            certifications=[],
            death_date=None,
            period=following,
            as_of=following,
        )
        assert due is (state == "suspended")


# ---------------------------------------------------------------------------------------------- month states

START = date(2023, 3, 1)
BASELINE = date(2023, 2, 15)  # enrolled (in person) on this day; valid through 2024-02-15


def state(
    month: date,
    *,
    period: date,
    as_of: date | None = None,
    certifications: list[date] | None = None,
    death_date: date | None = None,
    start_month: date = START,
    baseline: date = BASELINE,
) -> str:
    return month_state(
        month,
        start_month=start_month,
        baseline=baseline,
        certifications=certifications or [],
        death_date=death_date,
        period=period,
        as_of=as_of if as_of is not None else period + timedelta(days=4),
    )


def test_waiting_before_start() -> None:
    assert state(date(2023, 2, 1), period=date(2023, 2, 1)) == "waiting"
    assert state(date(2022, 1, 1), period=date(2023, 5, 1)) == "waiting"
    # under 60: waiting however stale the certification
    assert state(date(2030, 4, 1), period=date(2030, 4, 1), start_month=date(2030, 5, 1)) == "waiting"


def test_regular_for_period_month_within_twelve_months() -> None:
    assert state(START, period=START) == "regular"
    assert state(date(2024, 2, 1), period=date(2024, 2, 1)) == "regular"


def test_suspended_when_last_certification_older_than_twelve_months() -> None:
    # 2023-02-15 + 12 months = 2024-02-15 < 2024-03-01
    assert state(date(2024, 3, 1), period=date(2024, 3, 1)) == "suspended"
    assert state(date(2024, 7, 1), period=date(2024, 7, 1)) == "suspended"


@pytest.mark.parametrize(
    ("baseline", "month", "expected"),
    [
        # exactly 12 months on the month's first day: still holds
        (date(2023, 3, 1), date(2024, 3, 1), "regular"),
        (date(2023, 3, 1), date(2024, 4, 1), "suspended"),
        # end-of-month: 2023-01-31 holds through 2024-01-31, so February is suspended
        (date(2023, 1, 31), date(2024, 1, 1), "regular"),
        (date(2023, 1, 31), date(2024, 2, 1), "suspended"),
        # 28 Feb 2023 → 28 Feb 2024: suspended from March
        (date(2023, 2, 28), date(2024, 2, 1), "regular"),
        (date(2023, 2, 28), date(2024, 3, 1), "suspended"),
    ],
)
def test_suspension_boundary(baseline: date, month: date, expected: str) -> None:
    assert state(month, period=month, baseline=baseline, start_month=month_of(baseline)) == expected


def test_certification_on_the_first_day_of_a_month_counts_for_that_month() -> None:
    cert = date(2024, 3, 1)
    assert state(date(2024, 3, 1), period=date(2024, 3, 1), certifications=[cert]) == "regular"
    # and it holds through 2025-03-01
    assert state(date(2025, 3, 1), period=date(2025, 3, 1), certifications=[cert]) == "regular"
    assert state(date(2025, 4, 1), period=date(2025, 4, 1), certifications=[cert]) == "suspended"


def test_back_pay_once_recertified() -> None:
    cert = date(2024, 4, 10)
    period, as_of = date(2024, 5, 1), date(2024, 5, 3)
    # March and April were suspended on their first days; certified again on 10 April: back pay
    assert state(date(2024, 3, 1), period=period, as_of=as_of, certifications=[cert]) == "back_pay"
    assert state(date(2024, 4, 1), period=period, as_of=as_of, certifications=[cert]) == "back_pay"
    # May: the new certification holds on 1 May
    assert state(date(2024, 5, 1), period=period, as_of=as_of, certifications=[cert]) == "regular"


def test_certification_on_the_next_first_day_turns_the_suspended_month_into_back_pay() -> None:
    cert = date(2024, 4, 1)
    period = date(2024, 4, 1)
    assert state(date(2024, 3, 1), period=period, as_of=date(2024, 4, 1), certifications=[cert]) == "back_pay"
    assert state(date(2024, 4, 1), period=period, as_of=date(2024, 4, 1), certifications=[cert]) == "regular"


def test_recertified_after_as_of_stays_suspended() -> None:
    cert = date(2024, 4, 10)
    assert state(
        date(2024, 3, 1), period=date(2024, 4, 1), as_of=date(2024, 4, 5), certifications=[cert]
    ) == ("suspended")
    # certified on the as_of day itself counts
    assert state(date(2024, 3, 1), period=date(2024, 4, 1), as_of=cert, certifications=[cert]) == "back_pay"


def test_recertified_within_the_period_month_after_its_first_day() -> None:
    """Suspended on 1 March, certified on 2 March, the March batch runs on 5 March: the month is paid, but
    labelled back pay because the rule judges each month on its first day (docstring of ``month_state``)."""
    cert = date(2024, 3, 2)
    assert state(
        date(2024, 3, 1), period=date(2024, 3, 1), as_of=date(2024, 3, 5), certifications=[cert]
    ) == ("back_pay")


def test_back_pay_for_unpaid_earlier_months() -> None:
    period = date(2023, 8, 1)
    for month in months_between(START, date(2023, 7, 1)):
        assert state(month, period=period) == "back_pay"
    assert state(period, period=period) == "regular"


def test_certification_before_the_baseline_is_ignored() -> None:
    assert state(date(2024, 3, 1), period=date(2024, 3, 1), certifications=[date(2023, 2, 1)]) == "suspended"


def test_after_death_for_months_after_death_month() -> None:
    death = date(2023, 10, 17)
    # the month of death itself is still payable
    assert state(date(2023, 10, 1), period=date(2023, 10, 1), death_date=death) == "regular"
    assert state(date(2023, 10, 1), period=date(2023, 12, 1), death_date=death) == "back_pay"
    assert state(date(2023, 9, 1), period=date(2023, 12, 1), death_date=death) == "back_pay"
    assert state(date(2023, 11, 1), period=date(2023, 11, 1), death_date=death) == "after_death"
    assert state(date(2023, 12, 1), period=date(2023, 12, 1), death_date=death) == "after_death"


def test_death_on_first_or_last_day_of_month() -> None:
    assert state(date(2023, 10, 1), period=date(2023, 10, 1), death_date=date(2023, 10, 1)) == "regular"
    assert state(date(2023, 11, 1), period=date(2023, 11, 1), death_date=date(2023, 10, 31)) == "after_death"
    assert state(date(2023, 12, 1), period=date(2023, 12, 1), death_date=date(2023, 12, 31)) == "regular"
    assert state(date(2024, 1, 1), period=date(2024, 1, 1), death_date=date(2023, 12, 31)) == "after_death"


def test_after_death_wins_over_suspended_and_waiting_wins_over_after_death() -> None:
    # long uncertified and dead: after the death month it is after_death, not suspended
    assert state(date(2024, 6, 1), period=date(2024, 6, 1), death_date=date(2024, 4, 2)) == "after_death"
    # the death month itself, uncertified: suspended
    assert state(date(2024, 4, 1), period=date(2024, 4, 1), death_date=date(2024, 4, 2)) == "suspended"
    # died before the pension started: months before the start are waiting
    assert state(date(2023, 2, 1), period=date(2023, 2, 1), death_date=date(2023, 1, 5)) == "waiting"
    assert state(date(2023, 3, 1), period=date(2023, 3, 1), death_date=date(2023, 1, 5)) == "after_death"


# ---------------------------------------------------------------------------------------------- money held


@pytest.mark.parametrize(
    ("credit", "paid", "balance"),
    [
        (1_900_000, [], 1_900_000),
        (1_900_000, [26_000, 26_000, 26_000], 1_822_000),
        (1_900_000, [26_000] * 73, 2_000),
        (1_900_000, [26_000] * 74, 0),  # never below zero
        (1_900_000, [1_900_000], 0),
        (0, [26_000], 0),
    ],
)
def test_account_balance(credit: int, paid: list[int], balance: int) -> None:
    assert account_balance(credit, paid) == balance


def test_account_balance_accepts_any_iterable() -> None:
    assert account_balance(100_000, (x for x in [10_000, 20_000])) == 70_000


@pytest.mark.parametrize(
    ("balance", "amount", "split"),
    [
        (1_900_000, 26_000, (26_000, 0)),
        (26_000, 26_000, (26_000, 0)),
        (2_000, 26_000, (2_000, 24_000)),  # the account runs out: the rest from the pool
        (0, 26_000, (0, 26_000)),
        (5_000, 0, (0, 0)),
    ],
)
def test_split_payout(balance: int, amount: int, split: tuple[int, int]) -> None:
    assert split_payout(balance, amount) == split


def test_monthly_payouts_draw_account_then_pool() -> None:
    credit, monthly = 1_900_000, 26_000
    paid: list[int] = []
    from_accounts: list[int] = []
    from_pool: list[int] = []
    for _ in range(80):
        a, p = split_payout(account_balance(credit, paid), monthly)
        assert a + p == monthly
        from_accounts.append(a)
        from_pool.append(p)
        paid.append(monthly)
    assert sum(from_accounts) == credit
    assert from_accounts[72] == monthly and from_pool[72] == 0
    assert (from_accounts[73], from_pool[73]) == (2_000, 24_000)
    assert all(a == 0 and p == monthly for a, p in zip(from_accounts[74:], from_pool[74:], strict=True))


def test_someone_born_after_the_announcement_was_not_registered_on_it() -> None:
    day = date(2023, 1, 10)
    assert registered_on(day, joined_on=None, left_on=None, born_on=date(2023, 1, 10))
    assert not registered_on(day, joined_on=None, left_on=None, born_on=date(2023, 1, 11))
