"""工作进度: the numbers of the dashboards and the briefing, for the caller's whole area, a project or a village.

Everything is counted in the database with a handful of set-based queries, whatever the number of households: one
for the stages (grouped by village and stage), one for agreements per day, one for compensation owed, one for the
bank's paid lines, one for enrollments. Every query starts from the same set of households (``_households``), cut to
the caller's areas there and only there (``scope_clause``), and to the village or the project's villages asked for;
a project's dashboard further counts only that project's assessments, notices, agreements, tranches and
acquisition batches.

Definitions (what the pages and the PDF say under each figure):

* stages (``rules.STAGES``), as the 下一步 hint reads them (``app.households.progress``): surveyed = a survey is
  recorded; assessed = an approved assessment; noticed = that approved assessment is on a public notice; signed = a
  signed (not voided) agreement; vacated = its 腾房交付验收 is recorded (the vacate tranche became due; a handover
  record where nothing is paid on it); settled = vacated, every tranche of the agreement paid by the bank, the
  difference the household owes for its flats (安置房差价) received, and — for the flat option — a flat allocated.
  A household counts at the furthest stage reached; people are its registered members (在册).
* agreements signed per week: signed (not voided) agreements by signing date.
* committed: what signed agreements owe households (their tranches, as posted to the ledger at signing); paid:
  the bank's paid outcomes of compensation lines; outstanding = committed − paid, split into due (condition met,
  not yet paid, including money with the bank) and awaiting its condition. The other way: what households owe
  for flats costing more than their compensation (安置房差价, signed agreements) and what of it was received.
* pensioners: enrollments (参保); drawing = alive and their pension month has come; paid = the bank's paid
  outcomes of pension lines, plus the months the register records as paid outside a batch (paid before the
  system took over, 历史发放: ``pension_months.status = 'paid'``; a month paid through a batch stays ``claimed``
  there and is counted once, from its line). "This month" is by the day the bank's result (or the register's
  paid date) was recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy import Date as SqlDate
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.agreements.models import Agreement, Handover, NoticeEntry
from app.areas.models import Area
from app.auth.policy import SYSTEM, Perm, Principal, require, scope_clause
from app.compensation.models import Assessment, Survey
from app.core.errors import NotFound
from app.dashboard import rules
from app.dashboard.rules import Headcount, MoneyStatus, StageRow, WeekCount
from app.flats.models import Allocation
from app.households import service as households
from app.households.models import Household, Member
from app.payments.models import CompensationTranche, DifferenceReceipt, LineOutcome, PaymentLine
from app.plans.models import Project, ProjectVillage
from app.socialsecurity.models import AcquisitionBatch, Enrollment, PensionMonth

ScopeKind = Literal["area", "project", "village"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a dashboard covers: the caller's areas, one project (within them) or one village."""

    kind: ScopeKind
    title: str  # 封丘县 / 封丘县前方庄村征收项目 / 前方庄村
    principal: Principal
    project: Project | None = None
    village: Area | None = None
    village_ids: tuple[int, ...] = ()  # only these villages (我的村's page of them); all when empty

    @property
    def base_url(self) -> str:
        if self.project is not None:
            return f"/dashboard/projects/{self.project.id}"
        if self.village is not None:
            return f"/dashboard/villages/{self.village.id}"
        return "/dashboard"

    @property
    def kind_label(self) -> str:
        return {"area": "区域", "project": "征收项目", "village": "村"}[self.kind]


@dataclass(frozen=True, slots=True)
class VillageProgress:
    village_id: int
    name: str
    township: str
    stages: list[StageRow]

    def reached(self, code: str) -> Headcount:
        return next(r.reached for r in self.stages if r.code == code)


@dataclass(frozen=True, slots=True)
class ProjectLink:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Pensions:
    enrolled: int  # 参保人数
    deceased: int
    drawing: int  # alive, pension month has come
    paid_people: int  # paid at least once by the bank
    paid_total: int  # fen, to date
    paid_month_people: int
    paid_month: int  # fen, this month


