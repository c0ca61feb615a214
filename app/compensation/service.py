"""Survey (调查登记) and assessment (补偿核算) use cases.

The arithmetic is in ``rules.py``; here the survey is kept, an assessment is computed against the approved plan
version of the household's village and frozen when submitted, and a reviewer other than its maker approves or
returns it. Reads go through ``scope_clause`` (via the household), writes through ``authorize``; every write is
audited in the same transaction. Services flush; the request commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from app.areas.models import Area
from app.audit import service as audit
from app.auth.models import User
from app.auth.policy import Perm, Principal, authorize, require, scope_clause
from app.compensation import rules
from app.compensation.models import Assessment, AssessmentLine, Survey, SurveyAttachment, SurveyStructure
from app.compensation.schemas import AssessmentIn, SurveySave
from app.core.clock import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.text import like_fragment
from app.households import service as households
from app.households.models import Household, Member
from app.plans import service as plans
from app.plans.models import Plan, Project

ASSESSMENT_NOT_FOUND = "找不到该补偿核算，或它不在您负责的区域内"
STALE_SURVEY = "房屋调查已被他人修改，请刷新页面后重新填写"

# Chinese names of the inputs the rules name in their errors (rules.AssessmentError.field).
RULE_FIELD_TITLES: dict[str, str] = {
    "persons": "安置人口",
    "structure": "房屋结构",
    "area": "面积",
    "code": "附属物",
    "qty": "数量",
    "flats": "安置房",
    "cash_area": "货币安置面积",
    "kind": "安置方式",
}


# ---------------------------------------------------------------- the survey


def survey_inputs(
    survey: Survey, structures: Sequence[SurveyStructure], attachments: Sequence[SurveyAttachment]
) -> dict[str, Any]:
    """The survey in its JSON form: what an assessment freezes as its ``inputs`` and the audit trail shows."""
    return {
        "persons": survey.persons,
        "contracted_mu": f"{survey.contracted_mu:.4f}",
        "acquired_mu": f"{survey.acquired_mu:.4f}",
        "surveyed_on": survey.surveyed_on.isoformat() if survey.surveyed_on else None,
        "structures": [{"structure": s.structure, "area": f"{s.area:.2f}"} for s in structures],
        "attachments": [{"code": a.code, "qty": f"{a.qty:.2f}"} for a in attachments],
    }


def rules_survey(inputs: dict[str, Any]) -> rules.Survey:
    return rules.Survey(
        persons=int(inputs["persons"]),
        structures=tuple(rules.Structure(s["structure"], Decimal(s["area"])) for s in inputs["structures"]),
        attachments=tuple(rules.Attachment(a["code"], Decimal(a["qty"])) for a in inputs["attachments"]),
    )


@dataclass(frozen=True, slots=True)
class SurveyView:
    household: Household
    survey: Survey | None
    inputs: dict[str, Any] | None


async def _survey_of(session: AsyncSession, household: Household) -> SurveyView:
    survey = await session.get(Survey, household.id, populate_existing=True)
    if survey is None:
        return SurveyView(household, None, None)
    structures = (
        await session.scalars(
            select(SurveyStructure)
            .where(SurveyStructure.household_id == household.id)
            .order_by(SurveyStructure.id)
        )
    ).all()
    attachments = (
        await session.scalars(
            select(SurveyAttachment)
            .where(SurveyAttachment.household_id == household.id)
            .order_by(SurveyAttachment.id)
        )
    ).all()
    return SurveyView(household, survey, survey_inputs(survey, structures, attachments))


async def household_for(session: AsyncSession, actor: Principal, household_id: int, perm: Perm) -> Household:
    """The household, if the actor may do ``perm`` on it (a form post checks this before reading its fields)."""
    household = await households.get_household(session, actor, household_id)
    authorize(actor, perm, household.area_path)
    return household


async def get_survey(session: AsyncSession, principal: Principal, household_id: int) -> SurveyView:
    household = await households.get_household(session, principal, household_id)
    return await _survey_of(session, household)


@dataclass(frozen=True, slots=True)
class PlanChoice:
    project: Project
    plan: Plan


async def plan_choices(session: AsyncSession, village_id: int) -> list[PlanChoice]:
    """The village's projects that have an approved plan version, with that version."""
    found = []
    for project in await plans.projects_for_village(session, village_id):
        plan = await plans.approved_plan(session, project.id, village_id)
        if plan is not None:
            found.append(PlanChoice(project, plan))
    return found


