"""Lists as XLSX, "with the same columns as on screen": the household list, the eligibility list (参保人员名册), a
payment batch's lines and the ledger's balances and account statement. Each download's header row is the page
table's header row, its rows are the page's rows (all of them: the page here has one page), ID and account numbers
are masked as on the page, and every download is in the audit trail."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from io import BytesIO

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.clock import format_date_cn
from app.core.money import format_yuan, yuan_to_fen
from app.payments import service as payments
from app.payments.models import PaymentBatch
from app.socialsecurity.rules import parse_month
from tests.agreements.helpers import at, principal
from tests.payments.helpers import world
from tests.seed import SEED
from tests.socialsecurity.factories import Pin
from tests.socialsecurity.test_views import enrolled_h1
from tests.web.pages import Browser, text_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VILLAGE = "410727101201"
OLD = date(1955, 5, 5)
TODAY = date(2023, 6, 5)


def page_table(page: str, section_id: str | None = None) -> tuple[list[str], list[list[str]]]:
    """The header cells and body rows (visible text) of the first data table of a page or of one section."""
    if section_id is not None:
        found = re.search(rf'<section[^>]*\bid="{section_id}".*?</section>', page, re.S)
        assert found, section_id
        page = found.group(0)
    table = re.search(r'<table class="data"[^>]*>(.*?)</table>', page, re.S)
    assert table, "no table"
    head = re.search(r"<thead>(.*?)</thead>", table.group(1), re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    assert head and body
    cells = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
    headers = [text_of(c).strip() for c in cells.findall(head.group(1))]
    rows = [
        [text_of(c).strip() for c in cells.findall(row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]
    return headers, rows


def workbook(r: httpx.Response) -> tuple[list[str], list[list[object]]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX and "attachment;" in r.headers["content-disposition"]
    ws = load_workbook(BytesIO(r.content)).active
    assert ws is not None
    values = list(ws.iter_rows(values_only=True))
    return [str(v) for v in values[0]], [list(v) for v in values[1:]]


def shown(value: object) -> str:
    """A cell as the page would show it: dates as 2023年5月20日, numbers plain, empty as ''."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return format_date_cn(value)
    return str(value)


def money(text: str) -> str:
    """Amounts compared as the page shows them (``1,200.00``); other text unchanged."""
    return format_yuan(yuan_to_fen(text)) if re.fullmatch(r"-?[0-9,]+\.[0-9]{2}", text) else text


def same(rows: Sequence[Sequence[object]]) -> list[list[str]]:
    return [[money(shown(v)) for v in row] for row in rows]


async def exports(db: AsyncSession, action: str = "export.download") -> int:
    found = await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))
    return int(found or 0)


async def test_household_list(browser: Browser, db: AsyncSession, seed: object) -> None:
    cw = await browser("cw_a")
    url = f"/villages/{SEED.areas[VILLAGE]}/households"
    headers, rows = page_table((await cw.get(url)).text)
    assert headers == ["户口簿编号", "户主", "村民小组", "住址", "在册人数"]
    assert ["QFZ-0001", "王建国", "第一村民小组", "前方庄村QFZ-0001号", "3"] in rows
    assert f'href="{url}.xlsx"' in (await cw.get(url)).text
    before = await exports(db)
    got_headers, got = workbook(await cw.get(f"{url}.xlsx"))
    assert got_headers == headers and same(got) == rows
    assert await exports(db) == before + 1

    # The same name filter as the list.
    headers, rows = page_table((await cw.get(f"{url}?q=建国")).text)
    got_headers, got = workbook(await cw.get(f"{url}.xlsx?q=建国"))
    assert got_headers == headers and same(got) == rows == [rows[0]] and rows[0][1] == "王建国"

    other = await browser("cw_b")  # another caseworker's village: as if it did not exist
    assert (await other.get(f"{url}.xlsx")).status_code == 404
    assert await exports(db) == before + 2


async def test_eligibility_list(browser: Browser, db: AsyncSession, seed: object) -> None:
    batch = await enrolled_h1(db)
    cw = await browser("cw_a")
    url = f"/social-security/batches/{batch.id}"
    page = (await cw.get(url)).text
    headers, rows = page_table(page, "list")
    assert len(rows) == 3 and f'href="{url}/list.xlsx"' in page
    got_headers, got = workbook(await cw.get(f"{url}/list.xlsx"))
    assert got_headers == headers and same(got) == rows
    assert SEED.id_numbers["h1_head"] not in str(got) and rows[0][3] in str(got)
    headers, rows = page_table((await cw.get(f"{url}?show=eligible")).text, "list")
    got_headers, got = workbook(await cw.get(f"{url}/list.xlsx?show=eligible"))
    assert same(got) == rows


async def test_payment_batch_lines(browser: Browser, db: AsyncSession, pinned_clock: Pin) -> None:
    w = await world(db, pinned_clock, [OLD, OLD, OLD])
    pinned_clock(at(TODAY))
    generated = await payments.generate_pension_batch(
        db, await principal(db, "fin"), parse_month("2023-06"), as_of=TODAY
    )
    batch = generated.batch
    fin = await browser("fin")
    url = f"/payments/{batch.id}"
    page = (await fin.get(url)).text
    headers, rows = page_table(page, "lines")
    assert len(rows) == 3 and f'href="{url}/lines.xlsx"' in page
    before = await exports(db, "payment_batch.download")
    got_headers, got = workbook(await fin.get(f"{url}/lines.xlsx"))
    assert got_headers == headers and same(got) == rows
    assert "个人账户（元）" in headers
    for number in w.accounts.values():
        assert number not in str(got)
    assert await exports(db, "payment_batch.download") == before + 1
    _headers, got = workbook(await fin.get(f"{url}/lines.xlsx?status=paid"))
    assert got == []
    assert await db.scalar(select(PaymentBatch.line_count).where(PaymentBatch.id == batch.id)) == 3


async def test_ledger_balances_and_statement(browser: Browser, db: AsyncSession, pinned_clock: Pin) -> None:
    await world(db, pinned_clock, [OLD])
    pinned_clock(at(TODAY))
    fin = await browser("fin")
    page = (await fin.get("/ledger")).text
    headers, rows = page_table(page, "balances")
    assert headers == ["科目", "类别", "借方合计（元）", "贷方合计（元）", "余额（元）"] and rows
    before = await exports(db)
    got_headers, got = workbook(await fin.get("/ledger/balances.xlsx"))
    assert got_headers == headers and same(got[:-1]) == rows
    assert got[-1][0] == "合计"
    assert await exports(db) == before + 1

    link = re.search(r'<a href="(/ledger/accounts/\d+)">', page)
    assert link is not None
    page = (await fin.get(link.group(1))).text
    headers, rows = page_table(page, "statement")
    assert rows and f'href="{link.group(1)}/statement.xlsx"' in page
    got_headers, got = workbook(await fin.get(f"{link.group(1)}/statement.xlsx"))
    # the balance brought forward, the lines, then the period's totals (the page's table foot)
    assert got_headers == headers and same(got[:-1]) == rows and rows[0][2] == "期初余额"
    assert got[-1][2] == "本期合计"
    assert await exports(db) == before + 2
