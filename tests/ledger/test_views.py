"""The books as finance users and auditors see them: balances with a village filter, the trial balance agreeing,
a deposit through the form (errors next to their fields, then posted and audited), an account's statement, and
the heir payout recorded from a deceased pensioner's page."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas import service as areas
from app.audit.models import AuditEvent
from app.auth.policy import SYSTEM
from app.core.idcard import make_id_number
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger import views
from app.ledger.models import JournalTransaction
from app.payments import bankfiles, service
from app.socialsecurity import service as social
from app.socialsecurity.models import HeirPayment
from app.socialsecurity.schemas import DeathIn, HeirIn
from tests.agreements.helpers import at, principal
from tests.payments.helpers import account_balance, result_lines, trial_balance_net, world
from tests.roster.test_exports import page_table
from tests.seed import SEED
from tests.socialsecurity.factories import Pin
from tests.web.pages import Browser, csrf_from, field_error, input_value, post_form, text_of

OLD = date(1955, 5, 5)
TODAY = date(2023, 6, 5)


def error_at(page: str, name: str) -> str | None:
    found = field_error(page, name)
    return None if found is None else found.removeprefix("错误：").strip()


def account_link(page: str, name: str) -> str:
    found = re.search(rf'<a href="(/ledger/accounts/\d+)">{re.escape(name)}</a>', page)
    assert found is not None, name
    return found.group(1)


async def audited(db: AsyncSession, action: str) -> int:
    return int(
        await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)) or 0
    )


async def test_balances_trial_balance_deposit_and_statement(
    browser: Browser, db: AsyncSession, pinned_clock: Pin
) -> None:
    await world(db, pinned_clock, [OLD])
    pinned_clock(at(TODAY))
    fin = await browser("fin")
    page = await fin.get("/ledger")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "试算平衡：借方合计 = 贷方合计" in text
    assert "社保基金专户存款 ss.bank 资产 1,000,000.00 0.00 1,000,000.00" in text
    assert 'aria-current="page">资金账务' in page.text

    # Errors next to their fields, what was typed kept.
    r = await post_form(
        fin, "/ledger", "/ledger/deposit", {"amount": "12.345", "posted_on": "2023-06-06", "memo": "拨款"}
    )
    assert r.status_code == 422
    assert "最多两位小数" in (error_at(r.text, "amount") or "")
    assert error_at(r.text, "posted_on") == "记账日期不能晚于今天"
    assert error_at(r.text, "confirm") == "请先勾选确认：已核对银行到账凭证"
    assert input_value(r.text, "amount") == "12.345" and input_value(r.text, "memo") == "拨款"
    before = await audited(db, "ledger.deposit")
    r = await post_form(
        fin,
        "/ledger",
        "/ledger/deposit",
        {
            "amount": "1200.00",
            "posted_on": "2023-06-05",
            "memo": "县财政拨入（封财〔2023〕12号）",
            "confirm": "1",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/ledger"
    page = await fin.get("/ledger")
    assert "已登记资金拨入：1,200.00 元（壹仟贰佰元整），记账日期 2023年6月5日，凭证号" in page.text
    assert "社保基金专户存款 ss.bank 资产 1,001,200.00 0.00 1,001,200.00" in text_of(page.text)
    assert "试算平衡：借方合计 = 贷方合计" in page.text
    assert await audited(db, "ledger.deposit") == before + 1
    assert await account_balance(db, ledger_rules.SS_BANK) == 100_120_000
    assert await trial_balance_net(db) == 0

    # The village filter: that village's individual account only.
    village_id = SEED.areas["410727101201"]
    filtered = await fin.get("/ledger", params={"village_id": str(village_id)})
    assert "科目余额（王村乡 前方庄村）" in filtered.text
    assert "个人账户·前方庄村" in filtered.text and "社保基金专户存款 <" not in filtered.text
    # A village with no accounts yet (new in this test's transaction: committing tests elsewhere in the run post
    # to the seeded villages' books, which cannot be undone).
    fresh = await areas.create_area(
        db, SYSTEM, code="410727102299", name="新设村", level="village", parent_code="410727102"
    )
    other = await fin.get("/ledger", params={"village_id": str(fresh.id)})
    assert "科目余额（城关乡 新设村）" in other.text and "还没有科目" in other.text

    # The statement: date, voucher number, memo, kind, debit, running balance.
    statement = await fin.get(account_link(page.text, "社保基金专户存款"))
    assert statement.status_code == 200
    rows = re.findall(r"<tr>(.*?)</tr>", statement.text.split("<tbody>")[1], re.S)
    assert len(rows) == 2
    last = text_of(rows[-1])
    assert "2023年6月5日" in last and "县财政拨入（封财〔2023〕12号）" in last and "资金拨入" in last
    assert "1,200.00" in last and "1,001,200.00" in last
    assert "当前余额 1,001,200.00 元 （壹佰万壹仟贰佰元整）" in text_of(statement.text)

    # An auditor reads, does not post.
    aud = await browser("aud")
    page = await aud.get("/ledger")
    assert page.status_code == 200 and "试算平衡：借方合计 = 贷方合计" in page.text
    assert 'action="/ledger/deposit"' not in page.text
    assert (await aud.get(account_link(page.text, "社保基金专户存款"))).status_code == 200
    r = await aud.post("/ledger/deposit", data={"csrf_token": csrf_from(page.text), "amount": "1.00"})
    assert r.status_code == 403
    assert (await fin.get("/ledger/accounts/2147483647")).status_code == 404


async def test_statement_of_a_period_a_page_at_a_time(
    browser: Browser, db: AsyncSession, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world(db, pinned_clock, [OLD])  # 1,000,000.00 into ss.bank on 2023-06-01
    pinned_clock(at(TODAY))
    fin_p = await principal(db, "fin")
    for day, fen in ((2, 10_000), (3, 20_000), (4, 30_000)):
        await ledger.deposit(db, fin_p, amount=fen, posted_on=date(2023, 6, day), memo=f"6月{day}日拨入")
    # Posted last but dated before the others: the statement runs by date, then voucher number.
    await ledger.deposit(db, fin_p, amount=5_000, posted_on=date(2023, 5, 31), memo="补记5月31日拨入")
    fin = await browser("fin")
    url = account_link((await fin.get("/ledger")).text, "社保基金专户存款")

    page = await fin.get(url, params={"start": "2023-06-02", "end": "2023-06-03"})
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "期间 2023年6月2日至2023年6月3日" in shown and "期初余额 1,000,050.00 元" in shown
    assert "本期借方合计 300.00 元" in shown and "本期贷方合计 0.00 元" in shown
    assert "期末余额 1,000,350.00 元" in shown and "当前余额 1,000,650.00 元" in shown
    _headers, rows = page_table(page.text, "statement")
    assert [(r[0], r[2], r[4], r[6]) for r in rows] == [
        ("", "期初余额", "", "1,000,050.00"),
        ("2023年6月2日", "6月2日拨入", "100.00", "1,000,150.00"),
        ("2023年6月3日", "6月3日拨入", "200.00", "1,000,350.00"),
    ]
    assert f'href="{url}/statement.xlsx?start=2023-06-02&amp;end=2023-06-03"' in page.text
    foot = text_of(page.text.split("<tfoot>")[1].split("</tfoot>")[0])
    assert "本期合计 300.00 0.00 1,000,350.00" in foot
    # The XLSX of that period: the same rows and the totals, audited.
    before = await audited(db, "export.download")
    r = await fin.get(f"{url}/statement.xlsx", params={"start": "2023-06-02", "end": "2023-06-03"})
    assert r.status_code == 200
    ws = load_workbook(BytesIO(r.content)).active
    assert ws is not None
    cells = [list(row) for row in ws.iter_rows(values_only=True)]
    memos = [row[2] for row in cells]
    assert memos[-4:] == ["期初余额", "6月2日拨入", "6月3日拨入", "本期合计"]
    assert cells[-1] == ["2023年6月3日", None, "本期合计", None, "300.00", "0.00", "1000350.00", None]
    assert cells[-4][6] == "1000050.00"  # 期初余额
    assert await audited(db, "export.download") == before + 1

    # Pages of two: the last page first, the balance carried from one page to the next.
    monkeypatch.setattr(views, "STATEMENT_PAGE", 2)
    last = await fin.get(url)
    _headers, rows = page_table(last.text, "statement")
    assert [(r[2], r[6]) for r in rows] == [("承前页", "1,000,350.00"), ("6月4日拨入", "1,000,650.00")]
    assert "本期合计 1,000,650.00 0.00 1,000,650.00" in text_of(last.text.split("<tfoot>")[1])
    assert "第 3 / 3 页" in last.text
    first = await fin.get(url, params={"page": "1"})
    _headers, rows = page_table(first.text, "statement")
    assert [(r[2], r[6]) for r in rows] == [
        ("期初余额", "0.00"),
        ("补记5月31日拨入", "50.00"),
        ("财政拨入社保资金", "1,000,050.00"),
    ]
    assert "过次页 1,000,050.00" in text_of(first.text.split("<tfoot>")[1])
    second = await fin.get(url, params={"page": "2"})
    assert page_table(second.text, "statement")[1][0][2:7:4] == ["承前页", "1,000,050.00"]

    # A period typed wrong: said next to the field, what was typed kept, everything shown meanwhile.
    r = await fin.get(url, params={"start": "2023-06-04", "end": "2023-06-02"})
    assert r.status_code == 422 and error_at(r.text, "start") == "起始日期不能晚于截止日期"
    assert "期间填写有误，下面显示全部分录" in r.text and "没有保存" not in r.text
    assert input_value(r.text, "start") == "2023-06-04" and "期间 全部" in text_of(r.text)
    assert f'href="{url}/statement.xlsx"' in r.text  # the download is of what is shown: everything
    r = await fin.get(url, params={"start": "2023-13-01"})
    assert r.status_code == 422 and error_at(r.text, "start") == "日期格式应为 2023-05-20：2023-13-01"
    r = await fin.get(url, params={"end": "2023-05-30"})
    assert r.status_code == 200 and "该期间没有分录。" in r.text and "期末余额 0.00 元" in text_of(r.text)


async def test_heir_payout_from_the_person_page(
    browser: Browser, db: AsyncSession, pinned_clock: Pin
) -> None:
    w = await world(db, pinned_clock, [OLD])
    enrollment = w.enrollments[0]
    pinned_clock(at(date(2023, 7, 10)))
    cw_a = await principal(db, "cw_a")
    await social.record_death(db, cw_a, enrollment.id, DeathIn(death_date=date(2023, 6, 20)))
    heir_number = make_id_number("410727", date(1990, 1, 20), 311)
    await social.set_heir(
        db, cw_a, enrollment.id, HeirIn(heir_name="王小明", heir_id_number=heir_number, relation="子女")
    )
    url = f"/social-security/people/{enrollment.id}"
    action = f"{url}/heir-payment"

    cw = await browser("cw_a")
    page = await cw.get(url)
    assert page.status_code == 200 and action not in page.text  # a caseworker does not pay
    r = await cw.post(action, data={"csrf_token": csrf_from(page.text), "paid_on": "2023-07-10"})
    assert r.status_code == 403

    fin = await browser("fin")
    page = await fin.get(url)
    assert f'action="{action}"' in page.text and "支付继承人" in page.text
    assert heir_number not in page.text
    r = await post_form(fin, url, action, {"paid_on": "2023-07-11", "payment_note": ""})
    assert r.status_code == 422
    assert error_at(r.text, "payment_note") == "请填写支付说明，如 转账凭证号或领款人签收"
    assert error_at(r.text, "pay_confirm")
    r = await post_form(
        fin, url, action, {"paid_on": "2023-07-11", "payment_note": "转账凭证 0711-01", "pay_confirm": "1"}
    )
    assert r.status_code == 422 and error_at(r.text, "paid_on") == "支付日期不能晚于今天"
    # June, the month of death, is not paid yet: the account's balance is not known until it is.
    paying = {"paid_on": "2023-07-10", "payment_note": "转账凭证 0710-01", "pay_confirm": "1"}
    r = await post_form(fin, url, action, paying)
    assert r.status_code == 409
    assert "去世当月及以前尚有 1 个月养老金未发放到账（2023年6月）" in text_of(r.text)
    fin_p, fin2_p = await principal(db, "fin"), await principal(db, "fin2")
    june = (await service.generate_pension_batch(db, fin_p, date(2023, 6, 1), as_of=date(2023, 7, 10))).batch
    await service.approve_batch(db, fin2_p, june.id)
    await service.export_batch(db, fin_p, june.id, "psbc")
    answer = bankfiles.result_file("psbc", june.number, await result_lines(db, june))
    await service.import_results(db, fin_p, june.id, fmt="psbc", filename="r.txt", content=answer)
    r = await post_form(fin, url, action, paying)
    assert r.status_code == 303 and r.headers["location"] == f"{url}#death"
    page = await fin.get(url)
    heir = await db.scalar(select(HeirPayment).where(HeirPayment.enrollment_id == enrollment.id))
    assert heir is not None and heir.status == "paid" and heir.amount > 0
    assert "已支付：" in page.text and "支付给继承人 王小明（子女）" in page.text
    assert "已支付" in text_of(page.text) and f'action="{action}"' not in page.text
    assert await audited(db, "enrollment.heir_paid") == 1
    payout = await db.scalar(select(JournalTransaction).where(JournalTransaction.kind == "heir_payout"))
    assert payout is not None and payout.posted_on == date(2023, 7, 10)
    assert await trial_balance_net(db) == 0
    # Paid once: the form is gone and a second post is refused on the page.
    r = await post_form(
        fin, url, action, {"paid_on": "2023-07-10", "payment_note": "再次", "pay_confirm": "1"}
    )
    assert r.status_code == 409 and "个人账户余额已支付给继承人" in r.text
