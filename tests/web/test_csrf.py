"""Every form POST of the pages refuses a missing or wrong CSRF token before doing anything."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.idcard import make_id_number
from app.households.models import Household, Member
from tests.web.pages import csrf_from, login

QFZ = "410727101201"


def page_posts() -> list[str]:
    """The POST routes of the page routers (the JSON API uses bearer tokens, not cookies, and needs no token)."""
    from app.audit import views as audit_views
    from app.households import views as household_views
    from app.web import views as web_views

    return sorted(
        r.path
        for module in (web_views, household_views, audit_views)
        for r in module.router.routes
        if isinstance(r, APIRoute) and "POST" in (r.methods or set())
    )


def fill(path: str, seed: Any) -> str:
    ids = {
        "village_id": seed.areas[QFZ],
        "household_id": seed.households["h1"],
        "member_id": seed.members["h1_child"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


async def state(db: AsyncSession) -> tuple[int, int, int]:
    """Audit events other than the test's own logins, members, households."""

    async def n(model: Any, *where: Any) -> int:
        return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return await n(AuditEvent, AuditEvent.action != "auth.login"), await n(Member), await n(Household)


def test_the_page_forms_are_all_covered() -> None:
    assert page_posts() == sorted(
        [
            "/audit/verify",
            "/households/{household_id}/edit",
            "/households/{household_id}/members/new",
            "/login",
            "/logout",
            "/members/{member_id}/edit",
            "/members/{member_id}/move",
            "/members/{member_id}/reveal",
            "/villages/{village_id}/households/new",
            "/villages/{village_id}/households/search",
        ]
    )


@pytest.mark.parametrize("token", [None, "", "forged-token", "wrong"])
async def test_every_form_post_needs_a_valid_token(
    client: httpx.AsyncClient, seed: Any, db: AsyncSession, token: str | None
) -> None:
    form = {
        "q": "建国",
        "name": "王二",
        "id_number": make_id_number("410727", date(2003, 3, 3), 491),
        "relation": "child",
        "status": "registered",
        "phone": "13800000000",
        "version": "1",
        "register_no": "QFZ-0999",
        "address": "前方庄村1号",
        "head_name": "王三",
        "head_id_number": make_id_number("410727", date(1970, 3, 3), 493),
        "target_register_no": "QFZ-0001",
        "username": "cw_a",
        "password": "test-password-1",
    }
    before = await state(db)
    # A caseworker for the registry forms, an auditor for the chain check: each could otherwise save.
    for username, prefix in (("cw_a", "/"), ("aud", "/audit")):
        client.cookies.clear()
        await login(client, username)
        good = csrf_from((await client.get("/villages")).text)
        if token is not None:
            form["csrf_token"] = (
                good[:-4] + ("0000" if not good.endswith("0000") else "1111") if token == "wrong" else token
            )
        for path in page_posts():
            if path.startswith("/audit") != (prefix == "/audit"):
                continue
            r = await client.post(fill(path, seed), data=form)
            assert r.status_code == 403, (path, r.status_code)
            assert "安全校验未通过" in r.text, path
        # Still logged in: a refused logout does nothing.
        assert (await client.get("/villages")).status_code == 200
    assert await state(db) == before
