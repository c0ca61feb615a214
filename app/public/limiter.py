"""Attempts at the public lookup, limited per client address and per ID number, over moving windows.

A limited attempt is refused before the register is searched; its answer says when to try again. The per-number
key is the keyed hash of the number as parsed (or as typed, when it does not parse), so a number is never held in
memory or in a shared store in clear.

The limits are written in the notation of the `limits` library ("30 per 10 minutes"). One process (the default,
``memory://``) keeps its windows in the event loop's own memory, pruned as they are read and swept now and then:
`limits`' own in-memory storage starts a thread every 10 ms to expire entries, which took the GIL from the very
requests it limits (bench/bench_public_query.py). Several processes share a store through `limits` (``redis://…``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings

SWEEP_EVERY = 4096  # attempts between sweeps of windows that have emptied


@dataclass(frozen=True, slots=True)
class Refusal:
    which: str  # "client" or "id_number"
    retry_after: int  # seconds

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        who = "本设备（网络地址）" if self.which == "client" else "该身份证号"
        return f"{who}查询次数过多，为保护个人信息，请 {minutes} 分钟后再试。"


class _LocalWindows:
    """Moving windows in this process: per key, the times of the attempts still inside its window."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, deque[float]]] = {}
        self._attempts = 0

    def hit(self, key: str, amount: int, seconds: float, now: float) -> float | None:
        """Count an attempt at ``now``; None when allowed, else the seconds until one is allowed again."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = (seconds, deque())
        times = window[1]
        while times and times[0] <= now - seconds:
            times.popleft()
        if len(times) >= amount:
            return times[0] + seconds - now
        times.append(now)
        self._attempts += 1
        if self._attempts % SWEEP_EVERY == 0:
            self._sweep(now)
        return None

    def _sweep(self, now: float) -> None:
        stale = [
            k for k, (seconds, times) in self._windows.items() if not times or times[-1] <= now - seconds
        ]
        for key in stale:
            del self._windows[key]

    def __len__(self) -> int:
        return len(self._windows)

    def clear(self) -> None:
        self._windows.clear()


class LookupLimiter:
    def __init__(
        self, per_client: str, per_id: str, storage_uri: str = "memory://", *, shared: bool | None = None
    ) -> None:
        self._items: tuple[tuple[str, RateLimitItem], ...] = (
            ("client", parse(per_client)),
            ("id_number", parse(per_id)),
        )
        # shared: through a `limits` storage (any URI but memory://, or asked for, as the tests do)
        self._shared = storage_uri != "memory://" if shared is None else shared
        self._local = _LocalWindows()
        self._storage = storage_from_string(storage_uri) if self._shared else None
        self._limiter = MovingWindowRateLimiter(self._storage) if self._storage is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> LookupLimiter:
        return cls(
            settings.public_query_limit_per_client,
            settings.public_query_limit_per_id,
            settings.public_query_limit_storage,
        )

    def attempt(self, client: str, id_key: bytes) -> Refusal | None:
        """Count one attempt; a Refusal when the client or the number has used up its window."""
        keys = {"client": client, "id_number": id_key.hex()}
        now = time.time()
        for which, item in self._items:
            if self._limiter is None:
                wait = self._local.hit(f"{which}:{keys[which]}", item.amount, item.get_expiry(), now)
            elif self._limiter.hit(item, "public-query", which, keys[which]):
                wait = None
            else:
                wait = (
                    self._limiter.get_window_stats(item, "public-query", which, keys[which]).reset_time - now
                )
            if wait is not None:
                return Refusal(which, max(1, math.ceil(wait)))
        return None

    def reset(self) -> None:
        self._local.clear()
        if self._storage is not None:
            self._storage.reset()
