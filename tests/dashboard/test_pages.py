"""The dashboard pages and the PDF briefing show the figures hand-written SQL counts (tests/dashboard/expected.py),
for the county as finance sees it and for a caseworker's village; a village or project outside the caller's areas
is not found; the briefing is one A4 page with the same key figures and the charts."""

from __future__ import annotations

import re
import shutil
import subprocess
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import format_yuan
from app.households import views as household_views
from tests.dashboard import world
from tests.dashboard.expected import Expected, expected
from tests.seed import SEED
from tests.socialsecurity.factories import DGC, QFZ, Pin
from tests.web.pages import Browser, text_of

STAGE_CODES = ("registered", "surveyed", "assessed", "noticed", "signed", "vacated", "settled")


def row(page: str, row_id: str) -> str:
    """The visible text of the table row ``row_id``."""
    match = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.S)
    assert match, f"no row #{row_id}"
    return text_of(match.group(1)).strip()


def cells(page: str, row_id: str) -> list[str]:
    match = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.S)
    assert match, f"no row #{row_id}"
    return [text_of(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)]


def pdf_text(data: bytes) -> str:
    """The PDF's text without whitespace (pdftotext spaces CJK text as it likes)."""
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)  # noqa: S607
    return re.sub(r"\s+", "", done.stdout.decode())


