"""The payment pages as finance users use them: generating the monthly batch through its job page, approval by a
second finance user (the preparer refused on the page), the bank file as a POST download equal to the service's
export, a result file uploaded with one failure and one unknown reference, the exception resolved through its
form, the reconciliation report, closing, the 发放台账 downloads (audited), and who may see what."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date
from io import BytesIO
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.money import format_yuan, to_chinese_capital
from app.payments import bankfiles, jobs, service, views
from app.payments.models import BankException, PaymentBatch, ResultImport
from tests.agreements.helpers import at, principal
from tests.payments.helpers import result_lines, world
from tests.payments.test_api import token
from tests.payments.test_service import _exported_june
from tests.seed import SEED
from tests.socialsecurity.factories import Pin
from tests.socialsecurity.test_views import pdf_text
from tests.web.pages import Browser, field_error, post_form, text_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OLD = date(1955, 5, 5)  # a pensioner from 2023-06
TODAY = date(2023, 6, 5)


class Borrowed:
    """The app's session factory for background jobs, in tests: the job's transaction becomes a savepoint of the
    test's, and a job only starts once the request that started it is over (``release``), so the one session is
    never used by two tasks at once."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.gate = asyncio.Event()

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        self.gate.set()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        await self.gate.wait()
        yield self.db


@pytest.fixture
def job_sessions(app: FastAPI, db: AsyncSession) -> Iterator[Borrowed]:
    borrowed = Borrowed(db)
    app.state.sessionmaker = borrowed
    yield borrowed


async def run_job(c: httpx.AsyncClient, sessions: Borrowed, r: httpx.Response) -> str:
    """Follow a job started by ``r`` to its end; the job page's text."""
    assert r.status_code == 303, r.text
    job_url = r.headers["location"]
    assert job_url.startswith("/payment-jobs/")
    waiting = await c.get(job_url)  # before the job may start: the progress page, refreshing itself
    assert waiting.status_code == 200 and waiting.headers["refresh"] == "2"
    assert 'http-equiv="refresh"' in waiting.text
    job = jobs.get_job(await principal(sessions.db, "fin"), job_url.rsplit("/", 1)[1])
    sessions.release()
    async with asyncio.timeout(60):
        await jobs.wait(job)
    done = await c.get(job_url)
    assert done.status_code == 200 and "refresh" not in done.headers
    return done.text


def error_at(page: str, name: str) -> str | None:
    found = field_error(page, name)
    return None if found is None else found.removeprefix("错误：").strip()


async def downloads(db: AsyncSession) -> int:
    return int(
        await db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment_batch.download")
        )
        or 0
    )


async def test_who_sees_the_pages(browser: Browser, db: AsyncSession, pinned_clock: Pin) -> None:
    pinned_clock(at(TODAY))
    cw = await browser("cw_a")
    home = await cw.get("/social-security")
    assert "资金发放" not in home.text and "资金账务" not in home.text
    for url in ("/payments", "/ledger", "/payments/1", "/ledger/accounts/1"):
        r = await cw.get(url)
        assert r.status_code == 403, url
        assert "无权" in r.text
    r = await cw.post("/payments/generate", data={"period": "2023-06", "scope": "county"})
    assert r.status_code == 403

    aud = await browser("aud")
    page = await aud.get("/payments")
    assert page.status_code == 200
    assert 'href="/payments" aria-current="page">资金发放' in page.text and 'href="/ledger"' in page.text
    assert "生成养老金发放批次" not in page.text and "还没有发放批次" in page.text
    assert 'name="kind"' not in page.text  # no filters over an empty list
    ledger = await aud.get("/ledger")
    assert ledger.status_code == 200 and 'action="/ledger/deposit"' not in ledger.text

    fin = await browser("fin")
    page = await fin.get("/payments")
    assert page.status_code == 200 and 'action="/payments/generate"' in page.text
    assert 'value="2023-06"' in page.text and "全县（封丘县）" in page.text and "王村乡" in page.text
    assert "重发全部失败明细（默认只重发存折已更换的）" in page.text
    r = await post_form(fin, "/payments", "/payments/generate", {"period": "2023-13", "scope": "county"})
    assert r.status_code == 422 and error_at(r.text, "period") == "不存在的年月：2023-13"
    r = await post_form(fin, "/payments", "/payments/generate", {"period": "2023-07", "scope": "county"})
    assert r.status_code == 422 and error_at(r.text, "period") == "不能生成未来月份的发放批次"
    assert 'value="2023-07"' in r.text  # what was typed stays
    r = await post_form(fin, "/payments", "/payments/generate", {"period": "2023-06", "scope": "99999"})
    assert r.status_code == 422 and error_at(r.text, "scope") == "请选择发放范围：全县或一个乡镇"


