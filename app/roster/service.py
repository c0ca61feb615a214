"""户籍花名册导入: households and members from a roster file, all or nothing, in one transaction.

Loads what the rows refer to in a few set-based queries, lets ``rules.plan_import`` decide, and refuses the whole
file (``RowsInvalid``, every row that is wrong) or writes it. New households are written set-based — one INSERT …
RETURNING for the households, batched INSERTs for their members (ID numbers sealed and hashed as the registry
does) — and each is audited as ``household.create`` with its members in the same transaction. Changes to
households already registered are rare and go through the registry's own services (``update_household``,
``update_member``, ``add_member``), which check and audit them one by one. A household the file repeats unchanged
is not touched: importing the same roster twice writes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.policy import Perm, Principal, authorize, require
from app.core.errors import Conflict, InvalidInput
from app.core.idcard import mask_id_number, parse_id_number
from app.core.xlsx import RowsInvalid
from app.households import service as households
from app.households.models import Household, Member
from app.households.schemas import HouseholdUpdate, MemberIn, MemberUpdate
from app.roster import rules
from app.roster.sheet import Parsed

Progress = Callable[[int, int], Awaitable[None]]

MEMBER_CHUNK = 2_000  # members per INSERT statement (asyncpg batches the rows of one statement)
CONFLICT = (
    "保存时发现冲突：有人同时登记了同一人或同一户口簿编号。本次没有保存任何数据，请稍后重新导入，"
    "系统会重新校验每一行"
)


NO_ROWS = "文件中没有数据行：请从第 2 行起每行填写一人"


async def _noop(_done: int, _total: int) -> None:
    return None


# ---------------------------------------------------------------------------------------------- loading


async def _areas(session: AsyncSession, county: str) -> tuple[list[rules.AreaRef], list[rules.AreaRef]]:
    rows = await session.execute(
        text(
            "SELECT id, code, name, path, level, parent_id FROM areas "
            "WHERE county_code = :county AND level IN ('village', 'group') ORDER BY code"
        ),
        {"county": county},
    )
    found = [rules.AreaRef(r.id, r.code, r.name, r.path, r.level, r.parent_id) for r in rows]
    return [a for a in found if a.level == "village"], [a for a in found if a.level == "group"]


async def _households(
    session: AsyncSession, county: str, register_nos: Sequence[str]
) -> dict[str, rules.ExistingHousehold]:
    rows = (
        await session.execute(
            text(
                "SELECT h.id, h.village_id, h.group_id, h.area_path, h.register_no, h.address, h.version, "
                "v.name AS village_name FROM households h JOIN areas v ON v.id = h.village_id "
                "WHERE h.county_code = :county AND h.register_no = ANY(:nos)"
            ),
            {"county": county, "nos": list(register_nos)},
        )
    ).all()
    heads: dict[int, list[tuple[bytes, str]]] = {}
    if rows:
        for r in await session.execute(
            text(
                "SELECT household_id, id_number_hash, name FROM members "
                "WHERE household_id = ANY(:ids) AND status = 'registered' AND relation = 'head'"
            ),
            {"ids": [r.id for r in rows]},
        ):
            heads.setdefault(r.household_id, []).append((bytes(r.id_number_hash), r.name))
    return {
        r.register_no: rules.ExistingHousehold(
            r.id,
            r.village_id,
            r.group_id,
            r.area_path,
            r.register_no,
            r.address,
            r.version,
            r.village_name,
            tuple(heads.get(r.id, ())),
        )
        for r in rows
    }


async def _members(
    session: AsyncSession, digests: Sequence[bytes]
) -> dict[bytes, list[rules.ExistingMember]]:
    """Every member record, in any household and of any status, of these people (by keyed hash)."""
    found: dict[bytes, list[rules.ExistingMember]] = {}
    rows = await session.execute(
        text(
            "SELECT m.id, m.household_id, m.id_number_hash, m.name, m.relation, m.status, m.phone, "
            "m.registered_on, m.version, h.register_no, h.area_path, v.name AS village_name "
            "FROM members m JOIN households h ON h.id = m.household_id JOIN areas v ON v.id = h.village_id "
            "WHERE m.id_number_hash = ANY(:digests) ORDER BY m.id"
        ),
        {"digests": list(digests)},
    )
    for r in rows:
        digest = bytes(r.id_number_hash)
        found.setdefault(digest, []).append(
            rules.ExistingMember(
                r.id,
                r.household_id,
                digest,
                r.name,
                r.relation,
                r.status,
                r.phone,
                r.registered_on,
                r.version,
                r.register_no,
                r.area_path,
                r.village_name,
            )
        )
    return found


async def plan(
    session: AsyncSession, principal: Principal, parsed: Parsed
) -> tuple[list[rules.HouseholdPlan], dict[str, bytes]]:
    """What importing ``parsed`` would write; raises ``RowsInvalid`` with every error of the file. Writes
    nothing."""
    require(principal, Perm.REGISTRY_WRITE)
    county = principal.county_code
    hasher = households.id_cipher().lookup_hasher()
    digests = {r.id_number: hasher(r.id_number) for r in parsed.rows}
    villages, groups = await _areas(session, county)
    plans, errors = rules.plan_import(
        parsed.rows,
        villages=villages,
        groups=groups,
        covers=principal.covers,
        households=await _households(session, county, sorted({r.register_no for r in parsed.rows})),
        members=await _members(session, list(digests.values())),
        digests=digests,
        incomplete=parsed.incomplete,
    )
    all_errors = sorted(
        [*parsed.errors, *errors],
        key=lambda e: (e.row, rules.COLUMN_ORDER.get(e.column, len(rules.COLUMN_ORDER)), e.message),
    )
    if all_errors:
        raise RowsInvalid(all_errors)
    if not plans:
        raise InvalidInput(NO_ROWS)
    return plans, digests


# ---------------------------------------------------------------------------------------------- writing


async def import_roster(
    session: AsyncSession,
    principal: Principal,
    parsed: Parsed,
    *,
    source: str,
    progress: Progress | None = None,
) -> rules.Outcome:
    """Check every row, then write the roster whole, audited; the caller commits. Raises ``RowsInvalid`` (nothing
    written) when any row is wrong, ``Conflict`` when someone registered the same person or number meanwhile."""
    report = progress or _noop
    plans, digests = await plan(session, principal, parsed)
    for p in plans:
        authorize(principal, Perm.REGISTRY_WRITE, p.existing.area_path if p.existing else p.area_path)
    fresh = [p for p in plans if p.existing is None]
    changed = [p for p in plans if p.existing is not None and not p.unchanged]
    total = len(fresh) + len(changed)
    await report(0, total)
    try:
        done = await _create(session, principal, fresh, digests, source=source, report=report, total=total)
        for p in changed:
            await _update(session, principal, p)
            done += 1
            await report(done, total)
    except IntegrityError as exc:
        raise Conflict(CONFLICT) from exc
    return rules.outcome_of(plans)


async def _create(
    session: AsyncSession,
    principal: Principal,
    plans: Sequence[rules.HouseholdPlan],
    digests: dict[str, bytes],
    *,
    source: str,
    report: Progress,
    total: int,
) -> int:
    if not plans:
        return 0
    county = principal.county_code
    household_values = [
        {
            "county_code": county,
            "village_id": p.village.id,
            "group_id": p.group.id if p.group else None,
            "area_path": p.area_path,
            "register_no": p.register_no,
            "address": p.address,
        }
        for p in plans
    ]
    created = await session.execute(
        insert(Household).returning(Household.id, Household.register_no), household_values
    )
    ids = {register_no: household_id for household_id, register_no in created.all()}
    cipher = households.id_cipher()
    done = 0
    pending: list[dict[str, Any]] = []
    for p, values in zip(plans, household_values, strict=True):
        household_id = ids[p.register_no]
        members = [_member_values(r, household_id, county, cipher.encrypt, digests) for r in p.new_members]
        pending.extend(members)
        snapshot = households.household_snapshot(Household(**values))
        await audit.record(
            session,
            principal,
            "household.create",
            "household",
            household_id,
            after={
                **snapshot,
                "members": [households.member_snapshot(Member(**m)) for m in members],
                "source": f"花名册导入（{source}）",
            },
            household_id=household_id,
            county_code=county,
        )
        done += 1
        if len(pending) >= MEMBER_CHUNK:
            await session.execute(insert(Member), pending)
            pending = []
            await report(done, total)
    if pending:
        await session.execute(insert(Member), pending)
    await report(done, total)
    return done


def _member_values(
    r: rules.RosterRow,
    household_id: int,
    county: str,
    encrypt: Callable[[str], bytes],
    digests: dict[str, bytes],
) -> dict[str, Any]:
    parsed = parse_id_number(r.id_number)
    return {
        "household_id": household_id,
        "county_code": county,
        "name": r.name,
        "id_number_enc": encrypt(parsed.number),
        "id_number_hash": digests[r.id_number],
        "id_number_masked": mask_id_number(parsed.number),
        "birth_date": parsed.birth_date,
        "sex": parsed.sex,
        "relation": r.relation,
        "status": "registered",
        "phone": r.phone,
        "left_at": None,
        "registered_on": r.registered_on,
    }


async def _update(session: AsyncSession, principal: Principal, p: rules.HouseholdPlan) -> None:
    """An existing household through the registry's services: its own fields, then the members whose relation
    stops being 户主 (so a head can change hands within the file), the other changes, the new members."""
    h = p.existing
    assert h is not None
    if p.household_changed:
        await households.update_household(
            session,
            principal,
            h.id,
            HouseholdUpdate(
                group_id=p.group.id if p.group else h.group_id,
                register_no=h.register_no,
                address=p.address,
                version=h.version,
            ),
        )
    for change in sorted(p.changed_members, key=lambda c: c.row.relation == "head"):
        m, r = change.member, change.row
        await households.update_member(
            session,
            principal,
            m.id,
            MemberUpdate.model_validate(
                {
                    "name": r.name,
                    "relation": r.relation,
                    "status": "registered",
                    "phone": r.phone if r.phone is not None else m.phone,
                    "registered_on": r.registered_on if r.registered_on is not None else m.registered_on,
                    "version": m.version,
                }
            ),
        )
    for r in p.new_members:
        await households.add_member(
            session,
            principal,
            h.id,
            MemberIn.model_validate(
                {
                    "name": r.name,
                    "id_number": r.id_number,
                    "relation": r.relation,
                    "phone": r.phone,
                    "registered_on": r.registered_on,
                }
            ),
        )
