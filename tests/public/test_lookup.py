"""群众查询 (issue 6): a resident finds their own case by ID number and name, masked, on the page and as JSON; an
unknown number, another name and a malformed number get the same answer; attempts are limited per client and
per number; the log never holds a full number."""

from __future__ import annotations

import logging
import re
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.models import Agreement
from app.households.models import Member
from app.households.service import id_cipher
from app.ledger import service as ledger
from app.payments import bankfiles, compensation, service
from app.public import gate
from app.public.limiter import LookupLimiter
from app.public.rules import NOT_FOUND_MESSAGE
from app.socialsecurity.models import LifeCertification
from tests.agreements.helpers import at, principal
from tests.payments.helpers import result_lines, world
from tests.payments.test_compensation import NET, _result, _signed
from tests.seed import SEED
from tests.socialsecurity.factories import Pin
from tests.web.pages import BROWSER_ACCEPT, csrf_from, input_value, text_of

API = "/api/v1/public/status"


async def _api(client: httpx.AsyncClient, id_number: str, name: str) -> httpx.Response:
    return await client.post(API, json={"id_number": id_number, "name": name})


async def _page(client: httpx.AsyncClient, id_number: str, name: str) -> httpx.Response:
    form = await client.get("/query", headers={"Accept": BROWSER_ACCEPT})
    assert form.status_code == 200
    return await client.post(
        "/query",
        data={"csrf_token": csrf_from(form.text), "id_number": id_number, "name": name},
        headers={"Accept": BROWSER_ACCEPT},
    )


async def _pay_compensation(db: AsyncSession, pin: Pin, *, second_paid: bool = True) -> str:
    """h1 (王建国): signed 2022-09-08, handed over 2022-09-25; September's payment fails, October's re-issue is
    paid (when ``second_paid``). Returns the agreement number."""
    agreement_id, project_id = await _signed(db, pin)
    cw, fin, fin2 = await principal(db, "cw_a"), await principal(db, "fin"), await principal(db, "fin2")
    pin(at(date(2022, 9, 26)))
    await compensation.record_condition(
        db, cw, agreement_id, kind="vacate", on=date(2022, 9, 25), note="腾房验收单 QFZ-001",
        bank_name="中国邮政储蓄银行", account_number="6221 8800 0000 0001",
    )  # fmt: skip
    await ledger.deposit_project(
        db, fin, project_id, amount=20_000_000, posted_on=date(2022, 9, 1), memo="拨入"
    )
    for month, paid in ((9, False), (10, second_paid)):
        pin(at(date(2022, month, 28)))
        if month == 10:
            await compensation.record_condition(
                db, cw, agreement_id, kind="vacate", on=date(2022, 9, 25), note="更正账号",
                bank_name="中国邮政储蓄银行", account_number="6221 8800 0000 0002",
            )  # fmt: skip
        generated = await service.generate_compensation_batch(
            db, fin, date(2022, month, 1), as_of=date(2022, month, 28)
        )
        await service.approve_batch(db, fin2, generated.batch.id)
        await service.export_batch(db, fin, generated.batch.id, "psbc")
        content = await _result(db, generated.batch.id, generated.batch.number, paid)
        await service.import_results(
            db, fin, generated.batch.id, fmt="psbc", filename="r.txt", content=content
        )
    agreement = await db.get(Agreement, agreement_id)
    assert agreement is not None
    return agreement.number


