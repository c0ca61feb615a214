"""Compensation payments through the pages: the caseworker records the handover with the payee's account on the
household's 协议 tab (only the masked account shown back; a bad account number refused in Chinese, nothing
saved), finance deposits into the project's compensation fund, generates the compensation batch, a second finance
user approves it, the bank file is exported and the bank's result imported, and the tab shows the tranche paid."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.audit.models import AuditEvent
from app.households.service import id_cipher
from app.ledger import rules as ledger_rules
from app.payments import bankfiles, rules
from app.payments.models import CompensationTranche, PaymentBatch
from app.socialsecurity.service import account_cipher
from tests.agreements.helpers import at, principal
from tests.agreements.test_service import noticed_case
from tests.payments.helpers import account_balance
from tests.payments.test_views import Borrowed, error_at, run_job
from tests.seed import SEED
from tests.socialsecurity.factories import Pin
from tests.web.pages import Browser, post_form

TODAY = date(2022, 9, 26)
NET = 9_470_000  # 94,700.00: domain.md's worked example after the flat price
ACCOUNT = "6221 8800 0000 0001"
DIGITS = ACCOUNT.replace(" ", "")
MASKED = "6221 **** **** 0001"


@pytest.fixture
def job_sessions(app: FastAPI, db: AsyncSession) -> Iterator[Borrowed]:
    borrowed = Borrowed(db)
    app.state.sessionmaker = borrowed
    yield borrowed


async def _signed(db: AsyncSession, pin: Pin) -> tuple[int, int]:
    """(agreement id, project id) of h1's signed agreement (signed 2022-09-08)."""
    case = await noticed_case(db, pin)
    cw = await principal(db, "cw_a")
    pin(at(date(2022, 9, 8)))
    agreement = await agreements.issue_agreement(db, cw, SEED.households["h1"])
    await agreements.sign(db, cw, agreement.id, date(2022, 9, 8))
    return agreement.id, case.project.id


async def _bank_answer(db: AsyncSession, batch: PaymentBatch) -> bytes:
    """The bank's result file for the batch: every line paid."""
    rows = await db.execute(
        text(
            "SELECT l.seq, l.account_enc, l.payee_name, l.amount, m.id_number_enc FROM payment_lines l "
            "JOIN compensation_tranches t ON t.id = l.tranche_id JOIN members m ON m.id = t.payee_member_id "
            "WHERE l.batch_id = :b ORDER BY l.seq"
        ),
        {"b": batch.id},
    )
    accounts, ids = account_cipher(), id_cipher()
    lines = [
        bankfiles.ResultLine(
            seq=r.seq,
            account=accounts.decrypt(r.account_enc),
            name=r.payee_name,
            amount=int(r.amount),
            id_number=ids.decrypt(r.id_number_enc),
            reference=rules.reference(batch.number, r.seq),
            paid=True,
        )
        for r in rows
    ]
    return bankfiles.result_file("psbc", batch.number, lines)


async def _conditions(db: AsyncSession) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "tranche.condition")
        )
        or 0
    )


def _tranches(page: str) -> str:
    found = re.search(r'<section class="section" id="tranches".*?</section>', page, re.S)
    assert found, "no 补偿款支付 section"
    return found.group(0)


