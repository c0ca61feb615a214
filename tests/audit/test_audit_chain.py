"""The audit trail (操作记录) on PostgreSQL: one event per write in the write's own transaction, a hash chain that
verifies, a table the application cannot rewrite, and tampering that is caught at the row it happened.

The pure hashing rules (``app.audit.rules``) are tested first, without a database.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.rules import (
    GENESIS_HASH,
    ChainRow,
    canonical_json,
    event_content,
    event_hash,
    first_break,
)
from app.audit.service import verify_chain
from app.core.idcard import make_id_number
from app.households.models import Household, Member
from tests.seed import PASSWORD

# ============================================================================== rules: no database


def content(seq: int, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "seq": seq,
        "occurred_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC) + timedelta(minutes=seq),
        "actor_id": 7,
        "actor_username": "cw_a",
        "actor_role": "caseworker",
        "action": "member.add",
        "entity_type": "member",
        "entity_id": str(100 + seq),
        "county_code": "410727",
        "household_id": 1,
        "before": None,
        "after": {"name": "王小明", "id_number": "410727********3118"},
        "request_id": f"req-{seq}",
    }
    fields.update(changes)
    return event_content(**fields)


def chain(n: int) -> list[ChainRow]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        c = content(seq)
        h = event_hash(prev, c)
        rows.append(ChainRow(seq, prev, h, c))
        prev = h
    return rows


def test_canonical_json_is_sorted_compact_and_keeps_chinese() -> None:
    assert canonical_json({"b": 1, "a": {"名": "王", "x": [1, 2]}}) == '{"a":{"x":[1,2],"名":"王"},"b":1}'


def test_occurred_at_is_hashed_as_utc_whatever_the_zone() -> None:
    at = datetime(2026, 1, 2, 11, 4, 5, 678901, tzinfo=timezone(timedelta(hours=8)))
    assert content(1, occurred_at=at)["occurred_at"] == "2026-01-02T03:04:05.678901+00:00"
    assert content(1, occurred_at=at) == content(1, occurred_at=at.astimezone(UTC))


def test_hash_covers_the_previous_hash_and_every_field() -> None:
    base = content(1)
    h = event_hash(GENESIS_HASH, base)
    assert len(h) == 32 and h == event_hash(GENESIS_HASH, dict(reversed(list(base.items()))))
    assert event_hash(b"\x01" * 32, base) != h
    for key, value in [
        ("actor_username", "cw_b"),
        ("action", "member.update"),
        ("entity_id", "999"),
        ("household_id", 2),
        ("before", {}),
        ("after", {"name": "王小明", "id_number": "410727********3119"}),
        ("request_id", None),
    ]:
        assert event_hash(GENESIS_HASH, {**base, key: value}) != h, key


def test_an_intact_chain_has_no_break() -> None:
    rows = chain(5)
    assert first_break(rows) == (None, rows[-1].hash, 6)
    assert first_break([]) == (None, GENESIS_HASH, 1)


def test_checking_in_chunks_is_checking_at_once() -> None:
    rows = chain(7)
    broken, prev, next_seq = first_break(rows[:3])
    assert broken is None
    assert first_break(rows[3:], expected_prev=prev, expected_seq=next_seq) == (None, rows[-1].hash, 8)


def test_an_edited_row_breaks_at_itself() -> None:
    rows = chain(5)
    rows[2] = replace(rows[2], content={**rows[2].content, "after": {"name": "李四"}})
    broken, _prev, _next = first_break(rows)
    assert broken is not None and broken.seq == 3 and "本条被改动" in broken.reason


def test_an_edited_row_with_a_recomputed_hash_breaks_at_the_next() -> None:
    rows = chain(5)
    forged = {**rows[2].content, "after": {"name": "李四"}}
    rows[2] = replace(rows[2], content=forged, hash=event_hash(rows[2].prev_hash, forged))
    broken, _prev, _next = first_break(rows)
    assert broken is not None and broken.seq == 4 and "上一条" in broken.reason


def test_a_deleted_row_is_reported_missing() -> None:
    rows = chain(5)
    del rows[2]
    broken, _prev, _next = first_break(rows)
    assert broken is not None and broken.seq == 3
    assert "第 3 条" in broken.reason and "第 4 条" in broken.reason


def test_the_first_row_must_follow_the_genesis_hash() -> None:
    rows = chain(3)
    rows[0] = replace(rows[0], prev_hash=b"\x01" * 32)
    broken, _prev, _next = first_break(rows)
    assert broken is not None and broken.seq == 1


# ============================================================================== the trail on PostgreSQL

NEW_PERSON = make_id_number("410727", date(1999, 9, 9), 357)


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def last_seq(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)


async def events_after(db: AsyncSession, seq: int) -> list[AuditEvent]:
    """Events after ``seq``, logins and logouts aside."""
    return list(
        (
            await db.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > seq, AuditEvent.action.not_like("auth.%"))
                .order_by(AuditEvent.seq)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def xmin(db: AsyncSession, table: str, key: str, value: object) -> str:
    """The id of the transaction that wrote the row (a subtransaction's, inside the test's savepoints)."""
    return str(await db.scalar(text(f"SELECT xmin::text FROM {table} WHERE {key} = :v"), {"v": value}))  # noqa: S608


async def test_adding_a_member_appends_exactly_one_event_in_the_same_transaction(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    headers = await login(client, "cw_a")
    before = await last_seq(db)
    household = seed.households["h1"]
    r = await client.post(
        f"/api/v1/households/{household}/members",
        json={"name": "王小红", "id_number": NEW_PERSON, "relation": "child", "phone": "13800138000"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    member = r.json()["id"]
    [event] = await events_after(db, before)
    cw_a = await db.scalar(text("SELECT id FROM users WHERE username = 'cw_a'"))
    assert (event.action, event.entity_type, event.entity_id) == ("member.add", "member", str(member))
    assert (event.actor_id, event.actor_username, event.actor_role) == (cw_a, "cw_a", "caseworker")
    assert (event.household_id, event.county_code) == (household, "410727")
    assert event.request_id == r.headers["X-Request-ID"]
    assert event.before is None
    assert event.after == {
        "name": "王小红",
        "id_number": NEW_PERSON[:6] + "********" + NEW_PERSON[-4:],
        "relation": "子女",
        "status": "在册",
        "phone": "13800138000",
    }
    assert NEW_PERSON not in json.dumps([event.before, event.after]), "a clear ID number in the trail"
    # Written by the very (sub)transaction that wrote the member.
    assert await xmin(db, "audit_events", "seq", event.seq) == await xmin(db, "members", "id", member)
    # And the household's own history shows it.
    history = (await client.get(f"/api/v1/households/{household}/history", headers=headers)).json()
    assert history[0]["action"] == "member.add" and history[0]["entity_id"] == str(member)


@dataclass(frozen=True)
class Write:
    """One kind of write through the API, and the events it must leave (in order)."""

    username: str
    actions: tuple[str, ...]
    call: Callable[[httpx.AsyncClient, dict[str, str], Any], Awaitable[httpx.Response]]


async def _create_household(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    body = {
        "village_id": seed.areas["410727101201"],
        "register_no": "QFZ-0777",
        "address": "前方庄村777号",
        "head_name": "孙志远",
        "head_id_number": NEW_PERSON,
    }
    return await client.post("/api/v1/households", json=body, headers=h)


async def _update_household(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    household = seed.households["h1"]
    current = (await client.get(f"/api/v1/households/{household}", headers=h)).json()
    body = {
        "group_id": current["group_id"],
        "register_no": current["register_no"],
        "address": "前方庄村新址1号",
        "version": current["version"],
    }
    return await client.put(f"/api/v1/households/{household}", json=body, headers=h)


async def _add_member(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    body = {"name": "王小红", "id_number": NEW_PERSON, "relation": "child"}
    return await client.post(f"/api/v1/households/{seed.households['h1']}/members", json=body, headers=h)


async def _update_member(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    body = {"name": "王晓明", "relation": "child", "status": "registered", "version": 1}
    return await client.put(f"/api/v1/members/{seed.members['h1_child']}", json=body, headers=h)


async def _move_member(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    created = await _create_household(client, h, seed)
    assert created.status_code == 201, created.text
    body = {"target_household_id": created.json()["id"], "relation": "child"}
    return await client.post(f"/api/v1/members/{seed.members['h1_child']}/move", json=body, headers=h)


async def _reveal(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    return await client.post(f"/api/v1/members/{seed.members['h1_child']}/id-number", headers=h)


async def _create_user(client: httpx.AsyncClient, h: dict[str, str], seed: Any) -> httpx.Response:
    body = {
        "username": "cw_new",
        "full_name": "新经办员",
        "role": "caseworker",
        "password": "a-long-password",
        "area_codes": ["410727101202"],
    }
    return await client.post("/api/v1/users", json=body, headers=h)


WRITES = {
    "create household": Write("cw_a", ("household.create",), _create_household),
    "update household": Write("cw_a", ("household.update",), _update_household),
    "add member": Write("cw_a", ("member.add",), _add_member),
    "update member": Write("cw_a", ("member.update",), _update_member),
    # The target household is created first, in its own request.
    "move member": Write("cw_a", ("member.move_out", "member.move_in"), _move_member),
    "reveal an ID number": Write("rv_a", ("member.reveal_id",), _reveal),
    "create user": Write("adm", ("user.create",), _create_user),
}


@pytest.mark.parametrize("write", list(WRITES.values()), ids=list(WRITES))
async def test_every_write_through_the_api_is_audited(
    write: Write, client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    headers = await login(client, write.username)
    before = await last_seq(db)
    r = await write.call(client, headers, seed)
    assert r.status_code in (200, 201), r.text
    events = [e for e in await events_after(db, before) if e.request_id == r.headers["X-Request-ID"]]
    assert tuple(e.action for e in events) == write.actions
    for event in events:
        assert event.actor_username == write.username and event.after, event.action
    assert (await verify_chain(db)).intact


async def test_a_refused_write_leaves_no_event_and_no_row(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    headers = await login(client, "cw_a")
    before = await last_seq(db)
    households = await db.scalar(select(func.count()).select_from(Household))
    members = await db.scalar(select(func.count()).select_from(Member))
    # The spouse is already registered in h1: one person, one household.
    duplicate = {"name": "李秀英", "id_number": seed.id_numbers["h1_spouse"], "relation": "other"}
    r = await client.post(
        f"/api/v1/households/{seed.households['h1']}/members", json=duplicate, headers=headers
    )
    assert r.status_code == 409, r.text
    # A new household whose head is that same person: the household row must not be left behind either.
    new = {
        "village_id": seed.areas["410727101201"],
        "register_no": "QFZ-0888",
        "address": "前方庄村888号",
        "head_name": "李秀英",
        "head_id_number": seed.id_numbers["h1_spouse"],
    }
    r = await client.post("/api/v1/households", json=new, headers=headers)
    assert r.status_code == 409, r.text
    assert await events_after(db, before) == []
    assert await db.scalar(select(func.count()).select_from(Household)) == households
    assert await db.scalar(select(func.count()).select_from(Member)) == members
    assert (await verify_chain(db)).intact


async def test_the_chain_verifies_intact(db: AsyncSession, seed: Any) -> None:
    result = await verify_chain(db)
    total, top = (await db.execute(text("SELECT count(*), max(seq) FROM audit_events"))).one()
    assert result.intact and result.first_break is None
    assert result.checked == total == top and result.last_seq == top > 0
    assert "完整" in result.message
    # Checking in small chunks gives the same answer.
    assert (await verify_chain(db, chunk=2)).checked == total


# ---------------------------------------------------------------------------- nobody rewrites history

CHANGES = {
    "UPDATE": "UPDATE audit_events SET actor_username = 'someone' WHERE seq = 1",
    "DELETE": "DELETE FROM audit_events WHERE seq = 1",
    "TRUNCATE": "TRUNCATE audit_events",
}


async def refused(db: AsyncSession, statement: str) -> str:
    """Run ``statement`` in a savepoint; it must fail; return the database's message."""
    with pytest.raises(DBAPIError) as caught:
        async with db.begin_nested():
            await db.execute(text(statement))
    return str(caught.value.orig)


