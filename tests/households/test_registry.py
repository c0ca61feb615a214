"""The registry over the API on PostgreSQL: households, members, one person in one household, moves, scope."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.idcard import make_id_number
from app.households.models import Household, Member
from tests.seed import PASSWORD

NEW_ID = make_id_number("410727", date(1988, 4, 9), 135)


async def auth(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def count(db: AsyncSession, model: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_household_list_search_by_name_fragment_and_pagination(
    client: httpx.AsyncClient, seed: Any
) -> None:
    h = await auth(client, "cw_a")
    village = seed.areas["410727101201"]
    r = await client.get(f"/api/v1/villages/{village}/households", params={"q": "建国"}, headers=h)
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 1 and page["items"][0]["head_name"] == "王建国"
    assert page["items"][0]["member_count"] == 3
    # A member's name finds the household too.
    r = await client.get(f"/api/v1/villages/{village}/households", params={"q": "小明"}, headers=h)
    assert [i["register_no"] for i in r.json()["items"]] == ["QFZ-0001"]
    # "%" is a literal, not a wildcard.
    r = await client.get(f"/api/v1/villages/{village}/households", params={"q": "%"}, headers=h)
    assert r.json()["total"] == 0
    r = await client.get(
        f"/api/v1/villages/{village}/households", params={"page": 2, "page_size": 1}, headers=h
    )
    assert r.json()["items"] == [] and r.json()["total"] == 1


async def test_search_by_full_id_number_in_the_body(client: httpx.AsyncClient, seed: Any) -> None:
    h = await auth(client, "cw_a")
    number = seed.id_numbers["h1_child"]
    r = await client.post("/api/v1/households/search", json={"id_number": number.lower()}, headers=h)
    assert r.status_code == 200
    assert [x["id"] for x in r.json()] == [seed.households["h1"]]
    # Outside the caller's villages nothing is found, not even that it exists.
    r = await client.post(
        "/api/v1/households/search", json={"id_number": seed.id_numbers["h3_head"]}, headers=h
    )
    assert r.json() == []
    r = await client.post("/api/v1/households/search", json={"id_number": "110105194912310021"}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "身份证号：身份证号校验位错误：最后一位应为 X"


async def test_household_detail_masks_id_numbers(client: httpx.AsyncClient, seed: Any) -> None:
    h = await auth(client, "cw_a")
    r = await client.get(f"/api/v1/households/{seed.households['h1']}", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [m["relation_label"] for m in body["members"]] == ["户主", "配偶", "子女"]
    head = body["members"][0]
    assert (
        head["id_number_masked"]
        == seed.id_numbers["h1_head"][:6] + "********" + seed.id_numbers["h1_head"][-4:]
    )
    assert head["birth_date"] == "1960-03-15" and head["sex"] == "M"
    assert seed.id_numbers["h1_head"] not in r.text


async def test_add_member_derives_birth_date_and_sex_and_is_audited(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    h = await auth(client, "cw_a")
    hid = seed.households["h1"]
    r = await client.post(
        f"/api/v1/households/{hid}/members",
        headers=h,
        json={"name": "王小红", "id_number": NEW_ID, "relation": "child", "phone": "13912345678"},
    )
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["birth_date"], m["sex"], m["status"]) == ("1988-04-09", "M", "registered")
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "member.add").order_by(AuditEvent.seq.desc())
    )
    assert event is not None
    assert event.household_id == hid and event.actor_username == "cw_a" and event.actor_role == "caseworker"
    assert event.after is not None and event.after["name"] == "王小红"
    assert event.after["id_number"] == NEW_ID[:6] + "********" + NEW_ID[-4:]
    assert event.request_id == r.headers["X-Request-ID"]
    # The clear number is stored nowhere in clear text.
    raw = await db.execute(
        text("SELECT count(*) FROM members WHERE position(:n in encode(id_number_enc, 'escape')) > 0"),
        {"n": NEW_ID},
    )
    assert raw.scalar() == 0
    history = (await client.get(f"/api/v1/households/{hid}/history", headers=h)).json()
    assert history[0]["action_label"] == "新增家庭成员"


async def test_one_person_cannot_be_registered_in_two_households(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    h = await auth(client, "cw_a")
    before = await count(db, Member)
    r = await client.post(
        f"/api/v1/households/{seed.households['h1']}/members",
        headers=h,
        json={"name": "张德胜", "id_number": seed.id_numbers["h2_head"], "relation": "other"},
    )
    assert r.status_code == 409
    assert "同一人不能同时在两户在册" in r.json()["detail"] and r.json()["field"] == "id_number"
    assert await count(db, Member) == before


async def test_database_refuses_a_second_active_membership(db: AsyncSession, seed: Any) -> None:
    """The rule holds even for code that skips the service's check."""
    original = await db.get(Member, seed.members["h2_head"])
    assert original is not None
    clone = Member(
        household_id=seed.households["h1"],
        county_code="410727",
        name=original.name,
        id_number_enc=original.id_number_enc,
        id_number_hash=original.id_number_hash,
        id_number_masked=original.id_number_masked,
        birth_date=original.birth_date,
        sex=original.sex,
        relation="other",
        status="registered",
    )
    db.add(clone)
    with pytest.raises(IntegrityError, match="uq_members_active_person"):
        async with db.begin_nested():
            await db.flush()


