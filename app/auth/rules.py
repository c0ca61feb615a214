"""Login throttling, as pure functions of the failure count and the clock.

After ``slow_after`` consecutive failures each further attempt must wait, doubling from 2 s up to a minute; after
``lock_after`` failures the username is locked for ``lock_minutes``. A success clears the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_DELAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    slow_after: int = 3
    lock_after: int = 10
    lock_minutes: int = 15


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int
    last_failed_at: datetime | None
    locked_until: datetime | None


def delay_after(failures: int, policy: ThrottlePolicy) -> int:
    """Seconds a caller must wait after ``failures`` consecutive failures (0 = no wait)."""
    if failures < policy.slow_after:
        return 0
    return int(min(MAX_DELAY_SECONDS, 2 ** (failures - policy.slow_after + 1)))


def wait_seconds(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> int:
    """How long before another attempt is accepted (0 = now)."""
    if state.locked_until is not None and now < state.locked_until:
        return max(1, int((state.locked_until - now).total_seconds() + 0.999))
    if state.last_failed_at is None:
        return 0
    ready = state.last_failed_at + timedelta(seconds=delay_after(state.failures, policy))
    return max(0, int((ready - now).total_seconds() + 0.999)) if now < ready else 0


def after_failure(state: ThrottleState, now: datetime, policy: ThrottlePolicy) -> ThrottleState:
    failures = state.failures + 1
    locked = state.locked_until
    if failures >= policy.lock_after:
        locked = now + timedelta(minutes=policy.lock_minutes)
        failures = 0  # a new series starts after the lock
    return ThrottleState(failures=failures, last_failed_at=now, locked_until=locked)


def wait_message(seconds: int) -> str:
    if seconds >= 60:
        return f"登录失败次数过多，账号已暂时锁定，请 {(seconds + 59) // 60} 分钟后再试"
    return f"登录失败次数较多，请 {seconds} 秒后再试"