async def attachment_catalogue(session: AsyncSession, village_id: int) -> dict[str, str]:
    """Attachment codes of the approved plans of the village, with their names and units (for the form)."""
    catalogue: dict[str, str] = {}
    for choice in await plan_choices(session, village_id):
        for item in plans.params_of(choice.plan).attachment_prices:
            catalogue.setdefault(item.code, f"{item.name}（{item.unit}）")
    return catalogue


async def save_survey(
    session: AsyncSession, actor: Principal, household_id: int, data: SurveySave
) -> SurveyView:
    """Record the survey: scalar fields, and the structure and attachment lists replaced as a whole."""
    household = await households.get_household(session, actor, household_id)
    authorize(actor, Perm.SURVEY_WRITE, household.area_path)
    for i, s in enumerate(data.structures):
        if s.structure not in rules.STRUCTURES:
            known = "、".join(rules.STRUCTURES.values())
            raise InvalidInput(
                f"房屋结构：“{s.structure}”不是可选的结构（{known}）", field=f"structures.{i}.structure"
            )
    if data.attachments:
        catalogue = await attachment_catalogue(session, household.village_id)
        for i, a in enumerate(data.attachments):
            if a.code not in catalogue:
                why = (
                    "本村还没有已批准的补偿安置方案，暂不能登记附属物"
                    if not catalogue
                    else f"附属物：“{a.code}”不在本村补偿安置方案的附属物价格表中"
                )
                raise InvalidInput(why, field=f"attachments.{i}.code")
    current = await _survey_of(session, household)
    survey = current.survey
    if survey is None:
        if data.version is not None:
            raise Conflict(STALE_SURVEY, field="version")
        survey = Survey(
            household_id=household.id,
            county_code=household.county_code,
            area_path=household.area_path,
            persons=data.persons,
            contracted_mu=data.contracted_mu,
            acquired_mu=data.acquired_mu,
            surveyed_on=data.surveyed_on,
        )
        session.add(survey)
    else:
        if data.version != survey.version:
            raise Conflict(STALE_SURVEY, field="version")
        survey.persons, survey.contracted_mu, survey.acquired_mu, survey.surveyed_on = (
            data.persons,
            data.contracted_mu,
            data.acquired_mu,
            data.surveyed_on,
        )
    after = {
        "persons": data.persons,
        "contracted_mu": f"{data.contracted_mu:.4f}",
        "acquired_mu": f"{data.acquired_mu:.4f}",
        "surveyed_on": data.surveyed_on.isoformat() if data.surveyed_on else None,
        "structures": [{"structure": s.structure, "area": f"{s.area:.2f}"} for s in data.structures],
        "attachments": [{"code": a.code, "qty": f"{a.qty:.2f}"} for a in data.attachments],
    }
    if current.inputs == after:
        return current
    # The lists live in their own tables: touch the survey row so its version moves with every change.
    if current.survey is not None:
        flag_modified(survey, "persons")
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict(STALE_SURVEY, field="version") from None
    await session.execute(delete(SurveyStructure).where(SurveyStructure.household_id == household.id))
    await session.execute(delete(SurveyAttachment).where(SurveyAttachment.household_id == household.id))
    session.add_all(
        SurveyStructure(household_id=household.id, structure=s.structure, area=s.area)
        for s in data.structures
    )
    session.add_all(
        SurveyAttachment(household_id=household.id, code=a.code, qty=a.qty) for a in data.attachments
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "survey.save",
        "survey",
        household.id,
        before=current.inputs,
        after=after,
        household_id=household.id,
        county_code=household.county_code,
    )
    return await _survey_of(session, household)