async def test_nothing_due_fails_the_job_in_chinese(
    browser: Browser, db: AsyncSession, pinned_clock: Pin, job_sessions: Borrowed
) -> None:
    pinned_clock(at(TODAY))
    fin = await browser("fin")
    r = await post_form(fin, "/payments", "/payments/generate", {"period": "2023-06", "scope": "county"})
    page = await run_job(fin, job_sessions, r)
    assert "生成养老金发放批次未完成，没有保存任何数据" in page
    assert "2023年6月在该范围内没有应发放的养老金" in page
    assert await db.scalar(select(func.count()).select_from(PaymentBatch)) == 0


async def test_batch_from_generation_to_close(
    browser: Browser, db: AsyncSession, pinned_clock: Pin, job_sessions: Borrowed
) -> None:
    w = await world(db, pinned_clock, [OLD, OLD, OLD])
    pinned_clock(at(TODAY))
    fin, fin2 = await browser("fin"), await browser("fin2")

    # Generate through the page: a job with its progress page, then a link to the batch.
    r = await post_form(fin, "/payments", "/payments/generate", {"period": "2023-06", "scope": "county"})
    done = await run_job(fin, job_sessions, r)
    assert "已生成发放批次 YL202306-410727：3 笔，合计 780.00 元" in done
    batch = await db.scalar(select(PaymentBatch).where(PaymentBatch.number == "YL202306-410727"))
    assert batch is not None
    url = f"/payments/{batch.id}"
    assert f'href="{url}"' in done
    listing = await fin.get("/payments")
    assert "YL202306-410727" in listing.text and "2023年6月" in listing.text
    assert "0 / 0 / 3" in listing.text and "780.00" in listing.text

    # The same period and scope again: said so, and linked.
    r = await post_form(fin, "/payments", "/payments/generate", {"period": "2023-06", "scope": "county"})
    assert r.status_code == 303 and r.headers["location"] == url
    page = await fin.get(url)
    assert "本期该范围的发放批次 YL202306-410727 已经存在（待审核），没有重复生成" in page.text

    # The batch page: totals in figures and capitals, who prepared it, masked numbers only.
    page = await fin.get(url)
    text = text_of(page.text)
    assert "780.00 元（柒佰捌拾元整）" in text and "待审核" in text
    assert "须由编制人以外的另一位财政人员审核" in text
    for number in w.accounts.values():
        assert number not in page.text and number[-4:] in page.text

    # The preparer may not approve: refused on the page, with the reason.
    r = await post_form(fin, url, f"{url}/approve", {"confirm": "1"})
    assert r.status_code == 403 and "批次须由编制人以外的另一位财政人员审核" in r.text
    r = await post_form(fin2, url, f"{url}/approve", {})
    assert r.status_code == 422 and error_at(r.text, "confirm")
    r = await post_form(fin2, url, f"{url}/approve", {"confirm": "1"})
    assert r.status_code == 303
    page = await fin2.get(url)
    assert "已审核通过：发放批次 YL202306-410727（3 笔，合计 780.00 元）" in page.text
    # The next step is said once, after the status: not "已审核 已审核：…".
    next_step = re.search(r'<p class="next-step">(.*?)</p>', page.text, re.S)
    assert next_step is not None and text_of(next_step.group(1)).strip().startswith(
        "已审核 导出代发文件交银行代发"
    )

    # The bank file: a POST download, the service's bytes; the first export asks for confirmation.
    r = await post_form(fin, url, f"{url}/export", {"format": "psbc"})
    assert r.status_code == 422 and error_at(r.text, "confirm")
    r = await post_form(fin, url, f"{url}/export", {"format": "psbc", "confirm": "1"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].lower() == "text/plain; charset=gbk"
    assert r.headers["content-disposition"].startswith("attachment;")
    kept = await service.export_batch(db, await principal(db, "fin"), batch.id, "psbc")
    assert r.content == kept.content
    r = await post_form(fin, url, f"{url}/export", {"format": "xlsx"})  # no confirmation once exported
    assert r.status_code == 200 and r.headers["content-type"] == XLSX and r.content.startswith(b"PK")

    # The bank's answer: one failed, one reference not of this batch. Imported through the upload, as a job.
    assert f'action="{url}/import"' in (await fin.get(url)).text  # three lines wait for the bank
    lines = await result_lines(db, batch)
    failed = dataclasses.replace(lines[1], paid=False, reason="账户已销户")
    unknown = dataclasses.replace(lines[0], seq=99, reference=f"{batch.number}-0000099")
    content = bankfiles.result_file("psbc", batch.number, [lines[0], failed, lines[2], unknown])
    r = await post_form(fin, url, f"{url}/import", {"format": "psbc", "confirm": "1"})
    assert r.status_code == 422 and error_at(r.text, "file") == "请选择银行的回盘文件"
    # Not confirmed: refused before a job starts, the choice of format kept.
    r = await post_form(
        fin, url, f"{url}/import", {"format": "psbc"}, files={"file": ("回盘.txt", content, "text/plain")}
    )
    assert r.status_code == 422
    assert error_at(r.text, "confirm") == "请先勾选确认：导入后银行结果记入发放明细和账务，不能撤销"
    assert '<option value="psbc" selected>' in r.text
    assert await db.scalar(select(func.count()).where(ResultImport.batch_id == batch.id)) == 0
    job_sessions.hold()
    r = await post_form(
        fin,
        url,
        f"{url}/import",
        {"format": "psbc", "confirm": "1"},
        files={"file": ("回盘.txt", content, "text/plain")},
    )
    done = await run_job(fin, job_sessions, r)
    assert "已导入 回盘.txt：发放成功 2 笔 520.00 元，发放失败 1 笔 260.00 元，1 行对不上" in done
    # The same file again: refused whole, said on the job page.
    job_sessions.hold()
    r = await post_form(
        fin,
        url,
        f"{url}/import",
        {"format": "psbc", "confirm": "1"},
        files={"file": ("again.txt", content, "text/plain")},
    )
    again = await run_job(fin, job_sessions, r)
    assert "导入回盘文件未完成，没有保存任何数据" in again and "不能重复导入" in again

    page = await fin.get(f"{url}?status=failed")
    rows = re.findall(r"<tbody>(.*?)</tbody>", page.text, re.S)[-1]
    assert rows.count("<tr") == 1 and "发放失败：账户已销户" in rows
    assert "已导入结果" in page.text and "找不到对应的发放明细" in page.text
    # Every line has its result: a further file could only be exceptions, so no upload form is offered.
    assert f'action="{url}/import"' not in page.text
    assert "每笔都已有银行结果，还有 1 条差错未处理" in page.text
    exception_id = await db.scalar(
        select(func.min(BankException.id)).where(BankException.batch_id == batch.id)
    )
    assert exception_id is not None
    resolve = f"{url}/exceptions/{exception_id}/resolve"
    # Only "not this batch" is offered when no line matches.
    form = page.text.split(f'action="{resolve}"')[1].split("</form>")[0]
    assert 'value="dismissed"' in form and 'value="paid"' not in form
    r = await post_form(fin, url, resolve, {f"resolution_{exception_id}": "dismissed"})
    assert r.status_code == 422
    assert error_at(r.text, f"note_{exception_id}") == "请填写处理说明（如与银行核实的情况）"
    assert error_at(r.text, f"confirm_{exception_id}") == "请先勾选确认：处理后不能更改"
    typed = {f"resolution_{exception_id}": "dismissed", f"note_{exception_id}": "银行误列"}
    r = await post_form(fin, url, resolve, typed)  # not confirmed: nothing recorded, what was typed kept
    assert r.status_code == 422 and error_at(r.text, f"note_{exception_id}") is None
    assert error_at(r.text, f"confirm_{exception_id}") == "请先勾选确认：处理后不能更改"
    assert 'value="银行误列"' in r.text
    assert await db.scalar(select(BankException.resolution).where(BankException.id == exception_id)) is None
    r = await post_form(fin, url, resolve, {**typed, f"confirm_{exception_id}": "1"})
    assert r.status_code == 303 and r.headers["location"] == f"{url}#exceptions"
    page = await fin.get(url)
    assert "已处理差错：回盘文件第 4 行" in page.text and "已对账，可以关闭批次" in page.text

    # The reconciliation report.
    report = await fin.get(f"{url}/reconciliation")
    assert report.status_code == 200
    assert report.text.count("✓ 相符") == 4 and "✗" not in report.text
    assert "账实相符" in report.text and "回盘.txt" in report.text
    assert kept.sha256.hex()[:16] not in report.text  # the export's hash is not an import's
    result_import = (await service.imports_of(db, await principal(db, "fin"), batch.id))[0]
    assert result_import.sha256.hex()[:16] in report.text
    # … and as a PDF to sign and file: the same figures (with 大写), checks, file and exception, and the signatures.
    assert f'href="{url}/reconciliation.pdf"' in report.text
    r = await fin.get(f"{url}/reconciliation.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "对账报告-YL202306-410727.pdf" in unquote(r.headers["content-disposition"])
    printed = " ".join(pdf_text(r.content).split())
    for shown in (
        "资金发放对账报告",
        "YL202306-410727（养老金）",
        "账实相符：各项核对一致",
        f"送银行代发 {batch.line_count} {format_yuan(batch.total)} {to_chinese_capital(batch.total)}",
        "已发放 + 失败 + 待处理 = 批次合计",
        "回盘.txt",
        result_import.sha256.hex()[:16],
        "银行误列",
        "经办人：",
        "财政局负责人：",
    ):
        assert shown in printed, shown
    assert printed.count("✓ 相符") == 4 and "✗" not in printed

    # Ledger downloads, for the batch and for one village: PDF and XLSX, each audited.
    before = await downloads(db)
    r = await fin.get(f"{url}/ledger.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    village = SEED.paths["410727101201"]
    r = await fin.get(f"{url}/ledger.xlsx", params={"village": village})
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    sheet = load_workbook(BytesIO(r.content)).active
    assert sheet is not None
    values = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "发放失败" in values and "合计" in values
    assert await downloads(db) == before + 2
    r = await fin.get(f"{url}/ledger.pdf", params={"village": "not-a-path"})
    assert r.status_code == 422

    # The statement of the clearing account links back to the batch.
    ledger = await fin.get("/ledger")
    clearing = re.search(r'<a href="(/ledger/accounts/\d+)">养老金代发在途</a>', ledger.text)
    assert clearing is not None
    statement = await fin.get(clearing.group(1))
    assert statement.status_code == 200 and f'<a href="{url}">YL202306-410727</a>' in statement.text
    assert "代发资金划出" in statement.text

    # Close.
    r = await post_form(fin, url, f"{url}/close", {"confirm": "1"})
    assert r.status_code == 303
    page = await fin.get(url)
    assert "已关闭发放批次 YL202306-410727" in page.text
    next_step = re.search(r'<section[^>]*id="next".*?</section>', page.text, re.S)
    assert next_step is not None and "<form" not in next_step.group(0)  # nothing more to do

    aud = await browser("aud")
    page = await aud.get(url)
    assert page.status_code == 200 and "已关闭" in page.text and f'action="{url}/export"' not in page.text
    assert (await aud.get(f"{url}/reconciliation")).status_code == 200
    r = await aud.get(f"{url}/ledger.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


async def test_export_refused_without_money_shows_on_the_page(
    browser: Browser, db: AsyncSession, pinned_clock: Pin
) -> None:
    await world(db, pinned_clock, [OLD], deposit=100)
    pinned_clock(at(TODAY))
    fin = await principal(db, "fin")
    generated = await service.generate_pension_batch(db, fin, date(2023, 6, 1))
    await service.approve_batch(db, await principal(db, "fin2"), generated.batch.id)
    c = await browser("fin")
    url = f"/payments/{generated.batch.id}"
    r = await post_form(c, url, f"{url}/export", {"format": "csv", "confirm": "1"})
    assert r.status_code == 409 and "不足以支付本批次" in r.text and "请先登记资金拨入" in r.text
    assert (await service.batch_summary(db, fin, generated.batch.id)).batch.status == "approved"


async def test_many_exceptions_are_listed_a_bounded_number_at_a_time(
    browser: Browser, db: AsyncSession, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad bank file can leave a great many exceptions: the batch page lists them a page at a time, the open
    ones first, says how many there are, and finds them by line of the file, 业务参考号 or name; a resolve keeps
    the page it was made on; the reconciliation report (page, PDF, API) lists the first ones by line of the file
    and counts them all; the API pages through them."""
    monkeypatch.setattr(views, "EXCEPTIONS_PAGE", 2)
    monkeypatch.setattr(service, "REPORTED_EXCEPTIONS", 3)
    fin_user, batch = await _exported_june(db, pinned_clock)
    lines = await result_lines(db, batch)
    unknown = [
        dataclasses.replace(lines[0], seq=90 + i, reference=f"{batch.number}-00000{90 + i}") for i in range(5)
    ]
    content = bankfiles.result_file("psbc", batch.number, [*lines, *unknown])
    await service.import_results(db, fin_user, batch.id, fmt="psbc", filename="回盘.txt", content=content)
    await db.commit()
    found = await service.exceptions(db, fin_user, batch.id)
    ids = [e.exception.id for e in found]
    assert len(ids) == 5 and [e.exception.row_no for e in found] == [4, 5, 6, 7, 8]

    fin = await browser("fin")
    url = f"/payments/{batch.id}"
    shown = re.compile(r'id="exception-(\d+)"')
    page = await fin.get(url)
    assert "共 5 条，未处理 5 条；未处理的在前，每页 2 条" in page.text and "第 1 / 3 页" in page.text
    assert shown.findall(page.text) == [str(i) for i in ids[:2]]
    assert f'href="{url}?xpage=3#exceptions"' in page.text
    page = await fin.get(url, params={"xpage": 3})
    assert shown.findall(page.text) == [str(ids[4])]
    # found by line of the file, by a fragment of the reference (any case), not by what is in neither
    page = await fin.get(url, params={"xq": "7"})
    assert shown.findall(page.text) == [str(ids[3])] and "符合“7”的共 1 条" in page.text
    page = await fin.get(url, params={"xq": f"{batch.number.lower()}-0000092"})
    assert shown.findall(page.text) == [str(ids[2])]
    page = await fin.get(url, params={"xq": "无此人"})
    assert shown.findall(page.text) == [] and "没有符合“无此人”的差错" in page.text
    # A form left empty on page 3 comes back on page 3 with its error; resolved there, the answer is page 3 again.
    x = ids[4]
    r = await post_form(fin, f"{url}?xpage=3", f"{url}/exceptions/{x}/resolve", {"xpage": "3"})
    assert r.status_code == 422 and shown.findall(r.text) == [str(x)] and "请填写处理说明" in r.text
    r = await post_form(
        fin,
        f"{url}?xpage=3",
        f"{url}/exceptions/{x}/resolve",
        {"xpage": "3", f"resolution_{x}": "dismissed", f"note_{x}": "银行误列", f"confirm_{x}": "1"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}?xpage=3#exceptions"
    # Then the first two: the open ones come up first, the resolved ones after them.
    for x in ids[:2]:
        r = await post_form(
            fin,
            url,
            f"{url}/exceptions/{x}/resolve",
            {f"resolution_{x}": "dismissed", f"note_{x}": "银行误列", f"confirm_{x}": "1"},
        )
        assert r.status_code == 303 and r.headers["location"] == f"{url}#exceptions"
    page = await fin.get(url)
    assert "共 5 条，未处理 2 条" in page.text
    assert shown.findall(page.text) == [str(i) for i in ids[2:4]]

    report = await fin.get(f"{url}/reconciliation")
    assert "2 / 5" in report.text and "共 5 条，下面按回盘文件的行序列出前 3 条" in report.text
    assert [
        int(n) for n in re.findall(r'<td class="num">(\d+)</td>\s*<td class="nowrap">YL', report.text)
    ] == [
        4,
        5,
        6,
    ]
    printed = " ".join(pdf_text((await fin.get(f"{url}/reconciliation.pdf")).content).split())
    assert "共 5 条，以下按回盘文件的行序列出前 3 条" in printed and "2/5" in printed.replace(" ", "")

    bearer = await token(fin, "fin")
    api = await fin.get(
        f"/api/v1/payments/batches/{batch.id}/exceptions", params={"offset": 3, "limit": 2}, headers=bearer
    )
    assert api.status_code == 200 and [e["row_no"] for e in api.json()] == [7, 8]
    api = await fin.get(
        f"/api/v1/payments/batches/{batch.id}/exceptions", params={"q": "-0000093"}, headers=bearer
    )
    assert api.status_code == 200 and [e["row_no"] for e in api.json()] == [7]
    api = await fin.get(f"/api/v1/payments/batches/{batch.id}/reconciliation", headers=bearer)
    assert api.json()["exception_count"] == 5 and len(api.json()["exceptions"]) == 3


async def test_a_whole_batch_too_big_for_one_pdf_is_printed_per_village(
    browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    pinned_clock: Pin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = await token(client, "fin")
    await world(db, pinned_clock, [OLD, OLD])
    pinned_clock(at(TODAY))
    batch = (await service.generate_pension_batch(db, await principal(db, "fin"), date(2023, 6, 1))).batch
    assert batch.line_count == 2
    bid = batch.id
    await db.commit()  # a refused request rolls its transaction back
    monkeypatch.setattr(service, "LEDGER_PDF_MAX_LINES", 1)  # the rule at a size a test can reach
    fin = await browser("fin")
    url = f"/payments/{bid}"
    page = await fin.get(url)
    assert f'href="{url}/ledger.pdf"' not in page.text and f'href="{url}/ledger.xlsx"' in page.text
    assert "本批次超过 1 笔，整批台账 PDF 太大，不能在网页上一次生成：请按村下载 PDF" in text_of(page.text)
    village = SEED.paths["410727101201"]
    assert f'href="{url}/ledger.pdf?village={village}"' in page.text
    before = await downloads(db)
    r = await fin.get(f"{url}/ledger.pdf")
    assert r.status_code == 409
    assert "本批次共 2 笔，整批发放台账 PDF 约 1 页，不能在网页上一次生成（上限 1 笔）" in r.text
    api = await client.get(f"/api/v1/payments/batches/{bid}/ledger.pdf", headers=headers)
    assert api.status_code == 409 and "请在批次页“各村合计”中按村下载 PDF" in api.text
    assert await downloads(db) == before  # nothing made, nothing audited
    r = await fin.get(f"{url}/ledger.pdf", params={"village": village})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert (await fin.get(f"{url}/ledger.xlsx")).status_code == 200
    assert await downloads(db) == before + 2


async def test_find_a_line_by_name_number_or_reference(
    browser: Browser, db: AsyncSession, pinned_clock: Pin
) -> None:
    await world(db, pinned_clock, [OLD, OLD, OLD])
    pinned_clock(at(TODAY))
    fin_p = await principal(db, "fin")
    batch = (await service.generate_pension_batch(db, fin_p, date(2023, 6, 1))).batch
    lines = await service.batch_lines(db, fin_p, batch.id)
    assert len(lines) == 3
    target = lines[1]
    part = target.name[1:]  # a part of the name ("保人001"): the others' names differ in it
    assert all(part not in line.name for line in lines if line is not target)
    fin = await browser("fin")
    url = f"/payments/{batch.id}"

    def listed(page: str) -> list[str]:
        body = page.split('id="lines"')[1].split("<tbody>")[1].split("</tbody>")[0]
        return [text_of(row).split()[0] for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]

    for query in (part, str(target.seq), target.reference, target.reference.lower()):
        page = await fin.get(url, params={"q": query})
        assert page.status_code == 200
        assert listed(page.text) == [str(target.seq)], query
        assert "符合条件的共 1 笔" in text_of(page.text)
        assert f'value="{query}"' in page.text  # what was typed stays in the box
    for nothing in ("查无此人", "%", "_"):  # LIKE's wildcards are searched as themselves
        page = await fin.get(url, params={"q": nothing})
        assert "符合条件的共 0 笔" in text_of(page.text), nothing
    assert service.line_search(batch.number, f" {batch.number.lower()}-0000017 ") == (17, None)
    assert service.line_search(batch.number, "12345678") == (None, "%12345678%")
    # Filters combine (status, village, text) and the XLSX download takes the same ones.
    village = SEED.paths["410727101201"]
    page = await fin.get(url, params={"q": part, "village": village, "status": "pending"})
    assert listed(page.text) == [str(target.seq)]
    xlsx = re.search(r'href="(/payments/\d+/lines\.xlsx\?[^"]+)"', page.text)
    assert xlsx is not None
    r = await fin.get(xlsx.group(1).replace("&amp;", "&"))
    assert r.status_code == 200
    sheet = load_workbook(BytesIO(r.content)).active
    assert sheet is not None
    rows = [row for row in sheet.iter_rows(values_only=True)][1:]
    assert [row[0] for row in rows] == [target.seq]
    page = await fin.get(url, params={"q": part, "status": "paid"})
    assert "已发放 符合条件的共 0 笔" in text_of(page.text)
    # A village not of this batch is no filter.
    assert len(listed((await fin.get(url, params={"village": "/9/9/9/"})).text)) == 3


async def test_lines_the_bank_left_out_wait_for_a_further_file(
    browser: Browser, db: AsyncSession, pinned_clock: Pin
) -> None:
    """A result file without some of the batch's lines leaves them pending (not exceptions): the page says so and
    what to do; the bank's further file for them completes the batch."""
    fin_user, batch = await _exported_june(db, pinned_clock)
    lines = await result_lines(db, batch)
    first = bankfiles.result_file("psbc", batch.number, lines[:1])
    await service.import_results(db, fin_user, batch.id, fmt="psbc", filename="回盘一.txt", content=first)
    await db.commit()
    fin = await browser("fin")
    url = f"/payments/{batch.id}"
    page = text_of((await fin.get(url)).text)
    assert "还有 2 笔待银行处理（已导入的回盘文件里没有这些明细）、0 条差错未处理" in page
    assert "请向银行索取这些明细的回盘文件后在下方导入" in page
    pending = await fin.get(url, params={"status": "pending"})
    assert "待银行处理 共 2 笔" in text_of(pending.text)
    rest = bankfiles.result_file("psbc", batch.number, lines[1:])
    await service.import_results(db, fin_user, batch.id, fmt="psbc", filename="回盘二.txt", content=rest)
    summary = await service.batch_summary(db, fin_user, batch.id)
    assert (summary.batch.status, summary.paid, summary.pending) == ("reconciled", 3, 0)


async def test_batch_list_filters_and_pages(
    browser: Browser, db: AsyncSession, pinned_clock: Pin, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world(db, pinned_clock, [OLD, OLD])
    pinned_clock(at(date(2023, 7, 5)))
    fin_p = await principal(db, "fin")
    june = await service.generate_pension_batch(db, fin_p, date(2023, 6, 1))
    await service.generate_pension_batch(db, fin_p, date(2023, 7, 1))
    await service.approve_batch(db, await principal(db, "fin2"), june.batch.id)
    fin = await browser("fin")

    def numbers(page: str) -> list[str]:
        return re.findall(r'<a href="/payments/\d+">(YL\d{6}-\d{6})</a>', page)

    page = await fin.get("/payments")
    assert numbers(page.text) == ["YL202307-410727", "YL202306-410727"]  # the latest period first
    assert "共 2 个批次，每页 50 个" in page.text and '<option value="2023">2023年</option>' in page.text
    approved = await fin.get("/payments", params={"status": "approved"})
    assert numbers(approved.text) == ["YL202306-410727"] and "符合条件的共 1 个批次" in approved.text
    assert '<option value="approved" selected>' in approved.text and "显示全部" in approved.text
    none = await fin.get("/payments", params={"kind": "compensation", "year": "2023"})
    assert numbers(none.text) == [] and "没有符合条件的发放批次。" in none.text
    assert numbers((await fin.get("/payments", params={"year": "2022"})).text) == []
    # Values that are not offered are ignored rather than refused (a bookmark from an older version).
    assert len(numbers((await fin.get("/payments", params={"status": "bogus", "year": "abcd"})).text)) == 2

    monkeypatch.setattr(views, "BATCH_PAGE", 1)
    first, second = await fin.get("/payments"), await fin.get("/payments", params={"page": "2"})
    assert numbers(first.text) == ["YL202307-410727"] and "第 1 / 2 页" in first.text
    assert numbers(second.text) == ["YL202306-410727"] and "第 2 / 2 页" in second.text
