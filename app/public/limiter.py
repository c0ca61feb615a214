"""Attempts at the public lookup, limited per client address and per ID number (moving windows, `limits`).

A limited attempt is refused before the register is searched; its answer says when to try again. The per-number
key is the keyed hash of the number as parsed (or as typed, when it does not parse), so a number is never held in
memory or in a shared store in clear.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings


@dataclass(frozen=True, slots=True)
class Refusal:
    which: str  # "client" or "id_number"
    retry_after: int  # seconds

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        who = "本设备（网络地址）" if self.which == "client" else "该身份证号"
        return f"{who}查询次数过多，为保护个人信息，请 {minutes} 分钟后再试。"


class LookupLimiter:
    def __init__(self, per_client: str, per_id: str, storage_uri: str = "memory://") -> None:
        self._storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._per_client: RateLimitItem = parse(per_client)
        self._per_id: RateLimitItem = parse(per_id)

    @classmethod
    def from_settings(cls, settings: Settings) -> LookupLimiter:
        return cls(
            settings.public_query_limit_per_client,
            settings.public_query_limit_per_id,
            settings.public_query_limit_storage,
        )

    def attempt(self, client: str, id_key: bytes) -> Refusal | None:
        """Count one attempt; a Refusal when the client or the number has used up its window."""
        for which, item, key in (
            ("client", self._per_client, client),
            ("id_number", self._per_id, id_key.hex()),
        ):
            if not self._limiter.hit(item, "public-query", which, key):
                reset = self._limiter.get_window_stats(item, "public-query", which, key).reset_time
                return Refusal(which, max(1, math.ceil(reset - time.time())))
        return None

    def reset(self) -> None:
        self._storage.reset()
