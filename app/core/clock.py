"""The one place that knows what time it is, so tests can pin "today"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utcnow() -> datetime:
    return _now()


def today_in_china() -> date:
    return utcnow().astimezone(CHINA_TZ).date()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Pin the clock (tests) or restore the real one (``None``)."""
    global _now
    _now = now or (lambda: datetime.now(UTC))


def format_date_cn(value: date | datetime | None) -> str:
    """``2023年5月20日`` (datetimes are shown in China Standard Time)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(CHINA_TZ).date()
    return f"{value.year}年{value.month}月{value.day}日"


def format_month_cn(value: date | None) -> str:
    """``2023年8月`` (a month: its first day)."""
    return "" if value is None else f"{value.year}年{value.month}月"


def format_datetime_cn(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"
