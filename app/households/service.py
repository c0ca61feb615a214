"""Registry use cases: households (被征收户) and their members (家庭成员).

Every read goes through ``scope_clause`` and every write through ``authorize``; every write and every reveal of
a full ID number is audited in the same transaction. Services flush; the request commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from app.areas.models import Area
from app.audit import service as audit
from app.auth.policy import SYSTEM, Perm, Principal, authorize, require, scope_clause
from app.config import get_settings
from app.core.clock import today_in_china, utcnow
from app.core.crypto import FieldCipher
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.idcard import mask_id_number, parse_id_number
from app.households.models import MEMBER_STATUSES, RELATIONS, Household, Member
from app.households.schemas import HouseholdIn, HouseholdUpdate, MemberIn, MemberMove, MemberUpdate

NOT_FOUND = "找不到该户，或它不在您负责的区域内"


@lru_cache(maxsize=4)
def _cipher_for(secret: str) -> FieldCipher:
    return FieldCipher(secret, "id_number")


def id_cipher() -> FieldCipher:
    return _cipher_for(get_settings().secret_key)


# ---------------------------------------------------------------- villages


@dataclass(frozen=True, slots=True)
class VillageRow:
    village: Area
    township_name: str
    household_count: int
    member_count: int


async def list_villages(session: AsyncSession, principal: Principal) -> list[VillageRow]:
    require(principal, Perm.REGISTRY_READ)
    township = aliased(Area)
    households = (
        select(Household.village_id, func.count().label("n")).group_by(Household.village_id).subquery()
    )
    members = (
        select(Household.village_id, func.count().label("n"))
        .join(Member, Member.household_id == Household.id)
        .where(Member.status == "registered")
        .group_by(Household.village_id)
        .subquery()
    )
    rows = await session.execute(
        select(Area, township.name, func.coalesce(households.c.n, 0), func.coalesce(members.c.n, 0))
        .join(township, township.id == Area.parent_id)
        .outerjoin(households, households.c.village_id == Area.id)
        .outerjoin(members, members.c.village_id == Area.id)
        .where(Area.level == "village", scope_clause(principal, Area.path))
        .order_by(township.code, Area.code)
    )
    return [VillageRow(a, t, int(h), int(m)) for a, t, h, m in rows.all()]


async def get_village(session: AsyncSession, principal: Principal, village_id: int) -> Area:
    require(principal, Perm.REGISTRY_READ)
    village = await session.scalar(
        select(Area).where(Area.id == village_id, Area.level == "village", scope_clause(principal, Area.path))
    )
    if village is None:
        raise NotFound("找不到该村，或它不在您负责的区域内")
    return village


async def groups_of(session: AsyncSession, village_id: int) -> Sequence[Area]:
    return (
        await session.scalars(
            select(Area).where(Area.parent_id == village_id, Area.level == "group").order_by(Area.code)
        )
    ).all()


# ---------------------------------------------------------------- reading households


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    household: Household
    village_name: str
    group_name: str | None
    head_name: str | None
    member_count: int


def _summary_query(principal: Principal) -> Select[Any]:
    village = aliased(Area)
    group = aliased(Area)
    head = (
        select(Member.name)
        .where(Member.household_id == Household.id, Member.relation == "head", Member.status == "registered")
        .limit(1)
        .scalar_subquery()
    )
    count = (
        select(func.count())
        .where(Member.household_id == Household.id, Member.status == "registered")
        .scalar_subquery()
    )
    return (
        select(Household, village.name, group.name, head, count)
        .join(village, village.id == Household.village_id)
        .outerjoin(group, group.id == Household.group_id)
        .where(scope_clause(principal, Household.area_path))
    )


def _rows(result: Sequence[Any]) -> list[HouseholdRow]:
    return [HouseholdRow(h, v, g, head, int(n)) for h, v, g, head, n in result]


async def list_households(
    session: AsyncSession, principal: Principal, village_id: int, *, q: str | None, page: int, page_size: int
) -> tuple[list[HouseholdRow], int]:
    """A village's households, optionally those with a member whose name contains ``q``."""
    await get_village(session, principal, village_id)
    stmt = _summary_query(principal).where(Household.village_id == village_id)
    if q:
        matching = select(Member.household_id).where(Member.name.contains(q.strip(), autoescape=True))
        stmt = stmt.where(Household.id.in_(matching))
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    result = await session.execute(
        stmt.order_by(Household.register_no, Household.id).offset((page - 1) * page_size).limit(page_size)
    )
    return _rows(result.all()), int(total)


