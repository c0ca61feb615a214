"""Survey and assessment over the API and in the database: saving and validating the survey, freezing an
assessment (plan version, inputs, lines), the database's guards, maker-checker, supersede on re-approval."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.compensation import service
from app.compensation.models import Assessment, AssessmentLine
from app.compensation.schemas import AssessmentIn
from app.core.errors import Conflict, Forbidden
from app.plans.schemas import demo_params
from tests.compensation.helpers import (
    DEADLINE,
    EXAMPLE_SUBMIT,
    EXAMPLE_SURVEY,
    approved_demo_plan,
    example_survey,
    new_version,
    principal,
    surveyed,
)
from tests.compensation.test_quote_api import headers
from tests.seed import SEED


def _submit_body(project_id: int) -> dict[str, Any]:
    return {"project_id": project_id, **EXAMPLE_SUBMIT}


# ---------------------------------------------------------------- survey


async def test_survey_save_read_and_audit(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    await approved_demo_plan(db)
    h1, auth = SEED.households["h1"], await headers(client)
    r = await client.get(f"/api/v1/households/{h1}/survey", headers=auth)
    assert r.status_code == 200 and r.json()["recorded"] is False and r.json()["version"] is None

    r = await client.put(f"/api/v1/households/{h1}/survey", json=EXAMPLE_SURVEY, headers=auth)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["recorded"] is True and out["version"] == 1
    assert out["contracted_mu"] == "3.2500" and out["structures"][0] == {
        "structure": "brick_concrete",
        "area": "120.50",
    }

    changed = {**EXAMPLE_SURVEY, "persons": 5, "structures": EXAMPLE_SURVEY["structures"][:1], "version": 1}
    r = await client.put(f"/api/v1/households/{h1}/survey", json=changed, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and len(r.json()["structures"]) == 1

    # A stale version is refused and changes nothing.
    r = await client.put(f"/api/v1/households/{h1}/survey", json={**changed, "persons": 6}, headers=auth)
    assert r.status_code == 409 and "他人修改" in r.json()["detail"]

    # Only the structure list changing still moves the version (the lists live in their own tables).
    only_list = {**changed, "structures": EXAMPLE_SURVEY["structures"], "version": 2}
    r = await client.put(f"/api/v1/households/{h1}/survey", json=only_list, headers=auth)
    assert r.json()["version"] == 3

    events = (
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "survey.save", AuditEvent.household_id == h1)
            .order_by(AuditEvent.seq)
        )
    ).all()
    assert len(events) == 3
    assert events[0].before is None and events[0].after is not None and events[0].after["persons"] == 4
    assert events[1].before is not None and events[1].before["persons"] == 4
    assert events[1].after is not None and events[1].after["persons"] == 5


@pytest.mark.parametrize(
    ("change", "loc_or_field", "words"),
    [
        ({"persons": -1}, "persons", "安置人口"),
        ({"contracted_mu": "1.23456"}, "contracted_mu", "4 位小数"),
        ({"structures": [{"structure": "brick_concrete", "area": "-1"}]}, "area", "建筑面积"),
        ({"structures": [{"structure": "castle", "area": "10"}]}, "structures.0.structure", "房屋结构"),
        ({"attachments": [{"code": "pond", "qty": "1"}]}, "attachments.0.code", "附属物价格表"),
        ({"surveyed_on": "2022-13-01"}, "surveyed_on", "调查日期"),
    ],
)
async def test_survey_validation(
    client: httpx.AsyncClient,
    db: AsyncSession,
    seed: Any,
    change: dict[str, Any],
    loc_or_field: str,
    words: str,
) -> None:
    await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    r = await client.put(
        f"/api/v1/households/{h1}/survey", json={**EXAMPLE_SURVEY, **change}, headers=await headers(client)
    )
    assert r.status_code == 422, r.text
    assert loc_or_field in r.text and words in r.text


async def test_attachments_need_an_approved_plan(client: httpx.AsyncClient, seed: Any) -> None:
    r = await client.put(
        f"/api/v1/households/{SEED.households['h1']}/survey",
        json=EXAMPLE_SURVEY,
        headers=await headers(client),
    )
    assert r.status_code == 422 and "还没有已批准的补偿安置方案" in r.json()["detail"]


async def test_survey_scope_and_role(client: httpx.AsyncClient, seed: Any) -> None:
    body = {**EXAMPLE_SURVEY, "attachments": []}
    r = await client.put(
        f"/api/v1/households/{SEED.households['h3']}/survey", json=body, headers=await headers(client)
    )
    assert r.status_code == 404  # another village: not found, nothing revealed
    r = await client.put(
        f"/api/v1/households/{SEED.households['h1']}/survey", json=body, headers=await headers(client, "rv_a")
    )
    assert r.status_code == 403 and "登记房屋调查" in r.json()["detail"]


# ---------------------------------------------------------------- assessments


async def test_submit_freezes_the_worked_example(
    client: httpx.AsyncClient, db: AsyncSession, seed: Any
) -> None:
    setup = await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    view = await surveyed(db, h1)
    r = await client.post(
        f"/api/v1/households/{h1}/assessments",
        json=_submit_body(setup.project.id),
        headers=await headers(client),
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["status"], out["plan_version"], out["compensation_total"]) == ("submitted", 1, "264600.00")
    assert (out["flat_price_due"], out["net_payable"]) == ("169900.00", "94700.00")
    assert out["net_payable_in_words"] == "玖万肆仟柒佰元整"

    a = await db.get(Assessment, out["id"])
    assert a is not None
    assert a.plan_id == setup.plan.id and a.inputs == view.inputs and a.status == "submitted"
    assert (a.compensation_total, a.flat_price_due, a.net_payable) == (26460000, 16990000, 9470000)
    assert a.option == {
        "kind": "resettlement_flat",
        "flats": [{"area": "90.00"}, {"area": "75.00"}],
        "cash_area": "0.00",
    }
    lines = await service.lines_of(db, a.id)
    assert [(line.code, line.amount) for line in lines] == [
        ("house", 10845000),
        ("house", 2275000),
        ("house", 360000),
        ("attachment", 200000),
        ("attachment", 150000),
        ("relocation", 960000),
        ("transition", 4320000),
        ("signing_bonus", 4000000),
        ("early_vacate", 3350000),
    ]
    assert lines[0].basis == "120.50㎡ × 900.00元/㎡"
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "assessment.submit"))
    assert event is not None and event.household_id == h1

    # A new plan version later does not touch the frozen snapshot.
    params = demo_params(DEADLINE).model_dump(mode="json")
    params["structure_rates"]["brick_concrete"] = "950.00"
    await new_version(db, setup, type(demo_params(DEADLINE)).model_validate(params))
    rv_a = await principal(db, "rv_a")
    approved = await service.approve(db, rv_a, a.id)
    await db.refresh(approved)
    assert approved.plan_id == setup.plan.id and approved.compensation_total == 26460000


async def test_submit_errors(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    setup = await approved_demo_plan(db)
    h1, auth = SEED.households["h1"], await headers(client)
    r = await client.post(
        f"/api/v1/households/{h1}/assessments", json=_submit_body(setup.project.id), headers=auth
    )
    assert r.status_code == 409 and "请先登记房屋调查" in r.json()["detail"]
    await surveyed(db, h1)
    body = _submit_body(setup.project.id)
    too_big = deepcopy(body)
    too_big["option"]["flats"] = [{"area": "90.00"}, {"area": "90.00"}]  # 20 ㎡ above E, max excess 15
    r = await client.post(f"/api/v1/households/{h1}/assessments", json=too_big, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "option.flats" and "安置房" in r.json()["detail"]
    r = await client.post(
        f"/api/v1/households/{h1}/assessments", json={**body, "project_id": 999999}, headers=auth
    )
    assert r.status_code == 422 and r.json()["field"] == "project_id"
    # One pending assessment per household and project.
    r = await client.post(f"/api/v1/households/{h1}/assessments", json=body, headers=auth)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/households/{h1}/assessments", json=body, headers=auth)
    assert r.status_code == 409 and "待审核" in r.json()["detail"]
    # Out of the caller's areas, and the wrong role.
    r = await client.post(f"/api/v1/households/{SEED.households['h3']}/assessments", json=body, headers=auth)
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/households/{h1}/assessments", json=body, headers=await headers(client, "rv_a")
    )
    assert r.status_code == 403


async def test_approve_return_and_supersede(client: httpx.AsyncClient, db: AsyncSession, seed: Any) -> None:
    setup = await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    await surveyed(db, h1)
    cw, rv = await headers(client), await headers(client, "rv_a")
    body = _submit_body(setup.project.id)

    first = (await client.post(f"/api/v1/households/{h1}/assessments", json=body, headers=cw)).json()
    r = await client.post(f"/api/v1/assessments/{first['id']}/approve", headers=cw)
    assert r.status_code == 403  # the caseworker cannot approve
    r = await client.post(f"/api/v1/assessments/{first['id']}/return", json={"comment": "  "}, headers=rv)
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/assessments/{first['id']}/return", json={"comment": "面积有误"}, headers=rv
    )
    assert (
        r.status_code == 200 and r.json()["status"] == "returned" and r.json()["review_comment"] == "面积有误"
    )
    r = await client.post(f"/api/v1/assessments/{first['id']}/approve", headers=rv)
    assert r.status_code == 409  # returned is final

    second = (await client.post(f"/api/v1/households/{h1}/assessments", json=body, headers=cw)).json()
    r = await client.post(f"/api/v1/assessments/{second['id']}/approve", headers=rv)
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["reviewer"] == "rv_a"
    assert (await service.approved_assessment(db, h1, setup.project.id)) is not None

    # The survey changes after approval: the approved one stays, and a new one supersedes it when approved.
    cw_a = await principal(db, "cw_a")
    view = await service.get_survey(db, cw_a, h1)
    assert view.survey is not None
    await service.save_survey(db, cw_a, h1, example_survey(persons=5, version=view.survey.version))
    kept = await db.get(Assessment, second["id"], populate_existing=True)
    assert kept is not None and kept.status == "approved" and kept.inputs["persons"] == 4
    current = (await service.get_survey(db, cw_a, h1)).inputs
    assert service.survey_changed(kept, current)

    third = (await client.post(f"/api/v1/households/{h1}/assessments", json=body, headers=cw)).json()
    assert third["inputs"]["persons"] == 5
    r = await client.post(f"/api/v1/assessments/{third['id']}/approve", headers=rv)
    assert r.status_code == 200, r.text
    listed = (await client.get(f"/api/v1/households/{h1}/assessments", headers=rv)).json()
    assert [(a["id"], a["status"]) for a in listed] == [
        (third["id"], "approved"),
        (second["id"], "superseded"),
        (first["id"], "returned"),
    ]
    approved = await service.approved_assessment(db, h1, setup.project.id)
    assert approved is not None and approved.id == third["id"]
    r = await client.get(f"/api/v1/assessments/{second['id']}", headers=await headers(client, "fin"))
    assert r.status_code == 200 and r.json()["net_payable"] == "94700.00"
    r = await client.get(f"/api/v1/assessments/{second['id']}", headers=await headers(client, "rv_b"))
    assert r.status_code == 404  # another township


async def test_maker_checker(db: AsyncSession, seed: Any) -> None:
    setup = await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    await surveyed(db, h1)
    cw_a = await principal(db, "cw_a")
    data = AssessmentIn.model_validate({"project_id": setup.project.id, **EXAMPLE_SUBMIT})
    a = await service.submit(db, cw_a, h1, data)
    # A reviewer account that is the maker (say, a role changed in between) is refused with a clear message.
    rv_a = await principal(db, "rv_a")
    same_person = replace(rv_a, user_id=cw_a.user_id)
    with pytest.raises(Forbidden, match="不能批准自己提交的补偿核算"):
        await service.approve(db, same_person, a.id)
    # And the database refuses it too.
    with pytest.raises(DBAPIError, match="maker_checker"):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE assessments SET status = 'approved', reviewer_id = created_by WHERE id = :id"),
                {"id": a.id},
            )


async def test_database_keeps_assessments_frozen(db: AsyncSession, seed: Any) -> None:
    setup = await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    await surveyed(db, h1)
    cw_a = await principal(db, "cw_a")
    data = AssessmentIn.model_validate({"project_id": setup.project.id, **EXAMPLE_SUBMIT})
    a = await service.submit(db, cw_a, h1, data)
    await db.flush()
    with pytest.raises(DBAPIError, match="frozen"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "UPDATE assessments SET compensation_total = compensation_total + 100, "
                    "net_payable = net_payable + 100 WHERE id = :id"
                ),
                {"id": a.id},
            )
    with pytest.raises(DBAPIError, match="frozen"):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE assessment_lines SET amount = amount + 1 WHERE assessment_id = :id"),
                {"id": a.id},
            )
    with pytest.raises(DBAPIError, match="net_payable"):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE assessments SET net_payable = net_payable + 1 WHERE id = :id"), {"id": a.id}
            )

    # Lines that do not add up to the total are refused when the deferred check runs.
    bad = Assessment(
        household_id=h1,
        project_id=a.project_id,
        plan_id=a.plan_id,
        county_code=a.county_code,
        area_path=a.area_path,
        option_kind="cash",
        option={"kind": "cash"},
        inputs=a.inputs,
        entitled_area=a.entitled_area,
        flat_area=0,
        compensation_total=100000,
        flat_price_due=0,
        net_payable=100000,
        status="returned",
        created_by=cw_a.user_id,
    )
    with pytest.raises(DBAPIError, match="add up"):
        async with db.begin_nested():
            db.add(bad)
            await db.flush()
            db.add(
                AssessmentLine(
                    assessment_id=bad.id, seq=1, code="house", label="房屋补偿费", basis="x", amount=99999
                )
            )
            await db.flush()
            await db.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))


async def test_approve_refuses_a_stale_pending_race(db: AsyncSession, seed: Any) -> None:
    """Approving twice: the second sees it is no longer pending."""
    setup = await approved_demo_plan(db)
    h1 = SEED.households["h1"]
    await surveyed(db, h1)
    data = AssessmentIn.model_validate({"project_id": setup.project.id, **EXAMPLE_SUBMIT})
    a = await service.submit(db, await principal(db, "cw_a"), h1, data)
    rv_a = await principal(db, "rv_a")
    await service.approve(db, rv_a, a.id)
    with pytest.raises(Conflict, match="只有待审核"):
        await service.approve(db, rv_a, a.id)
