"""Public notices (公示), objections (异议) and agreements (征收补偿安置协议书): use cases.

Authorisation goes through ``app.auth.policy`` (reads via ``scope_clause``, writes via ``authorize``); every write
is audited in the same transaction; services flush, the request (or the bulk job) commits.

What the agreement prints is frozen in its snapshot. ID numbers are printed masked, the head's included: the PDF
and the snapshot are kept unencrypted in the database and handed out (printed in bulk, downloaded as ZIP), while
the full numbers stay sealed in the registry; the party is identified by name, masked number, 户口簿编号 and the
signature made in front of the caseworker, who checks the ID card at signing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import pdf, rules
from app.agreements.models import (
    AGREEMENT_STATUSES,
    Agreement,
    Handover,
    NoticeEntry,
    Objection,
    PublicNotice,
)
from app.areas.models import Area
from app.audit import service as audit
from app.auth.policy import Perm, Principal, authorize, require, scope_clause
from app.compensation import service as compensation_service
from app.compensation.models import Assessment
from app.compensation.rules import OPTION_KINDS, STRUCTURES
from app.config import get_settings
from app.core.clock import format_date_cn, today_in_china, utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.money import fen_to_yuan
from app.flats import service as flats_service
from app.households import service as households
from app.households.models import RELATIONS, SEXES, Household, Member
from app.payments import compensation as compensation_payables
from app.plans.models import Plan, Project, ProjectVillage

AGREEMENT_NOT_FOUND = "找不到该协议，或它不在您负责的区域内"
NOTICE_NOT_FOUND = "找不到该公示，或它不在您负责的区域内"
OBJECTION_NOT_FOUND = "找不到该异议，或它不在您负责的区域内"
DEFAULT_NOTICE_DAYS = 7


# ---------------------------------------------------------------- other domains

# The approved assessment, its frozen lines and the flats allocated to a household come from their own domains.
approved_assessment = compensation_service.approved_assessment
lines_of = compensation_service.lines_of
allocations_for = flats_service.allocations_for


# ---------------------------------------------------------------- small helpers


def _sqm(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


async def _head(session: AsyncSession, household_id: int) -> Member | None:
    return await session.scalar(
        select(Member).where(
            Member.household_id == household_id, Member.relation == "head", Member.status == "registered"
        )
    )


async def _plan_days(session: AsyncSession, project_id: int, village_id: int) -> tuple[Plan, int]:
    plan = await session.scalar(
        select(Plan).where(
            Plan.project_id == project_id, Plan.village_id == village_id, Plan.status == "approved"
        )
    )
    if plan is None:
        raise Conflict("本村在该项目中还没有已批准的补偿安置方案，不能公示", field="project_id")
    return plan, int(plan.params.get("public_notice_days") or DEFAULT_NOTICE_DAYS)


@dataclass(frozen=True, slots=True)
class ProjectVillageInfo:
    project: Project
    link: ProjectVillage
    village: Area
    township: Area | None
    county: Area | None


async def project_village(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> ProjectVillageInfo:
    require(principal, Perm.REGISTRY_READ)
    row = (
        await session.execute(
            select(Project, ProjectVillage, Area)
            .join(ProjectVillage, ProjectVillage.project_id == Project.id)
            .join(Area, Area.id == ProjectVillage.village_id)
            .where(
                Project.id == project_id,
                ProjectVillage.village_id == village_id,
                scope_clause(principal, ProjectVillage.area_path),
            )
        )
    ).first()
    if row is None:
        raise NotFound("找不到该项目的这个村，或它不在您负责的区域内")
    project, link, village = row
    township = await session.get(Area, village.parent_id) if village.parent_id else None
    county = await session.get(Area, township.parent_id) if township and township.parent_id else None
    return ProjectVillageInfo(project, link, village, township, county)


async def _chosen_project(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> ProjectVillageInfo:
    """A project chosen in a form for a village the caller has already been authorised for."""
    try:
        return await project_village(session, principal, project_id, village_id)
    except NotFound:
        raise InvalidInput("所选的征收项目不包括本村", field="project_id") from None


async def projects_of_village(session: AsyncSession, principal: Principal, village_id: int) -> list[Project]:
    await households.get_village(session, principal, village_id)
    return list(
        (
            await session.scalars(
                select(Project)
                .join(ProjectVillage, ProjectVillage.project_id == Project.id)
                .where(ProjectVillage.village_id == village_id)
                .order_by(Project.id)
            )
        ).all()
    )


# ---------------------------------------------------------------- public notices


@dataclass(frozen=True, slots=True)
class NoticeCandidate:
    assessment: Assessment
    household: Household
    head: Member | None


async def notice_candidates(
    session: AsyncSession, project_id: int, village_id: int, *, include_noticed: bool
) -> list[NoticeCandidate]:
    """Approved assessments of the village in the project; unless ``include_noticed``, only those not on a notice
    yet (a re-notice of everyone is for a corrected list)."""
    stmt = (
        select(Assessment, Household)
        .join(Household, Household.id == Assessment.household_id)
        .where(
            Assessment.project_id == project_id,
            Assessment.status == "approved",
            Household.village_id == village_id,
        )
        .order_by(Household.register_no, Household.id)
    )
    if not include_noticed:
        stmt = stmt.where(
            ~select(NoticeEntry.assessment_id).where(NoticeEntry.assessment_id == Assessment.id).exists()
        )
    found = []
    for assessment, household in (await session.execute(stmt)).all():
        found.append(NoticeCandidate(assessment, household, await _head(session, household.id)))
    return found


def notice_entry(c: NoticeCandidate) -> dict[str, Any]:
    """A household's line on the notice as posted (kept with the notice)."""
    a = c.assessment
    return {
        "household_id": c.household.id,
        "register_no": c.household.register_no,
        "head_name": c.head.name if c.head else "（无在册户主）",
        "head_id_masked": c.head.id_number_masked if c.head else "",
        "persons": int(a.inputs.get("persons") or 0),
        "option_label": OPTION_KINDS.get(a.option_kind, a.option_kind),
        "compensation_total": a.compensation_total,
        "flat_price_due": a.flat_price_due,
        "net_payable": a.net_payable,
        "assessment_id": a.id,
    }