async def test_compensation_from_handover_to_paid(
    browser: Browser, db: AsyncSession, pinned_clock: Pin, job_sessions: Borrowed
) -> None:
    agreement_id, project_id = await _signed(db, pinned_clock)
    pinned_clock(at(TODAY))
    h1 = SEED.households["h1"]
    tab = f"/households/{h1}/agreements"
    action = f"/agreements/{agreement_id}/tranches/vacate"
    cw = await browser("cw_a")

    # The tab lists the tranche awaiting its condition, with the form to record the handover.
    page = await cw.get(tab)
    assert page.status_code == 200
    section = _tranches(page.text)
    assert "补偿款支付" in section and "腾房交付后支付的补偿款" in section and "94,700.00" in section
    assert "待满足支付条件" in section and f'action="{action}"' in section
    assert "登记腾房交付验收" in section and 'value="中国邮政储蓄银行"' in section
    assert f'action="/agreements/{agreement_id}/tranches/purchase_subsidy"' not in section

    # A bad account number: refused next to the field, in Chinese; nothing saved, the number not shown back.
    bad = {
        "vacate_on": "2022-09-25",
        "vacate_note": "腾房验收单 QFZ-001",
        "vacate_bank_name": "中国邮政储蓄银行",
        "vacate_account_number": "6221-8800-0001",
    }
    r = await post_form(cw, tab, action, bad)
    assert r.status_code == 422, r.text
    assert error_at(r.text, "vacate_account_number") == "收款账号应为 12 至 30 位数字"
    assert "6221-8800-0001" not in r.text and 'value="腾房验收单 QFZ-001"' in r.text
    r = await post_form(cw, tab, action, {**bad, "vacate_account_number": "", "vacate_on": "2022-09-27"})
    assert r.status_code == 422
    assert error_at(r.text, "vacate_account_number") == "请填写收款账号（户主本人的银行账号）"
    r = await post_form(cw, tab, action, {**bad, "vacate_account_number": ACCOUNT, "vacate_on": "2022-09-27"})
    assert r.status_code == 422 and error_at(r.text, "vacate_on") == "日期不能晚于今天"
    assert DIGITS not in r.text and ACCOUNT not in r.text
    tranche = await db.scalar(
        select(CompensationTranche).where(CompensationTranche.agreement_id == agreement_id)
    )
    assert tranche is not None
    await db.refresh(tranche)
    assert (tranche.status, tranche.account_enc, tranche.due_on) == ("awaiting", None, None)
    # No purchase subsidy in this agreement; a reviewer may not record conditions.
    subsidy = {k.replace("vacate_", "purchase_subsidy_"): v for k, v in bad.items()}
    r = await post_form(
        cw,
        tab,
        f"/agreements/{agreement_id}/tranches/purchase_subsidy",
        {**subsidy, "purchase_subsidy_account_number": ACCOUNT},
    )
    assert r.status_code == 409 and "没有“购房补贴（凭购房合同）”这一支付节点" in r.text
    rv = await browser("rv_a")
    r = await post_form(rv, tab, action, {**bad, "vacate_account_number": ACCOUNT})
    assert r.status_code == 403
    assert await _conditions(db) == 0

    # Recorded: the masked account shows, the full number nowhere.
    r = await post_form(cw, tab, action, {**bad, "vacate_account_number": ACCOUNT})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{tab}#tranches"
    page = await cw.get(tab)
    assert "已登记腾房交付验收（2022年9月25日）" in page.text
    section = _tranches(page.text)
    assert "应支付" in section and MASKED in section and "腾房验收单 QFZ-001" in section
    assert DIGITS not in page.text and ACCOUNT not in page.text
    assert await _conditions(db) == 1

    # The caseworker has no business on the payment and ledger pages.
    for url in ("/payments", "/ledger"):
        assert (await cw.get(url)).status_code == 403
    r = await cw.post(
        "/payments/generate-compensation", data={"comp_period": "2022-09", "comp_scope": "county"}
    )
    assert r.status_code == 403

    # Money into the project's compensation fund.
    fin = await browser("fin")
    ledger_page = await fin.get("/ledger")
    assert 'action="/ledger/deposit-project"' in ledger_page.text and "补偿资金拨入" in ledger_page.text
    deposit = {
        "comp_project_id": str(project_id),
        "comp_amount": "200000.00",
        "comp_posted_on": "2022-09-01",
        "comp_memo": "县财政拨入征收补偿资金",
        "comp_confirm": "1",
    }
    r = await post_form(fin, "/ledger", "/ledger/deposit-project", {**deposit, "comp_project_id": ""})
    assert r.status_code == 422 and error_at(r.text, "comp_project_id") == "请选择征收项目"
    r = await post_form(fin, "/ledger", "/ledger/deposit-project", deposit)
    assert r.status_code == 303, r.text
    ledger_page = await fin.get("/ledger")
    assert "已登记补偿资金拨入" in ledger_page.text and "200,000.00 元" in ledger_page.text
    assert "补偿资金专户存款·" in ledger_page.text
    assert await account_balance(db, ledger_rules.comp_bank_code(project_id)) == 20_000_000

    # The compensation batch, generated at once.
    listing = await fin.get("/payments")
    assert "生成补偿款批次" in listing.text and 'action="/payments/generate-compensation"' in listing.text
    r = await post_form(
        fin,
        "/payments",
        "/payments/generate-compensation",
        {"comp_period": "2022-10", "comp_scope": "county"},
    )
    assert r.status_code == 422 and error_at(r.text, "comp_period") == "不能生成未来月份的发放批次"
    assert 'value="2022-10"' in r.text
    r = await post_form(
        fin,
        "/payments",
        "/payments/generate-compensation",
        {"comp_period": "2022-09", "comp_scope": "county"},
    )
    assert r.status_code == 303, r.text
    batch = await db.scalar(select(PaymentBatch).where(PaymentBatch.kind == "compensation"))
    assert batch is not None
    url = f"/payments/{batch.id}"
    assert r.headers["location"] == url
    page = await fin.get(url)
    assert f"已生成补偿款发放批次 {batch.number}：1 笔，合计 94,700.00 元" in page.text
    lines = re.findall(r"<table class=\"data\">.*?</table>", page.text, re.S)[-1]
    assert "腾房交付后支付的补偿款" in lines and "支付节点" in lines and MASKED in lines
    assert "个人账户（元）" not in lines and "统筹（元）" not in lines and "发放月份" not in lines
    assert DIGITS not in page.text
    r = await post_form(
        fin,
        "/payments",
        "/payments/generate-compensation",
        {"comp_period": "2022-09", "comp_scope": "county"},
    )
    assert r.status_code == 303 and r.headers["location"] == url
    page = await fin.get(url)
    assert f"本期该范围的补偿款发放批次 {batch.number} 已经存在（待审核），没有重复生成" in page.text

    # Approved by a second finance user, exported, the bank's answer imported.
    fin2 = await browser("fin2")
    r = await post_form(fin2, url, f"{url}/approve", {"confirm": "1"})
    assert r.status_code == 303, r.text
    page = await fin.get(url)
    assert "补偿资金专户划至“补偿款代发在途”" in page.text and "社保基金专户" not in page.text
    r = await post_form(fin, url, f"{url}/export", {"format": "psbc", "confirm": "1"})
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment;")
    content = await _bank_answer(db, batch)
    r = await post_form(
        fin,
        url,
        f"{url}/import",
        {"format": "psbc", "confirm": "1"},
        files={"file": ("回盘.txt", content, "text/plain")},
    )
    done = await run_job(fin, job_sessions, r)
    assert "已导入 回盘.txt：发放成功 1 笔 94,700.00 元，发放失败 0 笔 0.00 元" in done
    page = await fin.get(url)
    assert "已对账" in page.text
    assert await account_balance(db, ledger_rules.comp_bank_code(project_id)) == 20_000_000 - NET

    # The household's tab: paid, on the day the bank's answer came; no form any more.
    page = await cw.get(tab)
    section = _tranches(page.text)
    assert "已支付" in section and "2022年9月26日" in section and MASKED in section
    assert f'action="{action}"' not in section
    assert DIGITS not in page.text