# ---------------------------------------------------------------- computing an assessment


@dataclass(frozen=True, slots=True)
class Computed:
    household: Household
    project: Project
    plan: Plan
    inputs: dict[str, Any]
    result: rules.Assessment


def rules_error(exc: rules.AssessmentError) -> InvalidInput:
    """A rules error as a domain error whose message names the input in Chinese."""
    parts = [p for p in exc.field.split(".") if not p.isdigit()]
    title = RULE_FIELD_TITLES.get(parts[-1], "") if parts else ""
    if exc.field.startswith(("structures", "attachments", "persons")):
        title = f"房屋调查中的{title}"
    return InvalidInput(f"{title}：{exc.message}" if title else exc.message, field=exc.field)


async def compute(
    session: AsyncSession, principal: Principal, household_id: int, data: AssessmentIn
) -> Computed:
    """The assessment of the household's current survey under the project's approved plan; nothing is stored."""
    household = await households.get_household(session, principal, household_id)
    choice = next(
        (c for c in await plan_choices(session, household.village_id) if c.project.id == data.project_id),
        None,
    )
    if choice is None:
        raise InvalidInput("请选择本村已有已批准补偿安置方案的征收项目", field="project_id")
    current = await _survey_of(session, household)
    if current.inputs is None:
        raise Conflict("本户还没有房屋调查登记，请先登记房屋调查", field="survey")
    try:
        result = rules.assess(
            plans.params_of(choice.plan),
            rules_survey(current.inputs),
            data.option.to_rules(),
            signed_on=data.signed_on,
            vacated_on=data.vacated_on,
        )
    except rules.AssessmentError as exc:
        raise rules_error(exc) from None
    return Computed(household, choice.project, choice.plan, current.inputs, result)


async def preview(session: AsyncSession, actor: Principal, household_id: int, data: AssessmentIn) -> Computed:
    """What submitting would freeze, for the one who may submit it; nothing is stored."""
    household = await households.get_household(session, actor, household_id)
    authorize(actor, Perm.ASSESSMENT_SUBMIT, household.area_path)
    return await compute(session, actor, household_id, data)


# ---------------------------------------------------------------- submitting, approving, returning


async def submit(
    session: AsyncSession, actor: Principal, household_id: int, data: AssessmentIn
) -> Assessment:
    """Freeze a snapshot: plan version, the survey as inputs, the option, every line and the totals."""
    household = await households.get_household(session, actor, household_id)
    authorize(actor, Perm.ASSESSMENT_SUBMIT, household.area_path)
    computed = await compute(session, actor, household_id, data)
    pending = await session.scalar(
        select(Assessment.id).where(
            Assessment.household_id == household.id,
            Assessment.project_id == computed.project.id,
            Assessment.status == "submitted",
        )
    )
    if pending is not None:
        raise Conflict(
            f"本户在该项目中已有待审核的补偿核算（第 {pending} 号），请等审核员批准或退回后再提交",
            field="status",
        )
    r = computed.result
    assessment = Assessment(
        household_id=household.id,
        project_id=computed.project.id,
        plan_id=computed.plan.id,
        county_code=household.county_code,
        area_path=household.area_path,
        option_kind=data.option.kind,
        option=data.option.model_dump(mode="json"),
        signed_on=data.signed_on,
        vacated_on=data.vacated_on,
        inputs=computed.inputs,
        entitled_area=r.entitled_area,
        flat_area=r.flat_area,
        compensation_total=r.compensation_total,
        flat_price_due=r.flat_price_due,
        flat_price_basis=r.flat_price_basis,
        net_payable=r.net_payable,
        status="submitted",
        created_by=actor.user_id,
    )
    session.add(assessment)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("本户在该项目中已有待审核的补偿核算，请等审核员处理后再提交", field="status") from None
    session.add_all(
        AssessmentLine(
            assessment_id=assessment.id,
            seq=i,
            code=line.code,
            label=line.label,
            basis=line.basis,
            amount=line.amount,
            payable_on_proof=line.payable_on_proof,
        )
        for i, line in enumerate(r.lines, start=1)
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "assessment.submit",
        "assessment",
        assessment.id,
        after={
            "project": computed.project.code,
            "plan_version": computed.plan.version,
            "option": rules.OPTION_KINDS[data.option.kind],
            "compensation_total": r.compensation_total,
            "flat_price_due": r.flat_price_due,
            "net_payable": r.net_payable,
        },
        household_id=household.id,
        county_code=household.county_code,
    )
    return assessment