async def test_move_member_ends_old_membership_and_audits_both_households(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    # A reviewer cannot move; a caseworker of both villages can. cw_a only has 前方庄村, so move within it:
    h = await auth(client, "cw_a")
    create = await client.post(
        "/api/v1/households",
        headers=h,
        json={
            "village_id": seed.areas["410727101201"],
            "register_no": "QFZ-0999",
            "address": "前方庄村九组1号",
            "head_name": "王小明",
            "head_id_number": make_id_number("410727", date(1965, 2, 2), 777),
        },
    )
    assert create.status_code == 201, create.text
    target = create.json()["id"]
    child = seed.members["h1_child"]
    r = await client.post(
        f"/api/v1/members/{child}/move",
        headers=h,
        json={"target_household_id": target, "relation": "sibling"},
    )
    assert r.status_code == 201, r.text
    moved = r.json()
    assert moved["household_id"] == target and moved["name"] == "王小明"
    old = await db.get(Member, child, populate_existing=True)
    assert old is not None and old.status == "moved_out" and old.left_at is not None
    actions = (
        await db.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("member.move%")).order_by(AuditEvent.seq)
        )
    ).all()
    assert actions == ["member.move_out", "member.move_in"]
    src_history = (await client.get(f"/api/v1/households/{seed.households['h1']}/history", headers=h)).json()
    assert src_history[0]["action"] == "member.move_out"
    # The moved-out person can no longer be moved again.
    again = await client.post(
        f"/api/v1/members/{child}/move",
        headers=h,
        json={"target_household_id": seed.households["h1"], "relation": "child"},
    )
    assert again.status_code == 422 and again.json()["detail"] == "只能迁移在册成员"


async def test_stale_edit_is_refused(client: httpx.AsyncClient, seed: Any) -> None:
    h = await auth(client, "cw_a")
    hid = seed.households["h1"]
    current = (await client.get(f"/api/v1/households/{hid}", headers=h)).json()
    body = {"register_no": "QFZ-0001", "address": "新地址1号", "version": current["version"]}
    r1 = await client.put(f"/api/v1/households/{hid}", headers=h, json=body)
    assert r1.status_code == 200 and r1.json()["version"] == current["version"] + 1
    r2 = await client.put(f"/api/v1/households/{hid}", headers=h, json={**body, "address": "另一个地址"})
    assert r2.status_code == 409 and "已被他人修改" in r2.json()["detail"]


async def test_second_head_is_refused(client: httpx.AsyncClient, seed: Any) -> None:
    h = await auth(client, "cw_a")
    r = await client.post(
        f"/api/v1/households/{seed.households['h1']}/members",
        headers=h,
        json={"name": "王二", "id_number": NEW_ID, "relation": "head"},
    )
    assert r.status_code == 409 and "已有在册户主（王建国）" in r.json()["detail"]