def notice_context(
    info: ProjectVillageInfo,
    entries: Sequence[dict[str, Any]],
    started_on: date,
    days: int,
    plan_versions: str,
) -> dict[str, Any]:
    county = info.county.name if info.county else ""
    return {
        "title": f"{info.village.name}征收补偿安置结果公示",
        "project_name": info.project.name,
        "project_code": info.project.code,
        "village": info.village.name,
        "township": info.township.name if info.township else "",
        "period": rules.notice_period_text(started_on, days),
        "ends_on": format_date_cn(rules.notice_ends_on(started_on, days)),
        "started_on": format_date_cn(started_on),
        "entries": list(entries),
        "total_persons": sum(int(e["persons"]) for e in entries),
        "total_compensation": sum(int(e["compensation_total"]) for e in entries),
        "total_flat_price": sum(int(e["flat_price_due"]) for e in entries),
        "total_net": sum(int(e["net_payable"]) for e in entries),
        "plan_versions": plan_versions,
        "issuer": f"{county}人民政府（{info.project.name}）",
    }


async def create_notice(
    session: AsyncSession,
    actor: Principal,
    project_id: int,
    village_id: int,
    *,
    started_on: date | None = None,
    include_noticed: bool = False,
) -> PublicNotice:
    village = await households.get_village(session, actor, village_id)
    authorize(actor, Perm.NOTICE_MANAGE, village.path)
    info = await _chosen_project(session, actor, project_id, village_id)
    plan, days = await _plan_days(session, project_id, village_id)
    started_on = started_on or today_in_china()
    candidates = await notice_candidates(session, project_id, village_id, include_noticed=include_noticed)
    if not candidates:
        raise Conflict(
            "没有可公示的户：本村在该项目中没有已批准且尚未公示的补偿核算"
            + ("" if include_noticed else "（如需重新公示全部已批准的户，请勾选“包括已公示的户”）"),
            field="project_id",
        )
    entries = [notice_entry(c) for c in candidates]
    versions = sorted(
        {
            v
            for v in (
                await session.scalars(
                    select(Plan.version).where(Plan.id.in_({c.assessment.plan_id for c in candidates}))
                )
            ).all()
        }
    )
    context = notice_context(
        info, entries, started_on, days, "、".join(str(v) for v in versions) or str(plan.version)
    )
    data = await pdf.render_in_thread(pdf.render_notice, context)
    notice = PublicNotice(
        project_id=project_id,
        village_id=village_id,
        county_code=info.project.county_code,
        area_path=info.link.area_path,
        started_on=started_on,
        days=days,
        entries=entries,
        pdf=data,
        pdf_sha256=pdf.sha256(data),
        created_by=actor.user_id,
    )
    session.add(notice)
    await session.flush()
    session.add_all(
        [
            NoticeEntry(notice_id=notice.id, household_id=c.household.id, assessment_id=c.assessment.id)
            for c in candidates
        ]
    )
    await session.flush()
    await audit.record(
        session,
        actor,
        "notice.create",
        "public_notice",
        notice.id,
        after={
            "project": info.project.code,
            "village": info.village.name,
            "period": rules.notice_period_text(started_on, days),
            "households": len(entries),
            "pdf_sha256": notice.pdf_sha256.hex(),
        },
        county_code=notice.county_code,
    )
    return notice


