"""Land-loss social security (被征地农民社会保障): acquisition batches and their eligibility lists, the old policy
and its bridging to the new (新老衔接), enrollments, passbooks, proof of life, deaths, and the months due.

The rules are in ``rules.py``; here they meet the registry. The database has the last word on what must never
happen: one enrollment per person (``uq_enrollments_person``), one row per person and month across policies and
batches (``uq_pension_months_person_month``), no new-policy month before the pension start (composite foreign key
+ check), an account credit that is the fee less the old lump sum, recoveries that never exceed the overpayment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from app.areas.models import Area
from app.audit import service as audit
from app.auth.policy import (
    SYSTEM,
    Perm,
    Principal,
    authorize,
    require,
    scope_clause,
    scope_prefixes,
)
from app.config import get_settings
from app.core.clock import CHINA_TZ, format_month_cn, today_in_china, utcnow
from app.core.crypto import FieldCipher
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.idcard import mask_id_number, parse_id_number
from app.core.money import fen_to_yuan, yuan_to_fen
from app.core.xlsx import RowError
from app.core.xlsx import RowsInvalid as RowsInvalid
from app.households.models import Household, Member
from app.households.service import id_cipher
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger.rules import Entry
from app.plans.models import Project, ProjectVillage
from app.socialsecurity import rules
from app.socialsecurity.models import (
    AcquisitionBatch,
    BatchHousehold,
    EligibilityEntry,
    Enrollment,
    HeirPayment,
    LifeCertification,
    OldPolicyRecord,
    Overpayment,
    OverpaymentRecovery,
    Passbook,
    PensionMonth,
)
from app.socialsecurity.schemas import (
    BatchIn,
    BatchUpdate,
    CertificationIn,
    DeathIn,
    HeirIn,
    LandIn,
    NoticeIn,
    OldPolicyIn,
    PassbookIn,
    RecoveryIn,
)

BATCH_NOT_FOUND = "找不到该征地批次，或它不在您负责的区域内"
ENROLLMENT_NOT_FOUND = "找不到该参保人员，或其不在您负责的区域内"
PERSON_NOT_FOUND = "户籍登记中找不到该身份证号的人员，或其不在您负责的区域内"


@lru_cache(maxsize=4)
def _account_cipher_for(secret: str) -> FieldCipher:
    return FieldCipher(secret, "bank_account")


def account_cipher() -> FieldCipher:
    return _account_cipher_for(get_settings().secret_key)


def mask_account(number: str) -> str:
    """``6221 **** **** 1234``: the bank and the last four digits, enough to recognise one's own passbook."""
    return f"{number[:4]} **** **** {number[-4:]}"


def params_of(batch: AcquisitionBatch) -> rules.BatchParams:
    return rules.BatchParams(
        announcement_date=batch.announcement_date,
        approved_on=batch.approved_on,
        per_capita_land_threshold_mu=batch.per_capita_land_threshold_mu,
        min_age=batch.min_age,
        pension_age=batch.pension_age,
        fee_standard=batch.fee_standard,
        monthly_pension=batch.monthly_pension,
    )


def _china_date(moment: datetime | None) -> date | None:
    return None if moment is None else moment.astimezone(CHINA_TZ).date()


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict("该记录已被他人修改，请刷新页面后重新操作", field="version") from None
    except IntegrityError as exc:
        message = str(exc.orig)
        if "uq_enrollments_person" in message:
            raise Conflict("该人员已在本县参保，同一人不能重复参保") from None
        if "uq_pension_months_person_month" in message:
            raise Conflict("该人员的这个月份已经发放或登记过，同一人同一月份不能发放两次") from None
        if "uq_acquisition_batches_code" in message:
            raise Conflict("批次编号已被使用", field="code") from None
        if "not_before_start" in message or "start_after_old_subsidy" in message:
            raise Conflict("该人员已按新政策发放的月份与老政策补贴月份重叠，不能这样登记") from None
        if "ck_overpayments_recovered" in message:
            raise InvalidInput("追回金额超过尚未追回的金额", field="amount") from None
        raise


# ---------------------------------------------------------------------------------------------- batches


@dataclass(frozen=True, slots=True)
class BatchRow:
    batch: AcquisitionBatch
    project_code: str
    village_name: str
    listed: int
    eligible: int
    enrolled: int


def _batch_query(principal: Principal) -> Any:
    listed = (
        select(func.count())
        .where(EligibilityEntry.batch_id == AcquisitionBatch.id)
        .correlate(AcquisitionBatch)
        .scalar_subquery()
    )
    eligible = (
        select(func.count())
        .where(EligibilityEntry.batch_id == AcquisitionBatch.id, EligibilityEntry.eligible)
        .correlate(AcquisitionBatch)
        .scalar_subquery()
    )
    enrolled = (
        select(func.count())
        .where(Enrollment.batch_id == AcquisitionBatch.id)
        .correlate(AcquisitionBatch)
        .scalar_subquery()
    )
    return (
        select(AcquisitionBatch, Project.code, Area.name, listed, eligible, enrolled)
        .join(Project, Project.id == AcquisitionBatch.project_id)
        .join(Area, Area.id == AcquisitionBatch.village_id)
        .where(scope_clause(principal, AcquisitionBatch.area_path))
    )


async def list_batches(session: AsyncSession, principal: Principal) -> list[BatchRow]:
    require(principal, Perm.REGISTRY_READ)
    rows = await session.execute(
        _batch_query(principal).order_by(
            AcquisitionBatch.announcement_date.desc(), AcquisitionBatch.id.desc()
        )
    )
    return [BatchRow(b, p, v, int(n), int(e), int(r)) for b, p, v, n, e, r in rows.all()]


async def batch_row(session: AsyncSession, principal: Principal, batch_id: int) -> BatchRow:
    require(principal, Perm.REGISTRY_READ)
    row = (await session.execute(_batch_query(principal).where(AcquisitionBatch.id == batch_id))).first()
    if row is None:
        raise NotFound(BATCH_NOT_FOUND)
    b, p, v, n, e, r = row
    return BatchRow(b, p, v, int(n), int(e), int(r))


async def get_batch(session: AsyncSession, principal: Principal, batch_id: int) -> AcquisitionBatch:
    return (await batch_row(session, principal, batch_id)).batch


async def _batch_in_status(
    session: AsyncSession, actor: Principal, batch_id: int, perm: Perm, status: str, refusal: str
) -> AcquisitionBatch:
    """A batch the caller may act on with ``perm``, refused with ``refusal`` unless it is in ``status``."""
    batch = await get_batch(session, actor, batch_id)
    authorize(actor, perm, batch.area_path)
    if batch.status != status:
        raise Conflict(refusal, field="status")
    return batch


def batch_snapshot(batch: AcquisitionBatch) -> dict[str, Any]:
    return {
        "code": batch.code,
        "name": batch.name,
        "announcement_date": batch.announcement_date.isoformat(),
        "approved_on": batch.approved_on.isoformat(),
        "per_capita_land_threshold_mu": str(batch.per_capita_land_threshold_mu),
        "min_age": batch.min_age,
        "pension_age": batch.pension_age,
        "fee_standard": fen_to_yuan(batch.fee_standard),
        "monthly_pension": fen_to_yuan(batch.monthly_pension),
        "status": batch.status,
    }


def _apply_params(batch: AcquisitionBatch, data: BatchIn | BatchUpdate) -> None:
    batch.name = data.name
    batch.announcement_date = data.announcement_date
    batch.approved_on = data.approved_on
    batch.per_capita_land_threshold_mu = data.per_capita_land_threshold_mu
    batch.min_age = data.min_age
    batch.pension_age = data.pension_age
    batch.fee_standard = yuan_to_fen(data.fee_standard)
    batch.monthly_pension = yuan_to_fen(data.monthly_pension)


async def create_batch(session: AsyncSession, actor: Principal, data: BatchIn) -> AcquisitionBatch:
    require(actor, Perm.SOCIAL_BATCH_MANAGE)
    found = (
        await session.execute(
            select(ProjectVillage, Project.county_code)
            .join(Project, Project.id == ProjectVillage.project_id)
            .where(
                ProjectVillage.project_id == data.project_id,
                ProjectVillage.village_id == data.village_id,
                scope_clause(actor, ProjectVillage.area_path),
            )
        )
    ).first()
    if found is None:
        raise InvalidInput("找不到该项目的这个村，或它不在您负责的区域内", field="village_id")
    link, county_code = found
    authorize(actor, Perm.SOCIAL_BATCH_MANAGE, link.area_path)
    batch = AcquisitionBatch(
        county_code=county_code,
        area_path=link.area_path,
        project_id=link.project_id,
        village_id=link.village_id,
        code=data.code.upper(),
        created_by=actor.user_id,
    )
    _apply_params(batch, data)
    session.add(batch)
    await _flush(session)
    await audit.record(
        session,
        actor,
        "social_batch.create",
        "acquisition_batch",
        batch.id,
        after=batch_snapshot(batch),
        county_code=batch.county_code,
    )
    return batch


async def update_batch(
    session: AsyncSession, actor: Principal, batch_id: int, data: BatchUpdate
) -> AcquisitionBatch:
    batch = await _batch_in_status(
        session,
        actor,
        batch_id,
        Perm.SOCIAL_BATCH_MANAGE,
        "draft",
        "名册已公示，批次参数不能再修改；如需修改请由审核员退回",
    )
    if batch.version != data.version:
        raise Conflict("该批次已被他人修改，请刷新页面后重新填写", field="version")
    before = batch_snapshot(batch)
    _apply_params(batch, data)
    await _flush(session)
    after = batch_snapshot(batch)
    changed = [k for k in after if before[k] != after[k]]
    await audit.record(
        session,
        actor,
        "social_batch.update",
        "acquisition_batch",
        batch.id,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
        county_code=batch.county_code,
    )
    return batch