@dataclass(frozen=True, slots=True)
class Progress:
    scope: Scope
    today: date
    stages: list[StageRow]
    weeks: list[WeekCount]
    money: MoneyStatus
    compensation_paid_month: int  # fen
    pensions: Pensions
    villages: list[VillageProgress] = field(default_factory=list)
    projects: list[ProjectLink] = field(default_factory=list)

    @property
    def paid_total(self) -> int:
        """Everything the bank paid to date: compensation and pensions (fen)."""
        return self.money.paid + self.pensions.paid_total

    @property
    def paid_month(self) -> int:
        return self.compensation_paid_month + self.pensions.paid_month

    @property
    def month_start(self) -> date:
        return rules.month_start(self.today)

    @property
    def signed_in_weeks(self) -> int:
        return sum(w.count for w in self.weeks)

    def stage(self, code: str) -> StageRow:
        return next(r for r in self.stages if r.code == code)


# ---------------------------------------------------------------- scope


async def area_scope(session: AsyncSession, principal: Principal) -> Scope:
    """The caller's whole area: a county, a township or villages, named as the areas assigned to them."""
    require(principal, Perm.REGISTRY_READ)
    if principal is SYSTEM:
        return Scope("area", "全部区域", principal)
    names = (
        await session.scalars(
            select(Area.name).where(Area.path.in_(principal.scope_paths)).order_by(Area.path)
        )
    ).all()
    return Scope("area", "、".join(names) or "（未分配区域）", principal)


async def project_scope(session: AsyncSession, principal: Principal, project_id: int) -> Scope:
    """A project with at least one of its villages in the caller's areas (its figures: those villages only)."""
    require(principal, Perm.REGISTRY_READ)
    project = await session.scalar(
        select(Project).where(
            Project.id == project_id,
            exists().where(
                ProjectVillage.project_id == Project.id, scope_clause(principal, ProjectVillage.area_path)
            ),
        )
    )
    if project is None:
        raise NotFound("找不到该征收项目，或它不在您负责的区域内")
    return Scope("project", project.name, principal, project=project)


async def village_scope(session: AsyncSession, principal: Principal, village_id: int) -> Scope:
    village = await households.get_village(session, principal, village_id)
    return Scope("village", village.name, principal, village=village)


# ---------------------------------------------------------------- the one cut to the caller's areas


def _households(scope: Scope) -> CTE:
    """The households a dashboard counts: in the caller's areas and the village or project asked for."""
    stmt = select(Household.id.label("id"), Household.village_id.label("village_id")).where(
        scope_clause(scope.principal, Household.area_path)
    )
    if scope.village is not None:
        stmt = stmt.where(Household.village_id == scope.village.id)
    if scope.village_ids:
        stmt = stmt.where(Household.village_id.in_(scope.village_ids))
    if scope.project is not None:
        stmt = stmt.where(
            Household.village_id.in_(
                select(ProjectVillage.village_id).where(ProjectVillage.project_id == scope.project.id)
            )
        )
    return stmt.cte("hh")


def _of_project(scope: Scope, column: Any) -> ColumnElement[bool]:
    """``column`` (a project id) is the dashboard's project; always true outside a project's dashboard."""
    return column == scope.project.id if scope.project is not None else true()


def _batch_of_project(scope: Scope) -> ColumnElement[bool]:
    if scope.project is None:
        return true()
    return Enrollment.batch_id.in_(
        select(AcquisitionBatch.id).where(AcquisitionBatch.project_id == scope.project.id)
    )


# ---------------------------------------------------------------- queries


def _paid_line(tranche_id: Any) -> Select[Any]:
    return (
        select(literal(1))
        .select_from(PaymentLine)
        .join(LineOutcome, LineOutcome.line_id == PaymentLine.id)
        .where(PaymentLine.tranche_id == tranche_id, LineOutcome.paid)
    )