@pytest.mark.parametrize("statement", list(CHANGES.values()), ids=list(CHANGES))
async def test_the_application_role_may_not_change_the_trail(
    statement: str, db: AsyncSession, seed: Any
) -> None:
    assert await db.scalar(text("SELECT current_user")) == "anzhi_app"
    assert "permission denied" in await refused(db, statement)
    assert (await verify_chain(db)).intact


@pytest.mark.parametrize("statement", list(CHANGES.values()), ids=list(CHANGES))
async def test_even_a_superuser_is_refused_by_the_triggers(
    statement: str, db: AsyncSession, seed: Any
) -> None:
    await db.execute(text("RESET ROLE"))  # back to the login user, for this test's transaction only
    assert await db.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) is True
    assert "append-only" in await refused(db, statement)
    assert (await verify_chain(db)).intact


async def _three_events(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> list[int]:
    """Three new events at the end of the chain (the tampering below hits the middle one)."""
    headers = await login(client, "cw_a")
    before = await last_seq(db)
    for i in range(3):
        body = {
            "name": f"王小{'一二三'[i]}",
            "id_number": make_id_number("410727", date(2001, 1, 1 + i), 111),
        }
        r = await client.post(
            f"/api/v1/households/{seed.households['h1']}/members",
            json={**body, "relation": "grandchild"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    seqs = [e.seq for e in await events_after(db, before)]
    assert len(seqs) == 3
    assert (await verify_chain(db)).intact
    return seqs


async def _as_superuser_without_triggers(db: AsyncSession, statement: str, **params: Any) -> None:
    await db.execute(text("RESET ROLE"))
    await db.execute(text("SET LOCAL session_replication_role = replica"))  # user triggers do not fire
    await db.execute(text(statement), params)
    db.expunge_all()  # what the session remembers of the rows is not what the table now says


async def test_an_edited_event_is_caught_at_that_row(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    _first, middle, _last = await _three_events(client, db, seed)
    await _as_superuser_without_triggers(
        db,
        """UPDATE audit_events SET after = jsonb_set(after, '{name}', '"张冒名"') WHERE seq = :s""",
        s=middle,
    )
    result = await verify_chain(db)
    assert not result.intact
    assert result.first_break is not None and result.first_break.seq == middle
    assert result.checked == middle - 1
    assert f"第 {middle} 条" in result.message


async def test_an_edited_event_with_a_forged_hash_is_caught_at_the_next_row(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    from app.audit.service import row_content

    _first, middle, last = await _three_events(client, db, seed)
    event = await db.get(AuditEvent, middle)
    assert event is not None and event.after is not None
    forged = {**event.after, "name": "张冒名"}
    forged_hash = event_hash(event.prev_hash, {**row_content(event), "after": forged})
    await _as_superuser_without_triggers(
        db,
        "UPDATE audit_events SET after = CAST(:after AS jsonb), hash = :hash WHERE seq = :s",
        after=json.dumps(forged, ensure_ascii=False),
        hash=forged_hash,
        s=middle,
    )
    result = await verify_chain(db)
    assert result.first_break is not None and result.first_break.seq == last


async def test_a_deleted_event_is_caught_where_it_is_missing(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    _first, middle, last = await _three_events(client, db, seed)
    await _as_superuser_without_triggers(db, "DELETE FROM audit_events WHERE seq = :s", s=middle)
    result = await verify_chain(db)
    assert not result.intact
    # The missing seq is reported, and the message names the row that follows the gap.
    assert result.first_break is not None and result.first_break.seq == middle
    assert f"第 {last} 条" in result.first_break.reason


async def test_the_auditor_sees_the_break_through_the_api(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    auditor = await login(client, "aud")
    r = await client.post("/api/v1/audit/verify", headers=auditor)
    assert r.status_code == 200, r.text
    assert r.json()["intact"] is True and r.json()["first_broken_seq"] is None
    _first, middle, _last = await _three_events(client, db, seed)
    await _as_superuser_without_triggers(
        db, "UPDATE audit_events SET actor_username = 'someone' WHERE seq = :s", s=middle
    )
    await db.execute(text("SET ROLE anzhi_app"))  # the request runs as the application again
    r = await client.post("/api/v1/audit/verify", headers=auditor)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["intact"] is False and body["first_broken_seq"] == middle
    assert f"第 {middle} 条" in body["message"]
    # The check itself is on the record.
    [event] = [e for e in await events_after(db, middle) if e.action == "audit.verify"][-1:]
    assert event.actor_username == "aud" and event.after == {"intact": False, "checked": middle - 1}