async def get_assessment(session: AsyncSession, principal: Principal, assessment_id: int) -> Assessment:
    require(principal, Perm.REGISTRY_READ)
    found = await session.scalar(
        select(Assessment).where(
            Assessment.id == assessment_id, scope_clause(principal, Assessment.area_path)
        )
    )
    if found is None:
        raise NotFound(ASSESSMENT_NOT_FOUND)
    return found


async def _reviewable(session: AsyncSession, actor: Principal, assessment_id: int, verb: str) -> Assessment:
    assessment = await get_assessment(session, actor, assessment_id)
    authorize(actor, Perm.ASSESSMENT_APPROVE, assessment.area_path)
    if assessment.status != "submitted":
        raise Conflict(f"只有待审核的补偿核算可以{verb}", field="status")
    if assessment.created_by is not None and assessment.created_by == actor.user_id:
        raise Forbidden(f"不能{verb}自己提交的补偿核算，请由另一位审核员办理")
    return assessment


async def approve(
    session: AsyncSession, actor: Principal, assessment_id: int, *, at: datetime | None = None
) -> Assessment:
    """Approve (maker-checker); the household's previously approved assessment in the project is superseded.
    ``at``: the time of the approval (now; the demo data dates its history)."""
    assessment = await _reviewable(session, actor, assessment_id, "批准")
    previous = await approved_assessment(session, assessment.household_id, assessment.project_id)
    if previous is not None:
        previous.status = "superseded"
        await session.flush()  # the one-approved index must see the old one go first
    assessment.status, assessment.reviewer_id, assessment.reviewed_at = (
        "approved",
        actor.user_id,
        at or utcnow(),
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "assessment.approve",
        "assessment",
        assessment.id,
        after={"net_payable": assessment.net_payable, "supersedes": previous.id if previous else None},
        household_id=assessment.household_id,
        county_code=assessment.county_code,
    )
    return assessment


async def send_back(session: AsyncSession, actor: Principal, assessment_id: int, comment: str) -> Assessment:
    assessment = await _reviewable(session, actor, assessment_id, "退回")
    comment = comment.strip()
    if not comment:
        raise InvalidInput("退回时请写明意见", field="comment")
    assessment.status, assessment.reviewer_id, assessment.reviewed_at, assessment.review_comment = (
        "returned",
        actor.user_id,
        utcnow(),
        comment,
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "assessment.return",
        "assessment",
        assessment.id,
        after={"comment": comment},
        household_id=assessment.household_id,
        county_code=assessment.county_code,
    )
    return assessment


# ---------------------------------------------------------------- reading assessments


async def approved_assessment(session: AsyncSession, household_id: int, project_id: int) -> Assessment | None:
    """The approved assessment in force for a household in a project (the caller is already authorised)."""
    return await session.scalar(
        select(Assessment).where(
            Assessment.household_id == household_id,
            Assessment.project_id == project_id,
            Assessment.status == "approved",
        )
    )


async def lines_of(session: AsyncSession, assessment_id: int) -> Sequence[AssessmentLine]:
    """The frozen lines of an assessment, in order (the caller is already authorised)."""
    return (
        await session.scalars(
            select(AssessmentLine)
            .where(AssessmentLine.assessment_id == assessment_id)
            .order_by(AssessmentLine.seq)
        )
    ).all()


@dataclass(frozen=True, slots=True)
class AssessmentRow:
    assessment: Assessment
    project: Project
    plan_version: int
    lines: Sequence[AssessmentLine]
    maker: str | None
    reviewer: str | None


