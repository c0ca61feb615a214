"""户籍花名册导入 through the pages, as a caseworker uses them: the template, a roster with bad rows refused whole
with a report naming every row, column and problem (and nothing saved), the same roster fixed and imported as a
background job with its progress page, imported again without any change, then with one change; villages outside
the caller's areas refused; roles that may not import."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from io import BytesIO

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.core.idcard import InvalidIdNumber, make_id_number, mask_id_number, parse_id_number
from app.core.xlsx import xlsx_table
from app.households.models import Household, Member
from app.households.service import id_cipher
from app.roster import jobs, rules, sheet
from tests.agreements.helpers import principal
from tests.payments.test_views import Borrowed
from tests.seed import SEED
from tests.socialsecurity.test_views import table_rows
from tests.web.pages import Browser, post_form, text_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VILLAGE = "410727101201"  # 前方庄村: cw_a's village
OTHER_VILLAGE = "410727102201"  # 东关村: cw_b's


def person(day: date, seq: int) -> str:
    return make_id_number("410727", day, seq)


A = person(date(1970, 2, 3), 701)
B = person(date(1972, 4, 5), 702)
C = person(date(1996, 6, 7), 703)
D = person(date(1965, 8, 9), 705)
E = person(date(1990, 10, 11), 704)
F = person(date(1980, 1, 2), 707)
G = person(date(1981, 3, 4), 709)
H = person(date(1982, 5, 6), 711)
I = person(date(1983, 7, 8), 713)  # noqa: E741
J = person(date(1984, 9, 10), 715)
K = person(date(2015, 11, 12), 717)
EVERYONE = (A, B, C, D, E, F, G, H, I, J, K)


def wrong_check_digit(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def roster(rows: list[tuple[object, ...]]) -> bytes:
    return xlsx_table(sheet.SHEET, rules.HEADERS, rows)


# 村, 村民小组, 户口簿编号, 住址, 姓名, 公民身份号码, 与户主关系, 联系电话, 户籍迁入日期
GOOD: list[tuple[object, ...]] = [
    ("前方庄村", "第一村民小组", "RT-0001", "前方庄村幸福路1号", "张大山", A, "户主", "13800000001", None),
    ("前方庄村", None, "RT-0001", None, "李小花", B, "妻", None, "2001-05-20"),
    ("前方庄村", "", "RT-0001", "", "张小山", C, "子女", None, None),
    ("410727101201", None, "RT-0002", "前方庄村幸福路2号", "赵四", D, "户主", None, None),
    ("前方庄村", None, "RT-0002", None, "钱五", E, "儿媳", None, None),
]


@pytest.fixture
def job_sessions(app: FastAPI, db: AsyncSession) -> Iterator[Borrowed]:
    sessions = Borrowed(db)
    app.state.sessionmaker = sessions
    yield sessions


async def upload(
    c: httpx.AsyncClient, sessions: Borrowed, data: bytes, username: str = "cw_a"
) -> tuple[int, str]:
    """Upload a roster and follow its job to the end: (status of the finished job page, its text)."""
    sessions.hold()
    r = await post_form(c, "/roster", "/roster/import", {}, files={"file": ("花名册.xlsx", data, XLSX)})
    assert r.status_code == 303, r.text
    job_url = r.headers["location"]
    assert job_url.startswith("/roster/jobs/")
    job = jobs.get_job(await principal(sessions.db, username), job_url.rsplit("/", 1)[1])
    waiting = await c.get(job_url)
    if not job.finished:  # a file that cannot be read fails before the job needs the database
        assert waiting.status_code == 200 and waiting.headers["refresh"] == "2"
        assert 'http-equiv="refresh"' in waiting.text and "<progress" in waiting.text
    sessions.release()
    async with asyncio.timeout(60):
        await jobs.wait(job)
    done = await c.get(job_url)
    assert done.status_code == 200 and "refresh" not in done.headers
    return done.status_code, done.text


async def counts(db: AsyncSession) -> tuple[int, int, int]:
    households = await db.scalar(select(func.count()).select_from(Household))
    members = await db.scalar(select(func.count()).select_from(Member))
    events = await db.scalar(select(func.count()).select_from(AuditEvent))
    return int(households or 0), int(members or 0), int(events or 0)


def no_full_numbers(page: str) -> None:
    for number in (*EVERYONE, SEED.id_numbers["h1_head"]):
        assert number not in page


# ------------------------------------------------------------------------------------------------ template


async def test_template_downloads_with_headers_and_notes(browser: Browser, seed: object) -> None:
    fin = await browser("fin")  # reading the template needs no write permission
    r = await fin.get("/roster/template.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    assert "attachment;" in r.headers["content-disposition"]
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames == ["户籍花名册", "填写说明"]
    header = tuple(c.value for c in wb["户籍花名册"][1])
    assert header == (
        "村",
        "村民小组",
        "户口簿编号",
        "住址",
        "姓名",
        "公民身份号码",
        "与户主关系",
        "联系电话",
        "户籍迁入日期",
    )
    notes = [row[0] for row in wb["填写说明"].iter_rows(min_row=2, values_only=True)]
    assert list(rules.HEADERS) == notes[: len(rules.HEADERS)]
    assert sheet.parse_roster(r.content).count == 0

    page = await fin.get("/roster")
    assert page.status_code == 200 and 'href="/roster/template.xlsx"' in page.text
    assert 'action="/roster/import"' not in page.text  # finance may not import
    r = await post_form(fin, "/roster", "/roster/import", {}, files={"file": ("a.xlsx", roster(GOOD), XLSX)})
    assert r.status_code == 403

    cw = await browser("cw_a")
    villages = await cw.get("/villages")
    assert 'href="/roster"' in villages.text
    page = await cw.get("/roster")
    assert 'action="/roster/import"' in page.text and 'enctype="multipart/form-data"' in page.text


# --------------------------------------------------------------------------------- refused, fixed, again


async def test_bad_roster_is_refused_whole_then_fixed_it_imports_once(
    browser: Browser, db: AsyncSession, seed: object, job_sessions: Borrowed
) -> None:
    cw = await browser("cw_a")
    bad_b = wrong_check_digit(B)
    with pytest.raises(InvalidIdNumber) as wrong:
        parse_id_number(bad_b)
    bad = [
        GOOD[0],
        ("前方庄村", None, "RT-0001", None, "李小花", bad_b, "妻", None, "2001-05-20"),  # row 3
        ("前方庄村", None, "RT-0001", None, "张小山", A, "子女", None, None),  # row 4: A again
        GOOD[3],  # row 5
        ("前方庄村", None, "RT-0002", None, "钱五", E, "户主", None, None),  # row 6: a second head
        (
            "前方庄村",
            None,
            "RT-0003",
            "前方庄村3号",
            "王建国",
            SEED.id_numbers["h1_head"],
            "户主",
            None,
            None,
        ),
        ("东关村", None, "RT-0004", "东关村4号", "孙六", F, "户主", None, None),  # row 8
        ("前方庄村", None, "RT-0005", None, "孙七", G, "表哥", None, None),  # row 9
        ("前方庄村", None, "RT-0006", "前方庄村6号", "周八", H, "子女", None, None),  # row 10: no head
        ("前方庄村", None, "RT-0001", "别处", "吴九", I, "子女", None, None),  # row 11
        ("前方庄村", None, "RT-0002", None, "郑十", J, "子女", None, "1900-01-01"),  # row 12
        ("前方庄村", None, "RT-0002", None, "冯十一", float(K), "孙女", None, None),  # row 13
        ("前方庄村", None, "RT-0002", None, "", K, "孙女", "12345", None),  # row 14
    ]
    before = await counts(db)
    _status, page = await upload(cw, job_sessions, roster(bad))
    assert "导入被拒绝：12 处错误，未保存任何数据。请改正后重新导入。" in text_of(page)
    relations = "户主、配偶、子女、儿媳/女婿、孙子女/外孙子女、父母、祖父母/外祖父母、兄弟姐妹、其他"
    assert table_rows(page) == [
        ["3", "公民身份号码", str(wrong.value)],
        ["4", "公民身份号码", "与第 2 行的身份证号重复"],
        ["6", "与户主关系", "与第 5 行重复：户口簿编号 RT-0002 的户只能有一位户主"],
        [
            "7",
            "公民身份号码",
            "此身份证号已登记为前方庄村户口簿编号 QFZ-0001 的在册成员（王建国），同一人不能同时在两户在册；"
            "如需变更，请在该户页面使用“迁移成员”",
        ],
        ["8", "村", "“东关村”不在您负责的区域内，不能导入"],
        ["9", "与户主关系", f"不认识“表哥”：可填 {relations}"],
        ["10", "与户主关系", "户口簿编号 RT-0006 的户没有户主：须有一行的与户主关系为“户主”"],
        ["11", "住址", "与第 2 行同属户口簿编号 RT-0001 的户，住址应相同（或留空）"],
        ["12", "户籍迁入日期", "户籍迁入日期不能早于出生日期"],
        [
            "13",
            "公民身份号码",
            "身份证号被 Excel 存成了数字，后几位已丢失；请将本列设为文本格式后重新填写",
        ],
        ["14", "姓名", "必填"],
        ["14", "联系电话", "联系电话应为11位手机号或带区号的固定电话"],
    ]
    no_full_numbers(page)
    assert await counts(db) == before  # nothing saved: no household, no member, no audit row

    # Fixed: imported as a job, with its progress page; what the page says is what the database holds.
    _status, page = await upload(cw, job_sessions, roster(GOOD))
    assert "已导入：新增 2 户、5 人；未变 0 户（花名册.xlsx，共 5 行）" in text_of(page)
    households = {
        h.register_no: h
        for h in await db.scalars(select(Household).where(Household.register_no.in_(["RT-0001", "RT-0002"])))
    }
    assert sorted(households) == ["RT-0001", "RT-0002"]
    first, second = households["RT-0001"], households["RT-0002"]
    assert first.village_id == SEED.areas[VILLAGE] and first.group_id == SEED.areas[f"{VILLAGE}-01"]
    assert first.area_path == SEED.paths[f"{VILLAGE}-01"] and first.address == "前方庄村幸福路1号"
    assert (
        second.group_id is None and second.area_path == SEED.paths[VILLAGE] and first.county_code == "410727"
    )
    members = list(
        await db.scalars(
            select(Member).where(Member.household_id.in_([first.id, second.id])).order_by(Member.id)
        )
    )
    cipher = id_cipher()
    found = {
        cipher.decrypt(m.id_number_enc): (m.household_id, m.name, m.relation, m.phone, m.registered_on)
        for m in members
    }
    assert found == {
        A: (first.id, "张大山", "head", "13800000001", None),
        B: (first.id, "李小花", "spouse", None, date(2001, 5, 20)),
        C: (first.id, "张小山", "child", None, None),
        D: (second.id, "赵四", "head", None, None),
        E: (second.id, "钱五", "child_in_law", None, None),
    }
    for m in members:
        number = cipher.decrypt(m.id_number_enc)
        assert m.id_number_hash == cipher.lookup_hash(number)
        assert m.id_number_masked == mask_id_number(number) and m.status == "registered"
        assert (m.birth_date, m.sex) == (parse_id_number(number).birth_date, parse_id_number(number).sex)
    events = list(
        await db.scalars(
            select(AuditEvent)
            .where(AuditEvent.household_id.in_([first.id, second.id]))
            .order_by(AuditEvent.seq)
        )
    )
    assert [(e.action, e.household_id, e.actor_username) for e in events] == [
        ("household.create", first.id, "cw_a"),
        ("household.create", second.id, "cw_a"),
    ]
    assert events[0].after is not None and events[0].after["register_no"] == "RT-0001"
    assert [m["id_number"] for m in events[0].after["members"]] == [mask_id_number(n) for n in (A, B, C)]
    assert events[0].after["source"] == "花名册导入（花名册.xlsx）"
    assert A not in str(events[0].after)
    listing = await cw.get(f"/villages/{SEED.areas[VILLAGE]}/households")
    assert "RT-0001" in listing.text and "张大山" in listing.text
    history = await cw.get(f"/households/{first.id}")
    assert "新增被征收户" in history.text and "李小花" in history.text

    # The same roster again: nothing written, not even an audit row.
    after_first = await counts(db)
    stamps = [(m.id, m.version, m.updated_at) for m in members]
    _status, page = await upload(cw, job_sessions, roster(GOOD))
    assert "已导入：新增 0 户、0 人；未变 2 户（花名册.xlsx，共 5 行）" in text_of(page)
    assert await counts(db) == after_first
    again = await db.execute(
        select(Member.id, Member.version, Member.updated_at)
        .where(Member.household_id.in_([first.id, second.id]))
        .order_by(Member.id)
        .execution_options(populate_existing=True)
    )
    assert [tuple(r) for r in again] == stamps

    # One more member and one changed phone: through the registry's services, each audited.
    changed = [
        *GOOD[:4],
        (*GOOD[4][:7], "13900000005", None),
        ("前方庄村", None, "RT-0002", None, "赵小妹", K, "孙女", None, None),
    ]
    _status, page = await upload(cw, job_sessions, roster(changed))
    assert "已导入：新增 0 户、1 人；未变 1 户；更新 1 户（修改成员 1 人）" in text_of(page)
    actions = await db.scalars(
        select(AuditEvent.action).where(AuditEvent.household_id == second.id).order_by(AuditEvent.seq)
    )
    assert list(actions) == ["household.create", "member.update", "member.add"]
    assert await counts(db) == (after_first[0], after_first[1] + 1, after_first[2] + 2)

    # The caseworker's recent imports are listed on the page; another user cannot open them.
    page_text = (await cw.get("/roster")).text
    assert page_text.count('href="/roster/jobs/') == 4
    job_url = page_text.split('href="/roster/jobs/', 1)[1].split('"', 1)[0]
    other = await browser("cw_b")
    assert (await other.get(f"/roster/jobs/{job_url}")).status_code == 404


async def test_out_of_scope_village_is_refused(
    browser: Browser, db: AsyncSession, seed: object, job_sessions: Borrowed
) -> None:
    row = ("东关村", None, "RT-0100", "东关村100号", "孙六", F, "户主", None, None)
    cw = await browser("cw_a")
    before = await counts(db)
    _status, page = await upload(cw, job_sessions, roster([row]))
    assert table_rows(page) == [["2", "村", "“东关村”不在您负责的区域内，不能导入"]]
    by_code = (OTHER_VILLAGE, *row[1:])
    _status, page = await upload(cw, job_sessions, roster([by_code]))
    assert table_rows(page) == [["2", "村", "“410727102201”不在您负责的区域内，不能导入"]]
    _status, page = await upload(cw, job_sessions, roster([("不存在村", *row[1:])]))
    assert table_rows(page) == [["2", "村", "找不到村“不存在村”：请填写您负责区域内的村名或村的区划代码"]]
    assert await counts(db) == before

    # The caseworker of 东关村 imports the same row.
    other = await browser("cw_b")
    _status, page = await upload(other, job_sessions, roster([row]), username="cw_b")
    assert "已导入：新增 1 户、1 人；未变 0 户" in text_of(page)
    household = await db.scalar(select(Household).where(Household.register_no == "RT-0100"))
    assert household is not None and household.village_id == SEED.areas[OTHER_VILLAGE]


async def test_unreadable_files_and_missing_file(
    browser: Browser, db: AsyncSession, seed: object, job_sessions: Borrowed
) -> None:
    cw = await browser("cw_a")
    _status, page = await upload(cw, job_sessions, b"not a workbook")
    assert "无法读取该文件，请上传 Excel 工作簿（.xlsx）" in text_of(page) and "没有保存任何数据" in text_of(
        page
    )
    _status, page = await upload(cw, job_sessions, xlsx_table(sheet.SHEET, ["村", "姓名"], []))
    assert "表头与模板不符：缺少列“户口簿编号”、“住址”、“公民身份号码”、“与户主关系”" in text_of(page)
    r = await post_form(cw, "/roster", "/roster/import", {})
    assert r.status_code == 422 and "请选择要导入的户籍花名册文件（.xlsx）" in text_of(r.text)
