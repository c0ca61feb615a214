"""Writing and checking the audit trail (操作记录).

``record`` is called by every service in the same transaction as the change it describes. Appends are
serialised with a transaction-scoped advisory lock, so the chain has no forks however many requests commit at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Select, String, and_, cast, column, func, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.rules import GENESIS_HASH, ChainBreak, ChainRow, event_content, event_hash, first_break
from app.auth.policy import Perm, Principal, require
from app.core.clock import utcnow
from app.core.context import request_id_var

_CHAIN_LOCK_KEY = 0x616E7A68  # "anzh": one chain per database


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What JSONB will give back (dates as strings, tuples as lists), so the stored row hashes the same."""
    return None if value is None else json.loads(json.dumps(value, ensure_ascii=False, default=str))


async def record(
    session: AsyncSession,
    actor: Principal,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    household_id: int | None = None,
    county_code: str | None = None,
) -> AuditEvent:
    """Append one event. Never pass a clear ID number or bank account in ``before``/``after``: mask it."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    tail = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (tail[0] + 1, tail[1]) if tail else (1, GENESIS_HASH)
    occurred_at = utcnow()
    content = event_content(
        seq=seq,
        occurred_at=occurred_at,
        actor_id=actor.user_id,
        actor_username=actor.username,
        actor_role=actor.role,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        county_code=county_code or (actor.county_code if actor.user_id else None),
        household_id=household_id,
        before=_plain(before),
        after=_plain(after),
        request_id=request_id_var.get(),
    )
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor_id=content["actor_id"],
        actor_username=content["actor_username"],
        actor_role=content["actor_role"],
        action=action,
        entity_type=entity_type,
        entity_id=content["entity_id"],
        county_code=content["county_code"],
        household_id=household_id,
        before=content["before"],
        after=content["after"],
        request_id=content["request_id"],
        prev_hash=prev,
        hash=event_hash(prev, content),
    )
    session.add(event)
    await session.flush()
    return event


def row_content(event: AuditEvent) -> dict[str, Any]:
    return event_content(
        seq=event.seq,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        actor_username=event.actor_username,
        actor_role=event.actor_role,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        county_code=event.county_code,
        household_id=event.household_id,
        before=event.before,
        after=event.after,
        request_id=event.request_id,
    )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    intact: bool
    checked: int
    first_break: ChainBreak | None
    last_seq: int

    @property
    def message(self) -> str:
        if self.first_break is None:
            return f"审计链完整：已校验 {self.checked} 条记录"
        return f"审计链在第 {self.first_break.seq} 条记录处断开：{self.first_break.reason}"


async def _stream_rows(session: AsyncSession, chunk: int) -> AsyncIterator[list[ChainRow]]:
    after = 0
    while True:
        events = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(chunk)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not events:
            return
        yield [ChainRow(e.seq, e.prev_hash, e.hash, row_content(e)) for e in events]
        after = events[-1].seq
        session.expunge_all()


async def verify_chain(session: AsyncSession, *, chunk: int = 5000) -> VerifyResult:
    """Recompute every hash in ``seq`` order and report the first broken link."""
    prev, next_seq, checked = GENESIS_HASH, 1, 0
    async for rows in _stream_rows(session, chunk):
        broken, prev, next_seq = first_break(rows, expected_prev=prev, expected_seq=next_seq)
        if broken is not None:
            return VerifyResult(False, checked + (broken.seq - rows[0].seq), broken, next_seq - 1)
        checked += len(rows)
    return VerifyResult(True, checked, None, next_seq - 1)


async def verify_for(session: AsyncSession, actor: Principal) -> VerifyResult:
    require(actor, Perm.AUDIT_READ)
    result = await verify_chain(session)
    await record(
        session,
        actor,
        "audit.verify",
        "audit_chain",
        after={"intact": result.intact, "checked": result.checked},
    )
    return result


@dataclass(frozen=True, slots=True)
class EventFilter:
    household_id: int | None = None
    actor_username: str | None = None
    action: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


def _filtered(f: EventFilter) -> Select[AuditEvent]:
    stmt = select(AuditEvent)
    if f.household_id is not None:
        stmt = stmt.where(AuditEvent.household_id == f.household_id)
    if f.actor_username:
        stmt = stmt.where(AuditEvent.actor_username == f.actor_username)
    if f.action:
        stmt = stmt.where(AuditEvent.action.startswith(f.action, autoescape=True))
    if f.date_from:
        stmt = stmt.where(AuditEvent.occurred_at >= f.date_from)
    if f.date_to:
        stmt = stmt.where(AuditEvent.occurred_at < f.date_to)
    return stmt


async def search_events(
    session: AsyncSession, actor: Principal, f: EventFilter, *, page: int = 1, page_size: int = 50
) -> tuple[Sequence[AuditEvent], int]:
    require(actor, Perm.AUDIT_READ)
    # An auditor's scope is their county (domain.md); events without a county are not theirs to read.
    stmt = _filtered(f).where(AuditEvent.county_code == actor.county_code)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = (
        await session.scalars(
            stmt.order_by(AuditEvent.seq.desc()).offset((page - 1) * page_size).limit(page_size)
        )
    ).all()
    return rows, total


# agreements.models.NoticeEntry, named here so that the audit module does not depend on the agreements one
_NOTICE_ENTRIES = table("notice_entries", column("notice_id", BigInteger), column("household_id", BigInteger))


async def household_history(
    session: AsyncSession, household_id: int, *, limit: int = 200
) -> Sequence[AuditEvent]:
    """A household's own history, with the public notices it was listed on (one event per notice, for the whole
    village); the caller must already have been authorised to read the household."""
    noticed = select(cast(_NOTICE_ENTRIES.c.notice_id, String)).where(
        _NOTICE_ENTRIES.c.household_id == household_id
    )
    return (
        await session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    AuditEvent.household_id == household_id,
                    and_(AuditEvent.entity_type == "public_notice", AuditEvent.entity_id.in_(noticed)),
                )
            )
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
    ).all()