def yuan(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


def assert_page_shows(page: str, want: Expected) -> None:
    for i, code in enumerate(STAGE_CODES):
        shown = cells(page, f"stage-{code}")
        households, people = want.reached[i]
        assert (shown[2], shown[3], shown[5]) == (
            f"{households:,}",
            f"{people:,}",
            f"{want.at_stage[i]:,}",
        ), (
            code,
            shown,
        )
    assert cells(page, "money-committed")[1] == yuan(want.money["committed"])
    assert cells(page, "money-paid")[1] == yuan(want.money["paid"])
    assert cells(page, "money-outstanding")[1] == yuan(want.money["committed"] - want.money["paid"])
    assert cells(page, "money-due")[1] == yuan(want.money["due"])
    assert cells(page, "money-awaiting")[1] == yuan(want.money["awaiting"])
    assert cells(page, "money-month")[1] == yuan(want.money["paid_month"])
    pensions = want.pensions
    assert cells(page, "pension-enrolled")[1] == f"{pensions['enrolled']} 人"
    assert cells(page, "pension-drawing")[1] == f"{pensions['drawing']} 人"
    assert cells(page, "pension-paid-people")[1] == f"{pensions['paid_people']} 人"
    assert cells(page, "pension-paid")[1] == yuan(pensions["paid_total"])
    assert cells(page, "pension-month-people")[1] == f"{pensions['paid_month_people']} 人"
    assert cells(page, "pension-month")[1] == yuan(pensions["paid_month"])
    assert cells(page, "paid-all")[1:] == [
        yuan(want.money["paid_month"] + pensions["paid_month"]),
        yuan(want.money["paid"] + pensions["paid_total"]),
    ]
    for monday, n in want.weeks.items():
        assert cells(page, f"week-{monday.isoformat()}")[1] == str(n)
    weeks = re.findall(r'<tr id="week-([0-9-]+)">(.*?)</tr>', page, re.S)
    assert sum(int(cells(page, f"week-{w}")[1]) for w, _ in weeks) == sum(want.weeks.values())


async def test_county_page_shows_the_sql_figures(
    db: AsyncSession, pinned_clock: Pin, browser: Browser
) -> None:
    w = await world.build(db, pinned_clock)
    fin = await browser("fin")
    r = await fin.get("/dashboard")
    assert r.status_code == 200, r.text[:500]
    page = r.text
    assert_page_shows(page, await expected(db, prefix=SEED.paths["410727"], today=world.TODAY))
    assert "工作进度：封丘县" in page and 'aria-current="page">工作进度' in page
    assert "截至 2023年7月10日" in text_of(page)
    # Three charts, inline, labelled; no script and nothing from elsewhere.
    assert len(re.findall(r'<svg [^>]*role="img"', page)) == 3
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert (
        f'href="/dashboard/villages/{w.qfz}"' in page and f'href="/dashboard/projects/{w.project_id}"' in page
    )
    assert 'href="/dashboard.pdf"' in page

    r = await fin.get(f"/dashboard/projects/{w.project_id}")
    assert r.status_code == 200
    assert_page_shows(
        r.text, await expected(db, prefix=SEED.paths["410727"], project=w.project_id, today=world.TODAY)
    )
    assert f'href="/dashboard/projects/{w.project_id}.pdf"' in r.text


async def test_caseworker_pages_are_their_village_only(
    db: AsyncSession, pinned_clock: Pin, browser: Browser
) -> None:
    w = await world.build(db, pinned_clock)
    cw = await browser("cw_a")
    r = await cw.get("/dashboard")
    assert r.status_code == 200
    want = await expected(db, prefix=SEED.paths[QFZ], today=world.TODAY)
    assert_page_shows(r.text, want)
    assert "东关村" not in r.text and "后方庄村" not in r.text
    village = await cw.get(f"/dashboard/villages/{w.qfz}")
    assert village.status_code == 200
    assert_page_shows(village.text, want)
    for url in (f"/dashboard/villages/{w.dgc}", f"/dashboard/villages/{w.dgc}.pdf"):
        refused = await cw.get(url)
        assert refused.status_code == 404 and "东关村" not in refused.text
    other = await browser("cw_b")
    for url in (f"/dashboard/projects/{w.project_id}", f"/dashboard/projects/{w.project_id}.pdf"):
        assert (await other.get(url)).status_code == 404


async def test_my_villages_show_their_progress_found_and_paged(
    db: AsyncSession, pinned_clock: Pin, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """我的村 lists each village in the caller's areas with the households that reached each stage (the figures
    hand-written SQL counts), finds villages by a fragment of the name and pages them."""
    w = await world.build(db, pinned_clock)
    fin = await browser("fin")
    page = (await fin.get("/villages")).text
    for village, path in ((w.qfz, SEED.paths[QFZ]), (w.dgc, SEED.paths[DGC])):
        want = await expected(db, prefix=path, today=world.TODAY)
        shown = cells(page, f"village-{village}")
        assert shown[2] == str(want.reached[0][0])
        assert shown[4:] == [
            str(want.reached[STAGE_CODES.index(c)][0]) for c in ("surveyed", "signed", "vacated", "settled")
        ]
    assert f'href="/dashboard/villages/{w.qfz}"' in page
    # the footer sums every village listed: the county's figures
    county = await expected(db, prefix=SEED.paths["410727"], today=world.TODAY)
    footer = re.search(r"<tfoot>(.*?)</tfoot>", page, re.S)
    assert footer is not None
    sums = [text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", footer.group(1))]
    assert sums[0] == str(county.reached[0][0])
    assert sums[2:] == [
        str(county.reached[STAGE_CODES.index(c)][0]) for c in ("surveyed", "signed", "vacated", "settled")
    ]

    found = (await fin.get("/villages", params={"q": "前方"})).text
    assert f'id="village-{w.qfz}"' in found and f'id="village-{w.dgc}"' not in found
    assert "符合“前方”的共" in text_of(found)
    assert "没有名称含“无此村”的村" in text_of((await fin.get("/villages", params={"q": "无此村"})).text)

    monkeypatch.setattr(household_views, "VILLAGE_PAGE_SIZE", 1)
    first = (await fin.get("/villages")).text
    listed = re.findall(r'<tr id="village-(\d+)">', first)
    assert len(listed) == 1 and 'href="/villages?page=2"' in first
    assert '各阶段合计见<a href="/dashboard">工作进度</a>' in first  # a page's villages are not all of them
    second = (await fin.get("/villages", params={"page": 2})).text
    assert re.findall(r'<tr id="village-(\d+)">', second) != listed

    cw = await browser("cw_a")
    mine = (await cw.get("/villages")).text
    assert f'id="village-{w.qfz}"' in mine and f'id="village-{w.dgc}"' not in mine


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
async def test_briefing_is_one_page_with_the_figures(
    db: AsyncSession, pinned_clock: Pin, browser: Browser
) -> None:
    w = await world.build(db, pinned_clock)
    want = await expected(db, prefix=SEED.paths["410727"], today=world.TODAY)
    fin = await browser("fin")
    for url, title in (
        ("/dashboard.pdf", "区域：封丘县"),
        (f"/dashboard/villages/{w.qfz}.pdf", "村：前方庄村"),
        (f"/dashboard/projects/{w.project_id}.pdf", "征收项目：封丘县前方庄村征收项目"),
    ):
        r = await fin.get(url)
        assert r.status_code == 200, r.text[:500]
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("attachment;")
        assert len(PdfReader(BytesIO(r.content)).pages) == 1, url
        shown = pdf_text(r.content)
        assert "工作进度简报" in shown and title in shown and "截至2023年7月10日" in shown, shown
        if url == "/dashboard.pdf":
            households, people = want.reached[0]
            signed_h, signed_p = want.reached[4]
            assert f"被征收户{households}户/{people}人" in shown
            assert f"已签约{signed_h}户/{signed_p}人" in shown
            assert f"应付补偿款{format_yuan(want.money['committed'])}元" in shown
            assert f"已支付补偿款{format_yuan(want.money['paid'])}元" in shown
            assert f"未支付补偿款{format_yuan(want.money['committed'] - want.money['paid'])}元" in shown
            assert f"累计发放养老金{format_yuan(want.pensions['paid_total'])}元" in shown
            # The charts are drawn in the PDF too: their labels are text on the page.
            assert "已腾房交付" in shown and "待满足支付条件" in shown and "7/10" in shown