def _stage_query(scope: Scope, hh: CTE) -> Select[Any]:
    """(village id, stage index, households, people) for every village and stage that has households."""
    people = (
        select(Member.household_id.label("hid"), func.count().label("n"))
        .join(hh, hh.c.id == Member.household_id)
        .where(Member.status == "registered")
        .group_by(Member.household_id)
        .cte("people")
    )
    surveyed = (
        select(Survey.household_id.label("hid")).join(hh, hh.c.id == Survey.household_id).cte("surveyed")
    )
    assessed = (
        select(Assessment.household_id.label("hid"))
        .join(hh, hh.c.id == Assessment.household_id)
        .where(Assessment.status == "approved", _of_project(scope, Assessment.project_id))
        .distinct()
        .cte("assessed")
    )
    noticed = (
        select(NoticeEntry.household_id.label("hid"))
        .join(hh, hh.c.id == NoticeEntry.household_id)
        .join(Assessment, Assessment.id == NoticeEntry.assessment_id)
        .where(Assessment.status == "approved", _of_project(scope, Assessment.project_id))
        .distinct()
        .cte("noticed")
    )
    signed = (
        select(Agreement.household_id.label("hid"))
        .join(hh, hh.c.id == Agreement.household_id)
        .where(Agreement.status == "signed", _of_project(scope, Agreement.project_id))
        .distinct()
        .cte("signed")
    )
    vacate = aliased(CompensationTranche)
    handed_over = or_(
        exists().where(
            vacate.agreement_id == Agreement.id,
            vacate.kind == "vacate",
            vacate.status != "cancelled",
            vacate.due_on.is_not(None),
        ),
        exists().where(Handover.agreement_id == Agreement.id),  # nothing paid on the handover
    )
    vacated = (
        select(Agreement.household_id.label("hid"))
        .join(hh, hh.c.id == Agreement.household_id)
        .where(Agreement.status == "signed", _of_project(scope, Agreement.project_id), handed_over)
        .distinct()
        .cte("vacated")
    )
    tranche = aliased(CompensationTranche)
    unpaid = exists().where(
        tranche.agreement_id == Agreement.id,
        tranche.status != "cancelled",
        ~exists(_paid_line(tranche.id)),
    )
    flat_allocated = exists().where(
        Allocation.household_id == Agreement.household_id,
        Allocation.project_id == Agreement.project_id,
        Allocation.released_at.is_(None),
    )
    settled = (
        select(Agreement.household_id.label("hid"))
        .join(hh, hh.c.id == Agreement.household_id)
        .join(Assessment, Assessment.id == Agreement.assessment_id)
        .where(
            Agreement.status == "signed",
            _of_project(scope, Agreement.project_id),
            handed_over,
            ~unpaid,
            or_(Agreement.net_payable >= 0, exists().where(DifferenceReceipt.agreement_id == Agreement.id)),
            or_(Assessment.option_kind != "resettlement_flat", flat_allocated),
        )
        .distinct()
        .cte("settled")
    )
    ladder = [settled, vacated, signed, noticed, assessed, surveyed]
    top = len(rules.STAGES) - 1
    stage = case(
        *((step.c.hid.is_not(None), top - i) for i, step in enumerate(ladder)),
        else_=0,
    ).label("stage")
    per_household = select(hh.c.village_id, stage, func.coalesce(people.c.n, 0).label("people")).select_from(
        hh
    )
    per_household = per_household.outerjoin(people, people.c.hid == hh.c.id)
    for step in ladder:
        per_household = per_household.outerjoin(step, step.c.hid == hh.c.id)
    ph = per_household.subquery("ph")
    return select(ph.c.village_id, ph.c.stage, func.count(), func.sum(ph.c.people)).group_by(
        ph.c.village_id, ph.c.stage
    )


async def _stages(
    session: AsyncSession, scope: Scope
) -> tuple[dict[int, Headcount], dict[int, dict[int, Headcount]]]:
    """Headcounts by stage for the whole scope and per village."""
    hh = _households(scope)
    total: dict[int, Headcount] = defaultdict(Headcount)
    by_village: dict[int, dict[int, Headcount]] = defaultdict(lambda: defaultdict(Headcount))
    for village_id, stage, n, people in (await session.execute(_stage_query(scope, hh))).all():
        count = Headcount(int(n), int(people or 0))
        total[int(stage)] += count
        by_village[int(village_id)][int(stage)] += count
    return total, by_village


async def village_stages(
    session: AsyncSession, principal: Principal, village_ids: Sequence[int]
) -> dict[int, list[StageRow]]:
    """The stages of these villages, as far as they are in the caller's areas (我的村 lists a page of them), from
    the one grouped stage query; a village without households is not in the answer."""
    require(principal, Perm.REGISTRY_READ)
    if not village_ids:
        return {}
    _total, by_village = await _stages(session, Scope("area", "", principal, village_ids=tuple(village_ids)))
    return {village_id: rules.stage_rows(stages) for village_id, stages in by_village.items()}


