"""Projects and plan versions made inside the test's transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth
from app.auth.models import User
from app.auth.policy import Principal
from app.plans import service
from app.plans.models import Plan, Project
from app.plans.schemas import demo_params
from tests.seed import PASSWORD, SEED

QFZ = "410727101201"  # 前方庄村 (王村乡): cw_a's village, rv_a's township
DEADLINE = date(2022, 9, 30)


async def principal(db: AsyncSession, username: str) -> Principal:
    user = await db.scalar(select(User).where(User.username == username))
    assert user is not None
    return await auth.principal_for(db, user)


async def project(db: AsyncSession, code: str = "PT-2022") -> Project:
    adm = await principal(db, "adm")
    return await service.create_project(
        db, adm, code=code, name="测试征收项目", villages=[(SEED.areas[QFZ], "QFZ")]
    )


async def approved_first_version(db: AsyncSession, code: str = "PT-2022") -> tuple[Project, Plan]:
    p = await project(db, code)
    adm, rv_a = await principal(db, "adm"), await principal(db, "rv_a")
    plan = await service.new_draft(db, adm, p.id, SEED.areas[QFZ], demo_params(DEADLINE))
    await service.submit(db, adm, plan.id)
    await service.approve(db, rv_a, plan.id)
    return p, plan


def params_json(**changes: Any) -> dict[str, Any]:
    return {**demo_params(DEADLINE).stored(), **changes}


async def token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
