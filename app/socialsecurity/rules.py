"""Land-loss social security (被征地农民社会保障) as pure functions: domain.md, "Land-loss social security".

Money is integer fen; land is ``Decimal`` mu compared exactly (no floating point); a month is the ``date`` of its
first day. Nothing here reads a clock or a database: "today" and every fact come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

REASONS: dict[str, str] = {
    "not_registered": "公告日不是本村在册家庭成员",
    "under_min_age": "公告日未满参保年龄",
    "land_above_threshold": "征地后人均剩余承包地超过标准",
    "duplicate_enrollment": "已在其他征地批次参保",
}
CERTIFICATION_METHODS: dict[str, str] = {
    "in_person": "现场认证",
    "video": "视频认证",
    "home_visit": "上门认证",
    "data_match": "数据比对",
}
MONTH_STATES: dict[str, str] = {
    "waiting": "未到领取年龄",
    "regular": "应发",
    "back_pay": "补发",
    "suspended": "暂停发放",
    "after_death": "死亡后停发",
}
# Proof of life (资格认证) holds for this many months (domain.md, "Keeping pensions right").
CERTIFICATION_VALID_MONTHS = 12


# ---------------------------------------------------------------------------------------------- dates


def month_of(day: date) -> date:
    """The month a day falls in, as the first day of that month."""
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; a day the target month lacks becomes its last day (1 Mar → 31 Mar ok,
    31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last`` inclusive (both months given as first days)."""
    out: list[date] = []
    current = month_of(first)
    while current <= last:
        out.append(current)
        current = add_months(current, 1)
    return out


def format_month(month: date) -> str:
    """``2023-08`` (the API form)."""
    return f"{month.year:04d}-{month.month:02d}"


def parse_month(text: str) -> date:
    """``"2023-08"`` → ``date(2023, 8, 1)``; anything else raises ``ValueError`` with a Chinese message."""
    parts = text.strip().split("-")
    if (
        len(parts) != 2
        or len(parts[0]) != 4
        or len(parts[1]) != 2
        or not all(p.isascii() and p.isdigit() for p in parts)
    ):
        raise ValueError(f"年月格式应为 YYYY-MM，如 2023-08：{text}")
    year, month = int(parts[0]), int(parts[1])
    if not 1900 <= year <= 2200 or not 1 <= month <= 12:
        raise ValueError(f"不存在的年月：{text}")
    return date(year, month, 1)


def age_on(birth_date: date, day: date) -> int:
    """Full years of age (周岁) on ``day``: the birthday itself counts (16 on the 16th birthday).

    Someone born on 29 February comes of age on 1 March in a common year.
    """
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def birthday_at(birth_date: date, age: int) -> date:
    """The day the person turns ``age`` (29 February → 1 March in a common year, consistent with ``age_on``)."""
    try:
        return birth_date.replace(year=birth_date.year + age)
    except ValueError:
        return date(birth_date.year + age, 3, 1)


# ---------------------------------------------------------------------------------------------- eligibility


@dataclass(frozen=True, slots=True)
class BatchParams:
    """A land acquisition batch's parameters (征地批次参数)."""

    announcement_date: date  # 补偿安置公告日
    approved_on: date  # 批准日
    per_capita_land_threshold_mu: Decimal  # 人均剩余承包地标准（亩）
    min_age: int
    pension_age: int
    fee_standard: int  # 社会保障费标准，分/人
    monthly_pension: int  # 月养老金，分


@dataclass(frozen=True, slots=True)
class HouseholdLand:
    """A household's land in the batch; ``members`` counts its registered members on the announcement date."""

    contracted_mu: Decimal
    acquired_mu: Decimal
    members: int


@dataclass(frozen=True, slots=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]
    age_on_announcement: int


def land_within_threshold(land: HouseholdLand, threshold_mu: Decimal) -> bool:
    """(contracted − acquired) / members ≤ threshold, decided exactly: multiply instead of dividing."""
    if land.members <= 0:
        return False
    remaining = max(land.contracted_mu - land.acquired_mu, Decimal(0))
    return remaining <= threshold_mu * land.members


def eligibility(
    params: BatchParams,
    *,
    birth_date: date,
    registered_on_announcement: bool,
    land: HouseholdLand,
    other_enrollment: bool,
) -> Eligibility:
    """Whether a person is a land-loss farmer of this batch (身份认定), with every reason that fails."""
    age = age_on(birth_date, params.announcement_date)
    reasons: list[str] = []
    if not registered_on_announcement:
        reasons.append("not_registered")
    if age < params.min_age:
        reasons.append("under_min_age")
    if not land_within_threshold(land, params.per_capita_land_threshold_mu):
        reasons.append("land_above_threshold")
    if other_enrollment:
        reasons.append("duplicate_enrollment")
    return Eligibility(not reasons, tuple(reasons), age)


def registered_on(
    day: date, *, joined_on: date | None, left_on: date | None, born_on: date | None = None
) -> bool:
    """A member counts as registered on ``day`` when they were born and joined on or before it and had not left by
    it (``joined_on`` unknown: registered since before the registry was kept)."""
    if born_on is not None and born_on > day:
        return False
    return (joined_on is None or joined_on <= day) and (left_on is None or left_on > day)


# ---------------------------------------------------------------------------------------------- enrollment


