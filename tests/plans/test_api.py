"""Projects and plan versions over the JSON API."""

from __future__ import annotations

import httpx

from tests.plans.helpers import QFZ, params_json, token
from tests.seed import SEED


async def _project(client: httpx.AsyncClient, adm: dict[str, str]) -> int:
    r = await client.post(
        "/api/v1/projects",
        headers=adm,
        json={
            "code": "PT-2022",
            "name": "测试征收项目",
            "villages": [{"village_id": SEED.areas[QFZ], "abbr": "QFZ"}],
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert [(v["village_name"], v["abbr"], v["latest_version"]) for v in body["villages"]] == [
        ("前方庄村", "QFZ", None)
    ]
    return int(body["id"])


async def test_draft_submit_approve(client: httpx.AsyncClient, seed: object) -> None:
    adm, rv_a = await token(client, "adm"), await token(client, "rv_a")
    project_id = await _project(client, adm)
    plans_url = f"/api/v1/projects/{project_id}/villages/{SEED.areas[QFZ]}/plans"

    r = await client.post(plans_url, headers=adm, json={})
    assert r.status_code == 422 and r.json()["detail"] == "第一版方案需要填写全部参数"
    r = await client.post(plans_url, headers=adm, json={"params": params_json()})
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["version"], v1["status"], v1["status_label"]) == (1, "draft", "草稿")
    assert v1["params"]["structure_rates"]["brick_concrete"] == "900.00"
    r = await client.post(plans_url, headers=adm, json={})
    assert r.status_code == 409, r.text

    bad = params_json(attachment_prices=[{"code": "wall", "name": "围墙", "unit": "米", "price": "八十"}])
    r = await client.put(f"/api/v1/plans/{v1['id']}", headers=adm, json={"params": bad, "lock_version": 1})
    assert r.status_code == 422
    assert "单价：应为数字" in [d["msg"] for d in r.json()["detail"]]
    r = await client.put(
        f"/api/v1/plans/{v1['id']}",
        headers=adm,
        json={"params": params_json(public_notice_days=10), "lock_version": v1["lock_version"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["params"]["public_notice_days"] == 10
    r = await client.put(
        f"/api/v1/plans/{v1['id']}", headers=adm, json={"params": params_json(), "lock_version": 1}
    )
    assert r.status_code == 409 and "已被他人修改" in r.json()["detail"]

    assert (await client.post(f"/api/v1/plans/{v1['id']}/approve", headers=rv_a)).status_code == 409
    r = await client.post(f"/api/v1/plans/{v1['id']}/submit", headers=adm)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert (await client.post(f"/api/v1/plans/{v1['id']}/approve", headers=adm)).status_code == 403
    r = await client.post(f"/api/v1/plans/{v1['id']}/approve", headers=rv_a)
    assert r.status_code == 200, r.text
    assert r.json()["status_label"] == "已批准"

    r = await client.post(plans_url, headers=adm, json={})  # version 2 copies version 1
    assert r.status_code == 201 and r.json()["version"] == 2
    assert r.json()["params"]["public_notice_days"] == 10
    r = await client.get(plans_url, headers=rv_a)
    assert [(p["version"], p["status"]) for p in r.json()] == [(2, "draft"), (1, "approved")]
    r = await client.get("/api/v1/projects", headers=rv_a)
    assert [(v["project_code"], v["approved_version"], v["latest_status"]) for v in r.json()] == [
        ("PT-2022", 1, "draft")
    ]


async def test_send_back_and_scope(client: httpx.AsyncClient, seed: object) -> None:
    adm, rv_a, rv_b = await token(client, "adm"), await token(client, "rv_a"), await token(client, "rv_b")
    project_id = await _project(client, adm)
    r = await client.post(
        f"/api/v1/projects/{project_id}/villages/{SEED.areas[QFZ]}/plans",
        headers=adm,
        json={"params": params_json()},
    )
    plan_id = r.json()["id"]
    await client.post(f"/api/v1/plans/{plan_id}/submit", headers=adm)

    r = await client.post(f"/api/v1/plans/{plan_id}/send-back", headers=rv_a, json={"comment": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"].startswith("退回意见")
    for who in (rv_b, await token(client, "cw_b")):
        assert (await client.get(f"/api/v1/plans/{plan_id}", headers=who)).status_code == 404
        assert (await client.get("/api/v1/projects", headers=who)).json() == []
    assert (
        await client.post(f"/api/v1/plans/{plan_id}/send-back", headers=rv_b, json={"comment": "x"})
    ).status_code == 404
    r = await client.post(
        f"/api/v1/plans/{plan_id}/send-back", headers=rv_a, json={"comment": "请核实大棚单价"}
    )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["review_comment"]) == ("draft", "请核实大棚单价")


async def test_project_validation(client: httpx.AsyncClient, seed: object) -> None:
    adm = await token(client, "adm")
    r = await client.post(
        "/api/v1/projects",
        headers=adm,
        json={"code": "fq 2022", "name": "x", "villages": [{"village_id": SEED.areas[QFZ], "abbr": "qfz"}]},
    )
    assert r.status_code == 422
    messages = [d["msg"] for d in r.json()["detail"]]
    assert "项目编号：格式不正确" in messages and "村简称：格式不正确" in messages
    cw = await token(client, "cw_a")
    r = await client.post(
        "/api/v1/projects",
        headers=cw,
        json={"code": "FQ-2022", "name": "x", "villages": [{"village_id": SEED.areas[QFZ], "abbr": "QFZ"}]},
    )
    assert r.status_code == 403