async def notices_of_village(
    session: AsyncSession, principal: Principal, village_id: int
) -> list[PublicNotice]:
    await households.get_village(session, principal, village_id)
    return list(
        (
            await session.scalars(
                select(PublicNotice)
                .where(PublicNotice.village_id == village_id, scope_clause(principal, PublicNotice.area_path))
                .order_by(PublicNotice.started_on.desc(), PublicNotice.id.desc())
            )
        ).all()
    )


async def get_notice(session: AsyncSession, principal: Principal, notice_id: int) -> PublicNotice:
    require(principal, Perm.REGISTRY_READ)
    notice = await session.scalar(
        select(PublicNotice).where(
            PublicNotice.id == notice_id, scope_clause(principal, PublicNotice.area_path)
        )
    )
    if notice is None:
        raise NotFound(NOTICE_NOT_FOUND)
    return notice


@dataclass(frozen=True, slots=True)
class HouseholdNotice:
    notice: PublicNotice
    entry: dict[str, Any]
    project: Project

    @property
    def period(self) -> str:
        return rules.notice_period_text(self.notice.started_on, self.notice.days)

    @property
    def signable_from(self) -> date:
        return rules.signable_from(self.notice.started_on, self.notice.days)


async def notices_of_household(
    session: AsyncSession, principal: Principal, household_id: int
) -> list[HouseholdNotice]:
    await households.get_household(session, principal, household_id)
    rows = (
        await session.execute(
            select(PublicNotice, Project)
            .join(NoticeEntry, NoticeEntry.notice_id == PublicNotice.id)
            .join(Project, Project.id == PublicNotice.project_id)
            .where(NoticeEntry.household_id == household_id)
            .order_by(PublicNotice.started_on.desc(), PublicNotice.id.desc())
        )
    ).all()
    found = []
    for notice, project in rows:
        entry = next((e for e in notice.entries if e.get("household_id") == household_id), {})
        found.append(HouseholdNotice(notice, entry, project))
    return found


async def _latest_notice_of(
    session: AsyncSession, household_id: int, assessment_id: int
) -> PublicNotice | None:
    return await session.scalar(
        select(PublicNotice)
        .join(NoticeEntry, NoticeEntry.notice_id == PublicNotice.id)
        .where(NoticeEntry.household_id == household_id, NoticeEntry.assessment_id == assessment_id)
        .order_by(PublicNotice.started_on.desc(), PublicNotice.id.desc())
        .limit(1)
    )


# ---------------------------------------------------------------- objections


async def objections_of(session: AsyncSession, principal: Principal, household_id: int) -> list[Objection]:
    await households.get_household(session, principal, household_id)
    return list(
        (
            await session.scalars(
                select(Objection)
                .where(Objection.household_id == household_id)
                .order_by(Objection.raised_on.desc(), Objection.id.desc())
            )
        ).all()
    )


def objection_snapshot(o: Objection) -> dict[str, Any]:
    return {
        "raised_on": o.raised_on.isoformat(),
        "raised_by_name": o.raised_by_name,
        "content": o.content,
        "status": o.status,
        "resolution": o.resolution,
    }


async def record_objection(
    session: AsyncSession,
    actor: Principal,
    household_id: int,
    *,
    raised_on: date,
    raised_by_name: str,
    content: str,
) -> Objection:
    household = await households.get_household(session, actor, household_id)
    authorize(actor, Perm.NOTICE_MANAGE, household.area_path)
    if raised_on > today_in_china():
        raise InvalidInput("提出日期不能晚于今天", field="raised_on")
    notice = await session.scalar(
        select(PublicNotice)
        .join(NoticeEntry, NoticeEntry.notice_id == PublicNotice.id)
        .where(NoticeEntry.household_id == household_id)
        .order_by(PublicNotice.started_on.desc(), PublicNotice.id.desc())
        .limit(1)
    )
    if notice is None:
        raise Conflict("本户不在任何公示名单上，无法登记异议；请先发布公示", field="household_id")
    objection = Objection(
        notice_id=notice.id,
        household_id=household.id,
        county_code=household.county_code,
        area_path=household.area_path,
        raised_on=raised_on,
        raised_by_name=raised_by_name.strip(),
        content=content.strip(),
        status="open",
        recorded_by=actor.user_id,
    )
    session.add(objection)
    await session.flush()
    await audit.record(
        session,
        actor,
        "objection.record",
        "objection",
        objection.id,
        after=objection_snapshot(objection),
        household_id=household.id,
        county_code=household.county_code,
    )
    return objection


