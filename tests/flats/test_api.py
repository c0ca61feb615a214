"""The flats API end to end: buildings and units (admin), the order, the lottery, allocation and release."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.flats import rules
from tests.flats.factories import make_household, make_project
from tests.seed import PASSWORD


async def token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_api_flow(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    world = await make_project(db)
    first = await make_household(db, world, head="李四海", flats=("90.00",))
    second = await make_household(db, world, head="王建军", flats=("75.00", "90.00"))
    adm, cw, rv = await token(client, "adm"), await token(client, "cw_a"), await token(client, "rv_a")
    pid = world.project.id

    r = await client.post(f"/api/v1/projects/{pid}/buildings", json={"name": "1号楼"}, headers=cw)
    assert r.status_code == 403
    r = await client.post(f"/api/v1/projects/{pid}/buildings", json={"name": "1号楼"}, headers=adm)
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    r = await client.post(
        f"/api/v1/buildings/{bid}/units/bulk",
        json={"floor_from": 1, "floor_to": 2, "areas": ["75.00", "90.00"]},
        headers=adm,
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 4, "numbers": ["101", "102", "201", "202"]}
    r = await client.post(
        f"/api/v1/buildings/{bid}/units", json={"number": "101", "floor": 1, "area": "75"}, headers=adm
    )
    assert r.status_code == 409 and "房号 101 在1号楼已存在" in r.text
    r = await client.post(
        f"/api/v1/buildings/{bid}/units", json={"number": "301", "floor": 3, "area": "-1"}, headers=adm
    )
    assert r.status_code == 422
    units = {u["number"]: u for u in (await client.get(f"/api/v1/buildings/{bid}/units", headers=rv)).json()}
    assert len(units) == 4

    r = await client.get(f"/api/v1/villages/{world.village_id}/flat-orders", headers=rv)
    assert r.status_code == 200, r.text
    [order] = r.json()
    assert order["method"] == "signing_order" and order["seed"] is None
    assert [e["household_id"] for e in order["entries"]] == [first, second]
    assert order["entries"][0]["head_name_masked"] == "李*海"
    assert order["current_household_id"] == first

    r = await client.post(
        f"/api/v1/villages/{world.village_id}/lottery", json={"project_id": pid, "seed": "abc"}, headers=rv
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/villages/{world.village_id}/lottery", json={"project_id": pid, "seed": "abc"}, headers=cw
    )
    assert r.status_code == 201, r.text
    drawn = r.json()["order"]
    [order] = (await client.get(f"/api/v1/villages/{world.village_id}/flat-orders", headers=cw)).json()
    assert (
        order["method"] == "lottery"
        and order["seed"] == "abc"
        and order["algorithm"] == rules.LOTTERY_ALGORITHM
    )
    assert [e["household_id"] for e in order["entries"]] == drawn
    turn, later = drawn
    r = await client.post(
        f"/api/v1/units/{units['102']['id']}/allocation", json={"household_id": later}, headers=cw
    )
    assert r.status_code == 409 and "还没轮到该户选房" in r.text
    area_of = {first: "90.00", second: "75.00"}
    unit = units["101"] if area_of[turn] == "75.00" else units["102"]
    r = await client.post(f"/api/v1/units/{unit['id']}/allocation", json={"household_id": turn}, headers=cw)
    assert r.status_code == 201, r.text
    allocation = r.json()
    assert allocation["method"] == "lottery" and allocation["building"] == "1号楼"
    r = await client.get(f"/api/v1/households/{turn}/flats", headers=rv)
    assert r.status_code == 200 and [a["number"] for a in r.json()["allocations"]] == [unit["number"]]
    r = await client.post(f"/api/v1/allocations/{allocation['id']}/release", json={"reason": "x"}, headers=cw)
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/allocations/{allocation['id']}/release", json={"reason": "户主放弃"}, headers=cw
    )
    assert r.status_code == 200 and r.json()["released_at"] is not None
    r = await client.get(f"/api/v1/projects/{pid}/buildings", headers=cw)
    assert r.status_code == 200 and r.json()[0]["available"] == 4
