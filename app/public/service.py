"""群众查询: a resident's own case, found by ID number and full name, with nothing unmasked.

One statement answers a lookup (the HTTP layer is bound by Python CPU, performance.md): the person is found by the
keyed hash of the ID number *and* the name in the same ``WHERE``, and everything else hangs off that row. An
unknown number, a known number with another name and a number that does not parse (hashed as typed) all run the
same statement and get no row: the same answer in the same time, so the page cannot be used to learn whether a
number is on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
from pydantic_core import from_json

from app.agreements.rules import mask_name
from app.core.idcard import InvalidIdNumber, parse_id_number
from app.households.service import id_cipher
from app.payments.models import TRANCHE_KINDS
from app.plans.display import OPTION_LABELS
from app.public import rules

AGREEMENT_STATES = {"draft": "已出具，待签约", "signed": "已签约"}

_STATUS_SQL = """
WITH p AS (
    SELECT m.id, m.household_id, m.name, m.id_number_masked
    FROM members m
    WHERE m.id_number_hash = $1 AND m.name = $2
    ORDER BY (m.status = 'registered') DESC, m.id DESC
    LIMIT 1
), h AS (
    SELECT h.id, h.county_code, v.name AS village
    FROM p JOIN households h ON h.id = p.household_id JOIN areas v ON v.id = h.village_id
), g AS (
    SELECT g.id, g.number, g.status, g.signed_on, g.net_payable
    FROM agreements g JOIN h ON g.household_id = h.id
    WHERE g.status <> 'voided'
    ORDER BY g.id DESC LIMIT 1
), a AS (
    SELECT a.option_kind, a.compensation_total, (a.reviewed_at AT TIME ZONE 'Asia/Shanghai')::date AS approved_on
    FROM assessments a JOIN h ON a.household_id = h.id
    WHERE a.status = 'approved'
    ORDER BY a.id DESC LIMIT 1
), t AS (
    SELECT t.id, t.kind, t.amount, t.status, t.due_on
    FROM compensation_tranches t JOIN g ON t.agreement_id = g.id
    WHERE g.status = 'signed' AND t.status <> 'cancelled'
), l AS (
    SELECT l.tranche_id, t.kind, l.amount, b.exported_at IS NOT NULL AS exported,
           (b.exported_at AT TIME ZONE 'Asia/Shanghai')::date AS sent_on, o.paid, o.resolved_on
    FROM t JOIN payment_lines l ON l.tranche_id = t.id
    JOIN payment_batches b ON b.id = l.batch_id
    LEFT JOIN line_outcomes o ON o.line_id = l.id
), e AS (
    SELECT e.id, e.county_code, e.enrolled_on, e.monthly_pension, e.pension_start_month, e.status, e.death_date
    FROM enrollments e JOIN h ON e.county_code = h.county_code
    WHERE e.person_hash = $1
), pm AS (
    SELECT pm.month, pm.amount, pm.status, pm.kind, pm.paid_on, x.paid, x.exported, x.sent_on
    FROM e JOIN pension_months pm ON pm.enrollment_id = e.id
    LEFT JOIN LATERAL (
        SELECT o.paid, b.exported_at IS NOT NULL AS exported,
               (b.exported_at AT TIME ZONE 'Asia/Shanghai')::date AS sent_on
        FROM payment_lines l JOIN payment_batches b ON b.id = l.batch_id
        LEFT JOIN line_outcomes o ON o.line_id = l.id
        WHERE l.county_code = e.county_code AND l.person_hash = $1 AND l.enrollment_id IS NOT NULL
          AND pm.month = ANY(l.months)
        ORDER BY l.id DESC LIMIT 1
    ) x ON pm.status = 'claimed'
    ORDER BY pm.month DESC
    LIMIT 12
)
SELECT json_build_object(
    'name', p.name,
    'id_masked', p.id_number_masked,
    'village', (SELECT village FROM h),
    'surveyed_on', (
        SELECT coalesce(s.surveyed_on, (s.created_at AT TIME ZONE 'Asia/Shanghai')::date)
        FROM surveys s WHERE s.household_id = p.household_id),
    'assessment', (SELECT row_to_json(a) FROM a),
    'noticed_on', (
        SELECT min(n.started_on) FROM notice_entries ne JOIN public_notices n ON n.id = ne.notice_id
        WHERE ne.household_id = p.household_id),
    'agreement', (SELECT row_to_json(g) FROM g),
    'tranches', (SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM t),
    'handed_over_on', (
        SELECT ho.handed_over_on FROM handovers ho JOIN g ON ho.agreement_id = g.id WHERE g.status = 'signed'),
    'difference_paid_on', (
        SELECT r.received_on FROM difference_receipts r JOIN g ON r.agreement_id = g.id WHERE g.status = 'signed'),
    'lines', (SELECT coalesce(json_agg(l ORDER BY l.sent_on NULLS LAST, l.tranche_id), '[]') FROM l),
    'flat', (
        SELECT json_build_object('building', bu.name, 'unit', u.number,
                                 'on', (al.allocated_at AT TIME ZONE 'Asia/Shanghai')::date)
        FROM allocations al JOIN units u ON u.id = al.unit_id JOIN buildings bu ON bu.id = u.building_id
        WHERE al.household_id = p.household_id AND al.released_at IS NULL
        ORDER BY al.id DESC LIMIT 1),
    'enrollment', (SELECT row_to_json(e) FROM e),
    'last_certified_on', (
        SELECT max(c.certified_on) FROM life_certifications c JOIN e ON c.enrollment_id = e.id),
    'pension_months', (SELECT coalesce(json_agg(pm ORDER BY pm.month DESC), '[]') FROM pm)
)
FROM p
"""


@dataclass(frozen=True, slots=True)
class Payment:
    label: str
    amount: int
    state: str
    on: date | None  # paid (or failed) on; else the day it went to the bank; None: not yet sent


@dataclass(frozen=True, slots=True)
class PensionMonth:
    month: date
    amount: int
    back_pay: bool
    state: str
    on: date | None  # paid on; else the day its payment went to the bank


@dataclass(frozen=True, slots=True)
class Pension:
    state: str
    enrolled_on: date
    start_month: date
    monthly_amount: int
    months: list[PensionMonth]
    certification_due: date | None


@dataclass(frozen=True, slots=True)
class Status:
    name_masked: str
    id_masked: str
    village: str
    steps: list[rules.Step]
    stage: str
    option: str | None
    agreement_number: str | None
    agreement_state: str | None
    signed_on: date | None
    compensation_total: int | None
    net_payable: int | None
    committed: int
    paid: int
    payments: list[Payment]
    flat: str | None
    pension: Pension | None
    difference_paid_on: date | None = None  # 安置房差价 received (where net_payable < 0)

    @property
    def outstanding(self) -> int:
        return self.committed - self.paid


def lookup_digest(id_text: str) -> bytes:
    """The keyed hash the register is searched by: of the normalised number when it parses, else of the text
    as typed (which matches nothing)."""
    cleaned = rules.clean_id_text(id_text)
    try:
        number = parse_id_number(cleaned).number
    except InvalidIdNumber:
        number = "?" + cleaned
    return id_cipher().lookup_hash(number)


async def find_status(conn: asyncpg.Connection, digest: bytes, name: str, today: date) -> Status | None:
    """The resident's case, or None — the same None for an unknown number, another name or a malformed number.
    ``digest`` is ``lookup_digest`` of the number as typed."""
    raw = await conn.fetchval(_STATUS_SQL, digest, rules.clean_name(name))
    if raw is None:
        return None
    data = raw if isinstance(raw, dict) else from_json(raw)  # pydantic-core: half the time of json.loads
    return _status(data, today)


def _day(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else None


def _status(d: dict[str, Any], today: date) -> Status:
    assessment = d["assessment"] or {}
    agreement = d["agreement"] or {}
    signed = agreement.get("status") == "signed"
    tranches = d["tranches"]
    lines = d["lines"]
    paid_on: dict[int, date | None] = {t["id"]: None for t in tranches}
    payments = []
    for line in lines:
        day = _day(line["resolved_on"]) or _day(line["sent_on"])
        if line["paid"] is True:
            paid_on[line["tranche_id"]] = _day(line["resolved_on"])
        payments.append(
            Payment(
                TRANCHE_KINDS.get(line["kind"], line["kind"]),
                int(line["amount"]),
                rules.payment_state(line["paid"], bool(line["exported"])),
                day,
            )
        )
    vacated_on = next((_day(t["due_on"]) for t in tranches if t["kind"] == "vacate"), None) or _day(
        d.get("handed_over_on")
    )
    flat = d["flat"]
    difference_paid_on = _day(d.get("difference_paid_on"))
    option_kind = assessment.get("option_kind")
    reached: dict[str, date | None] = {
        "surveyed": _day(d["surveyed_on"]),
        "assessed": _day(assessment.get("approved_on")),
        "noticed": _day(d["noticed_on"]),
        "signed": _day(agreement.get("signed_on")) if signed else None,
        "vacated": vacated_on,
    }
    reached["settled"] = (
        rules.settled_on(
            option_kind=option_kind,
            vacated_on=vacated_on,
            tranches=[(t["status"], paid_on[t["id"]]) for t in tranches],
            flat_allocated_on=_day(flat["on"]) if flat else None,
            owes_difference=int(agreement.get("net_payable") or 0) < 0,
            difference_paid_on=difference_paid_on,
        )
        if signed
        else None
    )
    steps = rules.timeline(reached)
    return Status(
        name_masked=mask_name(d["name"]),
        id_masked=d["id_masked"],
        village=d["village"],
        steps=steps,
        stage=rules.current_stage(steps),
        option=OPTION_LABELS.get(option_kind) if option_kind else None,
        agreement_number=agreement.get("number"),
        agreement_state=AGREEMENT_STATES.get(agreement.get("status", "")),
        signed_on=_day(agreement.get("signed_on")),
        compensation_total=assessment.get("compensation_total"),
        net_payable=agreement.get("net_payable"),
        committed=sum(int(t["amount"]) for t in tranches),
        paid=sum(int(x["amount"]) for x in lines if x["paid"] is True),
        payments=payments,
        flat=f"{flat['building']} {flat['unit']}" if flat else None,
        pension=_pension(d) if d["enrollment"] else None,
        difference_paid_on=difference_paid_on if signed else None,
    )


def _pension(d: dict[str, Any]) -> Pension:
    e = d["enrollment"]
    enrolled_on, start = date.fromisoformat(e["enrolled_on"]), date.fromisoformat(e["pension_start_month"])
    death = _day(e["death_date"])
    months = [
        PensionMonth(
            month=date.fromisoformat(m["month"]),
            amount=int(m["amount"]),
            back_pay=m["kind"] == "back_pay",
            state=rules.pension_month_state(m["status"], m["paid"], bool(m["exported"])),
            on=_day(m["paid_on"]) or _day(m["sent_on"]),
        )
        for m in d["pension_months"]
    ]
    return Pension(
        state="已参保，按月发放" if death is None else "已停发（已登记死亡）",
        enrolled_on=enrolled_on,
        start_month=start,
        monthly_amount=int(e["monthly_pension"]),
        months=months,
        certification_due=rules.next_certification_due(
            enrolled_on, start, _day(d["last_certified_on"]), death
        ),
    )


def masked_for_log(id_text: str) -> str:
    """What a lookup leaves in the log of the number: its masked form when it parses, never more."""
    try:
        return parse_id_number(rules.clean_id_text(id_text)).masked
    except InvalidIdNumber:
        return "（号码无效）"
