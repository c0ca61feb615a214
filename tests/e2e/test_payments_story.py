"""Issue 5's "Done when", in a browser's shoes, on the demo county: 张静 (finance) generates December's pension
batch, 陈立新 (a second finance user) approves it, 张静 exports the bank file, takes the site's 模拟银行回盘 (some
failures and one line the batch does not have) and imports it, resolves the exception and closes the batch; the
caseworker 王丽娟 corrects the passbook of one pensioner whose payment failed; in January that payment is re-issued
with the month due; and the ledger's trial balance and accounts agree with the lines to the fen.

Every step GETs a page, reads the form off it and posts it back as a browser would (tests/e2e/test_story.py);
the background jobs run on the test's own session (tests/payments/test_views.py's ``Borrowed``)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.demo.load import load_demo
from app.ledger import rules as ledger_rules
from app.payments import jobs
from app.socialsecurity import service as social
from tests.agreements.helpers import principal
from tests.e2e.test_story import BROWSER, Browser, flash_of, form_at, link
from tests.payments.test_views import Borrowed
from tests.socialsecurity.factories import Pin
from tests.web.pages import text_of

QFZ_PATH_NAME = "前方庄村"
NEW_ACCOUNT = "6221 8801 2345 6789 012"


def _clock(pin: Pin, day: date) -> None:
    pin(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC))  # 10:00 in China


async def _job(browser: Browser, sessions: Borrowed, db: AsyncSession, r: httpx.Response) -> str:
    """The job page at the end of the job ``r`` was redirected to (its progress page first)."""
    assert r.status_code == 200 and r.url.path.startswith("/payment-jobs/"), (r.status_code, r.url)
    assert r.headers.get("refresh") == "2", "the job page refreshes itself while the job runs"
    job = jobs.get_job(await principal(db, "finance"), r.url.path.rsplit("/", 1)[1])
    sessions.release()
    async with asyncio.timeout(120):
        await jobs.wait(job)
    done = await browser.client.get(r.url.path)
    assert done.status_code == 200 and "refresh" not in done.headers
    sessions.hold()
    return done.text


async def _download(browser: Browser, page: str, action: str, **values: str) -> bytes:
    """A form whose buttons choose the file format (``name="format"``): sent as the pressed button would."""
    form = form_at(page, action)
    r = await browser.client.post(action, data={**form.values(), **values})
    assert r.status_code == 200, (action, r.status_code, r.text[:2000])
    assert r.headers["content-disposition"].startswith("attachment;")
    return r.content


async def _generate(browser: Browser, sessions: Borrowed, db: AsyncSession, period: str) -> tuple[str, str]:
    page = await browser.get("/payments")
    assert form_at(page, "/payments/generate").values()["period"] == period  # this month is the default
    sessions.hold()
    r = await browser.submit(page, "/payments/generate", period=period, scope="county")
    done = await _job(browser, sessions, db, r)
    message = text_of(done)
    url = link(done, r"/payments/\d+")
    return url, message


async def _approve_and_export(browser: Browser, url: str) -> bytes:
    await browser.logout()
    await browser.login("finance2", "陈立新")
    page = await browser.get(url)
    r = await browser.submit(page, f"{url}/approve", confirm="1")
    assert flash_of(r.text).startswith("已审核通过：发放批次")
    await browser.logout()
    await browser.login("finance", "张静")
    page = await browser.get(url)
    return await _download(browser, page, f"{url}/export", format="psbc", confirm="1")


async def _net(db: AsyncSession, code: str) -> int:
    return int(
        await db.scalar(
            text(
                "SELECT coalesce(sum(l.debit - l.credit), 0) FROM journal_lines l "
                "JOIN ledger_accounts a ON a.id = l.account_id WHERE a.code = :c"
            ),
            {"c": code},
        )
        or 0
    )


async def test_december_batch_to_january_reissue(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, pinned_clock: Pin
) -> None:
    _clock(pinned_clock, date(2026, 12, 5))
    await load_demo(db)
    await db.commit()
    sessions = Borrowed(db)
    app.state.sessionmaker = sessions
    client.headers.update(BROWSER)
    browser = Browser(client)
    bank_before = await _net(db, ledger_rules.SS_BANK)

    # (1) 张静 generates December's batch for the county: a job with its progress page.
    await browser.login("finance", "张静")
    url, message = await _generate(browser, sessions, db, "2026-12")
    assert "已生成发放批次 YL202612-410727：" in message and "下一步：由另一位财政人员审核" in message
    lines = int(re.search(r"YL202612-410727：(\d+) 笔", message).group(1))  # type: ignore[union-attr]
    assert lines > 100

    # (2) 陈立新 approves; (3) 张静 exports the bank file: GBK text whose trailer carries count and total.
    exported = await _approve_and_export(browser, url)
    trailer = exported.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1].decode("gbk").split("|")
    assert trailer[0] == "T" and int(trailer[1]) == lines and trailer[3] == "YL202612-410727"
    page = await browser.get(url)
    assert "已导出" in text_of(page)

    # (4) the training site's simulated bank answer, imported through the upload form as a job.
    result = await _download(browser, page, f"{url}/training-result", format="psbc")
    failed_expected = len(range(1, lines, 10))
    form = form_at(page, f"{url}/import")
    sessions.hold()
    r = await client.post(
        f"{url}/import",
        data=form.filled(format="psbc", confirm="1"),
        files={"file": ("模拟回盘.txt", result, "text/plain")},
    )
    assert r.status_code == 303, r.text[:2000]
    r = await client.get(r.headers["location"])
    done = text_of(await _job(browser, sessions, db, r))
    assert f"发放成功 {lines - failed_expected} 笔" in done, done
    assert f"发放失败 {failed_expected} 笔" in done and "1 行对不上" in done

    # (5) the line the batch does not have is an exception: dismissed after checking with the bank.
    page = await browser.get(url)
    assert "找不到对应的发放明细" in text_of(page)
    resolve = link(page, rf"{url}/exceptions/\d+/resolve", attribute="action")
    exception_id = resolve.split("/")[-2]
    typed: dict[str, str] = {
        f"resolution_{exception_id}": "dismissed",
        f"note_{exception_id}": "与银行核实：不属于本批次",
        f"confirm_{exception_id}": "1",
    }
    r = await browser.submit(page, resolve, expect=303, **typed)
    assert "已处理差错" in flash_of(r.text) and "已对账，可以关闭批次" in r.text
    report = await browser.get(f"{url}/reconciliation")
    assert "账实相符" in report and "✗" not in report
    assert not re.search(r"\d{4,}\.\d\d", text_of(report)), "amounts on the report are grouped: 76,180.00"
    r = await browser.submit(await browser.get(url), f"{url}/close", confirm="1")
    assert "已关闭发放批次 YL202612-410727" in flash_of(r.text)

    # (6) a failed payment of 前方庄村: its pensioner's page is linked from the failed line.
    failed_page = await browser.get(f"{url}?status=failed")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", failed_page, re.S)
    ours = [row for row in rows if re.search(f"<td[^>]*>{QFZ_PATH_NAME}</td>", row) and "发放失败" in row]
    assert ours, "a failed line in 前方庄村"
    person_url = link(ours[0], r"/social-security/people/\d+")
    enrollment_id = int(person_url.rsplit("/", 1)[1])
    await browser.logout()

    # (7) 王丽娟, 前方庄村's caseworker, records the corrected passbook.
    await browser.login("caseworker", "王丽娟")
    page = await browser.get(person_url)
    r = await browser.submit(
        page,
        f"{person_url}/passbook",
        bank_name="中国邮政储蓄银行封丘县支行",
        account_number=NEW_ACCOUNT,
        opened_on="2026-12-04",
    )
    assert flash_of(r.text).startswith("已保存：") and "专用存折" in flash_of(r.text)
    await browser.logout()

    # (8) January: the failed December payment of that pensioner is re-issued with January, to the new passbook;
    # the others wait for their passbooks.
    _clock(pinned_clock, date(2027, 1, 6))
    await browser.login("finance", "张静")
    january, message = await _generate(browser, sessions, db, "2027-01")
    assert "重发失败明细 1 笔" in message, message
    page = await browser.get(f"{january}?status=pending")
    row = next(r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S) if person_url in r)
    shown = text_of(row)
    assert "2026年12月至2027年1月（2个月）（重发）" in shown and "520.00" in shown, shown
    assert (
        "6221 **** **** 9012" in shown and "".join(NEW_ACCOUNT.split()) not in row
    )  # the new passbook, masked
    await _approve_and_export(browser, january)

    # (9) the ledger: balanced, and the accounts agree with the lines to the fen.
    page = await browser.get("/ledger")
    assert "试算平衡：借方合计 = 贷方合计" in text_of(page)
    paid, in_transit = (
        await db.execute(
            text(
                """
                SELECT coalesce(sum(l.amount) FILTER (WHERE o.paid), 0),
                       coalesce(sum(l.amount) FILTER (WHERE o.line_id IS NULL), 0)
                FROM payment_lines l JOIN payment_batches b ON b.id = l.batch_id
                LEFT JOIN line_outcomes o ON o.line_id = l.id
                WHERE b.number IN ('YL202612-410727', 'YL202701-410727')
                """
            )
        )
    ).one()
    assert await _net(db, ledger_rules.SS_CLEARING) == in_transit > 0
    assert bank_before - await _net(db, ledger_rules.SS_BANK) == paid + in_transit
    assert await db.scalar(text("SELECT sum(debit) - sum(credit) FROM journal_lines")) == 0
    months = await social.effective_months(db, enrollment_id)
    december = next(m for m in months if m.month == date(2026, 12, 1))
    assert december.status == "pending" and december.period == date(2027, 1, 1)
