"""The audit chain's hashing, as pure functions: each row's hash covers its content and the previous hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = bytes(32)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: bytes, content: dict[str, Any]) -> bytes:
    digest = hashlib.sha256()
    digest.update(prev_hash)
    digest.update(canonical_json(content).encode())
    return digest.digest()


def event_content(
    *,
    seq: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_username: str,
    actor_role: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    county_code: str | None,
    household_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    request_id: str | None,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_username": actor_username,
        "actor_role": actor_role,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "county_code": county_code,
        "household_id": household_id,
        "before": before,
        "after": after,
        "request_id": request_id,
    }


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChainRow:
    seq: int
    prev_hash: bytes
    hash: bytes
    content: dict[str, Any]


def first_break(
    rows: Iterable[ChainRow], *, expected_prev: bytes = GENESIS_HASH, expected_seq: int = 1
) -> tuple[ChainBreak | None, bytes, int]:
    """Walk rows in ``seq`` order; return the first break (or None), the last hash and the next seq expected."""
    prev, next_seq = expected_prev, expected_seq
    for row in rows:
        if row.seq != next_seq:
            return (
                ChainBreak(next_seq, f"缺少第 {next_seq} 条记录（下一条是第 {row.seq} 条）"),
                prev,
                next_seq,
            )
        if row.prev_hash != prev:
            return ChainBreak(row.seq, "与上一条记录的链接不符（上一条被改动或删除）"), prev, next_seq
        if event_hash(row.prev_hash, row.content) != row.hash:
            return ChainBreak(row.seq, "记录内容与其哈希不符（本条被改动）"), prev, next_seq
        prev, next_seq = row.hash, row.seq + 1
    return None, prev, next_seq