async def test_a_household_sees_its_case_masked(
    db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin
) -> None:
    number = await _pay_compensation(db, pinned_clock)
    pinned_clock(at(date(2022, 11, 2)))
    full_id = SEED.id_numbers["h1_head"]
    r = await _api(client, full_id, "王建国")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert full_id not in r.text
    assert body["name_masked"] == "王*国"
    assert body["id_number_masked"] == full_id[:6] + "********" + full_id[-4:]
    assert body["village"] == "前方庄村"
    assert [(s["label"], s["done"]) for s in body["timeline"]] == [
        ("调查登记", True),
        ("补偿核算", True),
        ("公示", True),
        ("签约", True),
        ("腾房交付", True),
        ("安置完成", False),  # a resettlement flat, not yet allocated
    ]
    steps = {s["code"]: s["on"] for s in body["timeline"]}
    assert (steps["signed"], steps["vacated"]) == ("2022-09-08", "2022-09-25")
    assert body["stage"] == "腾房交付"
    assert (body["option"], body["agreement_number"], body["agreement_state"]) == (
        "安置房安置",
        number,
        "已签约",
    )
    assert body["signed_on"] == "2022-09-08"
    assert (body["net_payable"], body["payable"], body["paid"], body["outstanding"]) == (
        "94700.00",
        "94700.00",
        "94700.00",
        "0.00",
    )
    assert NET == 9_470_000
    assert [(p["item"], p["amount"], p["state"], p["on"]) for p in body["payments"]] == [
        ("腾房交付后支付的补偿款", "94700.00", "发放失败，将重新发放", "2022-09-28"),
        ("腾房交付后支付的补偿款", "94700.00", "已到账", "2022-10-28"),
    ]
    assert body["flat"] is None and body["pension"] is None

    # Any member of the household with their own number and name sees the household's case, as themselves.
    spouse = await _api(client, SEED.id_numbers["h1_spouse"], "李秀英")
    assert spouse.status_code == 200 and spouse.json()["name_masked"] == "李*英"
    assert spouse.json()["payments"] == body["payments"]

    # The page says the same, masked, without JavaScript.
    page = await _page(client, full_id, " 王 建国 ")  # spaces as a phone keyboard may add them
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = text_of(page.text)
    assert full_id not in page.text
    for expected in (
        "已查到 王*国（" + body["id_number_masked"] + "）的记录，前方庄村",
        "办理进度：腾房交付",
        f"协议编号 {number}",
        "已签约（2022年9月8日）",
        "应付补偿款 94,700.00 元",
        "已到账 94,700.00 元",
        "未付 0.00 元",
        "发放失败，将重新发放 2022年9月28日",
        "已到账 2022年10月28日",
    ):
        assert expected in shown, (expected, shown)
    assert "<script" not in page.text


async def test_outstanding_while_the_bank_has_it(
    db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin
) -> None:
    await _pay_compensation(db, pinned_clock, second_paid=False)
    body = (await _api(client, SEED.id_numbers["h1_head"], "王建国")).json()
    assert (body["paid"], body["outstanding"]) == ("0.00", "94700.00")
    assert [p["state"] for p in body["payments"]] == ["发放失败，将重新发放", "发放失败，将重新发放"]


async def test_a_pensioner_sees_months_and_proof_of_life(
    db: AsyncSession, client: httpx.AsyncClient, pinned_clock: Pin
) -> None:
    w = await world(db, pinned_clock, [date(1955, 5, 5)])
    [enrollment] = w.enrollments
    fin, fin2 = await principal(db, "fin"), await principal(db, "fin2")
    for month in (6, 7):
        pinned_clock(at(date(2023, month, 5)))
        batch = (
            await service.generate_pension_batch(db, fin, date(2023, month, 1), as_of=date(2023, month, 5))
        ).batch
        await service.approve_batch(db, fin2, batch.id)
        await service.export_batch(db, fin, batch.id, "psbc")
        if month == 6:
            content = bankfiles.result_file("psbc", batch.number, await result_lines(db, batch))
            await service.import_results(db, fin, batch.id, fmt="psbc", filename="r.txt", content=content)
    db.add(
        LifeCertification(
            enrollment_id=enrollment.id,
            certified_on=date(2023, 7, 1),
            method="in_person",
            certified_by="王丽娟",
        )
    )
    await db.flush()
    member = await db.scalar(select(Member).where(Member.id == enrollment.member_id))
    assert member is not None
    r = await _api(client, id_cipher().decrypt(member.id_number_enc), member.name)
    assert r.status_code == 200, r.text
    pension = r.json()["pension"]
    assert pension["state"] == "已参保，按月发放"
    assert (pension["enrolled_on"], pension["start_month"], pension["monthly_amount"]) == (
        "2023-05-30",
        "2023-06",
        "260.00",
    )
    assert pension["certification_due"] == "2024-07-01"  # 12 months after the last proof of life
    assert [(m["month"], m["state"], m["on"], m["back_pay"]) for m in pension["months"]] == [
        ("2023-07", "银行处理中", "2023-07-05", False),
        ("2023-06", "已到账", "2023-06-05", False),
    ]
    assert r.json()["stage"] == "尚未调查登记"