def account_credit(fee_standard: int, old_lump_sum: int) -> int:
    """个人账户记入额: the fee standard less the old-policy lump sum, never below zero (新老衔接)."""
    return max(fee_standard - old_lump_sum, 0)


def pension_start_month(
    params: BatchParams, birth_date: date, old_monthly_paid_through: date | None = None
) -> date:
    """The later of: the month after approval, the month after the pension-age birthday, and the month after
    the last month an old-policy subsidy paid (so no month is paid twice)."""
    candidates = [
        add_months(month_of(params.approved_on), 1),
        add_months(month_of(birthday_at(birth_date, params.pension_age)), 1),
    ]
    if old_monthly_paid_through is not None:
        candidates.append(add_months(month_of(old_monthly_paid_through), 1))
    return max(candidates)


@dataclass(frozen=True, slots=True)
class Quote:
    eligibility: Eligibility
    account_credit: int
    monthly_pension: int
    pension_start_month: date


def quote(
    params: BatchParams,
    *,
    birth_date: date,
    registered_on_announcement: bool,
    land: HouseholdLand,
    other_enrollment: bool,
    old_lump_sum: int = 0,
    old_monthly_paid_through: date | None = None,
) -> Quote:
    """The trial calculation (试算) of one person in one batch."""
    result = eligibility(
        params,
        birth_date=birth_date,
        registered_on_announcement=registered_on_announcement,
        land=land,
        other_enrollment=other_enrollment,
    )
    return Quote(
        eligibility=result,
        account_credit=account_credit(params.fee_standard, old_lump_sum),
        monthly_pension=params.monthly_pension,
        pension_start_month=pension_start_month(params, birth_date, old_monthly_paid_through),
    )


# ---------------------------------------------------------------------------------------------- proof of life


def certification_baseline(enrolled_on: date, start_month: date) -> date:
    """Where the proof-of-life clock starts: at enrollment (done in person), or — for someone enrolled before
    pension age — when the pension starts, so nobody is suspended in their very first month for years of waiting."""
    return max(enrolled_on, start_month)


def certification_expires(last_certified_on: date) -> date:
    """The last day a certification holds; a pensioner not certified again by then is overdue."""
    return add_months(last_certified_on, CERTIFICATION_VALID_MONTHS)


def last_certification(baseline: date, certifications: Iterable[date], on_or_before: date) -> date:
    """The latest certification on or before a day; the baseline (``certification_baseline``) counts as the
    first."""
    latest = baseline
    for c in certifications:
        if latest < c <= on_or_before:
            latest = c
    return latest


def month_state(
    month: date,
    *,
    start_month: date,
    baseline: date,
    certifications: Sequence[date],
    death_date: date | None,
    period: date,
    as_of: date,
) -> str:
    """What a month is for a pensioner when the batch of ``period`` runs on ``as_of`` (see ``MONTH_STATES``).

    A month is suspended when, on its first day, the last certification is more than 12 months old; once the
    pensioner is certified again (a certification after that day, on or before ``as_of``) it becomes back pay.
    Months before ``period`` that were never paid are back pay too.
    """
    if month < start_month:
        return "waiting"
    if death_date is not None and month > month_of(death_date):
        return "after_death"
    last = last_certification(baseline, certifications, month)
    if certification_expires(last) >= month:
        return "regular" if month == period else "back_pay"
    if any(month < c <= as_of for c in certifications):
        return "back_pay"
    return "suspended"


def certification_due(baseline: date, certifications: Sequence[date], next_month: date) -> tuple[date, bool]:
    """(the day the current certification expires, whether it expires before the end of ``next_month``)."""
    last = last_certification(baseline, certifications, date.max)
    expires = certification_expires(last)
    return expires, expires < add_months(next_month, 1)


# ---------------------------------------------------------------------------------------------- money held


def account_balance(credit: int, paid_months_amounts: Iterable[int]) -> int:
    """个人账户余额: each payout draws on the individual account until it is empty, then on the pool."""
    return max(credit - sum(paid_months_amounts), 0)


def split_payout(balance_before: int, amount: int) -> tuple[int, int]:
    """(from the individual account, from the county pool 统筹) for one payout."""
    from_account = min(balance_before, amount)
    return from_account, amount - from_account


def month_index(start: date, month: date) -> int:
    """0 for the pension's first month, 1 for the next, …"""
    return (month.year - start.year) * 12 + month.month - start.month


def account_share(credit: int, monthly: int, start: date, month: date, amount: int) -> int:
    """What the individual account pays of the pension for ``month``; the pool (统筹) pays the rest.

    The account pays the pension months in month order from the pension start until the credit is used up
    ("each payout draws on the individual account until it is empty, then on the county pool"). Deciding by month
    rather than by payment date gives every month one fixed split, so a back-paid or re-issued month draws exactly
    what it would have drawn on time, and months paid without gaps draw ``min(credit, paid)`` as ``account_balance``
    says.
    """
    drawn_before = monthly * month_index(start, month)
    return max(0, min(amount, credit - drawn_before))


def account_left(credit: int, monthly: int, start: date, paid_months: Iterable[tuple[date, int]]) -> int:
    """The individual account's balance after the paid ``(month, amount)`` pairs."""
    return credit - sum(account_share(credit, monthly, start, m, a) for m, a in paid_months)