async def get_objection(session: AsyncSession, principal: Principal, objection_id: int) -> Objection:
    require(principal, Perm.REGISTRY_READ)
    objection = await session.scalar(
        select(Objection).where(Objection.id == objection_id, scope_clause(principal, Objection.area_path))
    )
    if objection is None:
        raise NotFound(OBJECTION_NOT_FOUND)
    return objection


async def resolve_objection(
    session: AsyncSession, actor: Principal, objection_id: int, resolution: str
) -> Objection:
    objection = await get_objection(session, actor, objection_id)
    authorize(actor, Perm.NOTICE_MANAGE, objection.area_path)
    if objection.status != "open":
        raise Conflict("该异议已处理，不能再次处理", field="resolution")
    before = objection_snapshot(objection)
    objection.status = "resolved"
    objection.resolution = resolution.strip()
    objection.resolved_by = actor.user_id
    objection.resolved_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "objection.resolve",
        "objection",
        objection.id,
        before={"status": before["status"]},
        after={"status": "resolved", "resolution": objection.resolution},
        household_id=objection.household_id,
        county_code=objection.county_code,
    )
    return objection


# ---------------------------------------------------------------- may the household sign?


async def open_objections(session: AsyncSession, household_id: int) -> list[rules.OpenObjection]:
    rows = (
        await session.scalars(
            select(Objection)
            .where(Objection.household_id == household_id, Objection.status == "open")
            .order_by(Objection.raised_on, Objection.id)
        )
    ).all()
    return [rules.OpenObjection(o.raised_on, o.raised_by_name, o.content) for o in rows]


async def signing_refusal(
    session: AsyncSession, household_id: int, assessment_id: int, on: date
) -> str | None:
    notice = await _latest_notice_of(session, household_id, assessment_id)
    return rules.signing_refusal(
        on=on,
        noticed=(notice.started_on, notice.days) if notice else None,
        open_objections=await open_objections(session, household_id),
    )


# ---------------------------------------------------------------- agreements: the snapshot


async def _attachment_names(session: AsyncSession, plan_id: int) -> dict[str, tuple[str, str]]:
    plan = await session.get(Plan, plan_id)
    prices = (plan.params.get("attachment_prices") if plan else None) or []
    return {str(p.get("code")): (str(p.get("name", p.get("code"))), str(p.get("unit", ""))) for p in prices}


def _flat_areas(option: dict[str, Any]) -> list[str]:
    areas = []
    for f in option.get("flats") or []:
        areas.append(_sqm(f.get("area") if isinstance(f, dict) else f))
    return areas