async def test_wrong_name_unknown_and_malformed_get_the_same_answer(
    client: httpx.AsyncClient, seed: object
) -> None:
    known = SEED.id_numbers["h1_head"]
    answers = [
        await _api(client, known, "王建"),  # a known number with another name
        await _api(client, "41072719990101123X", "王建国"),  # well-formed, on record nowhere
        await _api(client, known[:17] + ("0" if known[17] != "0" else "1"), "王建国"),  # wrong check digit
        await _api(client, "12345", "王建国"),  # not a number at all
    ]
    assert {(a.status_code, a.text) for a in answers} == {(404, f'{{"detail":"{NOT_FOUND_MESSAGE}"}}')}

    def without_values(html: str) -> str:
        html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
        return re.sub(r'(name="(?:id_number|name)" value=)"[^"]*"', r"\1", html)

    pages = [
        await _page(client, known, "王建"),
        await _page(client, "41072719990101123X", "王建国"),
        await _page(client, "12345", "王建国"),
    ]
    assert {p.status_code for p in pages} == {200}
    assert len({without_values(p.text) for p in pages}) == 1
    assert "未查到与所填身份证号和姓名相符的记录" in text_of(pages[0].text)
    # What was typed stays in the form, to be corrected.
    assert input_value(pages[0].text, "name") == "王建"


async def test_attempts_are_limited_per_number_and_per_client(
    app: FastAPI, client: httpx.AsyncClient, seed: object, caplog: pytest.LogCaptureFixture
) -> None:
    known = SEED.id_numbers["h1_head"]
    caplog.set_level(logging.INFO, logger="app.public")
    # The defaults: ten attempts per number an hour.
    for _ in range(10):
        assert (await _api(client, known, "王建")).status_code == 404
    refused = await _api(client, known, "王建国")  # even with the right name now
    assert refused.status_code == 429
    assert refused.json()["detail"] == "该身份证号查询次数过多，为保护个人信息，请 60 分钟后再试。"
    assert 3500 < int(refused.headers["retry-after"]) <= 3600
    page = await _page(client, known, "王建国")
    assert page.status_code == 429 and "该身份证号查询次数过多" in text_of(page.text)
    # Another number from the same client is still answered.
    assert (await _api(client, SEED.id_numbers["h2_head"], "张德胜")).status_code == 200

    # Per client address, whatever the number.
    app.state.public_limiter = LookupLimiter("3 per 10 minutes", "100 per hour")
    answers = [(await _api(client, f"41072719900101{i:03d}X", "某某")).status_code for i in range(4)]
    assert answers == [404, 404, 404, 429]
    assert "本设备（网络地址）查询次数过多" in (await _api(client, known, "王建国")).json()["detail"]

    # The log names each attempt by the masked number only.
    messages = [r.getMessage() for r in caplog.records if r.name == "app.public"]
    assert len(messages) >= 15
    assert all(known not in m for m in messages)
    assert f"id={known[:6]}********{known[-4:]}" in messages[0] and "result=not_found" in messages[0]
    assert any("result=limited:id_number" in m for m in messages)
    assert any("result=found" in m for m in messages)


async def test_a_refused_lookup_takes_no_connection(
    app: FastAPI, client: httpx.AsyncClient, seed: object
) -> None:
    """The limiter answers before a connection of the read pool is taken: a client hammering the page does not
    hold connections that residents' lookups wait for."""
    own = app.state.read_pool
    taken: list[int] = []

    class Counting:
        def acquire(self) -> AbstractAsyncContextManager[Any]:
            taken.append(1)
            return cast(AbstractAsyncContextManager[Any], own.acquire())

    app.state.read_pool = Counting()
    app.state.public_limiter = LookupLimiter("3 per 10 minutes", "100 per hour")
    answers = [(await _api(client, SEED.id_numbers["h1_head"], "王建国")).status_code for _ in range(6)]
    assert answers == [200, 200, 200, 429, 429, 429]
    assert len(taken) == 3


async def test_the_limiter_is_made_once_per_application(app: FastAPI) -> None:
    first = gate.limiter_of(app)
    assert gate.limiter_of(app) is first


async def test_the_form_needs_both_fields(client: httpx.AsyncClient) -> None:
    r = await _page(client, "", "")
    assert r.status_code == 422
    shown = text_of(r.text)
    assert "请填写公民身份号码（18位）" in shown and "请填写姓名（与户口簿一致）" in shown