async def find_by_id_number(
    session: AsyncSession, principal: Principal, id_number: str
) -> list[HouseholdRow]:
    """Households in scope that have (or had) a member with this exact ID number."""
    require(principal, Perm.REGISTRY_READ)
    digest = id_cipher().lookup_hash(parse_id_number(id_number).number)
    stmt = _summary_query(principal).where(
        Household.id.in_(select(Member.household_id).where(Member.id_number_hash == digest))
    )
    return _rows((await session.execute(stmt.order_by(Household.id))).all())


async def get_household(session: AsyncSession, principal: Principal, household_id: int) -> Household:
    require(principal, Perm.REGISTRY_READ)
    household = await session.scalar(
        select(Household).where(Household.id == household_id, scope_clause(principal, Household.area_path))
    )
    if household is None:
        raise NotFound(NOT_FOUND)
    return household


async def household_row(session: AsyncSession, principal: Principal, household_id: int) -> HouseholdRow:
    require(principal, Perm.REGISTRY_READ)
    rows = _rows((await session.execute(_summary_query(principal).where(Household.id == household_id))).all())
    if not rows:
        raise NotFound(NOT_FOUND)
    return rows[0]


async def members_of(session: AsyncSession, household_id: int) -> Sequence[Member]:
    """Members of a household the caller has already been authorised to read; the head first, then by age."""
    return (
        await session.scalars(
            select(Member)
            .where(Member.household_id == household_id)
            .order_by(
                (Member.status != "registered"), (Member.relation != "head"), Member.birth_date, Member.id
            )
        )
    ).all()


async def get_member(session: AsyncSession, principal: Principal, member_id: int) -> tuple[Member, Household]:
    require(principal, Perm.REGISTRY_READ)
    row = (
        await session.execute(
            select(Member, Household)
            .join(Household, Household.id == Member.household_id)
            .where(Member.id == member_id, scope_clause(principal, Household.area_path))
        )
    ).first()
    if row is None:
        raise NotFound("找不到该家庭成员，或其所在户不在您负责的区域内")
    return row[0], row[1]


async def reveal_id_number(session: AsyncSession, principal: Principal, member_id: int) -> str:
    """A staff read of a full ID number; audited."""
    member, household = await get_member(session, principal, member_id)
    authorize(principal, Perm.ID_REVEAL, household.area_path)
    number = id_cipher().decrypt(member.id_number_enc)
    await audit.record(
        session,
        principal,
        "member.reveal_id",
        "member",
        member.id,
        after={"name": member.name, "id_number": member.id_number_masked},
        household_id=household.id,
        county_code=household.county_code,
    )
    return number


# ---------------------------------------------------------------- writing


def household_snapshot(h: Household) -> dict[str, Any]:
    return {
        "register_no": h.register_no,
        "address": h.address,
        "village_id": h.village_id,
        "group_id": h.group_id,
    }


def member_snapshot(m: Member) -> dict[str, Any]:
    return {
        "name": m.name,
        "id_number": m.id_number_masked,
        "relation": RELATIONS[m.relation],
        "status": MEMBER_STATUSES[m.status],
        "phone": m.phone,
        **({"registered_on": m.registered_on.isoformat()} if m.registered_on else {}),
    }


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


async def _area_for(
    session: AsyncSession, principal: Principal, village_id: int, group_id: int | None
) -> tuple[Area, Area | None]:
    village = await session.scalar(select(Area).where(Area.id == village_id, Area.level == "village"))
    if village is None or not (principal.user_id is None or principal.covers(village.path)):
        raise InvalidInput("所选的村不存在，或不在您负责的区域内", field="village_id")
    group = None
    if group_id is not None:
        group = await session.scalar(
            select(Area).where(Area.id == group_id, Area.level == "group", Area.parent_id == village.id)
        )
        if group is None:
            raise InvalidInput("所选的村民小组不属于该村", field="group_id")
    return village, group


async def _person_is_free(
    session: AsyncSession, principal: Principal, digest: bytes, *, except_member: int | None = None
) -> None:
    """One person is a registered member of at most one household (the index enforces it; this says where, when
    the other household lies in the caller's areas, and nothing about it otherwise)."""
    stmt = (
        select(Member, Household, Area.name)
        .join(Household, Household.id == Member.household_id)
        .join(Area, Area.id == Household.village_id)
        .where(Member.id_number_hash == digest, Member.status == "registered")
    )
    if except_member is not None:
        stmt = stmt.where(Member.id != except_member)
    row = (await session.execute(stmt)).first()
    if row is None:
        return
    member, household, village = row
    if principal is SYSTEM or principal.covers(household.area_path):
        raise Conflict(
            f"此身份证号已登记为{village}户口簿编号 {household.register_no} 的在册成员（{member.name}），"
            "同一人不能同时在两户在册；如需变更，请使用“迁移成员”",
            field="id_number",
        )
    raise Conflict(
        "此身份证号已是另一户（不在您负责的区域内）的在册成员，同一人不能同时在两户在册；请与该户所在地的经办员核实",
        field="id_number",
    )


