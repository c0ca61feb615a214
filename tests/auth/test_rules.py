"""Login throttling as a pure function of the failure count and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.auth.rules import (
    ThrottlePolicy,
    ThrottleState,
    after_failure,
    delay_after,
    wait_message,
    wait_seconds,
)

POLICY = ThrottlePolicy(slow_after=3, lock_after=10, lock_minutes=15)
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_first_failures_cost_nothing_then_delays_double() -> None:
    assert [delay_after(n, POLICY) for n in range(0, 10)] == [0, 0, 0, 2, 4, 8, 16, 32, 60, 60]


def test_waiting_out_the_delay() -> None:
    state = ThrottleState(failures=0, last_failed_at=None, locked_until=None)
    for _ in range(3):
        state = after_failure(state, T0, POLICY)
    assert state.failures == 3
    assert wait_seconds(state, T0, POLICY) == 2
    assert wait_seconds(state, T0 + timedelta(seconds=1), POLICY) == 1
    assert wait_seconds(state, T0 + timedelta(seconds=2), POLICY) == 0


def test_lock_after_too_many_failures() -> None:
    state = ThrottleState(failures=9, last_failed_at=T0, locked_until=None)
    locked = after_failure(state, T0, POLICY)
    assert locked.locked_until == T0 + timedelta(minutes=15)
    assert wait_seconds(locked, T0 + timedelta(minutes=5), POLICY) == 600
    assert wait_seconds(locked, T0 + timedelta(minutes=15), POLICY) == 0
    assert "10 分钟后再试" in wait_message(600)
    assert wait_message(8) == "登录失败次数较多，请 8 秒后再试"
