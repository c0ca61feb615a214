"""The pages and the API: household tabs, signing refused with its reason, PDFs as downloads, the public
verification page, and the bulk job from start to ZIP."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import jobs, rules, service
from app.core.errors import Forbidden
from tests.agreements.helpers import (
    NET_WORDS,
    another_household,
    approved_assessment,
    at,
    principal,
    project_with_plan,
)
from tests.seed import PASSWORD, SEED
from tests.web.pages import csrf_from, field_error, input_value, login

Pin = Callable[[datetime], None]
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


async def _token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_api_notice_objection_issue_sign_void(
    db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin
) -> None:
    pinned_clock(at(date(2022, 9, 1)))
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    cw, rv = await _token(client, "cw_a"), await _token(client, "rv_a")
    h1 = SEED.households["h1"]
    r = await client.post(
        f"/api/v1/villages/{case.village_id}/notices", json={"project_id": case.project.id}, headers=cw
    )
    assert r.status_code == 201, r.text
    notice = r.json()
    assert notice["period"] == "公示期：2022年9月1日至2022年9月7日"
    assert notice["entries"][0]["net_payable"] == "94700.00"
    r = await client.get(f"/api/v1/notices/{notice['id']}/pdf", headers=cw)
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert r.headers["content-disposition"].startswith("attachment;")

    pinned_clock(at(date(2022, 9, 2)))
    cw = await _token(client, "cw_a")  # tokens last hours, the clock moves days
    r = await client.post(
        f"/api/v1/households/{h1}/objections",
        json={"raised_on": "2022-09-02", "raised_by_name": "李秀英", "content": "安置人口少算一人"},
        headers=cw,
    )
    assert r.status_code == 201, r.text
    objection = r.json()
    pinned_clock(at(date(2022, 9, 8)))
    cw, rv = await _token(client, "cw_a"), await _token(client, "rv_a")
    r = await client.post(f"/api/v1/households/{h1}/agreements", json={}, headers=cw)
    assert r.status_code == 201, r.text
    agreement = r.json()
    assert agreement["number"] == "FQ-2022-QFZ-0001" and agreement["net_payable_in_words"] == NET_WORDS
    r = await client.post(f"/api/v1/agreements/{agreement['id']}/sign", json={}, headers=cw)
    assert r.status_code == 409
    assert (
        r.json()["detail"] == "有未处理的异议（李秀英于2022年9月2日提出：安置人口少算一人），处理后方可签约"
    )
    r = await client.post(
        f"/api/v1/objections/{objection['id']}/resolve",
        json={"resolution": "经核实为 4 人，无误"},
        headers=cw,
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = await client.post(
        f"/api/v1/agreements/{agreement['id']}/sign", json={"signed_on": "2022-09-08"}, headers=cw
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["signed_on"]) == ("signed", "2022-09-08")
    r = await client.get(f"/api/v1/agreements/{agreement['id']}/pdf", headers=rv)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "FQ-2022-QFZ-0001.pdf" in r.headers["content-disposition"]
    r = await client.post(f"/api/v1/agreements/{agreement['id']}/void", json={"reason": "  "}, headers=rv)
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/agreements/{agreement['id']}/void", json={"reason": "协议金额有误"}, headers=cw
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/agreements/{agreement['id']}/void", json={"reason": "协议金额有误"}, headers=rv
    )
    assert r.status_code == 200 and r.json()["status"] == "voided"
    r = await client.post(f"/api/v1/households/{h1}/agreements", json={}, headers=cw)
    assert r.status_code == 201 and r.json()["number"] == "FQ-2022-QFZ-0002"


async def test_household_tabs_and_refusal_on_the_page(
    db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin
) -> None:
    pinned_clock(at(date(2022, 9, 1)))
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    await service.create_notice(db, await principal(db, "cw_a"), case.project.id, case.village_id)
    pinned_clock(at(date(2022, 9, 4)))
    client.headers.update(BROWSER)
    await login(client, "cw_a")
    h1 = SEED.households["h1"]
    page = await client.get(f"/households/{h1}/notice")
    assert page.status_code == 200
    assert "公示期：2022年9月1日至2022年9月7日" in page.text and 'href="/households/' in page.text
    token = csrf_from(page.text)
    # No content: the error stands by the text area (tied to it for screen readers), what was typed is kept.
    r = await client.post(
        f"/households/{h1}/objections",
        data={"csrf_token": token, "raised_on": "2022-09-03", "raised_by_name": "王小明", "content": " "},
    )
    assert r.status_code == 422 and field_error(r.text, "content")
    area = re.search(r'<textarea[^>]*id="f-content"[^>]*>', r.text)
    assert (
        area
        and 'aria-invalid="true"' in area.group(0)
        and 'aria-describedby="f-content-error"' in area.group(0)
    )
    assert input_value(r.text, "raised_by_name") == "王小明"
    r = await client.post(
        f"/households/{h1}/objections",
        data={
            "csrf_token": token,
            "raised_on": "2022-09-03",
            "raised_by_name": "王小明",
            "content": "面积有误",
        },
    )
    assert r.status_code == 303
    page = await client.get(f"/households/{h1}/agreements")
    assert page.status_code == 200
    r = await client.post(f"/households/{h1}/agreements", data={"csrf_token": token})
    assert r.status_code == 303
    page = await client.get(f"/households/{h1}/agreements")
    assert "FQ-2022-QFZ-0001" in page.text and "暂不能签约" in page.text
    assert "<dt>出具日期</dt><dd>2022年9月4日</dd>" in page.text  # the date the document bears
    [agreement] = await service.agreements_of(db, await principal(db, "cw_a"), h1)
    r = await client.post(f"/agreements/{agreement.id}/sign", data={"csrf_token": token, "signed_on": ""})
    assert r.status_code == 409
    assert "公示期至2022年9月7日，2022年9月8日起方可签约" in r.text
    pdf = await client.get(f"/agreements/{agreement.id}/pdf")
    assert pdf.status_code == 200 and pdf.content == agreement.pdf
    village = await client.get(f"/villages/{case.village_id}/notices")
    assert village.status_code == 200 and "王建国" in village.text


async def test_verify_page(db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin) -> None:
    pinned_clock(at(date(2022, 9, 1)))
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    cw = await principal(db, "cw_a")
    await service.create_notice(db, cw, case.project.id, case.village_id)
    pinned_clock(at(date(2022, 9, 8)))
    agreement = await service.sign(db, cw, (await service.issue_agreement(db, cw, SEED.households["h1"])).id)
    client.headers.update(BROWSER)
    url = rules.verify_path(
        agreement.number, rules.check_code(agreement.snapshot, agreement.template_version)
    )
    ok = await client.get(url)  # no login
    assert ok.status_code == 200
    for shown in ("FQ-2022-QFZ-0001", "王*国", "2022年9月8日", "94,700.00", NET_WORDS, "已签约"):
        assert shown in ok.text, shown
    assert "王建国" not in ok.text and "李秀英" not in ok.text
    bad = await client.get(f"/verify/agreement/{agreement.number}?h=0123456789ab")
    assert "校验码不符：此协议书可能被篡改或不是本系统出具" in bad.text
    assert "王*国" not in bad.text and "94,700.00" not in bad.text
    missing = await client.get("/verify/agreement/FQ-2022-QFZ-0999?h=0123456789ab")
    assert missing.status_code == 404 and "未找到此协议" in missing.text
    odd = await client.get("/verify/agreement/<script>")
    assert odd.status_code == 404


async def test_bulk_job(db: AsyncSession, app: FastAPI, client: httpx.AsyncClient, pinned_clock: Pin) -> None:
    pinned_clock(at(date(2022, 9, 1)))
    case = await project_with_plan(db)
    second = await another_household(db)
    for household_id in (SEED.households["h1"], second):
        await approved_assessment(db, case, household_id)
    await service.create_notice(db, await principal(db, "cw_a"), case.project.id, case.village_id)
    pinned_clock(at(date(2022, 9, 8)))

    started = asyncio.Event()

    @asynccontextmanager
    async def borrowed() -> AsyncIterator[AsyncSession]:
        # The job's transactions become savepoints of the test's transaction; the one session is not shared
        # concurrently: the job starts once the request that started it is over.
        await started.wait()
        yield db

    app.state.sessionmaker = borrowed
    client.headers.update(BROWSER)
    await login(client, "cw_a")
    page = await client.get(f"/villages/{case.village_id}/notices")
    assert "可以签约且尚无协议的户：<strong>2</strong>" in page.text
    r = await client.post(
        f"/villages/{case.village_id}/agreements/bulk",
        data={"csrf_token": csrf_from(page.text), "project_id": str(case.project.id)},
    )
    assert r.status_code == 303
    job_url = r.headers["location"]
    job = jobs.get_job(await principal(db, "cw_a"), job_url.rsplit("/", 1)[1])
    reviewer = await principal(db, "rv_a")
    started.set()
    async with asyncio.timeout(60):
        await jobs.wait(job)
    status = await client.get(job_url)
    assert "已生成 2 / 2 份" in status.text and "下载全部协议书" in status.text
    download = await client.get(f"{job_url}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    names = sorted(zipfile.ZipFile(io.BytesIO(download.content)).namelist())
    assert names == ["FQ-2022-QFZ-0001.pdf", "FQ-2022-QFZ-0002.pdf"]
    with pytest.raises(Forbidden):  # a reviewer of the township may not look at the caseworker's job
        jobs.get_job(reviewer, job.id)