async def build_snapshot(
    session: AsyncSession,
    *,
    number: str,
    household: Household,
    assessment: Assessment,
    info: ProjectVillageInfo,
    issued_on: date,
) -> dict[str, Any]:
    """Everything the agreement prints, as it is printed (money in fen)."""
    members = [m for m in await households.members_of(session, household.id) if m.status == "registered"]
    head = next((m for m in members if m.relation == "head"), None)
    group = await session.get(Area, household.group_id) if household.group_id else None
    plan = await session.get(Plan, assessment.plan_id)
    lines = await lines_of(session, assessment.id)
    names = await _attachment_names(session, assessment.plan_id)
    inputs = assessment.inputs or {}
    structures = [
        {
            "label": STRUCTURES.get(str(s.get("structure")), str(s.get("structure"))),
            "area": _sqm(s.get("area")),
        }
        for s in inputs.get("structures") or []
    ]
    total_area = sum((Decimal(s["area"]) for s in structures), Decimal(0))
    attachments = [
        {
            "name": names.get(str(t.get("code")), (str(t.get("code")), ""))[0],
            "unit": names.get(str(t.get("code")), ("", ""))[1],
            "qty": _sqm(t.get("qty")),
        }
        for t in inputs.get("attachments") or []
    ]
    option = assessment.option or {}
    notice = await _latest_notice_of(session, household.id, assessment.id)
    allocations = [
        {"building": str(u.building), "number": str(u.number), "floor": int(u.floor), "area": _sqm(u.area)}
        for u in await allocations_for(session, household.id)
    ]
    on_proof = sum(line.amount for line in lines if line.payable_on_proof)
    county = info.county.name if info.county else ""
    return {
        "number": number,
        "issued_on": format_date_cn(issued_on),
        "party_a": {
            "name": f"{county}人民政府",
            "project_name": info.project.name,
            "project_code": info.project.code,
        },
        "household": {
            "head_name": head.name if head else "",
            "head_id_masked": head.id_number_masked if head else "",
            "register_no": household.register_no,
            "address": household.address,
            "village": info.village.name,
            "township": info.township.name if info.township else "",
            "group": group.name if group else "",
        },
        "members": [
            {
                "name": m.name,
                "relation": RELATIONS.get(m.relation, m.relation),
                "sex": SEXES.get(m.sex, m.sex),
                "birth": format_date_cn(m.birth_date),
                "id_masked": m.id_number_masked,
            }
            for m in members
        ],
        "persons": int(inputs.get("persons") or 0),
        "structures": structures,
        "total_house_area": f"{total_area:.2f}",
        "attachments": attachments,
        "lines": [
            {"code": line.code, "label": line.label, "basis": line.basis, "amount": line.amount}
            for line in lines
        ],
        "option": {
            "kind": assessment.option_kind,
            "label": OPTION_KINDS.get(assessment.option_kind, assessment.option_kind),
            "entitled_area": _sqm(assessment.entitled_area),
            "flat_area": _sqm(assessment.flat_area),
            "cash_area": _sqm(option["cash_area"]) if Decimal(str(option.get("cash_area") or 0)) else "",
            "flats": _flat_areas(option),
        },
        "allocations": allocations,
        "compensation_total": assessment.compensation_total,
        "flat_price_due": assessment.flat_price_due,
        "flat_price_basis": assessment.flat_price_basis,
        "net_payable": assessment.net_payable,
        "payment": rules.payment_clauses(
            compensation_total=assessment.compensation_total,
            flat_price_due=assessment.flat_price_due,
            on_proof_total=on_proof,
            vacate_by=assessment.vacated_on,
        ),
        "plan_version": plan.version if plan else 0,
        "notice": rules.notice_period_text(notice.started_on, notice.days) if notice else "",
        "assessment_id": assessment.id,
    }


def verify_url_of(number: str, snapshot: dict[str, Any]) -> str:
    path = rules.verify_path(number, rules.check_code(snapshot, pdf.TEMPLATE_VERSION))
    base = get_settings().public_base_url
    return f"{base.rstrip('/')}{path}" if base else path


async def _render(snapshot: dict[str, Any]) -> bytes:
    return await pdf.render_in_thread(
        pdf.render_agreement, snapshot, verify_url_of(snapshot["number"], snapshot)
    )


# ---------------------------------------------------------------- agreements: issue, re-render, sign, void


async def _household_assessment(
    session: AsyncSession, household: Household, project_id: int | None
) -> Assessment:
    stmt = select(Assessment).where(Assessment.household_id == household.id, Assessment.status == "approved")
    if project_id is not None:
        stmt = stmt.where(Assessment.project_id == project_id)
    found = (await session.scalars(stmt.order_by(Assessment.project_id))).all()
    if not found:
        raise Conflict("本户没有已批准的补偿核算，不能出具协议书", field="project_id")
    if len(found) > 1:
        raise InvalidInput("本户在多个征收项目中有已批准的补偿核算，请选择项目", field="project_id")
    assessment = await approved_assessment(session, household.id, found[0].project_id)
    return assessment or found[0]


async def _allocate_number(session: AsyncSession, project: Project, village_id: int) -> str:
    """The next number of the village in the project. The UPDATE … RETURNING takes the row lock, so concurrent
    issues in one village queue here and never share a number; a rolled-back issue gives its number back."""
    row = (
        await session.execute(
            text(
                "UPDATE project_villages SET next_agreement_no = next_agreement_no + 1 "
                "WHERE project_id = :p AND village_id = :v RETURNING next_agreement_no - 1, abbr"
            ),
            {"p": project.id, "v": village_id},
        )
    ).one()
    return rules.agreement_number(project.code, row[1], int(row[0]))


def agreement_snapshot_for_audit(a: Agreement) -> dict[str, Any]:
    return {
        "number": a.number,
        "status": AGREEMENT_STATUSES.get(a.status, a.status),
        "net_payable": a.net_payable,
        "pdf_sha256": a.pdf_sha256.hex() if a.pdf_sha256 else None,
        "template_version": a.template_version,
    }