# ---------------------------------------------------------------------------------------------- land and list


@dataclass(frozen=True, slots=True)
class LandRow:
    household: Household
    head_name: str | None
    members_on_announcement: int
    contracted_mu: Decimal | None
    acquired_mu: Decimal | None


@dataclass(frozen=True, slots=True)
class _Person:
    member: Member
    household: Household
    registered: bool


async def _village_people(session: AsyncSession, batch: AcquisitionBatch) -> list[_Person]:
    """Members of the village's households who were registered on the announcement date or are registered now."""
    rows = await session.execute(
        select(Member, Household)
        .join(Household, Household.id == Member.household_id)
        .where(Household.village_id == batch.village_id)
        .order_by(Household.register_no, Household.id, Member.id)
    )
    people: list[_Person] = []
    for member, household in rows.all():
        registered = rules.registered_on(
            batch.announcement_date,
            joined_on=member.registered_on,
            left_on=_china_date(member.left_at),
            born_on=member.birth_date,
        )
        if registered or member.status == "registered":
            people.append(_Person(member, household, registered))
    return people


async def land_rows(session: AsyncSession, principal: Principal, batch_id: int) -> list[LandRow]:
    """Every household of the batch's village with its members on the announcement date and its land (if set)."""
    batch = await get_batch(session, principal, batch_id)
    households = (
        await session.scalars(
            select(Household)
            .where(Household.village_id == batch.village_id)
            .order_by(Household.register_no, Household.id)
        )
    ).all()
    land = {
        bh.household_id: bh
        for bh in (await session.scalars(select(BatchHousehold).where(BatchHousehold.batch_id == batch.id)))
    }
    counts: dict[int, int] = defaultdict(int)
    heads: dict[int, str] = {}
    for person in await _village_people(session, batch):
        if person.registered:
            counts[person.household.id] += 1
        if person.member.status == "registered" and person.member.relation == "head":
            heads[person.household.id] = person.member.name
    return [
        LandRow(
            h,
            heads.get(h.id),
            counts[h.id],
            land[h.id].contracted_mu if h.id in land else None,
            land[h.id].acquired_mu if h.id in land else None,
        )
        for h in households
    ]


