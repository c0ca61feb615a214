"""工作进度: what the stages are, how they add up, which weeks a chart shows. Pure functions, no I/O; "today" is
passed in.

The stages follow a household through the process of domain.md ("Typical process") and the 下一步 hint
(``app.households.progress``): 登记 → 调查登记 → 补偿核算 → 公示 → 签约 → 腾房交付 → 结案. A household is counted
at the furthest stage it has reached; "reached" counts (户 and 人 that got at least this far: the figure the
county reports, "309 户 / 1,168 人 moved") are sums over that stage and every later one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

# (code, label on pages and PDFs, what it means: the furthest fact recorded for the household)
STAGES: tuple[tuple[str, str, str], ...] = (
    ("registered", "已登记", "户籍已登记（全部被征收户）"),
    ("surveyed", "已调查登记", "房屋调查已登记"),
    ("assessed", "已核算", "补偿核算已批准"),
    ("noticed", "已公示", "已批准的核算已列入公示"),
    ("signed", "已签约", "征收补偿安置协议书已签订"),
    ("vacated", "已腾房交付", "已登记腾房交付验收"),
    ("settled", "已结案", "补偿款已全部支付到账（户主应补差价的已收取），选安置房的已分配安置房"),
)
STAGE_CODES: tuple[str, ...] = tuple(code for code, _label, _meaning in STAGES)
STAGE_LABELS: dict[str, str] = {code: label for code, label, _meaning in STAGES}

WEEKS_SHOWN = 12  # the weekly chart: this many weeks up to and including the current one


@dataclass(frozen=True, slots=True)
class Headcount:
    households: int = 0
    people: int = 0

    def __add__(self, other: Headcount) -> Headcount:
        return Headcount(self.households + other.households, self.people + other.people)


@dataclass(frozen=True, slots=True)
class StageRow:
    code: str
    label: str
    meaning: str
    reached: Headcount  # got at least this far
    current: Headcount  # this far and no further


def stage_rows(at_stage: Mapping[int, Headcount]) -> list[StageRow]:
    """One row per stage, in order, from the headcounts keyed by stage index (the furthest reached)."""
    unknown = set(at_stage) - set(range(len(STAGES)))
    if unknown:
        raise ValueError(f"unknown stage index {sorted(unknown)}")
    rows: list[StageRow] = []
    reached = Headcount()
    for i in reversed(range(len(STAGES))):
        current = at_stage.get(i, Headcount())
        reached = reached + current
        code, label, meaning = STAGES[i]
        rows.append(StageRow(code, label, meaning, reached, current))
    rows.reverse()
    return rows


def week_start(day: date) -> date:
    """The Monday of ``day``'s week (weeks run Monday to Sunday, as the county's weekly reports do)."""
    return day - timedelta(days=day.weekday())


def week_starts(today: date, weeks: int = WEEKS_SHOWN) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, oldest first, ending with the current week."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    this_week = week_start(today)
    return [this_week - timedelta(weeks=n) for n in reversed(range(weeks))]


@dataclass(frozen=True, slots=True)
class WeekCount:
    start: date  # Monday
    count: int

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)


def weekly_counts(
    per_day: Iterable[tuple[date, int]], today: date, weeks: int = WEEKS_SHOWN
) -> list[WeekCount]:
    """Counts per day summed into the last ``weeks`` weeks (days outside them, or after today, are ignored);
    weeks with nothing are shown as 0."""
    starts = week_starts(today, weeks)
    totals = dict.fromkeys(starts, 0)
    for day, n in per_day:
        monday = week_start(day)
        if monday in totals and day <= today:
            totals[monday] += n
    return [WeekCount(s, totals[s]) for s in starts]


def month_start(today: date) -> date:
    return today.replace(day=1)


@dataclass(frozen=True, slots=True)
class MoneyStatus:
    """Compensation owed under signed agreements (fen): what the bank has paid, what is due and not yet paid
    (including money with the bank), and what waits for its payment condition (腾房交付验收, 购房合同)."""

    committed: int
    paid: int
    due: int
    awaiting: int
    # 安置房差价: what households whose flats cost more than their compensation owe, and what finance has received
    difference_owed: int = 0
    difference_received: int = 0

    @property
    def outstanding(self) -> int:
        return self.committed - self.paid

    @property
    def difference_outstanding(self) -> int:
        return self.difference_owed - self.difference_received

    @property
    def consistent(self) -> bool:
        return self.paid + self.due + self.awaiting == self.committed


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage with one decimal (``"37.5%"``); ``"—"`` when the whole is 0."""
    if whole <= 0:
        return "—"
    tenths = (part * 1000 * 2 + whole) // (whole * 2)  # half-up to 0.1%
    return f"{tenths // 10}.{tenths % 10}%"


def count_text(n: int) -> str:
    """A count as pages print it: ``1168`` → ``"1,168"``."""
    return f"{n:,}"
