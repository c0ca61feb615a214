"""The 房屋调查 and 补偿核算 tabs and the reviewer's queue, driven as a browser would."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compensation.models import Assessment
from tests.compensation.helpers import approved_demo_plan, surveyed
from tests.seed import SEED
from tests.web.pages import csrf_from, field_error, input_value, login, selected, text_of

BROWSER = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "zh-CN"}


async def login_as(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    await login(client, username)


@pytest.fixture(autouse=True)
def _browser(client: httpx.AsyncClient) -> None:
    client.headers.update(BROWSER)


SURVEY_FORM = {
    "persons": "4",
    "contracted_mu": "3.25",
    "acquired_mu": "2.125",
    "surveyed_on": "2022-08-15",
    "s0_structure": "brick_concrete",
    "s0_area": "120.50",
    "s1_structure": "brick_wood",
    "s1_area": "35.00",
    "s2_structure": "simple",
    "s2_area": "12.00",
    "s3_structure": "",
    "s3_area": "",
    "a0_code": "wall",
    "a0_qty": "25",
    "a1_code": "well",
    "a1_qty": "1",
    "a2_code": "",
    "a2_qty": "",
}
ASSESS_FORM = {
    "option_kind": "resettlement_flat",
    "flat_0": "90.00",
    "flat_1": "75.00",
    "flat_2": "",
    "flat_3": "",
    "cash_area": "",
    "signed_on": "2022-09-01",
    "vacated_on": "2022-09-20",
}


async def test_survey_form(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    await login_as(client, "cw_a")
    page = await client.get(f"/households/{h1}/survey")
    assert page.status_code == 200
    assert 'aria-current="page">房屋调查' in page.text and "围墙（米）" in page.text
    token = csrf_from(page.text)

    bad = {**SURVEY_FORM, "s1_area": "abc", "a1_qty": "", "persons": "4"}
    r = await client.post(f"/households/{h1}/survey", data={**bad, "csrf_token": token})
    assert r.status_code == 422
    assert field_error(r.text, "s1_area") == "错误：应为数字"
    assert field_error(r.text, "a1_qty") == "错误：请填写数量"
    assert input_value(r.text, "s1_area") == "abc" and selected(r.text, "s1_structure") == "brick_wood"

    r = await client.post(f"/households/{h1}/survey", data={**SURVEY_FORM, "csrf_token": token})
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "已保存：房屋调查（安置人口 4 人，房屋 3 处，附属物 2 项）" in page.text
    assert (
        input_value(page.text, "s0_area") == "120.50" and input_value(page.text, "contracted_mu") == "3.2500"
    )
    assert input_value(page.text, "version") == "1"
    assert input_value(page.text, "s5_area") == ""  # three blank rows after the three structures

    # A stale form is refused with a message and the typed values stay.
    stale = {**SURVEY_FORM, "persons": "6", "version": "", "csrf_token": token}
    r = await client.post(f"/households/{h1}/survey", data=stale)
    assert r.status_code == 409 and "他人修改" in r.text and input_value(r.text, "persons") == "6"

    # Read-only for a reviewer.
    await login_as(client, "rv_a")
    page = await client.get(f"/households/{h1}/survey")
    assert page.status_code == 200 and '<form method="post" action="/households' not in page.text
    assert "砖混" in page.text and "120.50" in page.text


async def test_assessment_flow(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    setup = await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    await surveyed(db, h1)
    await login_as(client, "cw_a")
    page = await client.get(f"/households/{h1}/assessments")
    assert page.status_code == 200 and "核算并提交审核" in page.text
    assert selected(page.text, "project_id") == str(setup.project.id)  # the only choice comes preselected
    token = csrf_from(page.text)
    form = {**ASSESS_FORM, "project_id": str(setup.project.id), "csrf_token": token}

    # Preview: every line, totals in figures and 大写, nothing stored.
    r = await client.post(f"/households/{h1}/assessments/preview", data=form)
    assert r.status_code == 200, r.text
    shown = text_of(r.text)
    assert "120.50㎡ × 900.00元/㎡" in shown and "264,600.00 元" in shown and "169,900.00 元" in shown
    assert "94,700.00 元" in shown and "玖万肆仟柒佰元整" in shown
    assert await db.scalar(select(Assessment.id).where(Assessment.household_id == h1)) is None

    # A rules error sits next to its field, the input kept.
    r = await client.post(f"/households/{h1}/assessments/preview", data={**form, "flat_1": "90.00"})
    assert r.status_code == 422
    assert "超过" in (field_error(r.text, "flat_0") or "") and input_value(r.text, "flat_1") == "90.00"
    r = await client.post(f"/households/{h1}/assessments/preview", data={**form, "option_kind": ""})
    assert r.status_code == 422 and field_error(r.text, "option_kind") == "错误：请选择安置方式"

    r = await client.post(f"/households/{h1}/assessments", data=form)
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    assert "已提交审核：补偿核算第" in page.text and "待审核" in page.text
    assessment_id = await db.scalar(select(Assessment.id).where(Assessment.household_id == h1))

    # The reviewer's queue and approval.
    await login_as(client, "rv_a")
    queue = await client.get("/assessments/reviews")
    assert (
        queue.status_code == 200 and f"第 {assessment_id} 号" in queue.text and "待审核补偿核算" in queue.text
    )
    # found by a member's name, the 户口簿编号 or the village; a page past the end shows the last one
    for found in ("建国", "qfz-0001", "前方庄"):
        queue = await client.get("/assessments/reviews", params={"q": found})
        assert f"第 {assessment_id} 号" in queue.text and f"符合“{found}”的共 1 份" in queue.text, found
    queue = await client.get("/assessments/reviews", params={"q": "无此人"})
    assert f"第 {assessment_id} 号" not in queue.text and "没有符合“无此人”的待审核补偿核算" in queue.text
    assert f"第 {assessment_id} 号" in (await client.get("/assessments/reviews?page=9")).text
    page = await client.get(f"/households/{h1}/assessments")
    assert f"/assessments/{assessment_id}/approve" in page.text
    token = csrf_from(page.text)
    r = await client.post(f"/assessments/{assessment_id}/return", data={"comment": "", "csrf_token": token})
    assert r.status_code == 422 and "退回时请写明意见" in r.text
    r = await client.post(f"/assessments/{assessment_id}/approve", data={"csrf_token": token})
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已批准：补偿核算第" in page.text and "已批准" in page.text
    queue = await client.get("/assessments/reviews")
    assert "目前没有待审核的补偿核算" in queue.text

    # The survey changes after approval: the page says a new assessment is needed.
    await login_as(client, "cw_a")
    page = await client.get(f"/households/{h1}/survey")
    data = {**SURVEY_FORM, "persons": "5", "version": input_value(page.text, "version") or ""}
    r = await client.post(f"/households/{h1}/survey", data={**data, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303
    page = await client.get(f"/households/{h1}/assessments")
    assert "房屋调查已在核算批准后修改" in page.text and "94,700.00 元" in page.text


async def test_nav_and_queue_by_permission(client: httpx.AsyncClient, seed: Any) -> None:
    await login_as(client, "rv_a")
    assert 'href="/assessments/reviews"' in (await client.get("/villages")).text
    await login_as(client, "cw_a")
    assert 'href="/assessments/reviews"' not in (await client.get("/villages")).text
    r = await client.get("/assessments/reviews")
    assert r.status_code == 403 and "审核补偿核算" in r.text
