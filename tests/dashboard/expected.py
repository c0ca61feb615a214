"""The dashboard's figures counted again with hand-written SQL, independently of ``app.dashboard.service``: each
household's furthest stage is the GREATEST of what each fact of it proves (the service walks a CASE ladder over
joined sets), money and pensions are plain sums over the tables.

``where`` picks the households: an area path prefix (the caller's area), and optionally a village or a project
(households of the project's villages; assessments, notices, agreements, tranches and acquisition batches of that
project only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

HOUSEHOLDS = """
hh AS (
    SELECT h.id FROM households h
    WHERE h.area_path LIKE :prefix || '%'
      AND (CAST(:village AS integer) IS NULL OR h.village_id = :village)
      AND (CAST(:project AS integer) IS NULL
           OR h.village_id IN (SELECT pv.village_id FROM project_villages pv WHERE pv.project_id = :project))
)"""

STAGES = (
    "WITH"  # noqa: S608 - constant fragments, no input
    + HOUSEHOLDS
    + """,
paid_tranches AS (
    SELECT l.tranche_id FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id
    WHERE o.paid AND l.tranche_id IS NOT NULL
),
live AS (  -- signed agreements of the project (or any)
    SELECT g.* FROM agreements g
    WHERE g.status = 'signed' AND (CAST(:project AS integer) IS NULL OR g.project_id = :project)
),
handed AS (
    SELECT g.id FROM live g JOIN compensation_tranches t ON t.agreement_id = g.id
    WHERE t.kind = 'vacate' AND t.status <> 'cancelled' AND t.due_on IS NOT NULL
),
per AS (
    SELECT h.id,
        (SELECT count(*) FROM members m WHERE m.household_id = h.id AND m.status = 'registered') AS people,
        GREATEST(
            CASE WHEN EXISTS (SELECT 1 FROM surveys s WHERE s.household_id = h.id) THEN 1 ELSE 0 END,
            CASE WHEN EXISTS (
                SELECT 1 FROM assessments a WHERE a.household_id = h.id AND a.status = 'approved'
                AND (CAST(:project AS integer) IS NULL OR a.project_id = :project)) THEN 2 ELSE 0 END,
            CASE WHEN EXISTS (
                SELECT 1 FROM notice_entries e JOIN assessments a ON a.id = e.assessment_id
                WHERE e.household_id = h.id AND a.status = 'approved'
                AND (CAST(:project AS integer) IS NULL OR a.project_id = :project)) THEN 3 ELSE 0 END,
            CASE WHEN EXISTS (SELECT 1 FROM live g WHERE g.household_id = h.id) THEN 4 ELSE 0 END,
            CASE WHEN EXISTS (
                SELECT 1 FROM live g JOIN handed ON handed.id = g.id WHERE g.household_id = h.id)
                THEN 5 ELSE 0 END,
            CASE WHEN EXISTS (
                SELECT 1 FROM live g JOIN handed ON handed.id = g.id
                JOIN assessments a ON a.id = g.assessment_id
                WHERE g.household_id = h.id
                AND NOT EXISTS (
                    SELECT 1 FROM compensation_tranches t WHERE t.agreement_id = g.id AND t.status <> 'cancelled'
                    AND t.id NOT IN (SELECT tranche_id FROM paid_tranches))
                AND (a.option_kind <> 'resettlement_flat' OR EXISTS (
                    SELECT 1 FROM allocations al WHERE al.household_id = g.household_id
                    AND al.project_id = g.project_id AND al.released_at IS NULL)))
                THEN 6 ELSE 0 END
        ) AS stage
    FROM hh h
)
SELECT k.k AS stage,
       count(per.id) FILTER (WHERE per.stage >= k.k) AS households,
       coalesce(sum(per.people) FILTER (WHERE per.stage >= k.k), 0) AS people,
       count(per.id) FILTER (WHERE per.stage = k.k) AS at_households
FROM generate_series(0, 6) AS k(k) LEFT JOIN per ON true
GROUP BY k.k ORDER BY k.k
"""
)

MONEY = (
    "WITH"  # noqa: S608 - constant fragments, no input
    + HOUSEHOLDS
    + """,