async def test_reveal_is_audited_and_limited_by_role(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    member = seed.members["h1_head"]
    r = await client.post(f"/api/v1/members/{member}/id-number", headers=await auth(client, "cw_a"))
    assert r.status_code == 200 and r.json()["id_number"] == seed.id_numbers["h1_head"]
    assert await count(db, AuditEvent, AuditEvent.action == "member.reveal_id") == 1
    denied = await client.post(f"/api/v1/members/{member}/id-number", headers=await auth(client, "fin"))
    assert denied.status_code == 403 and denied.json()["detail"] == "您的角色（财政局）无权查看完整身份证号"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "", "id_number": NEW_ID, "relation": "child"}, "姓名：不能为空"),
        (
            {"name": "甲", "id_number": "123", "relation": "child"},
            "身份证号：身份证号应为18位（旧证15位），现在是3位",
        ),
        ({"name": "甲", "id_number": NEW_ID, "relation": "boss"}, "与户主关系：不是可选的值"),
        (
            {"name": "甲", "id_number": NEW_ID, "relation": "child", "phone": "12"},
            "联系电话：联系电话应为11位手机号或带区号的固定电话",
        ),
        (
            {"name": "甲\x00", "id_number": NEW_ID, "relation": "child"},
            "姓名：含有无法识别的字符，请重新输入",
        ),
        ({"id_number": NEW_ID, "relation": "child"}, "姓名：必填"),
    ],
)
async def test_bad_member_input_gets_chinese_messages_and_saves_nothing(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any, body: dict[str, str], message: str
) -> None:
    before = await count(db, Member)
    r = await client.post(
        f"/api/v1/households/{seed.households['h1']}/members", headers=await auth(client, "cw_a"), json=body
    )
    assert r.status_code == 422
    assert message in [d["msg"] for d in r.json()["detail"]]
    assert await count(db, Member) == before


async def test_fifteen_digit_number_is_stored_upgraded(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    r = await client.post(
        f"/api/v1/households/{seed.households['h1']}/members",
        headers=await auth(client, "cw_a"),
        json={"name": "王老太", "id_number": "410727400101002", "relation": "parent"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["birth_date"] == "1940-01-01" and r.json()["sex"] == "F"
    reveal = await client.post(
        f"/api/v1/members/{r.json()['id']}/id-number", headers=await auth(client, "cw_a")
    )
    number = reveal.json()["id_number"]
    assert len(number) == 18 and number.startswith("41072719400101002")


async def test_create_household_outside_scope_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    before = await count(db, Household)
    r = await client.post(
        "/api/v1/households",
        headers=await auth(client, "cw_a"),
        json={
            "village_id": seed.areas["410727102201"],
            "register_no": "X-1",
            "address": "东关村",
            "head_name": "某人",
            "head_id_number": NEW_ID,
        },
    )
    assert r.status_code == 422 and r.json()["detail"] == "所选的村不存在，或不在您负责的区域内"
    assert await count(db, Household) == before


async def test_registration_date_is_kept_checked_and_audited(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    """户籍迁入日期: optional; not before birth, not in the future; it decides who was registered on a land
    acquisition's announcement date (issue 4)."""
    h = await auth(client, "cw_a")
    hid = seed.households["h1"]
    body = {"name": "王新娘", "id_number": NEW_ID, "relation": "child_in_law"}
    before_birth = await client.post(
        f"/api/v1/households/{hid}/members", headers=h, json={**body, "registered_on": "1980-01-01"}
    )
    assert before_birth.status_code == 422
    assert "户籍迁入日期不能早于出生日期" in before_birth.text
    assert await count(db, Member, Member.household_id == hid, Member.name == "王新娘") == 0
    r = await client.post(
        f"/api/v1/households/{hid}/members", headers=h, json={**body, "registered_on": "2023-02-01"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["registered_on"] == "2023-02-01"
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "member.add").order_by(AuditEvent.seq.desc())
    )
    assert event is not None and event.after is not None and event.after["registered_on"] == "2023-02-01"