def _name(user: User | None) -> str | None:
    return (user.full_name or user.username) if user is not None else None


async def _rows(session: AsyncSession, stmt: Any) -> list[AssessmentRow]:
    maker, reviewer = aliased(User), aliased(User)
    result = await session.execute(
        stmt.add_columns(Project, Plan.version, maker, reviewer)
        .join(Project, Project.id == Assessment.project_id)
        .join(Plan, Plan.id == Assessment.plan_id)
        .outerjoin(maker, maker.id == Assessment.created_by)
        .outerjoin(reviewer, reviewer.id == Assessment.reviewer_id)
    )
    rows = []
    for a, project, version, m, rv in result.all():
        rows.append(AssessmentRow(a, project, version, await lines_of(session, a.id), _name(m), _name(rv)))
    return rows


async def history(session: AsyncSession, principal: Principal, household_id: int) -> list[AssessmentRow]:
    """Every assessment of the household, newest first."""
    await households.get_household(session, principal, household_id)
    stmt = select(Assessment).where(Assessment.household_id == household_id).order_by(Assessment.id.desc())
    return await _rows(session, stmt)


async def assessment_row(session: AsyncSession, principal: Principal, assessment_id: int) -> AssessmentRow:
    await get_assessment(session, principal, assessment_id)
    return (await _rows(session, select(Assessment).where(Assessment.id == assessment_id)))[0]


def survey_changed(assessment: Assessment, current: dict[str, Any] | None) -> bool:
    """Whether the survey differs now from the one the assessment froze."""
    return current != assessment.inputs


@dataclass(frozen=True, slots=True)
class PendingRow:
    assessment: Assessment
    project: Project
    village_name: str
    register_no: str
    head_name: str | None
    maker: str | None


def _pending(principal: Principal, search: str | None) -> Select[int]:
    """Submitted assessments in the caller's areas; ``search``: a fragment of a registered member's name, the
    户口簿编号 or the village's name."""
    stmt = (
        select(Assessment.id)
        .join(Household, Household.id == Assessment.household_id)
        .join(Area, Area.id == Household.village_id)
        .where(Assessment.status == "submitted", scope_clause(principal, Assessment.area_path))
    )
    text_ = (search or "").strip()
    if text_:
        pattern = like_fragment(text_)
        named = (
            select(Member.id)
            .where(
                Member.household_id == Household.id, Member.status == "registered", Member.name.like(pattern)
            )
            .exists()
        )
        stmt = stmt.where(or_(named, Household.register_no.ilike(pattern), Area.name.like(pattern)))
    return stmt


async def count_pending_reviews(
    session: AsyncSession, principal: Principal, *, search: str | None = None
) -> int:
    require(principal, Perm.ASSESSMENT_APPROVE)
    found = _pending(principal, search).subquery()
    return int((await session.execute(select(func.count()).select_from(found))).scalar_one())


async def pending_reviews(
    session: AsyncSession,
    principal: Principal,
    *,
    search: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[PendingRow]:
    """Submitted assessments in the caller's areas (待审核补偿核算), oldest first; ``search`` as
    :func:`_pending`; ``offset`` / ``limit`` of them."""
    require(principal, Perm.ASSESSMENT_APPROVE)
    maker = aliased(User)
    head = (
        select(Member.name)
        .where(Member.household_id == Household.id, Member.relation == "head", Member.status == "registered")
        .limit(1)
        .scalar_subquery()
    )
    result = await session.execute(
        select(Assessment, Project, Area.name, Household.register_no, head, maker)
        .join(Project, Project.id == Assessment.project_id)
        .join(Household, Household.id == Assessment.household_id)
        .join(Area, Area.id == Household.village_id)
        .outerjoin(maker, maker.id == Assessment.created_by)
        .where(Assessment.id.in_(_pending(principal, search)))
        .order_by(Assessment.created_at, Assessment.id)
        .offset(offset)
        .limit(limit)
    )
    return [PendingRow(a, p, v, no, h, _name(m)) for a, p, v, no, h, m in result.all()]