tranches AS (
    SELECT t.*, EXISTS (
        SELECT 1 FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id
        WHERE l.tranche_id = t.id AND o.paid) AS paid
    FROM compensation_tranches t JOIN agreements g ON g.id = t.agreement_id
    WHERE g.status = 'signed' AND t.status <> 'cancelled' AND t.household_id IN (SELECT id FROM hh)
      AND (CAST(:project AS integer) IS NULL OR t.project_id = :project)
)
SELECT
    (SELECT coalesce(sum(amount), 0) FROM tranches) AS committed,
    (SELECT coalesce(sum(amount), 0) FROM tranches WHERE status = 'due' AND NOT paid) AS due,
    (SELECT coalesce(sum(amount), 0) FROM tranches WHERE status = 'awaiting') AS awaiting,
    (SELECT coalesce(sum(l.amount), 0) FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id
        JOIN compensation_tranches t ON t.id = l.tranche_id
        WHERE o.paid AND o.resolved_on <= :today AND t.household_id IN (SELECT id FROM hh)
        AND (CAST(:project AS integer) IS NULL OR t.project_id = :project)) AS paid,
    (SELECT coalesce(sum(l.amount), 0) FROM payment_lines l JOIN line_outcomes o ON o.line_id = l.id
        JOIN compensation_tranches t ON t.id = l.tranche_id
        WHERE o.paid AND o.resolved_on BETWEEN :month AND :today AND t.household_id IN (SELECT id FROM hh)
        AND (CAST(:project AS integer) IS NULL OR t.project_id = :project)) AS paid_month
"""
)

PENSIONS = (
    "WITH"  # noqa: S608 - constant fragments, no input
    + HOUSEHOLDS
    + """,
enrolled AS (
    SELECT e.* FROM enrollments e JOIN acquisition_batches b ON b.id = e.batch_id
    WHERE e.household_id IN (SELECT id FROM hh)
      AND (CAST(:project AS integer) IS NULL OR b.project_id = :project)
),
paid AS (
    SELECT l.enrollment_id, l.amount, o.resolved_on FROM payment_lines l
    JOIN line_outcomes o ON o.line_id = l.id AND o.paid
    WHERE l.enrollment_id IN (SELECT id FROM enrolled) AND o.resolved_on <= :today
    UNION ALL
    SELECT pm.enrollment_id, pm.amount, pm.paid_on FROM pension_months pm
    WHERE pm.status = 'paid' AND pm.enrollment_id IN (SELECT id FROM enrolled) AND pm.paid_on <= :today
)
SELECT
    (SELECT count(*) FROM enrolled) AS enrolled,
    (SELECT count(*) FROM enrolled WHERE status = 'deceased') AS deceased,
    (SELECT count(*) FROM enrolled WHERE status = 'active' AND pension_start_month <= :month) AS drawing,
    (SELECT count(DISTINCT enrollment_id) FROM paid) AS paid_people,
    (SELECT coalesce(sum(amount), 0) FROM paid) AS paid_total,
    (SELECT count(DISTINCT enrollment_id) FROM paid WHERE resolved_on >= :month) AS paid_month_people,
    (SELECT coalesce(sum(amount), 0) FROM paid WHERE resolved_on >= :month) AS paid_month
"""
)

WEEKS = (
    "WITH"  # noqa: S608 - constant fragments, no input
    + HOUSEHOLDS
    + """
SELECT date_trunc('week', g.signed_on)::date AS week, count(*) AS n
FROM agreements g
WHERE g.status = 'signed' AND g.household_id IN (SELECT id FROM hh)
  AND (CAST(:project AS integer) IS NULL OR g.project_id = :project)
  AND g.signed_on BETWEEN :first AND :today
GROUP BY 1 ORDER BY 1
"""
)


@dataclass(frozen=True)
class Expected:
    reached: list[tuple[int, int]]  # (households, people) per stage index, "got at least this far"
    at_stage: list[int]  # households per stage index, "this far and no further"
    money: dict[str, int]
    pensions: dict[str, int]
    weeks: dict[date, int]  # Monday -> agreements signed that week (only weeks with some)


async def expected(
    db: AsyncSession, *, prefix: str, today: date, village: int | None = None, project: int | None = None
) -> Expected:
    month = today.replace(day=1)
    params: dict[str, Any] = {"prefix": prefix, "village": village, "project": project}
    stages = (await db.execute(text(STAGES), params)).all()
    money = (await db.execute(text(MONEY), {**params, "today": today, "month": month})).one()
    pensions = (await db.execute(text(PENSIONS), {**params, "today": today, "month": month})).one()
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=11)
    weeks = (await db.execute(text(WEEKS), {**params, "today": today, "first": first})).all()
    return Expected(
        reached=[(int(r.households), int(r.people)) for r in stages],
        at_stage=[int(r.at_households) for r in stages],
        money={k: int(v) for k, v in money._mapping.items()},
        pensions={k: int(v) for k, v in pensions._mapping.items()},
        weeks={r.week: int(r.n) for r in weeks},
    )