async def set_land(session: AsyncSession, actor: Principal, batch_id: int, items: Sequence[LandIn]) -> int:
    """Record (or correct) the contracted and acquired land of households in a draft batch; returns how many
    households changed."""
    batch = await _batch_in_status(
        session,
        actor,
        batch_id,
        Perm.SOCIAL_CASE_WRITE,
        "draft",
        "名册已公示，土地面积不能再修改；如需修改请由审核员退回",
    )
    ids = [item.household_id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidInput("同一户填写了两次", field="items")
    valid = set(
        (
            await session.scalars(
                select(Household.id).where(Household.id.in_(ids), Household.village_id == batch.village_id)
            )
        ).all()
    )
    for index, item in enumerate(items):
        if item.household_id not in valid:
            raise InvalidInput(f"第 {index + 1} 行：该户不属于本批次的村", field="household_id")
    existing = {
        bh.household_id: bh
        for bh in (
            await session.scalars(
                select(BatchHousehold).where(
                    BatchHousehold.batch_id == batch.id, BatchHousehold.household_id.in_(ids)
                )
            )
        )
    }
    changed: list[dict[str, Any]] = []
    for item in items:
        row = existing.get(item.household_id)
        if row is None:
            session.add(
                BatchHousehold(
                    batch_id=batch.id,
                    household_id=item.household_id,
                    contracted_mu=item.contracted_mu,
                    acquired_mu=item.acquired_mu,
                )
            )
        elif row.contracted_mu == item.contracted_mu and row.acquired_mu == item.acquired_mu:
            continue
        else:
            row.contracted_mu, row.acquired_mu = item.contracted_mu, item.acquired_mu
        changed.append(
            {
                "household_id": item.household_id,
                "contracted_mu": str(item.contracted_mu),
                "acquired_mu": str(item.acquired_mu),
            }
        )
    await _flush(session)
    if changed:
        await audit.record(
            session,
            actor,
            "social_batch.land",
            "acquisition_batch",
            batch.id,
            after={"households": changed[:200], "count": len(changed)},
            county_code=batch.county_code,
        )
    return len(changed)


@dataclass(frozen=True, slots=True)
class EntryView:
    member_id: int
    household_id: int
    register_no: str
    name: str
    id_number_masked: str
    birth_date: date
    age_on_announcement: int
    household_members: int
    remaining_mu: Decimal
    eligible: bool
    reasons: tuple[str, ...]
    duplicate_of: str | None
    person_hash: bytes = field(repr=False, default=b"")


async def _other_enrollments(
    session: AsyncSession, batch: AcquisitionBatch, hashes: Sequence[bytes]
) -> dict[bytes, str]:
    """Persons enrolled through another batch of the county, each with a description of that enrollment."""
    if not hashes:
        return {}
    rows = await session.execute(
        select(Enrollment.person_hash, AcquisitionBatch.code, AcquisitionBatch.name, Area.name)
        .join(AcquisitionBatch, AcquisitionBatch.id == Enrollment.batch_id)
        .join(Area, Area.id == AcquisitionBatch.village_id)
        .where(
            Enrollment.county_code == batch.county_code,
            Enrollment.batch_id != batch.id,
            Enrollment.person_hash.in_(list(hashes)),
        )
    )
    return {h: f"已在{village}征地批次 {code}（{name}）参保" for h, code, name, village in rows.all()}


async def compute_list(session: AsyncSession, batch: AcquisitionBatch) -> list[EntryView]:
    """The eligibility list of a batch from the registry as it stands (身份认定), one entry per person."""
    land = {
        bh.household_id: bh
        for bh in (await session.scalars(select(BatchHousehold).where(BatchHousehold.batch_id == batch.id)))
    }
    people = [p for p in await _village_people(session, batch) if p.household.id in land]
    members_on_day: dict[int, int] = defaultdict(int)
    for p in people:
        if p.registered:
            members_on_day[p.household.id] += 1
    others = await _other_enrollments(session, batch, [p.member.id_number_hash for p in people])
    params = params_of(batch)
    # A person who moved between two households of the village appears twice: the record registered on the
    # announcement date comes first and is the one that can be eligible.
    people.sort(key=lambda p: (not p.registered, p.household.register_no, p.member.id))
    seen: dict[bytes, str] = {}
    entries: list[EntryView] = []
    for p in people:
        bh = land[p.household.id]
        household_land = rules.HouseholdLand(bh.contracted_mu, bh.acquired_mu, members_on_day[p.household.id])
        person_hash = p.member.id_number_hash
        duplicate = others.get(person_hash)
        if duplicate is None and person_hash in seen:
            duplicate = f"与本批次户口簿编号 {seen[person_hash]} 的记录为同一人"
        result = rules.eligibility(
            params,
            birth_date=p.member.birth_date,
            registered_on_announcement=p.registered,
            land=household_land,
            other_enrollment=duplicate is not None,
        )
        seen.setdefault(person_hash, p.household.register_no)
        entries.append(
            EntryView(
                member_id=p.member.id,
                household_id=p.household.id,
                register_no=p.household.register_no,
                name=p.member.name,
                id_number_masked=p.member.id_number_masked,
                birth_date=p.member.birth_date,
                age_on_announcement=result.age_on_announcement,
                household_members=household_land.members,
                remaining_mu=max(bh.contracted_mu - bh.acquired_mu, Decimal(0)),
                eligible=result.eligible,
                reasons=result.reasons,
                duplicate_of=duplicate,
                person_hash=person_hash,
            )
        )
    entries.sort(key=lambda e: (e.register_no, e.member_id))
    return entries


def _entry_view(entry: EligibilityEntry, register_no: str) -> EntryView:
    return EntryView(
        member_id=entry.member_id,
        household_id=entry.household_id,
        register_no=register_no,
        name=entry.name,
        id_number_masked=entry.id_number_masked,
        birth_date=entry.birth_date,
        age_on_announcement=entry.age_on_announcement,
        household_members=entry.household_members,
        remaining_mu=entry.remaining_mu,
        eligible=entry.eligible,
        reasons=tuple(entry.reasons),
        duplicate_of=entry.duplicate_of,
        person_hash=entry.person_hash,
    )


async def eligibility_list(session: AsyncSession, principal: Principal, batch_id: int) -> list[EntryView]:
    """A draft batch's list as the registry gives it now (a preview); from the notice on, the frozen list."""
    batch = await get_batch(session, principal, batch_id)
    if batch.status == "draft":
        return await compute_list(session, batch)
    rows = await session.execute(
        select(EligibilityEntry, Household.register_no)
        .join(Household, Household.id == EligibilityEntry.household_id)
        .where(EligibilityEntry.batch_id == batch.id)
        .order_by(Household.register_no, EligibilityEntry.member_id)
    )
    return [_entry_view(e, no) for e, no in rows.all()]


async def start_notice(
    session: AsyncSession, actor: Principal, batch_id: int, data: NoticeIn
) -> AcquisitionBatch:
    """Freeze the list and put it up for public notice (公示)."""
    batch = await _batch_in_status(
        session, actor, batch_id, Perm.SOCIAL_CASE_WRITE, "draft", "该批次的名册已经公示"
    )
    entries = await compute_list(session, batch)
    if not entries:
        raise InvalidInput("还没有登记任何一户的承包地和被征收面积，名册为空，不能公示", field="items")
    for e in entries:
        session.add(
            EligibilityEntry(
                batch_id=batch.id,
                member_id=e.member_id,
                household_id=e.household_id,
                person_hash=e.person_hash,
                name=e.name,
                id_number_masked=e.id_number_masked,
                birth_date=e.birth_date,
                age_on_announcement=e.age_on_announcement,
                household_members=e.household_members,
                remaining_mu=e.remaining_mu,
                eligible=e.eligible,
                reasons=list(e.reasons),
                duplicate_of=e.duplicate_of,
            )
        )
    batch.status = "noticed"
    batch.notice_start = data.notice_start
    batch.notice_end = date.fromordinal(data.notice_start.toordinal() + data.notice_days - 1)
    batch.noticed_by = actor.user_id
    batch.review_comment = None
    await _flush(session)
    eligible = sum(1 for e in entries if e.eligible)
    await audit.record(
        session,
        actor,
        "social_batch.notice",
        "acquisition_batch",
        batch.id,
        after={
            "listed": len(entries),
            "eligible": eligible,
            "notice_start": batch.notice_start.isoformat(),
            "notice_end": batch.notice_end.isoformat(),
        },
        county_code=batch.county_code,
    )
    return batch


async def approve_batch(session: AsyncSession, actor: Principal, batch_id: int) -> AcquisitionBatch:
    batch = await _batch_in_status(
        session, actor, batch_id, Perm.SOCIAL_APPROVE, "noticed", "只有公示中的名册可以审核"
    )
    if batch.noticed_by is not None and batch.noticed_by == actor.user_id:
        raise Forbidden("不能审核自己公示的名册，请由另一位审核员审核")
    today = today_in_china()
    if batch.notice_end is not None and today <= batch.notice_end:
        raise Conflict(
            f"公示期至 {batch.notice_end.year}年{batch.notice_end.month}月{batch.notice_end.day}日，期满后才能审核",
            field="status",
        )
    batch.status, batch.reviewed_by, batch.reviewed_at = "approved", actor.user_id, utcnow()
    await _flush(session)
    await audit.record(
        session,
        actor,
        "social_batch.approve",
        "acquisition_batch",
        batch.id,
        after={"status": "approved"},
        county_code=batch.county_code,
    )
    return batch


async def send_back_batch(
    session: AsyncSession, actor: Principal, batch_id: int, comment: str
) -> AcquisitionBatch:
    batch = await _batch_in_status(
        session, actor, batch_id, Perm.SOCIAL_APPROVE, "noticed", "只有公示中的名册可以退回"
    )
    if not comment.strip():
        raise InvalidInput("请填写退回原因", field="comment")
    await session.execute(delete(EligibilityEntry).where(EligibilityEntry.batch_id == batch.id))
    batch.status, batch.review_comment = "draft", comment.strip()
    batch.notice_start = batch.notice_end = None
    batch.reviewed_by, batch.reviewed_at = actor.user_id, utcnow()
    await _flush(session)
    await audit.record(
        session,
        actor,
        "social_batch.send_back",
        "acquisition_batch",
        batch.id,
        after={"status": "draft", "comment": batch.review_comment},
        county_code=batch.county_code,
    )
    return batch


async def pending_batch_reviews(session: AsyncSession, principal: Principal) -> list[BatchRow]:
    """Noticed lists a reviewer may approve (not their own)."""
    if not principal.can(Perm.SOCIAL_APPROVE):
        return []
    rows = await session.execute(
        _batch_query(principal)
        .where(AcquisitionBatch.status == "noticed")
        .where(or_(AcquisitionBatch.noticed_by.is_(None), AcquisitionBatch.noticed_by != principal.user_id))
        .order_by(AcquisitionBatch.notice_end)
    )
    return [BatchRow(b, p, v, int(n), int(e), int(r)) for b, p, v, n, e, r in rows.all()]


async def _old_records(
    session: AsyncSession, county_code: str, hashes: Sequence[bytes]
) -> dict[bytes, OldPolicyRecord]:
    if not hashes:
        return {}
    rows = await session.scalars(
        select(OldPolicyRecord).where(
            OldPolicyRecord.county_code == county_code, OldPolicyRecord.person_hash.in_(list(hashes))
        )
    )
    return {r.person_hash: r for r in rows}


def _bridge(enrollment: Enrollment, params: rules.BatchParams, old: OldPolicyRecord | None) -> None:
    """Apply the bridging rules (新老衔接) to an enrollment."""
    lump = old.lump_sum_received if old else 0
    through = old.paid_through if old else None
    enrollment.old_lump_sum = lump
    enrollment.old_paid_through = through
    enrollment.account_credit = rules.account_credit(enrollment.fee_standard, lump)
    enrollment.pension_start_month = rules.pension_start_month(params, enrollment.birth_date, through)


async def enroll_batch(
    session: AsyncSession, actor: Principal, batch_id: int, *, enrolled_on: date | None = None
) -> int:
    """Enroll every eligible person of an approved list (参保); returns how many. ``enrolled_on`` (default today)
    is only given when loading history (the demo)."""
    batch = await _batch_in_status(
        session, actor, batch_id, Perm.SOCIAL_CASE_WRITE, "approved", "名册审核通过后才能办理参保"
    )
    entries = (
        await session.scalars(
            select(EligibilityEntry).where(EligibilityEntry.batch_id == batch.id, EligibilityEntry.eligible)
        )
    ).all()
    taken = await _other_enrollments(session, batch, [e.person_hash for e in entries])
    if taken:
        names = "、".join(f"{e.name}（{e.id_number_masked}）" for e in entries if e.person_hash in taken)
        raise Conflict(f"名册审核后，以下人员已在其他批次参保，请退回名册重新认定：{names}")
    old = await _old_records(session, batch.county_code, [e.person_hash for e in entries])
    params = params_of(batch)
    today = enrolled_on or today_in_china()
    area_paths = dict(
        (
            await session.execute(
                select(Household.id, Household.area_path).where(
                    Household.id.in_([e.household_id for e in entries])
                )
            )
        ).all()
    )
    enrolled: list[Enrollment] = []
    for e in entries:
        enrollment = Enrollment(
            county_code=batch.county_code,
            area_path=area_paths[e.household_id],
            batch_id=batch.id,
            member_id=e.member_id,
            household_id=e.household_id,
            person_hash=e.person_hash,
            name=e.name,
            id_number_masked=e.id_number_masked,
            birth_date=e.birth_date,
            enrolled_on=today,
            fee_standard=batch.fee_standard,
            monthly_pension=batch.monthly_pension,
            status="active",
        )
        _bridge(enrollment, params, old.get(e.person_hash))
        enrolled.append(enrollment)
    session.add_all(enrolled)
    batch.status, batch.enrolled_at = "enrolled", utcnow()
    await _flush(session)
    await _post_credits(
        session,
        actor,
        batch.county_code,
        batch.village_id,
        sum(e.account_credit for e in enrolled),
        today,
        f"{batch.code} 参保 {len(enrolled)} 人，记入个人账户",
    )
    await audit.record(
        session,
        actor,
        "social_batch.enroll",
        "acquisition_batch",
        batch.id,
        after={
            "enrolled": len(enrolled),
            "account_credit_total": fen_to_yuan(sum(e.account_credit for e in enrolled)),
        },
        county_code=batch.county_code,
    )
    return len(entries)


# ---------------------------------------------------------------------------------------------- old policy


async def _find_person(
    session: AsyncSession, actor: Principal, id_number: str
) -> tuple[Member, Household] | None:
    """The registry record of an ID number in the caller's areas (the registered one first)."""
    number = parse_id_number(id_number).number
    digest = id_cipher().lookup_hash(number)
    row = (
        await session.execute(
            select(Member, Household)
            .join(Household, Household.id == Member.household_id)
            .where(
                Member.id_number_hash == digest,
                Household.county_code == actor.county_code
                if actor is not SYSTEM
                else Household.id.is_not(None),
                scope_clause(actor, Household.area_path),
            )
            .order_by((Member.status == "registered").desc(), Member.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])


def old_policy_snapshot(record: OldPolicyRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "id_number": record.id_number_masked,
        "lump_sum_received": fen_to_yuan(record.lump_sum_received),
        "monthly_subsidy": None if record.monthly_subsidy is None else fen_to_yuan(record.monthly_subsidy),
        "paid_from": None if record.paid_from is None else rules.format_month(record.paid_from),
        "paid_through": None if record.paid_through is None else rules.format_month(record.paid_through),
    }


@dataclass(frozen=True, slots=True)
class OldPolicyOutcome:
    record: OldPolicyRecord
    change: str  # created / updated / unchanged


async def _new_policy_overlap(
    session: AsyncSession, county_code: str, person_hash: bytes, first: date, last: date
) -> date | None:
    return await session.scalar(
        select(func.min(PensionMonth.month)).where(
            PensionMonth.county_code == county_code,
            PensionMonth.person_hash == person_hash,
            # Every new-policy row holds its (person, month) key, whatever its status: a suspended month is paid
            # later as back pay, and the old-policy insert would hit uq_pension_months_person_month anyway.
            PensionMonth.enrollment_id.is_not(None),
            PensionMonth.month.between(first, last),
        )
    )


async def record_old_policy(
    session: AsyncSession, actor: Principal, data: OldPolicyIn, *, source: str = "手工登记"
) -> OldPolicyOutcome:
    """Record what a person got under the old policy and re-apply bridging to their enrollment, if any."""
    require(actor, Perm.SOCIAL_CASE_WRITE)
    try:
        found = await _find_person(session, actor, data.id_number)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="id_number") from None
    if found is None:
        raise InvalidInput(PERSON_NOT_FOUND, field="id_number")
    member, household = found
    authorize(actor, Perm.SOCIAL_CASE_WRITE, household.area_path)
    if member.name != data.name:
        raise InvalidInput("姓名与户籍登记不一致，请核对", field="name")
    lump = yuan_to_fen(data.lump_sum_received)
    subsidy = None if data.monthly_subsidy is None else yuan_to_fen(data.monthly_subsidy)
    paid_from = None if data.paid_from is None else rules.parse_month(data.paid_from)
    paid_through = None if data.paid_through is None else rules.parse_month(data.paid_through)
    record = await session.scalar(
        select(OldPolicyRecord).where(
            OldPolicyRecord.county_code == household.county_code,
            OldPolicyRecord.person_hash == member.id_number_hash,
        )
    )
    before = None if record is None else old_policy_snapshot(record)
    if record is not None and (
        record.lump_sum_received,
        record.monthly_subsidy,
        record.paid_from,
        record.paid_through,
    ) == (lump, subsidy, paid_from, paid_through):
        return OldPolicyOutcome(record, "unchanged")
    if paid_from is not None and paid_through is not None:
        overlap = await _new_policy_overlap(
            session, household.county_code, member.id_number_hash, paid_from, paid_through
        )
        if overlap is not None:
            raise Conflict(
                f"{member.name} 的 {overlap.year}年{overlap.month}月 已在新政策下登记（已发放、待发放或暂停发放），老政策补贴月份不能与之重叠",
                field="paid_through",
            )
    if record is None:
        record = OldPolicyRecord(
            county_code=household.county_code,
            person_hash=member.id_number_hash,
            recorded_by=actor.user_id,
        )
        session.add(record)
    record.area_path = household.area_path
    record.member_id = member.id
    record.name = member.name
    record.id_number_masked = member.id_number_masked
    record.lump_sum_received, record.monthly_subsidy = lump, subsidy
    record.paid_from, record.paid_through = paid_from, paid_through
    record.source = source[:200]
    await _flush(session)
    # The old policy's months go into the one register of months, so that the new policy can never pay them again.
    await session.execute(delete(PensionMonth).where(PensionMonth.old_policy_id == record.id))
    if paid_from is not None and paid_through is not None and subsidy is not None:
        await session.execute(
            text(
                """
                INSERT INTO pension_months (county_code, area_path, person_hash, month, old_policy_id, status, kind,
                                            amount)
                SELECT :county, :path, :hash, m::date, :record, 'old_policy', 'old_policy', :amount
                FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month') AS m
                """
            ),
            {
                "county": household.county_code,
                "path": household.area_path,
                "hash": member.id_number_hash,
                "record": record.id,
                "amount": subsidy,
                "first": paid_from,
                "last": paid_through,
            },
        )
    enrollment = await session.scalar(
        select(Enrollment).where(
            Enrollment.county_code == household.county_code, Enrollment.person_hash == member.id_number_hash
        )
    )
    if enrollment is not None:
        batch = await session.get(AcquisitionBatch, enrollment.batch_id)
        assert batch is not None
        credit_before = enrollment.account_credit
        _bridge(enrollment, params_of(batch), record)
        await _post_credits(
            session,
            actor,
            enrollment.county_code,
            batch.village_id,
            enrollment.account_credit - credit_before,
            today_in_china(),
            f"{enrollment.name} 老政策衔接，个人账户记入额调整",
        )
    try:
        await _flush(session)
    except IntegrityError:  # pragma: no cover - _flush maps the known ones
        raise
    await audit.record(
        session,
        actor,
        "old_policy.record",
        "old_policy_record",
        record.id,
        before=before,
        after={**old_policy_snapshot(record), "source": record.source},
        household_id=household.id,
        county_code=household.county_code,
    )
    return OldPolicyOutcome(record, "created" if before is None else "updated")


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


async def import_old_policy(
    session: AsyncSession, actor: Principal, rows: Sequence[tuple[int, OldPolicyIn]], *, source: str
) -> ImportResult:
    """Import an old-policy roster (老政策花名册): every row is checked against the registry first; any wrong row
    refuses the whole file (``RowsInvalid``), so nothing is half-saved."""
    require(actor, Perm.SOCIAL_CASE_WRITE)
    errors: list[RowError] = []
    for row_no, data in rows:
        try:
            found = await _find_person(session, actor, data.id_number)
        except ValueError as exc:
            errors.append(RowError(row_no, "公民身份号码", str(exc)))
            continue
        if found is None:
            errors.append(RowError(row_no, "公民身份号码", PERSON_NOT_FOUND))
        elif found[0].name != data.name:
            errors.append(RowError(row_no, "姓名", f"姓名与户籍登记不一致（登记为 {found[0].name}）"))
        elif data.paid_from and data.paid_through:
            overlap = await _new_policy_overlap(
                session,
                found[1].county_code,
                found[0].id_number_hash,
                rules.parse_month(data.paid_from),
                rules.parse_month(data.paid_through),
            )
            if overlap is not None:
                errors.append(
                    RowError(
                        row_no,
                        "补贴发放至年月",
                        f"{overlap.year}年{overlap.month}月 已在新政策下登记（已发放、待发放或暂停发放），不能再登记为老政策补贴月份",
                    )
                )
    if errors:
        raise RowsInvalid(errors)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for _row_no, data in rows:
        outcome = await record_old_policy(session, actor, data, source=source)
        counts[outcome.change] += 1
    return ImportResult(**counts)


async def list_old_policy(
    session: AsyncSession, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[OldPolicyRecord], int]:
    require(principal, Perm.REGISTRY_READ)
    where = scope_clause(principal, OldPolicyRecord.area_path)
    total = await session.scalar(select(func.count()).select_from(OldPolicyRecord).where(where))
    rows = await session.scalars(
        select(OldPolicyRecord).where(where).order_by(OldPolicyRecord.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


# ---------------------------------------------------------------------------------------------- enrollments


async def get_enrollment(session: AsyncSession, principal: Principal, enrollment_id: int) -> Enrollment:
    require(principal, Perm.REGISTRY_READ)
    enrollment = await session.scalar(
        select(Enrollment).where(
            Enrollment.id == enrollment_id, scope_clause(principal, Enrollment.area_path)
        )
    )
    if enrollment is None:
        raise NotFound(ENROLLMENT_NOT_FOUND)
    return enrollment


async def enrollments_of_household(
    session: AsyncSession, principal: Principal, household_id: int
) -> list[Enrollment]:
    require(principal, Perm.REGISTRY_READ)
    rows = await session.scalars(
        select(Enrollment)
        .where(Enrollment.household_id == household_id, scope_clause(principal, Enrollment.area_path))
        .order_by(Enrollment.id)
    )
    return list(rows)


async def list_enrollments(
    session: AsyncSession,
    principal: Principal,
    *,
    batch_id: int | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Enrollment], int]:
    require(principal, Perm.REGISTRY_READ)
    conditions: list[ColumnElement[bool]] = [scope_clause(principal, Enrollment.area_path)]
    if batch_id is not None:
        conditions.append(Enrollment.batch_id == batch_id)
    if name:
        conditions.append(Enrollment.name.contains(name, autoescape=True))
    total = await session.scalar(select(func.count()).select_from(Enrollment).where(*conditions))
    rows = await session.scalars(
        select(Enrollment).where(*conditions).order_by(Enrollment.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


def _writable(enrollment: Enrollment, actor: Principal, perm: Perm = Perm.SOCIAL_CASE_WRITE) -> None:
    authorize(actor, perm, enrollment.area_path)


def passbook_snapshot(passbook: Passbook | None) -> dict[str, Any] | None:
    if passbook is None:
        return None
    return {
        "bank_name": passbook.bank_name,
        "account": passbook.account_masked,
        "opened_on": passbook.opened_on.isoformat(),
    }


async def set_passbook(
    session: AsyncSession, actor: Principal, enrollment_id: int, data: PassbookIn
) -> Passbook:
    """Open or change the dedicated passbook (专用存折); the number is sealed and only its masked form is shown or
    audited."""
    enrollment = await get_enrollment(session, actor, enrollment_id)
    _writable(enrollment, actor)
    number = data.account_number.replace(" ", "")
    if not 12 <= len(number) <= 30:
        raise InvalidInput("存折账号应为 12 至 30 位数字", field="account_number")
    if data.opened_on > today_in_china():
        raise InvalidInput("开户日期不能晚于今天", field="opened_on")
    cipher = account_cipher()
    passbook = await session.get(Passbook, enrollment.id)
    before = passbook_snapshot(passbook)
    digest = cipher.lookup_hash(number)
    if (
        passbook is not None
        and passbook.account_hash == digest
        and passbook.bank_name == data.bank_name
        and (passbook.opened_on == data.opened_on)
    ):
        return passbook
    if passbook is None:
        passbook = Passbook(enrollment_id=enrollment.id)
        session.add(passbook)
    passbook.bank_name = data.bank_name
    passbook.account_enc = cipher.encrypt(number)
    passbook.account_hash = digest
    passbook.account_masked = mask_account(number)
    passbook.opened_on = data.opened_on
    await _flush(session)
    await audit.record(
        session,
        actor,
        "passbook.set",
        "enrollment",
        enrollment.id,
        before=before,
        after=passbook_snapshot(passbook),
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )
    return passbook


async def record_certification(
    session: AsyncSession, actor: Principal, enrollment_id: int, data: CertificationIn
) -> LifeCertification:
    """Record a proof of life (资格认证)."""
    enrollment = await get_enrollment(session, actor, enrollment_id)
    _writable(enrollment, actor)
    if data.certified_on > today_in_china():
        raise InvalidInput("认证日期不能晚于今天", field="certified_on")
    if data.certified_on < enrollment.birth_date:
        raise InvalidInput("认证日期不能早于出生日期", field="certified_on")
    if enrollment.death_date is not None and data.certified_on > enrollment.death_date:
        raise InvalidInput("该人员已登记死亡，认证日期不能晚于死亡日期", field="certified_on")
    cert = LifeCertification(
        enrollment_id=enrollment.id,
        certified_on=data.certified_on,
        method=data.method,
        certified_by=data.certified_by,
        recorded_by=actor.user_id,
    )
    session.add(cert)
    await _flush(session)
    await audit.record(
        session,
        actor,
        "certification.record",
        "enrollment",
        enrollment.id,
        after={
            "certified_on": data.certified_on.isoformat(),
            "method": rules.CERTIFICATION_METHODS[data.method],
            "certified_by": data.certified_by,
        },
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )
    return cert


@dataclass(frozen=True, slots=True)
class DeathOutcome:
    overpayment: Overpayment | None
    cancelled_months: int
    heir_amount: int


@dataclass(frozen=True, slots=True)
class EffectiveMonth:
    """A register month with its status as the bank decided it: a claimed month on a payment line is
    ``pending`` until the bank answers, then ``paid`` or ``failed`` (awaiting re-issue); ``claimed`` means not yet
    on a line. ``paid`` rows written directly are history from before the system (期初)."""

    id: int
    month: date
    kind: str
    status: str
    amount: int
    period: date | None
    paid_on: date | None


# A claimed month belongs to the pension line of its person and period; the line's status is its bank outcome.
_EFFECTIVE_SQL = """
SELECT pm.id, pm.month, pm.kind, pm.amount, pm.period,
       CASE WHEN pm.status <> 'claimed' THEN pm.status
            WHEN l.id IS NULL THEN 'claimed'
            WHEN o.paid IS NULL THEN 'pending'
            WHEN o.paid THEN 'paid'
            ELSE 'failed' END AS status,
       COALESCE(pm.paid_on, CASE WHEN o.paid THEN o.resolved_on END) AS paid_on
FROM pension_months pm
LEFT JOIN payment_lines l ON pm.status = 'claimed' AND l.enrollment_id IS NOT NULL
     AND l.county_code = pm.county_code AND l.person_hash = pm.person_hash AND l.period = pm.period
LEFT JOIN line_outcomes o ON o.line_id = l.id
WHERE pm.enrollment_id = :enrollment
ORDER BY pm.month
"""


async def effective_months(session: AsyncSession, enrollment_id: int) -> list[EffectiveMonth]:
    rows = await session.execute(text(_EFFECTIVE_SQL), {"enrollment": enrollment_id})
    return [EffectiveMonth(r.id, r.month, r.kind, r.status, r.amount, r.period, r.paid_on) for r in rows]


def _paid_pairs(enrollment: Enrollment, months: Sequence[EffectiveMonth]) -> list[tuple[date, int]]:
    """(month, amount) of the months paid up to and including the month of death."""
    last = rules.month_of(enrollment.death_date) if enrollment.death_date else date.max
    return [(m.month, m.amount) for m in months if m.status == "paid" and m.month <= last]


async def _account_left(session: AsyncSession, enrollment: Enrollment) -> int:
    """The individual account's balance: the credit less what the paid months (through death) drew on it."""
    months = await effective_months(session, enrollment.id)
    return rules.account_left(
        enrollment.account_credit,
        enrollment.monthly_pension,
        enrollment.pension_start_month,
        _paid_pairs(enrollment, months),
    )


async def _months_owed_through_death(session: AsyncSession, enrollment: Enrollment) -> list[date]:
    """Months through the month of death that are still to be paid: in the register but not yet paid (waiting for
    a batch, with the bank, or failed and to be re-issued), or due and not yet in the register. Suspended months
    (no proof of life) are not owed. The heir is paid what the account holds once these are settled; paying
    earlier would let the account pay such a month a second time."""
    if enrollment.death_date is None:
        return []
    last = rules.month_of(enrollment.death_date)
    owed = {
        m.month
        for m in await effective_months(session, enrollment.id)
        if m.month <= last and m.status in {"claimed", "pending", "failed"}
    }
    rows = await session.execute(text(DUE_SQL), due_params(SYSTEM, last, today_in_china(), enrollment.id))
    owed.update(r.month for r in rows if r.kind != "suspended")
    return sorted(owed)


async def _ss_accounts(session: AsyncSession, county_code: str, village_id: int) -> list[ledger.AccountSpec]:
    return [
        *(await ledger.social_security_accounts(session, county_code)),
        *(await ledger.individual_accounts(session, county_code, [village_id])),
    ]


async def _post_credits(
    session: AsyncSession,
    actor: Principal,
    county_code: str,
    village_id: int,
    amount: int,
    on: date,
    memo: str,
) -> None:
    """Enrollment credits (参保记入个人账户) move money from the pool to the village's individual accounts; a
    later bridging change posts the difference either way."""
    if amount == 0:
        return
    individual = ledger_rules.individual_code(village_id)
    entries = (
        [Entry(ledger_rules.SS_POOL, debit=amount), Entry(individual, credit=amount)]
        if amount > 0
        else [Entry(individual, debit=-amount), Entry(ledger_rules.SS_POOL, credit=-amount)]
    )
    await ledger.post(
        session,
        actor,
        county_code=county_code,
        kind="enrollment_credit",
        memo=memo,
        posted_on=on,
        entries=entries,
        accounts=await _ss_accounts(session, county_code, village_id),
    )


async def _village_id(session: AsyncSession, enrollment: Enrollment) -> int:
    village_id = await session.scalar(
        select(Household.village_id).where(Household.id == enrollment.household_id)
    )
    assert village_id is not None
    return int(village_id)


async def _post_overpayment(
    session: AsyncSession, actor: Principal, enrollment: Enrollment, months: Sequence[tuple[date, int]]
) -> None:
    """Months paid after death (多发) become a receivable; what they drew goes back to the individual account
    and the pool they came from, so the account holds what the heir is owed."""
    total = sum(a for _m, a in months)
    share = sum(
        rules.account_share(
            enrollment.account_credit, enrollment.monthly_pension, enrollment.pension_start_month, m, a
        )
        for m, a in months
    )
    village_id = await _village_id(session, enrollment)
    await ledger.post(
        session,
        actor,
        county_code=enrollment.county_code,
        kind="overpayment",
        memo=f"{enrollment.name} 死亡后多发 {len(months)} 个月，待追回",
        posted_on=today_in_china(),
        entries=[
            Entry(ledger_rules.SS_OVERPAID, debit=total),
            Entry(ledger_rules.individual_code(village_id), credit=share),
            Entry(ledger_rules.SS_POOL, credit=total - share),
        ],
        accounts=await _ss_accounts(session, enrollment.county_code, village_id),
    )


async def add_overpaid_months(
    session: AsyncSession, actor: Principal, enrollment_id: int, months: Sequence[tuple[date, int]]
) -> None:
    """The bank paid months after a recorded death (the batch was already with the bank): add them to the
    person's overpayment (多发追回) and post them. Called by reconciliation."""
    enrollment = await session.get(Enrollment, enrollment_id)
    if enrollment is None or not months:
        return
    overpayment = await session.scalar(select(Overpayment).where(Overpayment.enrollment_id == enrollment.id))
    if overpayment is None:
        overpayment = Overpayment(enrollment_id=enrollment.id, months=[], amount=0, recovered=0)
        session.add(overpayment)
    overpayment.months = sorted({*overpayment.months, *(m for m, _a in months)})
    overpayment.amount = overpayment.amount + sum(a for _m, a in months)
    await _flush(session)
    await _post_overpayment(session, actor, enrollment, months)
    heir = await session.scalar(select(HeirPayment).where(HeirPayment.enrollment_id == enrollment.id))
    if heir is not None and heir.status == "due":
        heir.amount = await _account_left(session, enrollment)
    await audit.record(
        session,
        actor,
        "enrollment.overpaid",
        "enrollment",
        enrollment.id,
        after={
            "months": [rules.format_month(m) for m, _a in months],
            "overpayment": fen_to_yuan(overpayment.amount),
        },
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )


async def record_death(
    session: AsyncSession, actor: Principal, enrollment_id: int, data: DeathIn
) -> DeathOutcome:
    """Record a pensioner's death (死亡): no month after the month of death is paid; months already paid after it
    become one overpayment to recover (多发追回); unpaid ones are cancelled."""
    enrollment = await get_enrollment(session, actor, enrollment_id)
    _writable(enrollment, actor)
    if enrollment.status == "deceased":
        raise Conflict("该人员已登记死亡", field="death_date")
    if data.death_date > today_in_china():
        raise InvalidInput("死亡日期不能晚于今天", field="death_date")
    if data.death_date < enrollment.birth_date:
        raise InvalidInput("死亡日期不能早于出生日期", field="death_date")
    last_cert = await session.scalar(
        select(func.max(LifeCertification.certified_on)).where(
            LifeCertification.enrollment_id == enrollment.id
        )
    )
    if last_cert is not None and last_cert > data.death_date:
        raise InvalidInput(
            f"该人员在 {last_cert.year}年{last_cert.month}月{last_cert.day}日 通过了资格认证，死亡日期不能早于该日",
            field="death_date",
        )
    death_month = rules.month_of(data.death_date)
    effective = await effective_months(session, enrollment.id)
    after = [m for m in effective if m.month > death_month]
    overpaid = [m for m in after if m.status == "paid"]
    # Unpaid months after the death are cancelled; a month with the bank right now (pending) is left to its
    # result: reconciliation turns it into an overpayment if the bank pays it.
    to_cancel = [m.id for m in after if m.status in ("claimed", "suspended", "failed")]
    if to_cancel:
        await session.execute(
            text("UPDATE pension_months SET status = 'cancelled' WHERE id = ANY(:ids)"), {"ids": to_cancel}
        )
    cancelled = len(to_cancel)
    enrollment.status, enrollment.death_date = "deceased", data.death_date
    overpayment = None
    if overpaid:
        overpayment = Overpayment(
            enrollment_id=enrollment.id,
            months=[m.month for m in overpaid],
            amount=sum(m.amount for m in overpaid),
            recovered=0,
        )
        session.add(overpayment)
    await _flush(session)
    heir_amount = await _account_left(session, enrollment)
    if overpaid:
        await _post_overpayment(session, actor, enrollment, [(m.month, m.amount) for m in overpaid])
    await audit.record(
        session,
        actor,
        "enrollment.death",
        "enrollment",
        enrollment.id,
        before={"status": "active"},
        after={
            "death_date": data.death_date.isoformat(),
            "overpaid_months": [rules.format_month(m.month) for m in overpaid],
            "overpayment": fen_to_yuan(overpayment.amount) if overpayment else "0.00",
            "cancelled_months": cancelled,
            "account_balance": fen_to_yuan(heir_amount),
        },
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )
    return DeathOutcome(overpayment, cancelled, heir_amount)


async def set_heir(session: AsyncSession, actor: Principal, enrollment_id: int, data: HeirIn) -> HeirPayment:
    """Name the heir (继承人) who receives the individual-account balance left at death, once."""
    enrollment = await get_enrollment(session, actor, enrollment_id)
    _writable(enrollment, actor)
    if enrollment.status != "deceased":
        raise Conflict("登记死亡后才能登记继承人", field="heir_name")
    try:
        number = parse_id_number(data.heir_id_number, today=today_in_china()).number
    except ValueError as exc:
        raise InvalidInput(str(exc), field="heir_id_number") from None
    cipher = id_cipher()
    if cipher.lookup_hash(number) == enrollment.person_hash:
        raise InvalidInput("继承人不能是死者本人", field="heir_id_number")
    amount = await _account_left(session, enrollment)
    heir = await session.scalar(select(HeirPayment).where(HeirPayment.enrollment_id == enrollment.id))
    before = None
    if heir is not None:
        if heir.status == "paid":
            raise Conflict("个人账户余额已支付给继承人，不能再更改", field="heir_name")
        before = {
            "heir_name": heir.heir_name,
            "heir_id_number": heir.heir_id_masked,
            "relation": heir.relation,
        }
    else:
        heir = HeirPayment(enrollment_id=enrollment.id, status="due")
        session.add(heir)
    heir.heir_name = data.heir_name
    heir.heir_id_enc = cipher.encrypt(number)
    heir.heir_id_hash = cipher.lookup_hash(number)
    heir.heir_id_masked = mask_id_number(number)
    heir.relation = data.relation
    heir.amount = amount
    await _flush(session)
    await audit.record(
        session,
        actor,
        "enrollment.heir",
        "enrollment",
        enrollment.id,
        before=before,
        after={
            "heir_name": heir.heir_name,
            "heir_id_number": heir.heir_id_masked,
            "relation": heir.relation,
            "amount": fen_to_yuan(amount),
        },
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )
    return heir


async def pay_heir(
    session: AsyncSession, actor: Principal, enrollment_id: int, *, paid_on: date, note: str
) -> HeirPayment:
    """Record that the individual-account balance was paid to the heir (once), and post it."""
    enrollment = await get_enrollment(session, actor, enrollment_id)
    _writable(enrollment, actor, Perm.LEDGER_POST)
    heir = await session.scalar(select(HeirPayment).where(HeirPayment.enrollment_id == enrollment.id))
    if heir is None:
        raise Conflict("尚未登记继承人", field="paid_on")
    if heir.status == "paid":
        raise Conflict("个人账户余额已支付给继承人", field="paid_on")
    if paid_on > today_in_china():
        raise InvalidInput("支付日期不能晚于今天", field="paid_on")
    owed = await _months_owed_through_death(session, enrollment)
    if owed:
        shown = "、".join(format_month_cn(m) for m in owed[:6]) + ("等" if len(owed) > 6 else "")
        raise Conflict(
            f"去世当月及以前尚有 {len(owed)} 个月养老金未发放到账（{shown}），"
            "银行回盘确认发放后才能向继承人支付个人账户余额",
            field="paid_on",
        )
    heir.amount = await _account_left(session, enrollment)
    heir.status, heir.paid_on, heir.payment_note = "paid", paid_on, note
    await _flush(session)
    if heir.amount > 0:
        village_id = await _village_id(session, enrollment)
        await ledger.post(
            session,
            actor,
            county_code=enrollment.county_code,
            kind="heir_payout",
            memo=f"{enrollment.name} 个人账户余额支付继承人 {heir.heir_name}：{note}",
            posted_on=paid_on,
            entries=[
                Entry(ledger_rules.individual_code(village_id), debit=heir.amount),
                Entry(ledger_rules.SS_BANK, credit=heir.amount),
            ],
            accounts=await _ss_accounts(session, enrollment.county_code, village_id),
        )
    await audit.record(
        session,
        actor,
        "enrollment.heir_paid",
        "enrollment",
        enrollment.id,
        before={"status": "due"},
        after={
            "status": "paid",
            "amount": fen_to_yuan(heir.amount),
            "paid_on": paid_on.isoformat(),
            "note": note,
        },
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )
    return heir


async def record_recovery(
    session: AsyncSession, actor: Principal, enrollment_id: int, data: RecoveryIn
) -> Overpayment:
    """Record money recovered from an overpayment, until it is recovered in full."""
    enrollment = await get_enrollment(session, actor, enrollment_id)
    _writable(enrollment, actor, Perm.RECOVERY_RECORD)
    overpayment = await session.scalar(select(Overpayment).where(Overpayment.enrollment_id == enrollment.id))
    if overpayment is None:
        raise Conflict("该人员没有待追回的多发金额", field="amount")
    amount = yuan_to_fen(data.amount)
    outstanding = overpayment.amount - overpayment.recovered
    if amount > outstanding:
        raise InvalidInput(f"追回金额超过尚未追回的 {fen_to_yuan(outstanding)} 元", field="amount")
    if data.recovered_on > today_in_china():
        raise InvalidInput("追回日期不能晚于今天", field="recovered_on")
    session.add(
        OverpaymentRecovery(
            overpayment_id=overpayment.id,
            amount=amount,
            recovered_on=data.recovered_on,
            note=data.note,
            recorded_by=actor.user_id,
        )
    )
    overpayment.recovered = overpayment.recovered + amount
    await _flush(session)
    await ledger.post(
        session,
        actor,
        county_code=enrollment.county_code,
        kind="recovery",
        memo=f"{enrollment.name} 多发追回：{data.note}",
        posted_on=data.recovered_on,
        entries=[Entry(ledger_rules.SS_BANK, debit=amount), Entry(ledger_rules.SS_OVERPAID, credit=amount)],
        accounts=await ledger.social_security_accounts(session, enrollment.county_code),
    )
    await audit.record(
        session,
        actor,
        "overpayment.recover",
        "enrollment",
        enrollment.id,
        before={"recovered": fen_to_yuan(overpayment.recovered - amount)},
        after={
            "amount": fen_to_yuan(amount),
            "recovered": fen_to_yuan(overpayment.recovered),
            "outstanding": fen_to_yuan(overpayment.amount - overpayment.recovered),
        },
        household_id=enrollment.household_id,
        county_code=enrollment.county_code,
    )
    return overpayment


# ---------------------------------------------------------------------------------------------- exports


async def record_export(
    session: AsyncSession, principal: Principal, what: str, detail: dict[str, Any], *, rows: int
) -> None:
    """Downloads of lists of people (PDF/XLSX) are reads of personal data in bulk: each one is audited
    (domain.md, "Audit trail"), naming what was exported and how many rows, never their content."""
    require(principal, Perm.REGISTRY_READ)
    await audit.record(session, principal, "export.download", what, None, after={**detail, "rows": rows})


# ---------------------------------------------------------------------------------------------- a person's page


MONTH_STATUS_LABELS = {
    "claimed": "待发放",
    "pending": "银行处理中",
    "paid": "已发放",
    "failed": "发放失败，待重发",
    "cancelled": "已取消（死亡后）",
}


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: date
    state: str  # MONTH_STATES key, or a register status (claimed / paid / cancelled)
    label: str
    amount: int
    paid_on: date | None = None


@dataclass(frozen=True, slots=True)
class PersonView:
    enrollment: Enrollment
    batch: AcquisitionBatch
    register_no: str
    village_name: str
    passbook: Passbook | None
    old_policy: OldPolicyRecord | None
    certifications: list[LifeCertification]
    months: list[MonthRow]
    paid_total: int
    account_balance: int
    certification_expires: date
    certification_overdue: bool
    overpayment: Overpayment | None
    recoveries: list[OverpaymentRecovery]
    heir: HeirPayment | None


async def person_view(
    session: AsyncSession, principal: Principal, enrollment_id: int, *, today: date | None = None
) -> PersonView:
    """Everything about one pensioner: enrollment, account, passbook, every month, proof of life, overpayments."""
    enrollment = await get_enrollment(session, principal, enrollment_id)
    today = today or today_in_china()
    batch = await session.get(AcquisitionBatch, enrollment.batch_id)
    household = await session.get(Household, enrollment.household_id)
    assert batch is not None and household is not None
    village = await session.get(Area, household.village_id)
    certs = list(
        (
            await session.scalars(
                select(LifeCertification)
                .where(LifeCertification.enrollment_id == enrollment.id)
                .order_by(LifeCertification.certified_on)
            )
        ).all()
    )
    register = {m.month: m for m in await effective_months(session, enrollment.id)}
    current = rules.month_of(today)
    last = max([current, *register])
    dates = [c.certified_on for c in certs]
    baseline = rules.certification_baseline(enrollment.enrolled_on, enrollment.pension_start_month)
    months: list[MonthRow] = []
    for month in rules.months_between(enrollment.pension_start_month, last):
        row = register.get(month)
        if row is not None and row.status != "suspended":
            label = rules.MONTH_STATES.get(row.kind, "") if row.status != "cancelled" else ""
            status_label = MONTH_STATUS_LABELS[row.status]
            if (
                row.status == "paid"
                and enrollment.death_date
                and month > rules.month_of(enrollment.death_date)
            ):
                status_label = "死亡后多发，需追回"
            if row.kind == "regular":
                label = ""
            months.append(
                MonthRow(
                    month,
                    row.status,
                    f"{status_label}{'（' + label + '）' if label else ''}",
                    row.amount,
                    row.paid_on,
                )
            )
            continue
        state = rules.month_state(
            month,
            start_month=enrollment.pension_start_month,
            baseline=baseline,
            certifications=dates,
            death_date=enrollment.death_date,
            period=current,
            as_of=today,
        )
        if month > current and state != "after_death":
            continue
        label = rules.MONTH_STATES[state]
        if state in ("regular", "back_pay"):
            label = "应发（未发放）" if state == "regular" else "补发（未发放）"
        months.append(
            MonthRow(month, state, label, enrollment.monthly_pension if state != "after_death" else 0)
        )
    paid_pairs = _paid_pairs(enrollment, list(register.values()))
    paid = [m.amount for m in register.values() if m.status == "paid"]
    expires, _due = rules.certification_due(baseline, dates, current)
    overpayment = await session.scalar(select(Overpayment).where(Overpayment.enrollment_id == enrollment.id))
    recoveries: list[OverpaymentRecovery] = []
    if overpayment is not None:
        recoveries = list(
            (
                await session.scalars(
                    select(OverpaymentRecovery)
                    .where(OverpaymentRecovery.overpayment_id == overpayment.id)
                    .order_by(OverpaymentRecovery.id)
                )
            ).all()
        )
    old = await session.scalar(
        select(OldPolicyRecord).where(
            OldPolicyRecord.county_code == enrollment.county_code,
            OldPolicyRecord.person_hash == enrollment.person_hash,
        )
    )
    return PersonView(
        enrollment=enrollment,
        batch=batch,
        register_no=household.register_no,
        village_name=village.name if village else "",
        passbook=await session.get(Passbook, enrollment.id),
        old_policy=old,
        certifications=certs,
        months=months,
        paid_total=sum(paid),
        account_balance=rules.account_left(
            enrollment.account_credit, enrollment.monthly_pension, enrollment.pension_start_month, paid_pairs
        ),
        certification_expires=expires,
        certification_overdue=expires < today,
        overpayment=overpayment,
        recoveries=recoveries,
        heir=await session.scalar(select(HeirPayment).where(HeirPayment.enrollment_id == enrollment.id)),
    )


# ---------------------------------------------------------------------------------------------- proof of life due


@dataclass(frozen=True, slots=True)
class CertificationDueRow:
    enrollment_id: int
    name: str
    id_number_masked: str
    village_name: str
    register_no: str
    last_certified_on: date
    expires_on: date
    overdue: bool


def _certification_due_select(
    principal: Principal, month: date, village_id: int | None
) -> Select[Enrollment, str, str, date, date]:
    """The rows of :func:`certification_due_list` (enrollment, 户口簿编号, village, last proof of life, expiry),
    unordered."""
    next_month = rules.add_months(rules.month_of(month), 1)
    last_cert = (
        select(func.max(LifeCertification.certified_on))
        .where(LifeCertification.enrollment_id == Enrollment.id)
        .correlate(Enrollment)
        .scalar_subquery()
    )
    # mirrors rules.certification_baseline / last_certification
    last = func.greatest(
        Enrollment.enrolled_on,
        Enrollment.pension_start_month,
        func.coalesce(last_cert, Enrollment.enrolled_on),
    )
    expires = func.cast(last + text("interval '12 months'"), type_=Enrollment.enrolled_on.type)
    stmt = (
        select(
            Enrollment,
            Household.register_no,
            Area.name,
            last.label("last_certified_on"),
            expires.label("expires_on"),
        )
        .join(Household, Household.id == Enrollment.household_id)
        .join(Area, Area.id == Household.village_id)
        .where(
            scope_clause(principal, Enrollment.area_path),
            Enrollment.status == "active",
            Enrollment.pension_start_month < next_month,
            expires < next_month,
        )
    )
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    return stmt


async def certification_due_list(
    session: AsyncSession,
    principal: Principal,
    *,
    month: date,
    village_id: int | None = None,
    today: date | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[CertificationDueRow]:
    """Pensioners whose proof of life expires by the end of ``month`` (or already has), per village (by village
    code, then expiry); ``offset`` / ``limit`` of them (a county's month can be tens of thousands)."""
    require(principal, Perm.REGISTRY_READ)
    today = today or today_in_china()
    stmt = _certification_due_select(principal, month, village_id)
    stmt = (
        stmt.order_by(Area.code, stmt.selected_columns.expires_on, Enrollment.id).offset(offset).limit(limit)
    )
    rows = await session.execute(stmt)
    return [
        CertificationDueRow(e.id, e.name, e.id_number_masked, v, no, lc, ex, ex < today)
        for e, no, v, lc, ex in rows.all()
    ]


async def certification_due_count(
    session: AsyncSession,
    principal: Principal,
    *,
    month: date,
    village_id: int | None = None,
    today: date | None = None,
) -> tuple[int, int]:
    """How many :func:`certification_due_list` lists, and how many of them are overdue already."""
    require(principal, Perm.REGISTRY_READ)
    today = today or today_in_china()
    due = _certification_due_select(principal, month, village_id).subquery()
    row = (
        await session.execute(
            select(func.count(), func.count().filter(due.c.expires_on < today)).select_from(due)
        )
    ).one()
    return int(row[0]), int(row[1])


# ---------------------------------------------------------------------------------------------- months due


@dataclass(frozen=True, slots=True)
class DueMonth:
    enrollment_id: int
    month: date
    kind: str  # regular / back_pay / suspended
    amount: int


# Every month from an enrollment's pension start to the period (not after the month of death) that has no row in
# the register yet, or whose row is suspended: what it is now (domain.md, "Keeping pensions right"). Mirrors
# rules.month_state; tests check the two agree. The register holds each enrollment's months without gaps once a
# month is claimed, so only the months before its first and after its last row are generated (two index probes per
# enrollment instead of a row per month of history): that keeps a province-sized batch set-based and fast.
DUE_SQL = """
WITH scoped AS (
    SELECT e.id AS enrollment_id, e.county_code, e.area_path, e.person_hash, e.pension_start_month,
           e.enrolled_on, e.monthly_pension,
           LEAST(CAST(:period AS date), COALESCE(date_trunc('month', e.death_date)::date, CAST(:period AS date)))
               AS upto
    FROM enrollments e
    WHERE e.pension_start_month <= CAST(:period AS date)
      AND (CAST(:county AS varchar) IS NULL OR e.county_code = CAST(:county AS varchar))
      AND (CAST(:prefixes AS varchar[]) IS NULL OR e.area_path LIKE ANY(CAST(:prefixes AS varchar[])))
      AND (CAST(:enrollment AS bigint) IS NULL OR e.id = CAST(:enrollment AS bigint))
      AND e.id BETWEEN CAST(:id_from AS bigint) AND CAST(:id_to AS bigint)
      AND (NOT CAST(:with_passbook AS boolean) OR EXISTS (SELECT 1 FROM passbooks pb WHERE pb.enrollment_id = e.id))
), open_months AS (
    SELECT s.*, g.m::date AS month, NULL::bigint AS register_id
    FROM scoped s
    CROSS JOIN LATERAL (
        SELECT min(pm.month) AS lo, max(pm.month) AS hi FROM pension_months pm WHERE pm.enrollment_id = s.enrollment_id
    ) r
    CROSS JOIN LATERAL (
        SELECT m FROM generate_series(s.pension_start_month,
                                      COALESCE((r.lo - interval '1 month')::date, s.upto), interval '1 month') AS m
        WHERE m <= s.upto
        UNION ALL
        SELECT m FROM generate_series((r.hi + interval '1 month')::date, s.upto, interval '1 month') AS m
        WHERE r.hi IS NOT NULL
    ) g
    UNION ALL
    SELECT s.*, pm.month, pm.id AS register_id
    FROM scoped s JOIN pension_months pm ON pm.enrollment_id = s.enrollment_id
    WHERE pm.status = 'suspended' AND pm.period IS NULL AND pm.month <= s.upto
)
SELECT o.enrollment_id, o.county_code, o.area_path, o.person_hash, o.pension_start_month, o.month,
       o.monthly_pension AS amount, o.register_id,
       CASE
           WHEN (GREATEST(o.enrolled_on, o.pension_start_month, COALESCE(lc.last, o.enrolled_on))
                 + interval '12 months')::date >= o.month
               THEN CASE WHEN o.month = CAST(:period AS date) THEN 'regular' ELSE 'back_pay' END
           WHEN EXISTS (SELECT 1 FROM life_certifications r
                        WHERE r.enrollment_id = o.enrollment_id
                          AND r.certified_on > o.month AND r.certified_on <= CAST(:as_of AS date))
               THEN 'back_pay'
           ELSE 'suspended'
       END AS kind
FROM open_months o
LEFT JOIN LATERAL (
    SELECT max(c.certified_on) AS last FROM life_certifications c
    WHERE c.enrollment_id = o.enrollment_id AND c.certified_on <= o.month
) lc ON true
"""


# Claiming what ``DUE_SQL`` found, as common table expressions: ``fresh`` inserts the months not yet in the
# register (claimed for the period, or suspended), ``resumed`` claims suspended months as back pay once the
# pensioner is certified again; both return (enrollment_id, month, amount, status, kind) of what they changed.
# Used by claim_period and by the payments batch, which writes its lines from them in the same statement.
CLAIM_CTES = f"""
due AS ({DUE_SQL}),
fresh AS (
    INSERT INTO pension_months (county_code, area_path, person_hash, month, enrollment_id, start_month,
                                status, kind, period, amount)
    SELECT county_code, area_path, person_hash, month, enrollment_id, pension_start_month,
           CASE WHEN kind = 'suspended' THEN 'suspended' ELSE 'claimed' END,
           CASE WHEN kind = 'suspended' THEN 'regular' ELSE kind END,
           CASE WHEN kind = 'suspended' THEN NULL ELSE CAST(:period AS date) END, amount
    FROM due WHERE register_id IS NULL
    ON CONFLICT (county_code, person_hash, month) DO NOTHING
    RETURNING enrollment_id, month, amount, status, kind
),
resumed AS (
    UPDATE pension_months pm SET status = 'claimed', kind = 'back_pay', period = CAST(:period AS date)
    FROM due WHERE due.register_id = pm.id AND due.kind <> 'suspended' AND pm.status = 'suspended'
    RETURNING pm.enrollment_id, pm.month, pm.amount, pm.status, pm.kind
)"""  # noqa: S608 - the fragment is a constant


ALL_IDS = (0, 2**62)


def due_params(
    principal: Principal,
    period: date,
    as_of: date,
    enrollment_id: int | None = None,
    *,
    id_range: tuple[int, int] = ALL_IDS,
    with_passbook: bool = False,
) -> dict[str, Any]:
    """Parameters of ``DUE_SQL``: the caller's county and areas, optionally one enrollment or a range of ids (a
    chunk of a large batch), optionally only pensioners with a passbook to pay into."""
    return {
        "period": rules.month_of(period),
        "as_of": as_of,
        "county": None if principal is SYSTEM else principal.county_code,
        "prefixes": scope_prefixes(principal),
        "enrollment": enrollment_id,
        "id_from": id_range[0],
        "id_to": id_range[1],
        "with_passbook": with_passbook,
    }


async def due_for_period(
    session: AsyncSession,
    principal: Principal,
    period: date,
    *,
    as_of: date | None = None,
    enrollment_id: int | None = None,
) -> list[DueMonth]:
    """What is due for the monthly batch of ``period`` (``YYYY-MM``), read-only: every open month of every
    pensioner in the caller's areas, as regular, back pay (补发) or suspended (暂停发放). The payments batch claims
    these with ``claim_period``."""
    require(principal, Perm.REGISTRY_READ)
    as_of = as_of or today_in_china()
    rows = await session.execute(
        text(DUE_SQL + " ORDER BY o.enrollment_id, o.month"),
        due_params(principal, period, as_of, enrollment_id),
    )
    return [DueMonth(r.enrollment_id, r.month, r.kind, r.amount) for r in rows]


@dataclass(frozen=True, slots=True)
class VillageDue:
    village_name: str
    people: int
    regular: int
    back_pay: int
    suspended: int
    amount: int


async def due_summary(
    session: AsyncSession, principal: Principal, period: date, *, as_of: date | None = None
) -> list[VillageDue]:
    """What is due for ``period``, per village: people, months by kind, and the amount to pay."""
    require(principal, Perm.REGISTRY_READ)
    as_of = as_of or today_in_china()
    rows = await session.execute(
        text(
            f"""
            WITH due AS ({DUE_SQL})
            SELECT a.name AS village, count(DISTINCT d.enrollment_id) FILTER (WHERE d.kind <> 'suspended') AS people,
                   count(*) FILTER (WHERE d.kind = 'regular') AS regular,
                   count(*) FILTER (WHERE d.kind = 'back_pay') AS back_pay,
                   count(*) FILTER (WHERE d.kind = 'suspended') AS suspended,
                   COALESCE(sum(d.amount) FILTER (WHERE d.kind <> 'suspended'), 0) AS amount
            FROM due d JOIN enrollments e ON e.id = d.enrollment_id
            JOIN households h ON h.id = e.household_id JOIN areas a ON a.id = h.village_id
            GROUP BY a.code, a.name ORDER BY a.code
            """  # noqa: S608 - the fragment is a constant
        ),
        due_params(principal, period, as_of),
    )
    return [VillageDue(r.village, r.people, r.regular, r.back_pay, r.suspended, int(r.amount)) for r in rows]


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claimed: int
    back_pay: int
    suspended: int
    amount: int


async def claim_period(
    session: AsyncSession, actor: Principal, period: date, *, as_of: date | None = None
) -> ClaimResult:
    """Put the months due for ``period`` into the register, set-based: new months are ``claimed`` (to pay in the
    batch of ``period``) or ``suspended``; suspended months of pensioners certified again are claimed as back pay.
    Running it twice, or twice at once, claims each month once: the register's unique key decides."""
    if actor is not SYSTEM:
        require(actor, Perm.PENSION_CLAIM)
    as_of = as_of or today_in_china()
    params = due_params(actor, period, as_of)
    inserted = await session.execute(
        text(
            f"""
            WITH {CLAIM_CTES}
            SELECT
                count(*) FILTER (WHERE status = 'claimed') AS claimed,
                count(*) FILTER (WHERE status = 'claimed' AND kind = 'back_pay') AS back_pay,
                count(*) FILTER (WHERE status = 'suspended') AS suspended,
                COALESCE(sum(amount) FILTER (WHERE status = 'claimed'), 0) AS amount
            FROM (SELECT status, kind, amount FROM fresh UNION ALL SELECT status, kind, amount FROM resumed) AS changed
            """  # noqa: S608 - the fragment is a constant
        ),
        params,
    )
    row = inserted.one()
    result = ClaimResult(int(row.claimed), int(row.back_pay), int(row.suspended), int(row.amount))
    await audit.record(
        session,
        actor,
        "pension.claim",
        "pension_period",
        rules.format_month(period),
        after={
            "claimed": result.claimed,
            "back_pay": result.back_pay,
            "suspended": result.suspended,
            "amount": fen_to_yuan(result.amount),
        },
        county_code=None if actor is SYSTEM else actor.county_code,
    )
    return result


async def claimed_for_period(session: AsyncSession, principal: Principal, period: date) -> list[PensionMonth]:
    """The months claimed for the batch of ``period`` in the caller's areas (the lines a payment batch pays)."""
    require(principal, Perm.REGISTRY_READ)
    rows = await session.scalars(
        select(PensionMonth)
        .where(
            PensionMonth.period == rules.month_of(period),
            PensionMonth.status == "claimed",
            scope_clause(principal, PensionMonth.area_path),
        )
        .order_by(PensionMonth.enrollment_id, PensionMonth.month)
    )
    return list(rows)


async def mark_months_paid(session: AsyncSession, month_ids: Sequence[int], paid_on: date) -> int:
    """The bank confirmed these months (called by reconciliation); only claimed months become paid."""
    if not month_ids:
        return 0
    result = await session.execute(
        text(
            "UPDATE pension_months SET status = 'paid', paid_on = :paid_on "
            "WHERE id = ANY(:ids) AND status = 'claimed'"
        ),
        {"ids": list(month_ids), "paid_on": paid_on},
    )
    return int(getattr(result, "rowcount", 0) or 0)