async def live_agreement(session: AsyncSession, household_id: int, project_id: int) -> Agreement | None:
    return await session.scalar(
        select(Agreement).where(
            Agreement.household_id == household_id,
            Agreement.project_id == project_id,
            Agreement.status != "voided",
        )
    )


async def issue_agreement(
    session: AsyncSession,
    actor: Principal,
    household_id: int,
    project_id: int | None = None,
    *,
    issued_on: date | None = None,
) -> Agreement:
    """A draft agreement from the household's approved, publicly noticed assessment, dated ``issued_on`` (today;
    the demo data dates its history)."""
    household = await households.get_household(session, actor, household_id)
    authorize(actor, Perm.AGREEMENT_MANAGE, household.area_path)
    assessment = await _household_assessment(session, household, project_id)
    existing = await live_agreement(session, household.id, assessment.project_id)
    if existing is not None:
        raise Conflict(
            f"本户已有协议 {existing.number}（{AGREEMENT_STATUSES[existing.status]}），"
            "如需重新出具，请先由乡镇审核员作废原协议",
            field="household_id",
        )
    if await _latest_notice_of(session, household.id, assessment.id) is None:
        raise Conflict("本户的补偿核算尚未公示，公示后方可出具协议书", field="household_id")
    info = await project_village(session, actor, assessment.project_id, household.village_id)
    number = await _allocate_number(session, info.project, household.village_id)
    snapshot = await build_snapshot(
        session,
        number=number,
        household=household,
        assessment=assessment,
        info=info,
        issued_on=issued_on or today_in_china(),
    )
    data = await _render(snapshot)
    agreement = Agreement(
        number=number,
        project_id=assessment.project_id,
        village_id=household.village_id,
        household_id=household.id,
        assessment_id=assessment.id,
        county_code=household.county_code,
        area_path=household.area_path,
        status="draft",
        template_version=pdf.TEMPLATE_VERSION,
        snapshot=snapshot,
        pdf=data,
        pdf_sha256=pdf.sha256(data),
        net_payable=assessment.net_payable,
        created_by=actor.user_id,
    )
    session.add(agreement)
    await session.flush()
    await audit.record(
        session,
        actor,
        "agreement.issue",
        "agreement",
        agreement.id,
        after=agreement_snapshot_for_audit(agreement),
        household_id=household.id,
        county_code=household.county_code,
    )
    return agreement


async def get_agreement(session: AsyncSession, principal: Principal, agreement_id: int) -> Agreement:
    require(principal, Perm.REGISTRY_READ)
    agreement = await session.scalar(
        select(Agreement).where(Agreement.id == agreement_id, scope_clause(principal, Agreement.area_path))
    )
    if agreement is None:
        raise NotFound(AGREEMENT_NOT_FOUND)
    return agreement


async def agreements_of(session: AsyncSession, principal: Principal, household_id: int) -> list[Agreement]:
    await households.get_household(session, principal, household_id)
    return list(
        (
            await session.scalars(
                select(Agreement).where(Agreement.household_id == household_id).order_by(Agreement.id.desc())
            )
        ).all()
    )


async def rerender(session: AsyncSession, actor: Principal, agreement_id: int) -> Agreement:
    """A draft again from today's data (the approved assessment, members, allocated flats), same number."""
    agreement = await get_agreement(session, actor, agreement_id)
    authorize(actor, Perm.AGREEMENT_MANAGE, agreement.area_path)
    if agreement.status != "draft":
        raise Conflict(f"协议 {agreement.number} {AGREEMENT_STATUSES[agreement.status]}，不能重新生成")
    household = await households.get_household(session, actor, agreement.household_id)
    assessment = await approved_assessment(session, household.id, agreement.project_id)
    if assessment is None:
        raise Conflict("本户已没有已批准的补偿核算，请由乡镇审核员作废本协议草稿")
    before = agreement_snapshot_for_audit(agreement)
    info = await project_village(session, actor, agreement.project_id, household.village_id)
    snapshot = await build_snapshot(
        session,
        number=agreement.number,
        household=household,
        assessment=assessment,
        info=info,
        issued_on=today_in_china(),
    )
    data = await _render(snapshot)
    agreement.assessment_id = assessment.id
    agreement.snapshot = snapshot
    agreement.pdf = data
    agreement.pdf_sha256 = pdf.sha256(data)
    agreement.template_version = pdf.TEMPLATE_VERSION
    agreement.net_payable = assessment.net_payable
    await session.flush()
    await audit.record(
        session,
        actor,
        "agreement.issue",
        "agreement",
        agreement.id,
        before=before,
        after={**agreement_snapshot_for_audit(agreement), "rerendered": True},
        household_id=household.id,
        county_code=agreement.county_code,
    )
    return agreement


