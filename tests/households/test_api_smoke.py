from __future__ import annotations

import httpx

from tests.seed import PASSWORD


async def token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_caseworker_sees_own_village(client: httpx.AsyncClient, seed: object) -> None:
    h = await token(client, "cw_a")
    r = await client.get("/api/v1/villages", headers=h)
    assert r.status_code == 200
    assert [v["name"] for v in r.json()] == ["前方庄村"]