async def _weeks(session: AsyncSession, scope: Scope, today: date) -> list[WeekCount]:
    hh = _households(scope)
    first = rules.week_starts(today)[0]
    rows = await session.execute(
        select(Agreement.signed_on, func.count())
        .join(hh, hh.c.id == Agreement.household_id)
        .where(
            Agreement.status == "signed",
            _of_project(scope, Agreement.project_id),
            Agreement.signed_on >= first,
            Agreement.signed_on <= today,
        )
        .group_by(Agreement.signed_on)
    )
    return rules.weekly_counts(((d, int(n)) for d, n in rows.all() if d is not None), today)


async def _owed(session: AsyncSession, scope: Scope) -> tuple[int, int, int]:
    """(committed, due and unpaid, awaiting) in fen, over the tranches of signed agreements."""
    hh = _households(scope)
    t = CompensationTranche
    paid = exists(_paid_line(t.id))
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(t.amount), 0),
                func.coalesce(func.sum(t.amount).filter(t.status == "due", ~paid), 0),
                func.coalesce(func.sum(t.amount).filter(t.status == "awaiting"), 0),
            )
            .join(hh, hh.c.id == t.household_id)
            .join(Agreement, Agreement.id == t.agreement_id)
            .where(t.status != "cancelled", Agreement.status == "signed", _of_project(scope, t.project_id))
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _differences(session: AsyncSession, scope: Scope) -> tuple[int, int]:
    """(owed, received) in fen: the difference households owe for their flats under signed agreements (安置房差价)
    and what of it finance has recorded as received."""
    hh = _households(scope)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(-Agreement.net_payable), 0),
                func.coalesce(func.sum(DifferenceReceipt.amount), 0),
            )
            .select_from(Agreement)
            .join(hh, hh.c.id == Agreement.household_id)
            .outerjoin(DifferenceReceipt, DifferenceReceipt.agreement_id == Agreement.id)
            .where(
                Agreement.status == "signed",
                Agreement.net_payable < 0,
                _of_project(scope, Agreement.project_id),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class _Paid:
    total: int = 0
    month: int = 0
    people: int = 0
    month_people: int = 0


async def _pension_paid(session: AsyncSession, scope: Scope, today: date) -> _Paid:
    """Pensions paid to date and this month: the bank's paid lines and the register's months paid outside a batch."""
    hh = _households(scope)
    enrolled = (
        select(Enrollment.id).join(hh, hh.c.id == Enrollment.household_id).where(_batch_of_project(scope))
    )
    by_bank = (
        select(
            PaymentLine.enrollment_id.label("e"),
            PaymentLine.amount.label("amount"),
            LineOutcome.resolved_on.label("on"),
        )
        .join(LineOutcome, and_(LineOutcome.line_id == PaymentLine.id, LineOutcome.paid))
        .where(PaymentLine.enrollment_id.in_(enrolled), LineOutcome.resolved_on <= today)
    )
    on_record = select(PensionMonth.enrollment_id, PensionMonth.amount, PensionMonth.paid_on).where(
        PensionMonth.status == "paid", PensionMonth.enrollment_id.in_(enrolled), PensionMonth.paid_on <= today
    )
    paid = union_all(by_bank, on_record).subquery()
    this_month = paid.c.on >= rules.month_start(today)
    total, month, people, month_people = (
        await session.execute(
            select(
                func.coalesce(func.sum(paid.c.amount), 0),
                func.coalesce(func.sum(paid.c.amount).filter(this_month), 0),
                func.count(distinct(paid.c.e)),
                func.count(distinct(paid.c.e)).filter(this_month),
            )
        )
    ).one()
    return _Paid(int(total), int(month), int(people), int(month_people))


async def _paid(session: AsyncSession, scope: Scope, today: date) -> dict[str, _Paid]:
    """What the bank paid to date and this month, by kind (``compensation``, ``pension``)."""
    hh = _households(scope)
    month = rules.month_start(today)
    kind = case((PaymentLine.tranche_id.is_not(None), "compensation"), else_="pension").label("kind")
    this_month = LineOutcome.resolved_on >= month
    rows = await session.execute(
        select(
            kind,
            func.sum(PaymentLine.amount),
            func.coalesce(func.sum(PaymentLine.amount).filter(this_month), 0),
            func.count(distinct(PaymentLine.enrollment_id)),
            func.count(distinct(PaymentLine.enrollment_id)).filter(this_month),
        )
        .join(LineOutcome, and_(LineOutcome.line_id == PaymentLine.id, LineOutcome.paid))
        .outerjoin(Enrollment, Enrollment.id == PaymentLine.enrollment_id)
        .outerjoin(CompensationTranche, CompensationTranche.id == PaymentLine.tranche_id)
        .join(hh, hh.c.id == func.coalesce(Enrollment.household_id, CompensationTranche.household_id))
        .where(
            LineOutcome.resolved_on <= today,
            or_(
                and_(PaymentLine.tranche_id.is_not(None), _of_project(scope, CompensationTranche.project_id)),
                and_(PaymentLine.enrollment_id.is_not(None), _batch_of_project(scope)),
            ),
        )
        .group_by(kind)
    )
    return {k: _Paid(int(t or 0), int(m or 0), int(p or 0), int(mp or 0)) for k, t, m, p, mp in rows.all()}


async def _enrolled(session: AsyncSession, scope: Scope, today: date) -> tuple[int, int, int]:
    """(enrolled, deceased, drawing a pension this month)."""
    hh = _households(scope)
    month = rules.month_start(today)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Enrollment.status == "deceased"),
                func.count().filter(
                    Enrollment.status == "active", Enrollment.pension_start_month <= cast(month, SqlDate)
                ),
            )
            .select_from(Enrollment)
            .join(hh, hh.c.id == Enrollment.household_id)
            .where(_batch_of_project(scope))
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _villages(session: AsyncSession, scope: Scope) -> list[tuple[int, str, str]]:
    """(id, name, township) of the villages a breakdown lists: in the caller's areas (and the project)."""
    township = aliased(Area)
    stmt = (
        select(Area.id, Area.name, township.name)
        .join(township, township.id == Area.parent_id)
        .where(Area.level == "village", scope_clause(scope.principal, Area.path))
        .order_by(township.code, Area.code)
    )
    if scope.village is not None:
        stmt = stmt.where(Area.id == scope.village.id)
    if scope.project is not None:
        stmt = stmt.where(
            Area.id.in_(
                select(ProjectVillage.village_id).where(ProjectVillage.project_id == scope.project.id)
            )
        )
    return [(int(i), n, t) for i, n, t in (await session.execute(stmt)).all()]


