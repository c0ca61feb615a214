"""Payment batches: generate (set-based), approve, export the bank file, import bank results, reconcile, resolve
exceptions, close — and post every money movement to the ledger (domain.md, "Payments, bank files,
reconciliation").

A pension batch claims the months due for its period and scope in the month register and writes one line per
pensioner, in chunks of enrollments, all in the caller's one transaction: a killed process leaves nothing. Bank
results are appended as outcome rows, one per line (its primary key), so a line resolves exactly once; a line's
status is derived from its outcome, never updated.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from app.areas.models import Area
from app.audit import service as audit
from app.auth.policy import SYSTEM, Perm, Principal, authorize, require
from app.config import get_settings
from app.core.clock import CHINA_TZ, format_month_cn, today_in_china, utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.money import fen_to_yuan, format_yuan
from app.core.text import like_fragment, like_prefix
from app.households.service import id_cipher
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger.rules import Entry
from app.payments import bankfiles, reports, rules
from app.payments.models import (
    BATCH_KINDS,
    BATCH_STATUSES,
    EXCEPTION_PROBLEMS,
    EXCEPTION_RESOLUTIONS,
    TRANCHE_KINDS,
    BankException,
    BankExport,
    LineOutcome,
    PaymentBatch,
    PaymentLine,
    ResultImport,
)
from app.socialsecurity import rules as ss_rules
from app.socialsecurity import service as social

Progress = Callable[[int, int], Awaitable[None]]
CHUNK_ENROLLMENTS = 100_000
# work_mem for the transactions that write a batch or import its result (a million rows): their sorts and hash
# tables stay in memory instead of spilling to disk (PostgreSQL's default is 4 MB).
BULK_WORK_MEM = "256MB"

STATUS_REFUSALS = {
    "approve": "只有待审核的批次可以审核",
    "export": "批次审核通过后才能导出代发文件",
    "import": "导出代发文件后才能导入回盘文件",
    "close": "对账完成（每笔都有结果且差错已处理）后才能关闭批次",
    "training": "导出代发文件后、尚有待银行确认的明细时才能生成模拟回盘",
    "discard": "只有待审核的草稿批次可以作废；审核通过后不能作废",
}


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch: PaymentBatch
    scope_name: str
    pending: int
    paid: int
    failed: int
    paid_total: int
    failed_total: int
    open_exceptions: int
    reissued: int
    exceptions: int  # all of the batch's, resolved or not

    @property
    def status_label(self) -> str:
        return BATCH_STATUSES[self.batch.status]

    @property
    def kind_label(self) -> str:
        return BATCH_KINDS[self.batch.kind]

    @property
    def pending_total(self) -> int:
        return self.batch.total - self.paid_total - self.failed_total


async def villages_of(session: AsyncSession, paths: Sequence[str]) -> dict[str, Area]:
    """The village each area path lies in (a household may sit in a villagers' group under its village)."""
    prefixes: set[str] = set()
    for path in paths:
        parts = path.strip("/").split("/")
        prefixes.update("/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
    if not prefixes:
        return {}
    villages = (
        await session.scalars(select(Area).where(Area.level == "village", Area.path.in_(prefixes)))
    ).all()
    out: dict[str, Area] = {}
    for path in paths:
        for v in villages:
            if path.startswith(v.path):
                out[path] = v
                break
    return out


def _in_county(principal: Principal, batch: PaymentBatch) -> bool:
    return principal is SYSTEM or batch.county_code == principal.county_code


async def get_batch(session: AsyncSession, principal: Principal, batch_id: int) -> PaymentBatch:
    require(principal, Perm.LEDGER_READ)
    batch = await session.get(PaymentBatch, batch_id)
    if batch is None or not _in_county(principal, batch):
        raise NotFound("找不到该发放批次")
    return batch


async def _summaries(session: AsyncSession, batches: Sequence[PaymentBatch]) -> list[BatchSummary]:
    if not batches:
        return []
    ids = [b.id for b in batches]
    rows = {
        r.batch_id: r
        for r in await session.execute(
            text(
                """
                SELECT l.batch_id,
                       count(*) FILTER (WHERE o.line_id IS NULL) AS pending,
                       count(*) FILTER (WHERE o.paid) AS paid,
                       count(*) FILTER (WHERE NOT o.paid) AS failed,
                       coalesce(sum(l.amount) FILTER (WHERE o.paid), 0) AS paid_total,
                       coalesce(sum(l.amount) FILTER (WHERE NOT o.paid), 0) AS failed_total,
                       count(*) FILTER (WHERE l.reissue_of IS NOT NULL) AS reissued
                FROM payment_lines l LEFT JOIN line_outcomes o ON o.line_id = l.id
                WHERE l.batch_id = ANY(:ids) GROUP BY l.batch_id
                """
            ),
            {"ids": ids},
        )
    }
    exc = {
        r.batch_id: r
        for r in await session.execute(
            text(
                "SELECT batch_id, count(*) FILTER (WHERE resolution IS NULL) AS open, count(*) AS all "
                "FROM bank_exceptions WHERE batch_id = ANY(:ids) GROUP BY batch_id"
            ),
            {"ids": ids},
        )
    }
    names = dict(
        (
            await session.execute(
                select(Area.id, Area.name).where(Area.id.in_({b.scope_area_id for b in batches}))
            )
        ).all()
    )
    out = []
    for b in batches:
        r, e = rows.get(b.id), exc.get(b.id)
        out.append(
            BatchSummary(
                b,
                names.get(b.scope_area_id, ""),
                int(r.pending) if r else 0,
                int(r.paid) if r else 0,
                int(r.failed) if r else 0,
                int(r.paid_total) if r else 0,
                int(r.failed_total) if r else 0,
                int(e.open) if e else 0,
                int(r.reissued) if r else 0,
                int(e.all) if e else 0,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class BatchFilter:
    """Which batches a list shows: of a kind, in a status, of a year's periods (None: any)."""

    kind: str | None = None
    status: str | None = None
    year: int | None = None

    def where(self, principal: Principal) -> list[Any]:
        found: list[Any] = []
        if principal is not SYSTEM:
            found.append(PaymentBatch.county_code == principal.county_code)
        if self.kind is not None:
            found.append(PaymentBatch.kind == self.kind)
        if self.status is not None:
            found.append(PaymentBatch.status == self.status)
        if self.year is not None:
            found.append(PaymentBatch.period >= date(self.year, 1, 1))
            found.append(PaymentBatch.period < date(self.year + 1, 1, 1))
        return found


async def list_batches(
    session: AsyncSession,
    principal: Principal,
    which: BatchFilter | None = None,
    *,
    offset: int = 0,
    limit: int = 200,
) -> list[BatchSummary]:
    """The county's batches (``which`` of them), the latest period first, ``limit`` from ``offset``."""
    require(principal, Perm.LEDGER_READ)
    query = (
        select(PaymentBatch)
        .where(*(which or BatchFilter()).where(principal))
        .order_by(PaymentBatch.period.desc(), PaymentBatch.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return await _summaries(session, (await session.scalars(query)).all())


async def count_batches(session: AsyncSession, principal: Principal, which: BatchFilter | None = None) -> int:
    require(principal, Perm.LEDGER_READ)
    query = select(func.count()).select_from(PaymentBatch).where(*(which or BatchFilter()).where(principal))
    return int(await session.scalar(query) or 0)


async def batch_years(session: AsyncSession, principal: Principal) -> list[int]:
    """The years the county has batches for, the latest first (the list's year filter)."""
    require(principal, Perm.LEDGER_READ)
    query = select(func.distinct(func.extract("year", PaymentBatch.period))).where(
        *BatchFilter().where(principal)
    )
    return sorted((int(y) for y in (await session.scalars(query)).all()), reverse=True)


async def batch_summary(session: AsyncSession, principal: Principal, batch_id: int) -> BatchSummary:
    batch = await get_batch(session, principal, batch_id)
    return (await _summaries(session, [batch]))[0]


@dataclass(frozen=True, slots=True)
class LineView:
    id: int
    seq: int
    reference: str
    village: str
    name: str
    id_masked: str
    account_masked: str
    months: list[date] | None
    amount: int
    account_part: int | None
    pool_part: int | None
    status: str
    reason: str
    reissue_of: int | None
    resolved_on: date | None
    tranche_kind: str | None = None
    enrollment_id: int | None = None
    household_id: int | None = None

    @property
    def status_label(self) -> str:
        from app.payments.models import LINE_STATUSES

        return LINE_STATUSES[self.status]

    @property
    def months_text(self) -> str:
        """The months a pension line pays, or what a compensation line pays for."""
        if self.tranche_kind is not None:
            return TRANCHE_KINDS[self.tranche_kind]
        return months_text(self.months)


def months_text(months: Sequence[date] | None) -> str:
    """``2026年10月`` or ``2026年3月至2026年9月（7个月）`` or ``2026年3月、2026年5月``."""
    if not months:
        return ""
    formatted = [format_month_cn(m) for m in months]
    if len(months) == 1:
        return formatted[0]
    contiguous = all(ss_rules.add_months(months[i - 1], 1) == months[i] for i in range(1, len(months)))
    if contiguous:
        return f"{formatted[0]}至{formatted[-1]}（{len(months)}个月）"
    return "、".join(formatted)


_LINES_SQL = """
SELECT l.id, l.seq, l.area_path, l.payee_name, l.id_masked, l.account_masked, l.months, l.amount,
       l.account_part, l.pool_part, l.reissue_of, o.paid, o.reason, o.resolved_on, t.kind AS tranche_kind,
       l.enrollment_id, t.household_id
FROM payment_lines l
LEFT JOIN line_outcomes o ON o.line_id = l.id
LEFT JOIN compensation_tranches t ON t.id = l.tranche_id
LEFT JOIN areas a ON a.path = l.area_path
WHERE l.batch_id = :batch
  AND (CAST(:status AS varchar) IS NULL
       OR (CAST(:status AS varchar) = 'pending' AND o.line_id IS NULL)
       OR (CAST(:status AS varchar) = 'paid' AND o.paid)
       OR (CAST(:status AS varchar) = 'failed' AND NOT o.paid))
  AND (CAST(:village AS varchar) IS NULL OR l.area_path LIKE CAST(:village AS varchar))
  AND (CAST(:seq AS integer) IS NULL OR l.seq = CAST(:seq AS integer))
  AND (CAST(:name AS varchar) IS NULL OR l.payee_name LIKE CAST(:name AS varchar))
ORDER BY l.seq
"""
_COUNT_LINES_SQL = "SELECT count(*) FROM (" + _LINES_SQL.replace("ORDER BY l.seq", "") + ") x"  # noqa: S608


def line_search(batch_number: str, text_: str | None) -> tuple[int | None, str | None]:
    """What a search of a batch's lines names: its 业务参考号 or 序号 (→ the sequence number), or part of a payee's
    name (→ a LIKE pattern). ``(None, None)``: no search."""
    text_ = (text_ or "").strip()
    if not text_:
        return None, None
    prefix = batch_number + "-"
    digits = text_[len(prefix) :] if text_.upper().startswith(prefix.upper()) else text_
    if digits.isascii() and digits.isdigit() and len(digits) <= rules.SEQ_DIGITS:
        return int(digits), None
    return None, like_fragment(text_)


def _line_params(
    batch: PaymentBatch, status: str | None, village_path: str | None, search: str | None
) -> dict[str, Any]:
    seq, name = line_search(batch.number, search)
    return {
        "batch": batch.id,
        "status": status,
        "village": None if village_path is None else like_prefix(village_path),
        "seq": seq,
        "name": name,
    }


async def count_lines(
    session: AsyncSession,
    principal: Principal,
    batch_id: int,
    *,
    status: str | None = None,
    village_path: str | None = None,
    search: str | None = None,
) -> int:
    """How many of the batch's lines ``batch_lines`` lists with these filters (all pages)."""
    batch = await get_batch(session, principal, batch_id)
    params = _line_params(batch, status, village_path, search)
    return int(await session.scalar(text(_COUNT_LINES_SQL), params) or 0)


async def batch_lines(
    session: AsyncSession,
    principal: Principal,
    batch_id: int,
    *,
    status: str | None = None,
    village_path: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int | None = 200,
) -> list[LineView]:
    """The batch's lines in order, filtered by status, village and ``search`` (see :func:`line_search`)."""
    batch = await get_batch(session, principal, batch_id)
    sql = _LINES_SQL + (" LIMIT :limit OFFSET :offset" if limit is not None else "")
    params = _line_params(batch, status, village_path, search)
    rows = await session.execute(text(sql), {**params, "limit": limit, "offset": offset})
    found = rows.all()
    villages = await villages_of(session, list({r.area_path for r in found}))
    return [
        LineView(
            r.id,
            r.seq,
            rules.reference(batch.number, r.seq),
            villages[r.area_path].name if r.area_path in villages else "",
            r.payee_name,
            r.id_masked,
            r.account_masked,
            r.months,
            int(r.amount),
            r.account_part,
            r.pool_part,
            rules.line_status(r.paid),
            r.reason or "",
            r.reissue_of,
            r.resolved_on,
            r.tranche_kind,
            r.enrollment_id,
            r.household_id,
        )
        for r in found
    ]


@dataclass(frozen=True, slots=True)
class VillageTotal:
    path: str
    name: str
    lines: int
    amount: int
    paid: int
    failed: int


async def village_totals(session: AsyncSession, principal: Principal, batch_id: int) -> list[VillageTotal]:
    """Per village of the batch: lines, amount, paid, failed (``path`` is the village's area path)."""
    batch = await get_batch(session, principal, batch_id)
    rows = (
        await session.execute(
            text(
                """
                SELECT l.area_path, count(*) AS lines, sum(l.amount) AS amount,
                       coalesce(sum(l.amount) FILTER (WHERE o.paid), 0) AS paid,
                       coalesce(sum(l.amount) FILTER (WHERE NOT o.paid), 0) AS failed
                FROM payment_lines l LEFT JOIN line_outcomes o ON o.line_id = l.id
                WHERE l.batch_id = :batch GROUP BY l.area_path
                """
            ),
            {"batch": batch.id},
        )
    ).all()
    villages = await villages_of(session, [r.area_path for r in rows])
    merged: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for r in rows:
        village = villages.get(r.area_path)
        key = village.path if village else r.area_path
        names[key] = village.name if village else ""
        totals = merged.setdefault(key, [0, 0, 0, 0])
        for i, value in enumerate((r.lines, r.amount, r.paid, r.failed)):
            totals[i] += int(value)
    return [VillageTotal(path, names[path], *merged[path]) for path in sorted(merged)]


# ------------------------------------------------------------------------------------------------ generating


@dataclass(frozen=True, slots=True)
class Generated:
    batch: PaymentBatch
    created: bool
    lines: int
    amount: int
    months: int
    back_pay_months: int
    suspended: int
    reissued: int


# One chunk of enrollments: claim their months due (new ones, suspended ones certified again, months of failed
# lines whose passbook has been fixed, and months claimed earlier without a line) and write one line per person.
# The register's unique key and the lines' unique (person, period) keep anybody from being paid twice for a month.
_GENERATE_SQL = f"""
WITH {social.CLAIM_CTES},
failed AS (
    SELECT l.id AS line_id, l.enrollment_id, l.period
    FROM payment_lines l
    JOIN line_outcomes o ON o.line_id = l.id AND NOT o.paid
    JOIN passbooks pb ON pb.enrollment_id = l.enrollment_id
    WHERE l.enrollment_id IS NOT NULL AND l.county_code = CAST(:batch_county AS varchar)
      AND l.period < CAST(:period AS date) AND l.area_path LIKE CAST(:scope_like AS varchar)
      AND l.enrollment_id BETWEEN CAST(:id_from AS bigint) AND CAST(:id_to AS bigint)
      AND (CAST(:reissue_all AS boolean) OR pb.account_hash <> l.account_hash)
),
reissued AS (
    UPDATE pension_months pm SET period = CAST(:period AS date)
    FROM failed f, enrollments e
    WHERE pm.enrollment_id = f.enrollment_id AND pm.period = f.period AND pm.status = 'claimed'
      AND e.id = f.enrollment_id
      AND (e.death_date IS NULL OR pm.month <= date_trunc('month', e.death_date)::date)
    RETURNING pm.enrollment_id, pm.month, pm.amount, f.line_id
),
earlier AS (
    SELECT pm.enrollment_id, pm.month, pm.amount FROM pension_months pm
    WHERE pm.period = CAST(:period AS date) AND pm.status = 'claimed'
      AND pm.county_code = CAST(:batch_county AS varchar) AND pm.area_path LIKE CAST(:scope_like AS varchar)
      AND pm.enrollment_id BETWEEN CAST(:id_from AS bigint) AND CAST(:id_to AS bigint)
      AND EXISTS (SELECT 1 FROM passbooks pb WHERE pb.enrollment_id = pm.enrollment_id)
      AND NOT EXISTS (SELECT 1 FROM payment_lines l WHERE l.enrollment_id IS NOT NULL
                      AND l.county_code = pm.county_code AND l.person_hash = pm.person_hash
                      AND l.period = pm.period)
),
claimed AS (
    SELECT enrollment_id, month, amount, NULL::bigint AS reissue_of FROM fresh WHERE status = 'claimed'
    UNION ALL SELECT enrollment_id, month, amount, NULL FROM resumed
    UNION ALL SELECT enrollment_id, month, amount, line_id FROM reissued
    UNION ALL SELECT enrollment_id, month, amount, NULL FROM earlier
),
per_person AS (
    SELECT c.enrollment_id, array_agg(c.month ORDER BY c.month) AS months, sum(c.amount) AS amount,
           sum(GREATEST(0, LEAST(c.amount, e.account_credit - e.monthly_pension * (
               (extract(year FROM c.month) - extract(year FROM e.pension_start_month)) * 12
               + extract(month FROM c.month) - extract(month FROM e.pension_start_month))::bigint))) AS account_part,
           max(c.reissue_of) AS reissue_of
    FROM claimed c JOIN enrollments e ON e.id = c.enrollment_id
    GROUP BY c.enrollment_id
),
lines AS (
    INSERT INTO payment_lines (batch_id, seq, county_code, area_path, period, enrollment_id, person_hash, months,
                               payee_name, id_masked, account_enc, account_hash, account_masked, amount,
                               account_part, pool_part, reissue_of)
    SELECT CAST(:batch_id AS integer), CAST(:seq0 AS integer) + row_number() OVER (ORDER BY e.area_path, e.id),
           e.county_code, e.area_path, CAST(:period AS date), e.id, e.person_hash, p.months, e.name,
           e.id_number_masked, pb.account_enc, pb.account_hash, pb.account_masked, p.amount, p.account_part,
           p.amount - p.account_part, p.reissue_of
    FROM per_person p JOIN enrollments e ON e.id = p.enrollment_id JOIN passbooks pb ON pb.enrollment_id = e.id
    RETURNING amount, reissue_of
)
SELECT (SELECT count(*) FROM lines) AS lines,
       (SELECT coalesce(sum(amount), 0) FROM lines) AS amount,
       (SELECT count(*) FROM lines WHERE reissue_of IS NOT NULL) AS reissued,
       (SELECT count(*) FROM claimed) AS months,
       (SELECT count(*) FROM fresh WHERE status = 'claimed' AND kind = 'back_pay')
           + (SELECT count(*) FROM resumed) AS back_pay,
       (SELECT count(*) FROM fresh WHERE status = 'suspended') AS suspended
"""  # noqa: S608 - the fragment is a constant


async def _scope_area(session: AsyncSession, actor: Principal, scope_area_id: int | None) -> Area:
    if scope_area_id is None:
        area = await ledger.county_area(session, actor.county_code)
    else:
        found = await session.get(Area, scope_area_id)
        if found is None or found.level not in ("county", "township"):
            raise InvalidInput("发放范围只能是全县或一个乡镇", field="scope_area_id")
        area = found
    authorize(actor, Perm.PAYMENT_PREPARE, area.path)
    if actor is not SYSTEM and area.county_code != actor.county_code:
        raise NotFound("找不到该区划")
    return area


async def _lock_generation(session: AsyncSession, county_code: str, kind: str, period: date) -> None:
    """The per-county, kind and period lock that generating a batch (and discarding one) holds to its commit."""
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtext('payment_batch:' || :county || ':' || :kind || ':' || :period))"
        ),
        {"county": county_code, "kind": kind, "period": period.isoformat()},
    )


async def _open_batch(
    session: AsyncSession, actor: Principal, kind: str, period: date, scope: Area
) -> tuple[PaymentBatch, bool]:
    """The batch of ``kind``, ``period`` and ``scope``: the one already there (False), or a new draft (True).
    A per-county, kind and period lock makes concurrent requests wait for each other; overlapping scopes (the
    county and one of its townships) are refused so nobody can be claimed by two batches of one period."""
    county_code = scope.county_code
    await _lock_generation(session, county_code, kind, period)
    existing = await session.scalar(
        select(PaymentBatch).where(
            PaymentBatch.county_code == county_code,
            PaymentBatch.kind == kind,
            PaymentBatch.period == period,
            PaymentBatch.scope_area_id == scope.id,
        )
    )
    if existing is not None:
        return existing, False
    overlapping = await session.scalar(
        text(
            """
            SELECT b.number FROM payment_batches b
            WHERE b.county_code = :county AND b.kind = :kind AND b.period = :period
              AND (b.area_path LIKE :mine OR :path LIKE b.area_path || '%')
            LIMIT 1
            """
        ),
        {
            "county": county_code,
            "kind": kind,
            "period": period,
            "mine": like_prefix(scope.path),
            "path": scope.path,
        },
    )
    if overlapping:
        raise Conflict(f"本期已有覆盖该范围的发放批次 {overlapping}，不能重复生成", field="scope_area_id")
    batch = PaymentBatch(
        number=rules.batch_number(kind, period, scope.code),
        county_code=county_code,
        kind=kind,
        period=period,
        scope_area_id=scope.id,
        area_path=scope.path,
        status="draft",
        line_count=0,
        total=0,
        created_by=actor.user_id,
    )
    session.add(batch)
    await session.flush()
    return batch, True


async def _finish_batch(
    session: AsyncSession, actor: Principal, batch: PaymentBatch, scope: Area, totals: dict[str, int]
) -> None:
    if totals["lines"] == 0:
        what = "养老金" if batch.kind == "pension" else "补偿款"
        raise Conflict(f"{format_month_cn(batch.period)}在该范围内没有应发放的{what}", field="period")
    batch.line_count, batch.total = totals["lines"], totals["amount"]
    await session.flush()
    await audit.record(
        session,
        actor,
        "payment_batch.generate",
        "payment_batch",
        batch.id,
        after={
            "number": batch.number,
            "kind": BATCH_KINDS[batch.kind],
            "period": ss_rules.format_month(batch.period),
            "scope": scope.name,
            **{k: v for k, v in totals.items() if k != "amount"},
            "total": fen_to_yuan(totals["amount"]),
        },
        county_code=batch.county_code,
    )


def _check_period(period: date, as_of: date) -> date:
    period = ss_rules.month_of(period)
    if period > ss_rules.month_of(as_of):
        raise InvalidInput("不能生成未来月份的发放批次", field="period")
    return period


async def _generate_pensions(
    session: AsyncSession,
    batch: PaymentBatch,
    scope: Area,
    as_of: date,
    reissue_all: bool,
    progress: Progress | None,
    chunk: int,
) -> dict[str, int]:
    county_code, period = scope.county_code, batch.period
    bounds = (
        await session.execute(
            text(
                "SELECT min(id), max(id) FROM enrollments WHERE county_code = :county AND area_path LIKE :scope"
            ),
            {"county": county_code, "scope": like_prefix(scope.path)},
        )
    ).one()
    totals = {"lines": 0, "amount": 0, "reissued": 0, "months": 0, "back_pay": 0, "suspended": 0}
    if bounds[0] is not None:
        await session.execute(text(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'"))
        low, high = int(bounds[0]), int(bounds[1])
        steps = list(range(low, high + 1, chunk))
        for index, start in enumerate(steps):
            params = social.due_params(
                SYSTEM, period, as_of, id_range=(start, min(start + chunk - 1, high)), with_passbook=True
            )
            params.update(
                county=county_code,
                prefixes=[like_prefix(scope.path)],
                batch_county=county_code,
                scope_like=like_prefix(scope.path),
                reissue_all=reissue_all,
                batch_id=batch.id,
                seq0=totals["lines"],
            )
            row = (await session.execute(text(_GENERATE_SQL), params)).one()
            for key in totals:
                totals[key] += int(getattr(row, key))
            if progress is not None:
                await progress(index + 1, len(steps))
    return totals


async def generate_pension_batch(
    session: AsyncSession,
    actor: Principal,
    period: date,
    *,
    scope_area_id: int | None = None,
    as_of: date | None = None,
    reissue_all: bool = False,
    progress: Progress | None = None,
    chunk: int = CHUNK_ENROLLMENTS,
) -> Generated:
    """Generate the monthly pension batch for ``period`` and a scope (the county, or one township): every pension
    due that month, back pay (补发) for suspended months of pensioners certified again, and re-issues of failed
    payments whose passbook account has been changed since (all failed ones with ``reissue_all``).

    Generating the same period and scope again returns the batch already there (``created`` False): the batch's
    unique key decides, and a per-county-and-period lock makes concurrent requests wait for each other.
    """
    require(actor, Perm.PAYMENT_PREPARE)
    require(actor, Perm.PENSION_CLAIM)
    as_of = as_of or today_in_china()
    period = _check_period(period, as_of)
    scope = await _scope_area(session, actor, scope_area_id)
    # A savepoint: a refusal (nothing due) leaves no empty batch behind even when the caller goes on.
    async with session.begin_nested():
        batch, created = await _open_batch(session, actor, "pension", period, scope)
        if not created:
            return Generated(batch, False, batch.line_count, batch.total, 0, 0, 0, 0)
        totals = await _generate_pensions(session, batch, scope, as_of, reissue_all, progress, chunk)
        await _finish_batch(session, actor, batch, scope, totals)
    return Generated(
        batch,
        True,
        totals["lines"],
        totals["amount"],
        totals["months"],
        totals["back_pay"],
        totals["suspended"],
        totals["reissued"],
    )


# Compensation tranches that are due and not on a live line: never claimed, or claimed for a period whose line the
# bank failed and whose account has been changed since (every failed one with :reissue_all).
_COMPENSATION_SQL = """
WITH candidates AS (
    SELECT t.id, t.period AS old_period, f.line_id AS failed_line
    FROM compensation_tranches t
    LEFT JOIN LATERAL (
        SELECT l.id AS line_id, l.account_hash FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id
        WHERE l.tranche_id = t.id AND l.period = t.period AND NOT o.paid
    ) f ON true
    WHERE t.status = 'due' AND t.county_code = CAST(:county AS varchar) AND t.area_path LIKE CAST(:scope_like AS varchar)
      AND (t.period IS NULL
           OR (f.line_id IS NOT NULL AND t.period < CAST(:period AS date)
               AND (CAST(:reissue_all AS boolean) OR f.account_hash <> t.account_hash)))
),
claimed AS (
    UPDATE compensation_tranches t SET period = CAST(:period AS date), version = t.version + 1
    FROM candidates c WHERE c.id = t.id
    RETURNING t.id, t.county_code, t.area_path, t.payee_hash, t.payee_name, t.payee_id_masked, t.account_enc,
              t.account_hash, t.account_masked, t.amount, c.failed_line
),
lines AS (
    INSERT INTO payment_lines (batch_id, seq, county_code, area_path, period, tranche_id, person_hash, payee_name,
                               id_masked, account_enc, account_hash, account_masked, amount, reissue_of)
    SELECT CAST(:batch_id AS integer), row_number() OVER (ORDER BY c.area_path, c.id), c.county_code, c.area_path,
           CAST(:period AS date), c.id, c.payee_hash, c.payee_name, c.payee_id_masked, c.account_enc,
           c.account_hash, c.account_masked, c.amount, c.failed_line
    FROM claimed c
    RETURNING amount, reissue_of
)
SELECT count(*) AS lines, coalesce(sum(amount), 0) AS amount, count(reissue_of) AS reissued FROM lines
"""


async def generate_compensation_batch(
    session: AsyncSession,
    actor: Principal,
    period: date,
    *,
    scope_area_id: int | None = None,
    as_of: date | None = None,
    reissue_all: bool = False,
) -> Generated:
    """Generate the compensation batch of ``period`` and a scope: every agreement tranche whose payment condition
    has been recorded (the house handed over; a purchase contract checked) and that is not paid or with the bank,
    plus re-issues of failed ones whose account has been changed (all with ``reissue_all``)."""
    require(actor, Perm.PAYMENT_PREPARE)
    as_of = as_of or today_in_china()
    period = _check_period(period, as_of)
    scope = await _scope_area(session, actor, scope_area_id)
    async with session.begin_nested():
        batch, created = await _open_batch(session, actor, "compensation", period, scope)
        if not created:
            return Generated(batch, False, batch.line_count, batch.total, 0, 0, 0, 0)
        row = (
            await session.execute(
                text(_COMPENSATION_SQL),
                {
                    "county": scope.county_code,
                    "scope_like": like_prefix(scope.path),
                    "period": period,
                    "reissue_all": reissue_all,
                    "batch_id": batch.id,
                },
            )
        ).one()
        totals = {"lines": int(row.lines), "amount": int(row.amount), "reissued": int(row.reissued)}
        await _finish_batch(session, actor, batch, scope, totals)
    return Generated(batch, True, totals["lines"], totals["amount"], 0, 0, 0, totals["reissued"])


# ------------------------------------------------------------------------------------------------ workflow


async def _batch_for(
    session: AsyncSession, actor: Principal, batch_id: int, perm: Perm, statuses: Sequence[str], step: str
) -> PaymentBatch:
    require(actor, perm)
    batch = await session.get(PaymentBatch, batch_id, with_for_update=True)
    if batch is None or not _in_county(actor, batch):
        raise NotFound("找不到该发放批次")
    authorize(actor, perm, batch.area_path)
    if batch.status not in statuses:
        raise Conflict(f"{STATUS_REFUSALS[step]}（当前状态：{BATCH_STATUSES[batch.status]}）")
    return batch


# Discarding a draft pension batch gives the register back what generating it took (in this order):
# re-issued months go back to the period of the failed line they re-issue; months its generation added to the
# register for the batch's people (created in the batch's own transaction, so at the batch's created_at: the months
# on their lines, and the months it found suspended after them) are removed; suspended months it claimed as back
# pay are suspended again. Months claimed for the period before the batch (without a line) stay
# claimed, as they were.
_DISCARD_PENSION_SQL = (
    """
    UPDATE pension_months pm SET period = f.period
    FROM payment_lines l JOIN payment_lines f ON f.id = l.reissue_of
    WHERE l.batch_id = :batch AND l.enrollment_id IS NOT NULL AND pm.enrollment_id = l.enrollment_id
      AND pm.month = ANY(f.months) AND pm.period = :period AND pm.status = 'claimed'
    """,
    """
    DELETE FROM pension_months pm USING payment_lines l
    WHERE l.batch_id = :batch AND pm.enrollment_id = l.enrollment_id AND pm.created_at = :created_at
      AND ((pm.status = 'claimed' AND pm.period = :period AND pm.month = ANY(l.months))
           OR (pm.status = 'suspended' AND pm.period IS NULL))
    """,
    """
    UPDATE pension_months pm SET status = 'suspended', kind = 'regular', period = NULL
    FROM payment_lines l
    WHERE l.batch_id = :batch AND pm.enrollment_id = l.enrollment_id AND pm.month = ANY(l.months)
      AND pm.period = :period AND pm.status = 'claimed' AND pm.kind = 'back_pay'
      AND pm.created_at < :created_at
    """,
)
# … and a compensation batch gives its tranches back: never claimed again, or claimed by the failed line's period.
_DISCARD_COMPENSATION_SQL = """
UPDATE compensation_tranches t SET period = f.period, version = t.version + 1
FROM payment_lines l LEFT JOIN payment_lines f ON f.id = l.reissue_of
WHERE l.batch_id = :batch AND t.id = l.tranche_id AND t.period = :period
"""


async def discard_batch(
    session: AsyncSession, actor: Principal, batch_id: int, *, reason: str
) -> PaymentBatch:
    """作废草稿: remove a draft batch (not approved, nothing exported or posted) with its lines, and give back what
    generating it claimed, so that the period and scope can be generated again (after the data is put right).
    Audited with its number, lines, total and the reason. Returns the (deleted) batch."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("请填写作废原因，如 部分人员存折账号有误，更正后重新生成", field="reason")
    if len(reason) > 200:
        raise InvalidInput("作废原因最多 200 字", field="reason")
    batch = await _batch_for(session, actor, batch_id, Perm.PAYMENT_PREPARE, ("draft",), "discard")
    await _lock_generation(session, batch.county_code, batch.kind, batch.period)  # a generation waits for it
    params = {"batch": batch.id, "period": batch.period, "created_at": batch.created_at}
    if batch.kind == "pension":
        # The register holds each pensioner's months without gaps; giving back this period's months when a later
        # month is registered already (a later batch, a suspension) would leave a gap no batch would fill.
        later = await session.scalar(
            text(
                "SELECT min(pm.month) FROM payment_lines l JOIN pension_months pm "
                "ON pm.enrollment_id = l.enrollment_id AND pm.month > :period WHERE l.batch_id = :batch"
            ),
            params,
        )
        if later is not None:
            raise Conflict(
                f"本批次的人员已登记了{format_month_cn(later)}及以后的月份（之后的批次已生成），"
                "不能再作废本批次；请审核后发放，错发的按多发追回处理"
            )
    await session.execute(
        text("SELECT set_config('anzhi.discard_batch', :batch, true)"), {"batch": str(batch.id)}
    )
    if batch.kind == "pension":
        for sql in _DISCARD_PENSION_SQL:
            await session.execute(text(sql), params)
    else:
        await session.execute(text(_DISCARD_COMPENSATION_SQL), params)
    await session.execute(text("DELETE FROM payment_lines WHERE batch_id = :batch"), {"batch": batch.id})
    await session.execute(text("SELECT set_config('anzhi.discard_batch', '', true)"))
    await audit.record(
        session,
        actor,
        "payment_batch.discard",
        "payment_batch",
        batch.id,
        before={
            "number": batch.number,
            "kind": BATCH_KINDS[batch.kind],
            "period": ss_rules.format_month(batch.period),
            "lines": batch.line_count,
            "total": fen_to_yuan(batch.total),
        },
        after={"reason": reason},
        county_code=batch.county_code,
    )
    await session.delete(batch)
    await session.flush()
    return batch


async def approve_batch(session: AsyncSession, actor: Principal, batch_id: int) -> PaymentBatch:
    """审核: a second finance user approves a draft batch."""
    batch = await _batch_for(session, actor, batch_id, Perm.PAYMENT_APPROVE, ("draft",), "approve")
    if actor.user_id is not None and actor.user_id == batch.created_by:
        raise Forbidden("批次须由编制人以外的另一位财政人员审核")
    batch.status, batch.approved_by, batch.approved_at = "approved", actor.user_id, utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "payment_batch.approve",
        "payment_batch",
        batch.id,
        before={"status": "draft"},
        after={"status": "approved", "lines": batch.line_count, "total": fen_to_yuan(batch.total)},
        county_code=batch.county_code,
    )
    return batch


async def _fund_needs(session: AsyncSession, batch: PaymentBatch) -> list[tuple[str, str, int, str]]:
    """(fund account, clearing account, amount, fund name) the batch draws on: the social-security fund for
    pensions, each project's compensation fund for compensation."""
    if batch.kind == "pension":
        return [(ledger_rules.SS_BANK, ledger_rules.SS_CLEARING, batch.total, "社保基金专户")]
    rows = await session.execute(
        text(
            """
            SELECT t.project_id, p.name, sum(l.amount) AS amount FROM payment_lines l
            JOIN compensation_tranches t ON t.id = l.tranche_id JOIN projects p ON p.id = t.project_id
            WHERE l.batch_id = :batch GROUP BY t.project_id, p.name ORDER BY t.project_id
            """
        ),
        {"batch": batch.id},
    )
    return [
        (
            ledger_rules.comp_bank_code(r.project_id),
            ledger_rules.comp_clearing_code(r.project_id),
            int(r.amount),
            f"{r.name}补偿资金专户",
        )
        for r in rows
    ]


async def _batch_accounts(
    session: AsyncSession, batch: PaymentBatch, village_ids: Sequence[int] = ()
) -> list[ledger.AccountSpec]:
    if batch.kind == "pension":
        return [
            *(await ledger.social_security_accounts(session, batch.county_code)),
            *(await ledger.individual_accounts(session, batch.county_code, village_ids)),
        ]
    projects = await session.scalars(
        text(
            "SELECT DISTINCT t.project_id FROM payment_lines l JOIN compensation_tranches t ON t.id = l.tranche_id "
            "WHERE l.batch_id = :batch"
        ),
        {"batch": batch.id},
    )
    specs: list[ledger.AccountSpec] = []
    for project_id in projects.all():
        specs += await ledger.project_accounts(session, int(project_id), village_ids)
    return specs


async def _post_export(session: AsyncSession, actor: Principal, batch: PaymentBatch) -> None:
    """The first export moves the batch's money from the fund account to the bank (代发在途), if it is there."""
    needs = await _fund_needs(session, batch)
    await ledger.lock_funds(session, batch.county_code)
    for fund, _clearing, amount, name in needs:
        available = await ledger.account_net(session, batch.county_code, fund)
        if available < amount:
            raise Conflict(
                f"{name}余额 {fen_to_yuan(available)} 元，不足以支付本批次 {fen_to_yuan(amount)} 元，请先登记资金拨入"
            )
    entries = [
        e
        for fund, clearing, amount, _n in needs
        for e in (Entry(clearing, debit=amount), Entry(fund, credit=amount))
    ]
    await ledger.post(
        session,
        actor,
        county_code=batch.county_code,
        kind="batch_export",
        memo=f"{batch.number} 代发资金划至银行，{batch.line_count} 笔",
        posted_on=today_in_china(),
        entries=entries,
        accounts=await _batch_accounts(session, batch),
        batch_id=batch.id,
    )


async def _export_lines(session: AsyncSession, batch: PaymentBatch) -> list[bankfiles.ExportLine]:
    rows = (
        await session.execute(
            text(
                """
                SELECT l.seq, l.account_enc, l.payee_name, l.amount, m.id_number_enc
                FROM payment_lines l
                LEFT JOIN enrollments e ON e.id = l.enrollment_id
                LEFT JOIN compensation_tranches t ON t.id = l.tranche_id
                JOIN members m ON m.id = COALESCE(e.member_id, t.payee_member_id)
                WHERE l.batch_id = :batch ORDER BY l.seq
                """
            ),
            {"batch": batch.id},
        )
    ).all()
    # Two decryptions a line: a few seconds for a province's batch, in a worker thread so that the server goes on
    # answering everybody else meanwhile.
    return await asyncio.to_thread(_decrypted_lines, batch.number, rows)


def _decrypted_lines(batch_number: str, rows: Sequence[Any]) -> list[bankfiles.ExportLine]:
    accounts = social.account_cipher()
    ids = id_cipher()
    return [
        bankfiles.ExportLine(
            seq=r.seq,
            account=accounts.decrypt(r.account_enc),
            name=r.payee_name,
            amount=int(r.amount),
            id_number=ids.decrypt(r.id_number_enc),
            reference=rules.reference(batch_number, r.seq),
        )
        for r in rows
    ]


TRAINING_FAIL_EVERY = 10
TRAINING_REASONS = ("账户已冻结", "户名与账号不符", "账户已销户")


async def training_result(
    session: AsyncSession, actor: Principal, batch_id: int, fmt: str, *, failures: bool = True
) -> bytes:
    """模拟银行回盘 (demo and training sites only, never in production): the result file a bank might send back
    for the batch's pending lines — the second line and every tenth after it failed (with a reason), one line
    with a reference that is not in the batch, the rest paid — so the whole round (import, exceptions,
    re-issue) can be practised without a bank. Audited like the bank file, which it resembles. Without
    ``failures`` every line is paid and no stranger is listed (the demo's history)."""
    if get_settings().is_production:
        raise NotFound("生产环境不提供模拟银行回盘")
    if fmt not in bankfiles.FORMATS:
        raise InvalidInput("不支持的回盘文件格式", field="format")
    batch = await _batch_for(
        session, actor, batch_id, Perm.PAYMENT_PREPARE, ("exported", "imported"), "training"
    )
    pending = {
        seq
        for (seq,) in await session.execute(
            text(
                "SELECT l.seq FROM payment_lines l LEFT JOIN line_outcomes o ON o.line_id = l.id "
                "WHERE l.batch_id = :batch AND o.line_id IS NULL"
            ),
            {"batch": batch.id},
        )
    }
    lines = [x for x in await _export_lines(session, batch) if x.seq in pending]
    if not lines:
        raise Conflict(f"{STATUS_REFUSALS['training']}（本批次每笔都已有银行结果）")
    answer: list[bankfiles.ResultLine] = []
    for i, x in enumerate(lines):
        failed = failures and i % TRAINING_FAIL_EVERY == 1
        reason = TRAINING_REASONS[(i // TRAINING_FAIL_EVERY) % len(TRAINING_REASONS)] if failed else ""
        answer.append(
            bankfiles.ResultLine(
                x.seq, x.account, x.name, x.amount, x.id_number, x.reference, not failed, reason
            )
        )
    if failures:
        stray = batch.line_count + 1  # a sequence number the batch does not have: the bank lists a stranger
        first = lines[0]
        answer.append(
            bankfiles.ResultLine(
                stray,
                first.account,
                first.name,
                first.amount,
                first.id_number,
                rules.reference(batch.number, stray),
                True,
            )
        )
    content = await asyncio.to_thread(bankfiles.result_file, fmt, batch.number, answer)
    await audit.record(
        session,
        actor,
        "payment_batch.training_result",
        "payment_batch",
        batch.id,
        after={"format": fmt, "lines": len(answer), "failed": sum(1 for a in answer if not a.paid)},
        county_code=batch.county_code,
    )
    return content


def _written_file(fmt: str, batch_number: str, lines: list[bankfiles.ExportLine]) -> tuple[bytes, bytes]:
    content = bankfiles.export_file(fmt, batch_number, lines)
    return content, hashlib.sha256(content).digest()


async def export_batch(session: AsyncSession, actor: Principal, batch_id: int, fmt: str) -> BankExport:
    """导出代发文件: write the batch's bank file in ``fmt`` (kept with its SHA-256; the same batch always exports
    to the same bytes). The first export moves the batch's total from the fund account to the bank (代发在途)."""
    if fmt not in bankfiles.FORMATS:
        raise InvalidInput("不支持的代发文件格式", field="format")
    batch = await _batch_for(
        session, actor, batch_id, Perm.PAYMENT_PREPARE, ("approved", "exported", "imported"), "export"
    )
    kept = await session.scalar(
        select(BankExport)
        .where(BankExport.batch_id == batch.id, BankExport.format == fmt)
        .options(undefer(BankExport.content))
    )
    if kept is None:
        try:
            lines = await _export_lines(session, batch)
            content, digest = await asyncio.to_thread(_written_file, fmt, batch.number, lines)
        except bankfiles.BankFileError as exc:
            raise InvalidInput(str(exc), field="format") from None
        kept = BankExport(
            batch_id=batch.id,
            format=fmt,
            content=content,
            sha256=digest,
            line_count=batch.line_count,
            total=batch.total,
            exported_by=actor.user_id,
        )
        session.add(kept)
    if batch.status == "approved":
        await _post_export(session, actor, batch)
        batch.status, batch.exported_at = "exported", utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "payment_batch.export",
        "payment_batch",
        batch.id,
        after={
            "format": fmt,
            "sha256": kept.sha256.hex(),
            "lines": kept.line_count,
            "total": fen_to_yuan(kept.total),
        },
        county_code=batch.county_code,
    )
    return kept


# ------------------------------------------------------------------------------------------------ bank results


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    result_import: ResultImport
    paid: int
    paid_total: int
    failed: int
    failed_total: int
    exceptions: int


_STAGE_COLUMNS = ("row_no", "seq", "account_hash", "name", "amount", "reference", "paid", "reason")

# One statement records a staged result file: it classifies every staged line against the batch's lines — matched
# (its reference names a line of this batch, the line has no outcome yet, account/name/amount agree, the reference
# is once in the file) or an exception — and, from that one classification kept in memory, writes the import row
# (with the file and its counts), the outcome rows, the exceptions, and returns the ledger totals of the matched
# lines and how many lines of the batch are still pending. The join is a FULL join so that the batch's lines the
# file does not mention ('absent') are counted as pending without a second pass over the batch. References in the
# file more than once come in as :dups (found while reading the file; usually none).
_IMPORT_SQL = """
WITH m AS MATERIALIZED (
    SELECT s.row_no, s.reference, s.name, s.amount, s.paid, s.reason, l.id AS line_id,
           CASE
               WHEN s.row_no IS NULL THEN 'absent'
               WHEN l.id IS NULL THEN 'unknown'
               WHEN cardinality(CAST(:dups AS text[])) > 0 AND s.reference = ANY(CAST(:dups AS text[])) THEN 'duplicate'
               WHEN o.line_id IS NOT NULL THEN 'resolved'
               WHEN s.account_hash <> l.account_hash THEN 'account'
               WHEN btrim(s.name) <> btrim(l.payee_name) THEN 'name'
               WHEN s.amount <> l.amount THEN 'amount'
           END AS problem,
           o.line_id IS NOT NULL AS had_outcome,
           l.payee_name AS line_name, l.amount AS line_amount, l.area_path, l.tranche_id, l.account_part, l.pool_part
    FROM result_stage s
    FULL JOIN (
        SELECT id, seq, account_hash, payee_name, amount, area_path, tranche_id, account_part, pool_part
        FROM payment_lines WHERE batch_id = CAST(:batch AS integer)
    ) l ON l.seq = s.line_seq
    -- bounded by the batch's line ids: the index then reads this batch's outcomes, not every one on record
    LEFT JOIN line_outcomes o ON o.line_id = l.id
                             AND o.line_id BETWEEN CAST(:first_line AS bigint) AND CAST(:last_line AS bigint)
),
counts AS (
    SELECT count(*) FILTER (WHERE problem IS NULL AND paid) AS paid,
           coalesce(sum(amount) FILTER (WHERE problem IS NULL AND paid), 0) AS paid_total,
           count(*) FILTER (WHERE problem IS NULL AND NOT paid) AS failed,
           coalesce(sum(amount) FILTER (WHERE problem IS NULL AND NOT paid), 0) AS failed_total,
           count(*) FILTER (WHERE problem <> 'absent') AS exceptions,
           -- a line named by a repeated reference is in m once per repetition: counted once (apart, so that the
           -- million other rows are not sorted for a DISTINCT)
           count(*) FILTER (WHERE line_id IS NOT NULL AND problem IS NOT NULL AND problem <> 'duplicate'
                            AND NOT had_outcome)
           + (SELECT count(DISTINCT d.line_id) FROM m d
              WHERE cardinality(CAST(:dups AS text[])) > 0 AND d.problem = 'duplicate' AND d.line_id IS NOT NULL
                AND NOT d.had_outcome) AS pending
    FROM m
),
imp AS (
    INSERT INTO result_imports (batch_id, format, filename, content, sha256, line_count, total, paid_count,
                                paid_total, failed_count, failed_total, exception_count, imported_by)
    SELECT CAST(:batch AS integer), CAST(:format AS varchar), CAST(:filename AS varchar), CAST(:content AS bytea),
           CAST(:sha256 AS bytea), CAST(:line_count AS integer), CAST(:total AS bigint), c.paid, c.paid_total,
           c.failed, c.failed_total, c.exceptions, CAST(:user AS integer)
    FROM counts c
    RETURNING id
),
outcomes AS (
    INSERT INTO line_outcomes (line_id, paid, reason, import_id, resolved_on)
    SELECT line_id, paid, CASE WHEN paid THEN '' ELSE coalesce(nullif(btrim(reason), ''), '银行未说明原因') END,
           (SELECT id FROM imp), CAST(:on AS date)
    FROM m WHERE problem IS NULL
),
exceptions AS (
    INSERT INTO bank_exceptions (import_id, batch_id, row_no, reference, line_id, problem, detail,
                                 bank_paid, bank_name, bank_amount, bank_reason)
    SELECT (SELECT id FROM imp), CAST(:batch AS integer), row_no, left(reference, 60),
           CASE WHEN problem IN ('unknown', 'duplicate') AND line_id IS NULL THEN NULL ELSE line_id END,
           problem,
           CASE problem
               WHEN 'unknown' THEN '本批次没有业务参考号为“' || reference || '”的发放明细'
               WHEN 'duplicate' THEN '业务参考号“' || reference || '”在文件中出现多次'
               WHEN 'resolved' THEN '该笔已有银行结果，不能再次确认'
               WHEN 'account' THEN '回盘文件的账号与发放明细不符'
               WHEN 'name' THEN '回盘文件户名“' || name || '”与发放明细“' || line_name || '”不符'
               ELSE '回盘文件金额 ' || to_char(amount / 100.0, 'FM999999999990.00') || ' 元与发放明细 '
                    || to_char(line_amount / 100.0, 'FM999999999990.00') || ' 元不符'
           END,
           paid, left(name, 50), amount, left(coalesce(reason, ''), 200)
    FROM m WHERE problem <> 'absent' ORDER BY row_no
),
totals AS (
    SELECT m.area_path, t.project_id, m.paid, count(*) AS lines, sum(m.line_amount) AS amount,
           sum(coalesce(m.account_part, 0)) AS account_part, sum(coalesce(m.pool_part, 0)) AS pool_part
    FROM m LEFT JOIN compensation_tranches t ON t.id = m.tranche_id
    WHERE m.problem IS NULL
    GROUP BY m.area_path, t.project_id, m.paid
)
SELECT imp.id AS import_id, c.paid AS paid_count, c.paid_total, c.failed, c.failed_total, c.exceptions, c.pending,
       t.area_path, t.project_id, t.paid, t.lines, t.amount, t.account_part, t.pool_part
FROM imp CROSS JOIN counts c LEFT JOIN totals t ON true
"""


def _repeated(references: Iterable[str]) -> list[str]:
    """The references that occur more than once (usually none: one pass to find that out)."""
    listed = list(references)
    if len(set(listed)) == len(listed):
        return []
    return sorted(ref for ref, n in Counter(listed).items() if n > 1)


def _stage_table(batch_number: str) -> str:
    """The staging table of one import. Its ``line_seq`` is the sequence number of the batch's line that the
    reference names (``<batch number>-`` and seven digits), or NULL: computed by the server while it stores the
    staged parts, which it does while the file is still being read, instead of in the matching afterwards."""
    prefix = batch_number + "-"
    literal = prefix.replace("'", "''")  # our own batch numbers: letters, digits and "-"
    digits = rules.SEQ_DIGITS
    return (
        "CREATE TEMP TABLE result_stage (row_no integer, seq integer, account_hash bytea, name text, "
        "amount bigint, reference text, paid boolean, reason text, line_seq integer GENERATED ALWAYS AS ("
        f"CASE WHEN length(reference) = {len(prefix) + digits} AND left(reference, {len(prefix)}) = '{literal}' "
        f"AND right(reference, {digits}) ~ '^[0-9]{{{digits}}}$' THEN right(reference, {digits})::integer END"
        ") STORED) ON COMMIT DROP"
    )


def _sha256(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


# Staged lines are sent to the database in COPYs of about this many while the rest of the file is read.
_STAGE_ROWS = 50_000


async def _read_and_stage(
    raw: Any, fmt: str, content: bytes, batch_number: str
) -> tuple[bankfiles.ParsedResult, list[str]]:
    """Read the result file in a worker thread and COPY its lines into ``result_stage`` as they are read: the
    server stores one part while the next is parsed (the two cores work at once), and the event loop goes on
    serving other requests meanwhile. Returns the file and its repeated references. Raises
    :class:`bankfiles.BankFileError` (after the thread has ended) when the file is refused; what was staged by
    then is the caller's to drop."""
    loop = asyncio.get_running_loop()
    parts: asyncio.Queue[list[bankfiles.ResultRecord] | None] = asyncio.Queue()
    given_up = threading.Event()

    def hand_over(rows: list[bankfiles.ResultRecord]) -> None:
        if given_up.is_set():
            raise bankfiles.BankFileError("导入已中止")
        loop.call_soon_threadsafe(parts.put_nowait, rows)

    def read() -> tuple[bankfiles.ParsedResult, list[str]]:
        try:
            parsed = bankfiles.read_result(
                fmt,
                content,
                social.account_cipher().lookup_hasher(),
                for_batch=batch_number,
                rows_ready=hand_over,
            )
            return parsed, _repeated(r[5] for r in parsed.records)
        finally:
            loop.call_soon_threadsafe(parts.put_nowait, None)

    reading = asyncio.ensure_future(asyncio.to_thread(read))
    try:
        staged = 0
        waiting: list[bankfiles.ResultRecord] = []
        while (part := await parts.get()) is not None:
            waiting.extend(part)
            if len(waiting) >= _STAGE_ROWS:
                await raw.copy_records_to_table("result_stage", records=waiting, columns=_STAGE_COLUMNS)
                staged += len(waiting)
                waiting = []
        parsed, repeated = await reading
        rest = waiting + parsed.records[staged + len(waiting) :]  # the other formats hand over nothing
        if rest:
            await raw.copy_records_to_table("result_stage", records=rest, columns=_STAGE_COLUMNS)
        return parsed, repeated
    except BaseException:
        given_up.set()
        # the thread ends (at its next part) before the transaction goes on
        await asyncio.gather(reading, return_exceptions=True)
        raise


async def _raw_connection(session: AsyncSession) -> Any:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def import_results(
    session: AsyncSession,
    actor: Principal,
    batch_id: int,
    *,
    fmt: str,
    filename: str,
    content: bytes,
    resolved_on: date | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """导入回盘文件: read the bank's result file, match each line by its reference and check account, name and
    amount; matched lines get their outcome (paid or failed), the rest go to the exception list. A file whose
    control totals do not add up, that is for another batch, or that was imported already is refused whole."""
    if fmt not in bankfiles.FORMATS:
        raise InvalidInput("不支持的回盘文件格式", field="format")
    batch = await _batch_for(
        session, actor, batch_id, Perm.PAYMENT_PREPARE, ("exported", "imported", "reconciled"), "import"
    )
    resolved_on = resolved_on or today_in_china()
    digest = await asyncio.to_thread(_sha256, content)
    earlier = await session.scalar(
        select(ResultImport).where(ResultImport.batch_id == batch.id, ResultImport.sha256 == digest)
    )
    if earlier is not None:
        raise Conflict(
            f"该回盘文件已于 {earlier.imported_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} 导入过（{earlier.filename}），不能重复导入"
        )
    # Matching a million lines hashes the batch's lines and the file's references: let those hash tables and the
    # classification stay in memory for this transaction instead of spilling to disk (the default is 4 MB).
    await session.execute(text(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'"))
    await session.execute(text(_stage_table(batch.number)))
    try:
        parsed, dups = await _read_and_stage(await _raw_connection(session), fmt, content, batch.number)
    except bankfiles.BankFileError as exc:
        # refused, perhaps after parts were staged: the staging table goes, with them; the transaction goes on
        await session.execute(text("DROP TABLE result_stage"))
        raise InvalidInput(f"回盘文件无法导入，整份未导入：{exc}", field="file") from None
    if progress is not None:
        await progress(1, 4)
    # The range of the batch's line ids, for the outcomes already on record: without it the statement below hashed
    # every outcome ever recorded (0.5 s a month of history on a province's scale, and growing).
    first_line, last_line = (
        await session.execute(
            select(func.min(PaymentLine.id), func.max(PaymentLine.id)).where(PaymentLine.batch_id == batch.id)
        )
    ).one()
    if progress is not None:
        await progress(2, 4)
    try:
        rows = (
            await session.execute(
                text(_IMPORT_SQL),
                {
                    "batch": batch.id,
                    "dups": dups,
                    "first_line": first_line if first_line is not None else 0,
                    "last_line": last_line if last_line is not None else -1,
                    "format": fmt,
                    "filename": filename[:200],
                    "content": content,
                    "sha256": digest,
                    "line_count": parsed.count,
                    "total": parsed.total,
                    "user": actor.user_id,
                    "on": resolved_on,
                },
            )
        ).all()
    except IntegrityError as exc:
        if "uq_result_imports_file" in str(exc.orig):
            raise Conflict("该回盘文件已导入过，不能重复导入") from None
        raise
    counts = rows[0]
    result_import = await session.get_one(ResultImport, counts.import_id)
    if progress is not None:
        await progress(3, 4)
    await session.execute(text("DROP TABLE result_stage"))
    totals = [r for r in rows if r.area_path is not None]
    await _post_results(session, actor, batch, import_id=result_import.id, on=resolved_on, totals=totals)
    await _overpaid_after_death(session, actor, batch, import_id=result_import.id)
    before = batch.status
    await _advance(session, batch, pending=int(counts.pending))
    await audit.record(
        session,
        actor,
        "payment_batch.import",
        "payment_batch",
        batch.id,
        before={"status": before},
        after={
            "status": batch.status,
            "file": result_import.filename,
            "sha256": digest.hex(),
            "lines": parsed.count,
            "paid": int(counts.paid_count),
            "paid_total": fen_to_yuan(int(counts.paid_total)),
            "failed": int(counts.failed),
            "failed_total": fen_to_yuan(int(counts.failed_total)),
            "exceptions": int(counts.exceptions),
        },
        county_code=batch.county_code,
    )
    if progress is not None:
        await progress(4, 4)
    return ImportOutcome(
        result_import,
        int(counts.paid_count),
        int(counts.paid_total),
        int(counts.failed),
        int(counts.failed_total),
        int(counts.exceptions),
    )


async def _post_results(
    session: AsyncSession,
    actor: Principal,
    batch: PaymentBatch,
    *,
    on: date,
    import_id: int | None = None,
    exception_id: int | None = None,
    totals: Sequence[Any] | None = None,
) -> None:
    """Post the outcomes just recorded. Paid pensions draw on the village's individual accounts and the pool;
    paid compensation settles the village's payable; failed lines come back from the bank to the fund account.
    ``totals``: during an import, the matched lines' sums per village, project and result, as the import statement
    returned them (instead of joining a million outcomes back to their lines)."""
    rows = (
        totals
        if totals is not None
        else (
            await session.execute(
                text(
                    """
                SELECT l.area_path, t.project_id, o.paid, count(*) AS lines, sum(l.amount) AS amount,
                       sum(coalesce(l.account_part, 0)) AS account_part, sum(coalesce(l.pool_part, 0)) AS pool_part
                FROM line_outcomes o JOIN payment_lines l ON l.id = o.line_id
                LEFT JOIN compensation_tranches t ON t.id = l.tranche_id
                WHERE l.batch_id = :batch
                  AND (CAST(:import AS integer) IS NULL OR o.import_id = CAST(:import AS integer))
                  AND (CAST(:exception AS bigint) IS NULL OR o.exception_id = CAST(:exception AS bigint))
                GROUP BY l.area_path, t.project_id, o.paid
                """
                ),
                {"batch": batch.id, "import": import_id, "exception": exception_id},
            )
        ).all()
    )
    if not rows:
        return
    villages = await villages_of(session, list({r.area_path for r in rows}))

    def village_id(r: Any) -> int:
        return villages[r.area_path].id

    paid = [r for r in rows if r.paid]
    failed = [r for r in rows if not r.paid]
    accounts = await _batch_accounts(session, batch, [village_id(r) for r in paid])
    pension = batch.kind == "pension"

    def clearing(r: Any) -> str:
        return ledger_rules.SS_CLEARING if pension else ledger_rules.comp_clearing_code(int(r.project_id))

    def fund(r: Any) -> str:
        return ledger_rules.SS_BANK if pension else ledger_rules.comp_bank_code(int(r.project_id))

    if paid:
        entries: list[Entry] = []
        for r in paid:
            if pension:
                entries.append(Entry(ledger_rules.individual_code(village_id(r)), debit=int(r.account_part)))
                entries.append(Entry(ledger_rules.SS_POOL, debit=int(r.pool_part)))
            else:
                entries.append(
                    Entry(
                        ledger_rules.comp_payable_code(int(r.project_id), village_id(r)),
                        debit=int(r.amount),
                    )
                )
            entries.append(Entry(clearing(r), credit=int(r.amount)))
        await ledger.post(
            session,
            actor,
            county_code=batch.county_code,
            kind="bank_paid",
            memo=f"{batch.number} 银行代发成功 {sum(int(r.lines) for r in paid)} 笔",
            posted_on=on,
            entries=entries,
            accounts=accounts,
            batch_id=batch.id,
        )
    if failed:
        await ledger.post(
            session,
            actor,
            county_code=batch.county_code,
            kind="bank_failed",
            memo=f"{batch.number} 银行代发失败 {sum(int(r.lines) for r in failed)} 笔，资金退回专户",
            posted_on=on,
            entries=[
                e
                for r in failed
                for e in (Entry(fund(r), debit=int(r.amount)), Entry(clearing(r), credit=int(r.amount)))
            ],
            accounts=accounts,
            batch_id=batch.id,
        )


async def _overpaid_after_death(
    session: AsyncSession,
    actor: Principal,
    batch: PaymentBatch,
    *,
    import_id: int | None = None,
    exception_id: int | None = None,
) -> None:
    """Months the bank paid after a death recorded while the batch was with the bank become overpayments. Starts
    from the county's pensioners who died before the batch's last month (few; none in most months) and finds
    their line of the period by its unique key — two steps, so that the planner never walks a million fresh
    outcomes to find them."""
    if batch.kind != "pension":
        return
    dead = (
        await session.execute(
            text(
                "SELECT id, person_hash FROM enrollments WHERE county_code = :county AND death_date IS NOT NULL "
                "AND date_trunc('month', death_date) < :period"
            ),
            {"county": batch.county_code, "period": batch.period},
        )
    ).all()
    if not dead:
        return
    rows = (
        await session.execute(
            text(
                """
                SELECT l.enrollment_id, array_agg(m ORDER BY m) AS months, e.monthly_pension
                FROM payment_lines l
                JOIN enrollments e ON e.id = l.enrollment_id
                JOIN line_outcomes o ON o.line_id = l.id
                CROSS JOIN LATERAL unnest(l.months) AS m
                WHERE l.county_code = CAST(:county AS varchar) AND l.person_hash = ANY(:hashes)
                  AND l.period = CAST(:period AS date) AND l.enrollment_id = ANY(:ids)
                  AND l.batch_id = :batch AND o.paid
                  AND m > date_trunc('month', e.death_date)::date
                  AND (CAST(:import AS integer) IS NULL OR o.import_id = CAST(:import AS integer))
                  AND (CAST(:exception AS bigint) IS NULL OR o.exception_id = CAST(:exception AS bigint))
                GROUP BY l.enrollment_id, e.monthly_pension
                """
            ),
            {
                "batch": batch.id,
                "period": batch.period,
                "county": batch.county_code,
                "hashes": [r.person_hash for r in dead],
                "ids": [r.id for r in dead],
                "import": import_id,
                "exception": exception_id,
            },
        )
    ).all()
    for r in rows:
        amounts: dict[date, int] = dict(
            (
                await session.execute(
                    text(
                        "SELECT month, amount FROM pension_months WHERE enrollment_id = :e AND month = ANY(:months)"
                    ),
                    {"e": r.enrollment_id, "months": list(r.months)},
                )
            ).all()
        )
        await social.add_overpaid_months(
            session,
            actor,
            int(r.enrollment_id),
            [(m, int(amounts.get(m, r.monthly_pension))) for m in r.months],
        )


async def _advance(session: AsyncSession, batch: PaymentBatch, *, pending: int | None = None) -> None:
    """imported once results came in; reconciled once every line has its outcome and no exception is open.
    ``pending``: the lines still without an outcome, when the caller has just counted them."""
    if pending is None:
        pending = await session.scalar(
            text(
                "SELECT count(*) FROM payment_lines l LEFT JOIN line_outcomes o ON o.line_id = l.id "
                "WHERE l.batch_id = :batch AND o.line_id IS NULL"
            ),
            {"batch": batch.id},
        )
    open_ = await session.scalar(
        text("SELECT count(*) FROM bank_exceptions WHERE batch_id = :batch AND resolution IS NULL"),
        {"batch": batch.id},
    )
    batch.status = "reconciled" if pending == 0 and open_ == 0 else "imported"
    await session.flush()


@dataclass(frozen=True, slots=True)
class ExceptionView:
    exception: BankException
    problem_label: str
    resolution_label: str
    line_name: str | None
    line_amount: int | None
    line_status: str | None


async def exceptions(
    session: AsyncSession,
    principal: Principal,
    batch_id: int,
    *,
    open_only: bool = False,
    open_first: bool = False,
    offset: int = 0,
    limit: int | None = None,
    exception_id: int | None = None,
    search: str | None = None,
) -> list[ExceptionView]:
    """The batch's exceptions in the order of the file's lines as imported (``open_first``: the open ones
    first), ``offset`` / ``limit`` of them: a bad file can leave a million, and a page or a report lists a
    bounded number (``BatchSummary.exceptions`` says how many there are). ``exception_id``: that one only;
    ``search``: see :func:`count_exceptions`."""
    batch = await get_batch(session, principal, batch_id)
    query = _exceptions_where(select(BankException), batch.id, search, open_only=open_only)
    if open_first:
        query = query.order_by(BankException.resolution.is_not(None), BankException.id)
    else:
        query = query.order_by(BankException.id)
    if exception_id is not None:
        query = query.where(BankException.id == exception_id)
    found = (await session.scalars(query.offset(offset).limit(limit))).all()
    line_ids = [e.line_id for e in found if e.line_id is not None]
    lines: dict[int, Any] = {}
    if line_ids:
        lines = {
            r.id: r
            for r in await session.execute(
                text(
                    "SELECT l.id, l.payee_name, l.amount, o.paid FROM payment_lines l "
                    "LEFT JOIN line_outcomes o ON o.line_id = l.id WHERE l.id = ANY(:ids)"
                ),
                {"ids": line_ids},
            )
        }
    out = []
    for e in found:
        line = lines.get(e.line_id) if e.line_id is not None else None
        out.append(
            ExceptionView(
                e,
                EXCEPTION_PROBLEMS[e.problem],
                EXCEPTION_RESOLUTIONS.get(e.resolution or "", "待处理"),
                line.payee_name if line else None,
                int(line.amount) if line else None,
                rules.line_status(line.paid) if line else None,
            )
        )
    return out


_Row = TypeVar("_Row")


def _exceptions_where(
    query: Select[_Row], batch_id: int, search: str | None, *, open_only: bool = False
) -> Select[_Row]:
    query = query.where(BankException.batch_id == batch_id)
    if open_only:
        query = query.where(BankException.resolution.is_(None))
    text_ = (search or "").strip()
    if text_.isascii() and text_.isdigit() and len(text_) <= 9:
        query = query.where(BankException.row_no == int(text_))
    elif text_:
        pattern = like_fragment(text_)
        query = query.where(
            or_(BankException.reference.ilike(pattern), BankException.bank_name.ilike(pattern))
        )
    return query


async def count_exceptions(
    session: AsyncSession, principal: Principal, batch_id: int, *, search: str | None = None
) -> int:
    """How many of the batch's exceptions ``search`` finds: the line number in the file (digits), or a fragment
    of the 业务参考号 or of the name in the bank's file; all of them without it."""
    batch = await get_batch(session, principal, batch_id)
    query = _exceptions_where(select(func.count()).select_from(BankException), batch.id, search)
    return int((await session.execute(query)).scalar_one())


async def resolve_exception(
    session: AsyncSession, actor: Principal, exception_id: int, *, resolution: str, note: str
) -> BankException:
    """处理差错: confirm the line as paid or failed (after checking with the bank), or dismiss a line that is
    not this batch's. A line still resolves only once: confirming a line that has an outcome is refused."""
    if resolution not in EXCEPTION_RESOLUTIONS:
        raise InvalidInput("请选择处理结果", field="resolution")
    note = note.strip()
    if not note:
        raise InvalidInput("请填写处理说明（如与银行核实的情况）", field="note")
    found = await session.get(BankException, exception_id)
    if found is None:
        raise NotFound("找不到该差错")
    batch = await _batch_for(
        session, actor, found.batch_id, Perm.PAYMENT_PREPARE, ("imported", "reconciled"), "import"
    )
    exc = await session.get(BankException, exception_id, with_for_update=True, populate_existing=True)
    assert exc is not None
    if exc.resolution is not None:
        raise Conflict("该差错已处理")
    if resolution in ("paid", "failed"):
        if exc.line_id is None:
            raise InvalidInput("该差错没有对应的发放明细，只能作“不属于本批次”处理", field="resolution")
        has_outcome = await session.scalar(
            select(LineOutcome.line_id).where(LineOutcome.line_id == exc.line_id)
        )
        if has_outcome is not None:
            raise Conflict(
                "该笔发放明细已有银行结果，每笔只能确认一次；请作“不属于本批次”处理", field="resolution"
            )
        session.add(
            LineOutcome(
                line_id=exc.line_id,
                paid=resolution == "paid",
                reason="" if resolution == "paid" else (exc.bank_reason or note)[:200],
                import_id=None,
                exception_id=exc.id,
                resolved_on=today_in_china(),
            )
        )
    exc.resolution, exc.note, exc.resolved_by, exc.resolved_at = resolution, note, actor.user_id, utcnow()
    await session.flush()
    if resolution in ("paid", "failed"):
        await _post_results(session, actor, batch, on=today_in_china(), exception_id=exc.id)
        await _overpaid_after_death(session, actor, batch, exception_id=exc.id)
    await _advance(session, batch)
    await audit.record(
        session,
        actor,
        "payment_exception.resolve",
        "payment_batch",
        batch.id,
        after={
            "exception": exc.id,
            "row": exc.row_no,
            "reference": exc.reference,
            "resolution": resolution,
            "note": note,
            "batch_status": batch.status,
        },
        county_code=batch.county_code,
    )
    return exc


async def close_batch(session: AsyncSession, actor: Principal, batch_id: int) -> PaymentBatch:
    """关闭: a reconciled batch is closed; nothing more happens to it (failed lines are re-issued later)."""
    batch = await _batch_for(session, actor, batch_id, Perm.PAYMENT_PREPARE, ("reconciled",), "close")
    batch.status, batch.closed_by, batch.closed_at = "closed", actor.user_id, utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "payment_batch.close",
        "payment_batch",
        batch.id,
        before={"status": "reconciled"},
        after={"status": "closed"},
        county_code=batch.county_code,
    )
    return batch


async def exports_of(session: AsyncSession, principal: Principal, batch_id: int) -> list[BankExport]:
    batch = await get_batch(session, principal, batch_id)
    return list(
        (
            await session.scalars(
                select(BankExport).where(BankExport.batch_id == batch.id).order_by(BankExport.id)
            )
        ).all()
    )


async def imports_of(session: AsyncSession, principal: Principal, batch_id: int) -> list[ResultImport]:
    batch = await get_batch(session, principal, batch_id)
    return list(
        (
            await session.scalars(
                select(ResultImport).where(ResultImport.batch_id == batch.id).order_by(ResultImport.id)
            )
        ).all()
    )


async def record_download(
    session: AsyncSession, principal: Principal, batch: PaymentBatch, what: str, detail: dict[str, Any]
) -> None:
    """Bank files carry full account and ID numbers: every download is audited."""
    await audit.record(
        session,
        principal,
        "payment_batch.download",
        "payment_batch",
        batch.id,
        after={"what": what, **detail},
        county_code=batch.county_code,
    )


# ------------------------------------------------------------------------------------------------ reconciliation


# The reconciliation report lists this many exceptions at most (page, PDF, API); its counts cover them all.
REPORTED_EXCEPTIONS = 500


@dataclass(frozen=True, slots=True)
class Reconciliation:
    summary: BatchSummary
    imports: list[ResultImport]
    exceptions: list[ExceptionView]
    postings: dict[str, int]
    clearing_left: int
    ledger_agrees: bool
    checks: list[tuple[str, bool, str]]


async def reconciliation(session: AsyncSession, principal: Principal, batch_id: int) -> Reconciliation:
    """对账报告: sent, paid, failed, pending, exceptions, totals, and the ledger check: what the batch posted to
    the clearing account is exactly what is still with the bank (pending lines)."""
    summary = await batch_summary(session, principal, batch_id)
    batch = summary.batch
    postings = await ledger.batch_postings(session, batch.id)
    clearing_left = sum(
        v for k, v in postings.items() if k == ledger_rules.SS_CLEARING or k.startswith("comp.clearing.")
    )
    exported = batch.status not in ("draft", "approved")
    expected_clearing = summary.pending_total if exported else 0
    paid_drawn = sum(v for k, v in postings.items() if k.startswith(("ss.individual.", "comp.payable.")))
    pool_drawn = postings.get(ledger_rules.SS_POOL, 0)
    checks = [
        (
            "批次合计等于明细合计",
            True,
            f"{batch.line_count} 笔，{format_yuan(batch.total)} 元（数据库在提交时核对）",
        ),
        (
            "已发放 + 失败 + 待处理 = 批次合计",
            summary.paid_total + summary.failed_total + summary.pending_total == batch.total,
            f"{format_yuan(summary.paid_total)} + {format_yuan(summary.failed_total)} + "
            f"{format_yuan(summary.pending_total)} = {format_yuan(batch.total)}",
        ),
        (
            "代发在途余额等于待银行处理金额",
            clearing_left == expected_clearing,
            f"代发在途 {format_yuan(clearing_left)} 元，待处理 {format_yuan(expected_clearing)} 元",
        ),
        (
            "个人账户与统筹支付合计等于已发放金额"
            if batch.kind == "pension"
            else "冲减应付补偿款等于已发放金额",
            paid_drawn + pool_drawn == summary.paid_total,
            f"个人账户 {format_yuan(paid_drawn)} 元 + 统筹 {format_yuan(pool_drawn)} 元"
            if batch.kind == "pension"
            else f"应付补偿款 {format_yuan(paid_drawn)} 元",
        ),
    ]
    return Reconciliation(
        summary,
        await imports_of(session, principal, batch_id),
        await exceptions(session, principal, batch_id, limit=REPORTED_EXCEPTIONS),
        postings,
        clearing_left,
        all(ok for _n, ok, _d in checks),
        checks,
    )


# ------------------------------------------------------------------------------------------------ 发放台账


# A whole batch's 发放台账 as one PDF is made while the request waits (~0.1 s a page of 30 rows, chunked so memory
# stays bounded): up to this many lines (about 700 pages, a minute or two). A bigger batch — a county's pensions —
# is printed per village (each village's ledger is signed there) or taken as XLSX.
LEDGER_PDF_MAX_LINES = 20_000


def check_ledger_pdf(batch: PaymentBatch, village_path: str | None) -> None:
    """Refuse a whole-batch ledger PDF too big to make while the request waits, saying what to do instead."""
    if village_path is None and batch.line_count > LEDGER_PDF_MAX_LINES:
        pages = -(-batch.line_count // reports.ROWS_PER_PAGE)
        raise Conflict(
            f"本批次共 {batch.line_count:,} 笔，整批发放台账 PDF 约 {pages:,} 页，不能在网页上一次生成（上限 "
            f"{LEDGER_PDF_MAX_LINES:,} 笔）。请在批次页“各村合计”中按村下载 PDF（每村一份，便于各村签字），"
            "或下载整批 XLSX"
        )


async def ledger_doc(
    session: AsyncSession,
    principal: Principal,
    batch_id: int,
    *,
    village_path: str | None = None,
    pdf: bool = False,
) -> reports.LedgerDoc:
    """The 发放台账 of a batch, or of one village in it: masked rows in the batch's order. ``pdf``: refused, before
    the rows are read, when too big for one PDF (:func:`check_ledger_pdf`)."""
    summary = await batch_summary(session, principal, batch_id)
    batch = summary.batch
    if pdf:
        check_ledger_pdf(batch, village_path)
    county = await ledger.county_area(session, batch.county_code)
    scope = summary.scope_name
    if village_path is not None:
        village = await session.scalar(select(Area).where(Area.path == village_path))
        if village is None:
            raise NotFound("找不到该村")
        scope = village.name
    lines = await batch_lines(session, principal, batch.id, village_path=village_path, limit=None)
    title = "被征地农民养老金发放台账" if batch.kind == "pension" else "征收补偿款发放台账"
    return reports.LedgerDoc(
        title=title,
        batch_no=batch.number,
        county=county.name,
        scope=scope if scope != county.name else "全县",
        period=f"{batch.period.year}年{batch.period.month}月",
        generated_on=today_in_china(),
        rows=[
            reports.LedgerRow(
                seq=line.seq,
                village=line.village,
                name=line.name,
                id_masked=line.id_masked,
                account_masked=line.account_masked,
                months=line.months_text,
                amount=line.amount,
                status=line.status_label,
                reference=line.reference,
            )
            for line in lines
        ],
    )
