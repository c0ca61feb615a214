"""The stateless trial calculator over HTTP: the domain.md example to the fen and Chinese field errors."""

from __future__ import annotations

from copy import deepcopy
from datetime import date
from typing import Any

import httpx
import pytest

from app.plans.schemas import demo_params
from tests.seed import PASSWORD

PLAN = demo_params(date(2022, 9, 30)).stored()
BODY: dict[str, Any] = {
    "plan": PLAN,
    "survey": {
        "persons": 4,
        "structures": [
            {"structure": "brick_concrete", "area": "120.50"},
            {"structure": "brick_wood", "area": "35.00"},
            {"structure": "simple", "area": "12.00"},
        ],
        "attachments": [{"code": "wall", "qty": "25"}, {"code": "well", "qty": "1"}],
    },
    "option": {"kind": "resettlement_flat", "flats": [{"area": "90.00"}, {"area": "75.00"}]},
    "signed_on": "2022-09-01",
    "vacated_on": "2022-09-20",
}


async def headers(client: httpx.AsyncClient, username: str = "cw_a") -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_worked_example(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.post("/api/v1/compensation/quote", json=BODY, headers=await headers(client))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["compensation_total"] == "264600.00"
    assert out["flat_price_due"] == "169900.00"
    assert out["net_payable"] == "94700.00"
    assert out["net_payable_in_words"] == "玖万肆仟柒佰元整"
    assert [line["code"] for line in out["lines"]] == [
        "house",
        "house",
        "house",
        "attachment",
        "attachment",
        "relocation",
        "transition",
        "signing_bonus",
        "early_vacate",
    ]
    assert out["lines"][0] == {
        "code": "house",
        "label": "房屋补偿费（砖混）",
        "basis": "120.50㎡ × 900.00元/㎡",
        "amount": "108450.00",
        "payable_on_proof": False,
    }


async def test_every_staff_role_may_use_it_but_not_anonymous(client: httpx.AsyncClient, seed: Any) -> None:
    for user in ("rv_a", "fin", "aud", "adm"):
        r = await client.post("/api/v1/compensation/quote", json=BODY, headers=await headers(client, user))
        assert r.status_code == 200
    assert (await client.post("/api/v1/compensation/quote", json=BODY)).status_code == 401


def _with(path: list[str | int], value: Any) -> dict[str, Any]:
    body = deepcopy(BODY)
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["survey", "structures", 0, "structure"],
            "stone",
            "房屋结构：“stone”不在方案中（可选：框架、砖混、砖木、简易）",
        ),
        (["survey", "attachments", 0, "code"], "pool", "附属物：“pool”不在方案的附属物价格表中"),
        (["survey", "structures", 0, "area"], "-1.00", "建筑面积：不能小于 0"),
        (["survey", "structures", 0, "area"], "abc", "建筑面积：应为数字"),
        (["survey", "structures", 0, "area"], "1.005", "建筑面积：最多 2 位小数"),
        (
            ["option", "flats", 0, "area"],
            "100.01",
            "安置房：所选安置房共 175.01㎡，超出应安置面积 160.00㎡ 达 15.01㎡，超过方案允许的最多 15.00㎡",
        ),
        (["option", "cash_area"], "170.00", "货币安置面积：170.00㎡ 超过应安置面积 160.00㎡"),
        (["signed_on"], "2022-02-30", "签约日期：不是有效日期（格式：2023-05-20）"),
        (["option", "kind"], "castle", "安置方式：不是可选的值"),
        (["plan", "structure_rates", "brick_concrete"], "-5", "房屋结构单价：不能小于 0"),
    ],
)
async def test_bad_input_names_the_field_in_chinese(
    client: httpx.AsyncClient, seed: Any, path: list[str | int], value: Any, message: str
) -> None:
    r = await client.post(
        "/api/v1/compensation/quote", json=_with(path, value), headers=await headers(client)
    )
    assert r.status_code == 422, r.text
    assert message in [d["msg"] for d in r.json()["detail"]]
