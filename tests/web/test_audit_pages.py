"""The auditor's pages: searching the trail and verifying the chain."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from tests.web.pages import csrf, field_error, input_value, login, selected, text_of


async def test_auditor_searches_the_trail(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "aud")
    home = text_of((await client.get("/villages")).text)
    assert "操作记录" in home and "审计链校验" in home

    household = seed.households["h1"]
    r = await client.get("/audit", params={"household_id": household})
    assert r.status_code == 200
    text = text_of(r.text)
    assert "共 3 条" in text  # created with its head, then two members added
    assert "新增被征收户" in text and "新增家庭成员" in text
    assert "system 系统" in text
    assert "户口簿编号：QFZ-0001" in text and "村：前方庄村" in text and "村民小组：第一村民小组" in text
    assert f'href="/households/{household}"' in r.text
    assert input_value(r.text, "household_id") == str(household)

    r = await client.get("/audit", params={"household_id": household, "action": "member.add"})
    assert "共 2 条" in text_of(r.text)
    assert selected(r.text, "action") == "member.add"

    r = await client.get("/audit", params={"actor": "aud"})
    text = text_of(r.text)
    assert "aud 审计/纪检 登录 用户" in text
    assert "方式：网页" in text


async def test_audit_search_explains_bad_filters(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "aud")
    r = await client.get("/audit", params={"household_id": "abc", "actor": "cw_a"})
    assert r.status_code == 422
    assert field_error(r.text, "household_id") == "错误：应为整数"
    assert input_value(r.text, "household_id") == "abc"
    assert input_value(r.text, "actor") == "cw_a"

    r = await client.get("/audit", params={"date_from": "2024-05-10", "date_to": "2024-05-01"})
    assert r.status_code == 422
    assert "截止日期：不能早于起始日期" in r.text
    assert input_value(r.text, "date_to") == "2024-05-01"

    r = await client.get("/audit", params={"date_from": "2024-02-30"})
    assert r.status_code == 422
    assert field_error(r.text, "date_from") == "错误：不是有效日期（格式：2023-05-20）"


async def test_audit_search_by_date_uses_china_days(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "aud")
    r = await client.get("/audit", params={"date_from": "2000-01-01", "date_to": "2000-01-31"})
    assert r.status_code == 200
    assert "共 0 条" in text_of(r.text) and "没有符合条件的记录" in r.text


async def test_chain_verification_page(client: httpx.AsyncClient, seed: Any, db: AsyncSession) -> None:
    await login(client, "aud")
    r = await client.get("/audit/verify")
    assert r.status_code == 200 and "开始校验" in r.text
    token = await csrf(client, "/audit/verify")
    r = await client.post("/audit/verify", data={"csrf_token": token})
    assert r.status_code == 200
    text = text_of(r.text)
    assert "审计链完整" in text
    checked = await db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "audit.verify")
    )
    assert checked is not None
    assert "审计链完整：已校验" in text and "条记录" in text
    verified = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "audit.verify", AuditEvent.actor_username == "aud")
    )
    assert verified == 1


async def test_caseworker_cannot_open_the_audit_pages(client: httpx.AsyncClient, seed: Any) -> None:
    await login(client, "cw_a")
    for path in ("/audit", "/audit/verify"):
        r = await client.get(path)
        assert r.status_code == 403
        assert "您的角色（村级经办员）无权查看操作记录" in r.text
    r = await client.post("/audit/verify", data={"csrf_token": await csrf(client, "/villages")})
    assert r.status_code == 403