def _new_member(
    household: Household,
    name: str,
    id_number: str,
    relation: str,
    status: str,
    phone: str | None,
    registered_on: date | None = None,
) -> Member:
    parsed = parse_id_number(id_number)
    cipher = id_cipher()
    return Member(
        household_id=household.id,
        county_code=household.county_code,
        name=name,
        id_number_enc=cipher.encrypt(parsed.number),
        id_number_hash=cipher.lookup_hash(parsed.number),
        id_number_masked=mask_id_number(parsed.number),
        birth_date=parsed.birth_date,
        sex=parsed.sex,
        relation=relation,
        status=status,
        phone=phone,
        left_at=None if status == "registered" else utcnow(),
        registered_on=registered_on,
    )


async def _flush_or_conflict(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError:
        raise Conflict("该记录已被他人修改，请刷新页面后重新填写", field="version") from None
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_members_active_person" in text:
            raise Conflict("同一人不能同时在两户在册", field="id_number") from None
        if "uq_members_one_head" in text:
            raise Conflict("一户只能有一位在册户主", field="relation") from None
        if "uq_households_register_no" in text:
            raise Conflict("户口簿编号已被使用", field="register_no") from None
        raise


async def _check_single_head(
    session: AsyncSession, household_id: int, relation: str, status: str, except_member: int | None = None
) -> None:
    if relation != "head" or status != "registered":
        return
    stmt = select(Member.name).where(
        Member.household_id == household_id, Member.relation == "head", Member.status == "registered"
    )
    if except_member is not None:
        stmt = stmt.where(Member.id != except_member)
    existing = await session.scalar(stmt)
    if existing is not None:
        raise Conflict(f"该户已有在册户主（{existing}），请先修改原户主的与户主关系", field="relation")


async def create_household(session: AsyncSession, principal: Principal, data: HouseholdIn) -> Household:
    village, group = await _area_for(session, principal, data.village_id, data.group_id)
    area_path = (group or village).path
    authorize(principal, Perm.REGISTRY_WRITE, area_path)
    if await session.scalar(
        select(Household.id).where(
            Household.county_code == village.county_code, Household.register_no == data.register_no
        )
    ):
        raise Conflict(f"户口簿编号 {data.register_no} 已被使用", field="register_no")
    cipher = id_cipher()
    await _person_is_free(session, principal, cipher.lookup_hash(data.head_id_number))
    household = Household(
        county_code=village.county_code,
        village_id=village.id,
        group_id=group.id if group else None,
        area_path=area_path,
        register_no=data.register_no,
        address=data.address,
    )
    session.add(household)
    await _flush_or_conflict(session)
    head = _new_member(household, data.head_name, data.head_id_number, "head", "registered", data.head_phone)
    session.add(head)
    await _flush_or_conflict(session)
    await audit.record(
        session,
        principal,
        "household.create",
        "household",
        household.id,
        after={**household_snapshot(household), "head": member_snapshot(head)},
        household_id=household.id,
        county_code=household.county_code,
    )
    return household


async def update_household(
    session: AsyncSession, principal: Principal, household_id: int, data: HouseholdUpdate
) -> Household:
    household = await get_household(session, principal, household_id)
    authorize(principal, Perm.REGISTRY_WRITE, household.area_path)
    if data.version != household.version:
        raise Conflict("该户信息已被他人修改，请刷新页面后重新填写", field="version")
    _village, group = await _area_for(session, principal, household.village_id, data.group_id)
    before = household_snapshot(household)
    household.register_no = data.register_no
    household.address = data.address
    household.group_id = group.id if group else None
    household.area_path = group.path if group else _village.path
    changed_before, changed_after = _changes(before, household_snapshot(household))
    if not changed_after:
        return household
    await _flush_or_conflict(session)
    await audit.record(
        session,
        principal,
        "household.update",
        "household",
        household.id,
        before=changed_before,
        after=changed_after,
        household_id=household.id,
        county_code=household.county_code,
    )
    return household


def _check_registered_on(registered_on: date | None, birth_date: date) -> None:
    if registered_on is None:
        return
    if registered_on < birth_date:
        raise InvalidInput("户籍迁入日期不能早于出生日期", field="registered_on")
    if registered_on > today_in_china():
        raise InvalidInput("户籍迁入日期不能晚于今天", field="registered_on")


async def add_member(
    session: AsyncSession, principal: Principal, household_id: int, data: MemberIn
) -> Member:
    household = await get_household(session, principal, household_id)
    authorize(principal, Perm.REGISTRY_WRITE, household.area_path)
    if data.status == "registered":
        await _person_is_free(session, principal, id_cipher().lookup_hash(data.id_number))
    await _check_single_head(session, household.id, data.relation, data.status)
    _check_registered_on(data.registered_on, parse_id_number(data.id_number).birth_date)
    member = _new_member(
        household, data.name, data.id_number, data.relation, data.status, data.phone, data.registered_on
    )
    session.add(member)
    await _flush_or_conflict(session)
    await audit.record(
        session,
        principal,
        "member.add",
        "member",
        member.id,
        after=member_snapshot(member),
        household_id=household.id,
        county_code=household.county_code,
    )
    return member


async def update_member(
    session: AsyncSession, principal: Principal, member_id: int, data: MemberUpdate
) -> Member:
    member, household = await get_member(session, principal, member_id)
    authorize(principal, Perm.REGISTRY_WRITE, household.area_path)
    if data.version != member.version:
        raise Conflict("该成员信息已被他人修改，请刷新页面后重新填写", field="version")
    before = member_snapshot(member)
    cipher = id_cipher()
    old_digest = member.id_number_hash
    digest = cipher.lookup_hash(data.id_number) if data.id_number else old_digest
    if data.status == "registered" and (member.status != "registered" or digest != old_digest):
        await _person_is_free(session, principal, digest, except_member=member.id)
    await _check_single_head(session, household.id, data.relation, data.status, except_member=member.id)
    if data.id_number:
        parsed = parse_id_number(data.id_number)
        member.id_number_enc = cipher.encrypt(parsed.number)
        member.id_number_hash = digest
        member.id_number_masked = mask_id_number(parsed.number)
        member.birth_date, member.sex = parsed.birth_date, parsed.sex
    member.name, member.relation, member.phone = data.name, data.relation, data.phone
    _check_registered_on(data.registered_on, member.birth_date)
    member.registered_on = data.registered_on
    if data.status != member.status:
        member.left_at = None if data.status == "registered" else utcnow()
        member.status = data.status
    changed_before, changed_after = _changes(before, member_snapshot(member))
    if digest != old_digest and "id_number" not in changed_after:
        # A corrected number can share its masked form with the old one; the change is still recorded.
        changed_before["id_number"], changed_after["id_number"] = before["id_number"], member.id_number_masked
    if not changed_after:
        return member
    await _flush_or_conflict(session)
    await audit.record(
        session,
        principal,
        "member.update",
        "member",
        member.id,
        before=changed_before,
        after=changed_after,
        household_id=household.id,
        county_code=household.county_code,
    )
    return member


async def move_member(
    session: AsyncSession, principal: Principal, member_id: int, data: MemberMove
) -> Member:
    """Move a registered member to another household: the old membership ends (迁出) and a new one begins, both
    audited, each on its own household's history."""
    member, source = await get_member(session, principal, member_id)
    authorize(principal, Perm.REGISTRY_WRITE, source.area_path)
    if member.status != "registered":
        raise InvalidInput("只能迁移在册成员", field="member")
    target = await session.scalar(
        select(Household).where(
            Household.id == data.target_household_id, scope_clause(principal, Household.area_path)
        )
    )
    if target is None:
        raise InvalidInput("迁入户不存在，或不在您负责的区域内", field="target_household_id")
    authorize(principal, Perm.REGISTRY_WRITE, target.area_path)
    if target.id == source.id:
        raise InvalidInput("迁入户与原户相同", field="target_household_id")
    await _check_single_head(session, target.id, data.relation, "registered")
    member.status, member.left_at = "moved_out", utcnow()
    await _flush_or_conflict(session)
    moved = Member(
        household_id=target.id,
        county_code=target.county_code,
        name=member.name,
        id_number_enc=member.id_number_enc,
        id_number_hash=member.id_number_hash,
        id_number_masked=member.id_number_masked,
        birth_date=member.birth_date,
        sex=member.sex,
        relation=data.relation,
        status="registered",
        phone=member.phone,
        registered_on=today_in_china(),
    )
    session.add(moved)
    await _flush_or_conflict(session)
    await audit.record(
        session,
        principal,
        "member.move_out",
        "member",
        member.id,
        before={"household_id": source.id, "status": "在册"},
        after={
            "to_household_id": target.id,
            "to_register_no": target.register_no,
            "status": "迁出",
            "name": member.name,
        },
        household_id=source.id,
        county_code=source.county_code,
    )
    await audit.record(
        session,
        principal,
        "member.move_in",
        "member",
        moved.id,
        after={
            "from_household_id": source.id,
            "from_register_no": source.register_no,
            **member_snapshot(moved),
        },
        household_id=target.id,
        county_code=target.county_code,
    )
    return moved
