"""The plan pages in a browser's shoes: an admin makes a project and drafts a plan, edits it (an error shown next
to its input, with what was typed kept), submits it; a reviewer approves it or sends the next version back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.plans.views import PlanForm
from tests.plans.helpers import QFZ, params_json
from tests.seed import SEED
from tests.web.pages import csrf, input_value, login, text_of
from tests.web.pages import field_error as shown_error

BROWSER = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "zh-CN"}


@pytest.fixture
async def browsers(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    clients: dict[str, httpx.AsyncClient] = {}
    for username in ("adm", "rv_a"):
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=BROWSER
        )
        await login(c, username)
        clients[username] = c
    yield clients
    for c in clients.values():
        await c.aclose()


async def post(
    client: httpx.AsyncClient, form_path: str, action: str, data: dict[str, Any]
) -> httpx.Response:
    token = await csrf(client, form_path)
    return await client.post(action, data={**{k: str(v) for k, v in data.items()}, "csrf_token": token})


def plan_form(**changes: Any) -> dict[str, str]:
    return {k: v for k, v in PlanForm.of(params_json(**changes)).state.values.items()}


def field_error(page: str, name: str) -> str | None:
    message = shown_error(page, name)
    return message.removeprefix("错误：") if message is not None else None


def plan_id_of(response: httpx.Response) -> int:
    match = re.match(r"^/plans/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


async def test_admin_drafts_reviewer_approves(browsers: dict[str, httpx.AsyncClient], seed: object) -> None:
    adm, rv = browsers["adm"], browsers["rv_a"]
    village = SEED.areas[QFZ]

    # a project: a bad code is refused next to its input, with what was typed kept
    r = await post(
        adm,
        "/projects/new",
        "/projects/new",
        {"code": "fq 2022", "name": "测试项目", f"village_{village}": "1", f"abbr_{village}": "QFZ"},
    )
    assert r.status_code == 422
    assert field_error(r.text, "code") == "格式不正确"
    assert input_value(r.text, "code") == "fq 2022" and input_value(r.text, f"abbr_{village}") == "QFZ"
    r = await post(
        adm,
        "/projects/new",
        "/projects/new",
        {"code": "PT-2022", "name": "测试项目", f"village_{village}": "1", f"abbr_{village}": "qfz"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/projects"
    page = await adm.get("/projects")
    assert "已保存：新建征收项目 PT-2022 测试项目（1 个村）" in page.text
    project_id = int(re.search(r"/projects/(\d+)/villages/", page.text).group(1))  # type: ignore[union-attr]
    versions = f"/projects/{project_id}/villages/{village}/plans"

    # the first version: every parameter from the form
    new = f"{versions}/new"
    r = await post(adm, new, new, plan_form())
    assert r.status_code == 303, r.text
    plan_id = plan_id_of(r)
    page = await adm.get(f"/plans/{plan_id}")
    shown = text_of(page.text)
    assert "第 1 版" in shown and "草稿" in shown
    assert "房屋补偿单价（砖混） 900.00 元/㎡" in shown and "围墙（wall） 80.00 元/米" in shown
    assert "提交后由乡镇审核员审批（不能是编制人本人）" in shown

    # editing: an error next to its input, the typed value kept, nothing saved
    edit = f"/plans/{plan_id}/edit"
    form = await adm.get(edit)
    lock = input_value(form.text, "lock_version") or ""
    data = plan_form() | {"lock_version": lock, "att_price_1": "一千五", "rate_frame": ""}
    r = await post(adm, edit, edit, data)
    assert r.status_code == 422
    assert field_error(r.text, "att_price_1") == "应为数字"
    assert field_error(r.text, "rate_frame") == "请填写房屋补偿单价（框架）"
    assert input_value(r.text, "att_price_1") == "一千五"
    assert "附属物第 2 行 单价（元）：应为数字" in text_of(r.text)
    # a new attachment in a blank row, and a changed rate
    data = plan_form() | {
        "lock_version": lock,
        "rate_frame": "1150",
        "att_code_5": "pool",
        "att_name_5": "水池",
        "att_unit_5": "㎡",
        "att_price_5": "60",
    }
    r = await post(adm, edit, edit, data)
    assert r.status_code == 303, r.text
    page = await adm.get(f"/plans/{plan_id}")
    assert "已保存：前方庄村第 1 版方案草稿（修改 房屋补偿单价（框架）、水池（pool））" in page.text
    assert "水池（pool） 60.00 元/㎡" in text_of(page.text)

    r = await post(adm, f"/plans/{plan_id}", f"/plans/{plan_id}/submit", {})
    assert r.status_code == 303
    page = await adm.get(f"/plans/{plan_id}")
    assert "已提交审核" in page.text and 'id="review"' not in page.text

    # the reviewer: the queue, a confirmation required, then approval
    queue = await rv.get("/plans/reviews")
    assert f'href="/plans/{plan_id}"' in queue.text
    r = await post(rv, f"/plans/{plan_id}", f"/plans/{plan_id}/approve", {})
    assert r.status_code == 422 and field_error(r.text, "confirm") is not None
    r = await post(rv, f"/plans/{plan_id}", f"/plans/{plan_id}/approve", {"confirm": "1"})
    assert r.status_code == 303
    page = await rv.get(f"/plans/{plan_id}")
    assert "已批准：前方庄村第 1 版方案" in page.text and "已批准的方案版本不能修改" in page.text
    assert (await adm.get(edit)).status_code == 409

    # version 2 from version 1, changed, submitted, sent back with a comment the author sees
    r = await post(adm, new, new, {})
    assert r.status_code == 303 and r.headers["location"].endswith("/edit")
    v2 = plan_id_of(r)
    form = await adm.get(f"/plans/{v2}/edit")
    assert input_value(form.text, "rate_frame") == "1150.00"
    data = plan_form() | {
        "lock_version": input_value(form.text, "lock_version") or "",
        "rate_brick_concrete": "950",
    }
    r = await post(adm, f"/plans/{v2}/edit", f"/plans/{v2}/edit", data)
    assert r.status_code == 303
    await post(adm, f"/plans/{v2}", f"/plans/{v2}/submit", {})
    page = await rv.get(f"/plans/{v2}")
    changed = re.findall(r'<tr class="changed">\s*<th scope="row">([^<]+)', page.text)
    assert [c.strip() for c in changed] == ["房屋补偿单价（框架）", "房屋补偿单价（砖混）"]
    assert "水池（pool）" in text_of(page.text)  # dropped in version 2
    r = await post(rv, f"/plans/{v2}", f"/plans/{v2}/send-back", {"comment": ""})
    assert r.status_code == 422 and field_error(r.text, "comment") == "退回时请写明意见"
    r = await post(rv, f"/plans/{v2}", f"/plans/{v2}/send-back", {"comment": "砖混单价的依据请附上"})
    assert r.status_code == 303
    page = await adm.get(f"/plans/{v2}")
    assert "砖混单价的依据请附上" in text_of(page.text) and "修改草稿" in page.text
    listing = text_of((await adm.get(versions)).text)
    assert "第 2 版 草稿" in listing and "第 1 版 已批准" in listing