async def _projects(session: AsyncSession, scope: Scope) -> list[ProjectLink]:
    """Projects with a village in the caller's areas (and in the village, on a village's dashboard)."""
    if scope.project is not None:
        return []
    in_areas = and_(
        ProjectVillage.project_id == Project.id, scope_clause(scope.principal, ProjectVillage.area_path)
    )
    if scope.village is not None:
        in_areas = and_(in_areas, ProjectVillage.village_id == scope.village.id)
    rows = await session.execute(
        select(Project.id, Project.code, Project.name).where(exists().where(in_areas)).order_by(Project.id)
    )
    return [ProjectLink(int(i), c, n) for i, c, n in rows.all()]


async def progress(session: AsyncSession, scope: Scope, today: date) -> Progress:
    """Every figure of one dashboard (see the module's docstring for what each means)."""
    require(scope.principal, Perm.REGISTRY_READ)
    total, by_village = await _stages(session, scope)
    committed, due, awaiting = await _owed(session, scope)
    difference_owed, difference_received = await _differences(session, scope)
    comp = (await _paid(session, scope, today)).get("compensation", _Paid())
    pension = await _pension_paid(session, scope, today)
    enrolled, deceased, drawing = await _enrolled(session, scope, today)
    villages = []
    if scope.village is None:
        villages = [
            VillageProgress(vid, name, township, rules.stage_rows(by_village.get(vid, {})))
            for vid, name, township in await _villages(session, scope)
        ]
    return Progress(
        scope=scope,
        today=today,
        stages=rules.stage_rows(total),
        weeks=await _weeks(session, scope, today),
        money=MoneyStatus(
            committed=committed,
            paid=comp.total,
            due=due,
            awaiting=awaiting,
            difference_owed=difference_owed,
            difference_received=difference_received,
        ),
        compensation_paid_month=comp.month,
        pensions=Pensions(
            enrolled=enrolled,
            deceased=deceased,
            drawing=drawing,
            paid_people=pension.people,
            paid_total=pension.total,
            paid_month_people=pension.month_people,
            paid_month=pension.month,
        ),
        villages=villages,
        projects=await _projects(session, scope),
    )