async def sign(
    session: AsyncSession, actor: Principal, agreement_id: int, signed_on: date | None = None
) -> Agreement:
    """Record the signing (签约) of a draft; from then on the agreement never changes (a database trigger)."""
    agreement = await get_agreement(session, actor, agreement_id)
    authorize(actor, Perm.AGREEMENT_MANAGE, agreement.area_path)
    if agreement.status != "draft":
        raise Conflict(f"协议 {agreement.number} {AGREEMENT_STATUSES[agreement.status]}，不能登记签约")
    today = today_in_china()
    on = signed_on or today
    if on > today:
        raise InvalidInput("签约日期不能晚于今天", field="signed_on")
    current = await approved_assessment(session, agreement.household_id, agreement.project_id)
    if current is None or current.id != agreement.assessment_id:
        raise Conflict("协议书所依据的补偿核算已不是现行的已批准核算，请重新生成协议书后再签约")
    refusal = await signing_refusal(session, agreement.household_id, agreement.assessment_id, on)
    if refusal:
        raise Conflict(refusal, field="signed_on")
    agreement.status = "signed"
    agreement.signed_on = on
    agreement.signed_recorded_by = actor.user_id
    agreement.signed_at = utcnow()
    await session.flush()
    tranches = await compensation_payables.create_tranches(session, actor, agreement)
    await audit.record(
        session,
        actor,
        "agreement.sign",
        "agreement",
        agreement.id,
        before={"status": AGREEMENT_STATUSES["draft"]},
        after={
            "status": AGREEMENT_STATUSES["signed"],
            "number": agreement.number,
            "signed_on": on.isoformat(),
            "payable": {t.kind: fen_to_yuan(t.amount) for t in tranches},
        },
        household_id=agreement.household_id,
        county_code=agreement.county_code,
    )
    return agreement


async def pays_on_handover(session: AsyncSession, agreement_id: int) -> bool:
    """Whether the handover releases a payment: then it is recorded as that payment's condition, with the
    account to pay into (``payments.compensation.record_condition``), not by :func:`record_handover`."""
    found = await session.scalar(
        text(
            "SELECT 1 FROM compensation_tranches WHERE agreement_id = :a AND kind = 'vacate' "
            "AND status <> 'cancelled'"
        ),
        {"a": agreement_id},
    )
    return found is not None


async def handover_of(session: AsyncSession, agreement_id: int) -> Handover | None:
    return await session.get(Handover, agreement_id)


async def record_handover(
    session: AsyncSession, actor: Principal, agreement_id: int, *, on: date, note: str
) -> Handover:
    """登记腾房交付验收 for a signed agreement that pays nothing on the handover (the household owes the difference
    for its flats, or is paid only on its purchase contract). Recorded once; it is never changed."""
    agreement = await get_agreement(session, actor, agreement_id)
    authorize(actor, Perm.AGREEMENT_MANAGE, agreement.area_path)
    if agreement.status != "signed":
        raise Conflict(f"协议 {agreement.number} 未签订或已作废，不能登记腾房交付验收")
    if await pays_on_handover(session, agreement.id):
        raise Conflict(
            f"协议 {agreement.number} 腾房交付后有应付补偿款：请在“腾房交付后支付的补偿款”一栏登记验收日期和收款账户",
            field="on",
        )
    if await handover_of(session, agreement.id) is not None:
        raise Conflict(f"协议 {agreement.number} 的腾房交付验收已登记", field="on")
    note = rules.checked_record(
        on, note, signed_on=agreement.signed_on, today=today_in_china(), labels=("验收日期", "验收单号")
    )
    handover = Handover(
        agreement_id=agreement.id,
        household_id=agreement.household_id,
        county_code=agreement.county_code,
        area_path=agreement.area_path,
        handed_over_on=on,
        note=note,
        recorded_by=actor.user_id,
    )
    session.add(handover)
    try:
        await session.flush()
    # recorded meanwhile by someone else (the key is the agreement); the caller rolls back
    except IntegrityError:
        raise Conflict(f"协议 {agreement.number} 的腾房交付验收已登记", field="on") from None
    await audit.record(
        session,
        actor,
        "agreement.handover",
        "agreement",
        agreement.id,
        after={"number": agreement.number, "handed_over_on": on.isoformat(), "note": note},
        household_id=agreement.household_id,
        county_code=agreement.county_code,
    )
    return handover


async def void(session: AsyncSession, actor: Principal, agreement_id: int, reason: str) -> Agreement:
    """作废 (reviewer, with a reason); the household may then be issued a new agreement with a new number."""
    agreement = await get_agreement(session, actor, agreement_id)
    authorize(actor, Perm.AGREEMENT_VOID, agreement.area_path)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("请填写作废原因", field="reason")
    if agreement.status == "voided":
        raise Conflict(f"协议 {agreement.number} 已作废")
    before = AGREEMENT_STATUSES[agreement.status]
    if agreement.status == "signed":
        await compensation_payables.cancel_tranches(session, actor, agreement)
    agreement.status = "voided"
    agreement.void_reason = reason
    agreement.voided_by = actor.user_id
    agreement.voided_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        "agreement.void",
        "agreement",
        agreement.id,
        before={"status": before},
        after={"status": AGREEMENT_STATUSES["voided"], "number": agreement.number, "reason": reason},
        household_id=agreement.household_id,
        county_code=agreement.county_code,
    )
    return agreement


# ---------------------------------------------------------------- the public verification page


@dataclass(frozen=True, slots=True)
class Verification:
    number: str
    found: bool
    matches: bool
    head_masked: str = ""
    status: str = ""
    status_label: str = ""
    signed_on: date | None = None
    voided_on: date | None = None
    net_payable: int = 0


async def verify(session: AsyncSession, number: str, code: str | None) -> Verification:
    """No login: confirms an agreement only to someone holding its check code, and says nothing more."""
    agreement = await session.scalar(select(Agreement).where(Agreement.number == number))
    if agreement is None:
        return Verification(number, found=False, matches=False)
    content_code = rules.check_code(agreement.snapshot, agreement.template_version)
    if not rules.check_code_matches(
        code, content_code=content_code, pdf_sha256_hex=agreement.pdf_sha256.hex()
    ):
        return Verification(number, found=True, matches=False)
    head = str(agreement.snapshot.get("household", {}).get("head_name", ""))
    return Verification(
        number,
        found=True,
        matches=True,
        head_masked=rules.mask_name(head),
        status=agreement.status,
        status_label=AGREEMENT_STATUSES[agreement.status],
        signed_on=agreement.signed_on,
        voided_on=agreement.voided_at.date() if agreement.voided_at else None,
        net_payable=agreement.net_payable,
    )


# ---------------------------------------------------------------- the village: who can get an agreement now


@dataclass(frozen=True, slots=True)
class VillageAgreementRow:
    household: Household
    head_name: str
    assessment: Assessment | None
    agreement: Agreement | None
    refusal: str | None


async def village_rows(
    session: AsyncSession, principal: Principal, project_id: int, village_id: int
) -> list[VillageAgreementRow]:
    """Each household of the village with an approved assessment in the project, its live agreement, and why it
    cannot sign today (if so)."""
    await project_village(session, principal, project_id, village_id)
    today = today_in_china()
    rows = (
        await session.execute(
            select(Household, Assessment)
            .join(Assessment, Assessment.household_id == Household.id)
            .where(
                Household.village_id == village_id,
                Assessment.project_id == project_id,
                Assessment.status == "approved",
                scope_clause(principal, Household.area_path),
            )
            .order_by(Household.register_no, Household.id)
        )
    ).all()
    found = []
    for household, assessment in rows:
        head = await _head(session, household.id)
        found.append(
            VillageAgreementRow(
                household,
                head.name if head else "",
                assessment,
                await live_agreement(session, household.id, project_id),
                await signing_refusal(session, household.id, assessment.id, today),
            )
        )
    return found


async def bulk_candidates(
    session: AsyncSession, actor: Principal, project_id: int, village_id: int
) -> tuple[ProjectVillageInfo, list[int]]:
    """The households a bulk run issues agreements to: signable today and without a live agreement."""
    village = await households.get_village(session, actor, village_id)
    authorize(actor, Perm.AGREEMENT_MANAGE, village.path)
    info = await _chosen_project(session, actor, project_id, village_id)
    rows = await village_rows(session, actor, project_id, village_id)
    return info, [r.household.id for r in rows if r.agreement is None and r.refusal is None]


async def count_agreements(session: AsyncSession, project_id: int, village_id: int) -> dict[str, int]:
    rows = (
        await session.execute(
            select(Agreement.status, func.count())
            .where(Agreement.project_id == project_id, Agreement.village_id == village_id)
            .group_by(Agreement.status)
        )
    ).all()
    return {str(s): int(n) for s, n in rows}
