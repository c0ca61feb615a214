"""Issue 3's "Done when", in a browser's shoes: an admin, a reviewer and a caseworker of the demo data take one
household of 前方庄村 from survey to a signed agreement — a new plan version, the survey, the assessment and its
approval, the public notice, an objection that blocks signing until it is resolved, the signed agreement, its PDF
and the public verification page — and the household's 操作记录 tells the story.

Every step GETs a page, reads the form off it (action, hidden fields, names) and posts it back as a browser would,
following the 303 redirect with a GET."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.rules import mask_name
from app.core.clock import format_date_cn, today_in_china
from app.demo.generate import DEMO_PASSWORD, generate
from app.demo.load import load_demo
from tests.web.pages import section, text_of

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9",
}
QFZ = "410727101201"  # 前方庄村


# ---------------------------------------------------------------- reading forms off a page


@dataclass
class Control:
    tag: str
    type: str
    name: str
    value: str = ""
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # select: (value, selected)


@dataclass
class Form:
    action: str
    method: str
    controls: list[Control] = field(default_factory=list)
    formactions: list[str] = field(default_factory=list)  # other targets of its submit buttons

    def names(self) -> set[str]:
        return {c.name for c in self.controls}

    def values(self) -> dict[str, str]:
        """What the browser sends without anyone touching the form."""
        sent: dict[str, str] = {}
        for c in self.controls:
            if c.tag == "select":
                chosen = [v for v, s in c.options if s] or [v for v, _ in c.options[:1]]
                if chosen:
                    sent[c.name] = chosen[-1]
            elif c.type in ("checkbox", "radio"):
                if c.checked:
                    sent[c.name] = c.value or "on"
            elif c.type not in ("submit", "button", "reset", "image", "file"):
                sent[c.name] = c.value
        return sent

    def filled(self, **typed: str) -> dict[str, str]:
        """The form as sent after typing ``typed`` into it; every name must be one of its inputs, every select
        value one of its options."""
        sent = self.values()
        by_name = {c.name: c for c in self.controls}
        for name, value in typed.items():
            assert name in by_name, f"form {self.action} has no input {name!r}: {sorted(by_name)}"
            control = by_name[name]
            if control.tag == "select":
                assert value in [v for v, _ in control.options], (name, value, control.options)
            sent[name] = value
        return sent


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Control | None = None
        self._option: tuple[str, bool] | None = None
        self._option_text = ""
        self._textarea: Control | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and "name" in a:
            kind = a.get("type", "text").lower()
            self._form.controls.append(Control("input", kind, a["name"], a.get("value", ""), "checked" in a))
        elif tag == "button" and "formaction" in a:
            self._form.formactions.append(a["formaction"])
        elif tag == "select" and "name" in a:
            self._select = Control("select", "select", a["name"])
            self._form.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option, self._option_text = (a.get("value", ""), "selected" in a), ""
            if "value" in a:
                self._select.options.append(self._option)
                self._option = None
        elif tag == "textarea" and "name" in a:
            self._textarea = Control("textarea", "textarea", a["name"])
            self._form.controls.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            self._select.options.append((self._option_text.strip(), self._option[1]))
            self._option = None


def form_at(page: str, action: str) -> Form:
    """The form of ``page`` posting to ``action`` (there must be exactly one)."""
    parser = _FormParser()
    parser.feed(page)
    found = [f for f in parser.forms if f.action == action]
    assert len(found) == 1, f"{len(found)} forms post to {action}: {[f.action for f in parser.forms]}"
    assert found[0].method == "post" and "csrf_token" in found[0].names(), action
    return found[0]


def flash_of(page: str) -> str:
    match = re.search(r'<div class="flash flash-(?:success|error)" role="status">(.*?)</div>', page, re.S)
    assert match, "no confirmation on the page"
    return text_of(match.group(1)).strip()


def error_of(page: str) -> str:
    match = re.search(r'<div class="error-summary" role="alert">(.*?)</div>', page, re.S)
    assert match, "no error summary on the page"
    return text_of(match.group(1)).strip()


def link(page: str, pattern: str, attribute: str = "href") -> str:
    """The first link (or form ``action``) on the page matching ``pattern``."""
    match = re.search(rf'{attribute}="({pattern})"', page)
    assert match, f"no {attribute} like {pattern}"
    return html.unescape(match.group(1))


# ---------------------------------------------------------------- a browser


class Browser:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, url: str, expect: int = 200) -> str:
        r = await self.client.get(url)
        assert r.status_code == expect, (url, r.status_code, r.text[:2000])
        assert r.headers["content-type"].startswith("text/html")
        return r.text

    async def submit(
        self, page: str, action: str, *, via: str | None = None, expect: int = 303, **typed: str
    ) -> httpx.Response:
        """Fill in the form posting to ``action`` and send it (to ``via`` when a button has its own
        formaction). A 303 is followed with a GET, as a browser does; the response is the page shown."""
        form = form_at(page, action)
        if via is not None:
            assert via in form.formactions, (via, form.formactions)
        r = await self.client.post(via or action, data=form.filled(**typed))
        assert r.status_code == expect, (action, r.status_code, r.text[:3000])
        for _hop in range(3):
            if r.status_code != 303:
                break
            r = await self.client.get(r.headers["location"])
        assert r.status_code == (200 if expect == 303 else expect), (r.url, r.status_code)
        return r

    async def login(self, username: str, full_name: str) -> str:
        self.client.cookies.clear()
        page = await self.get("/login")
        home = await self.submit(page, "/login", username=username, password=DEMO_PASSWORD)
        assert f'<span class="who-name">{full_name}</span>' in home.text
        return home.text

    async def logout(self) -> None:
        page = await self.get("/villages")
        r = await self.submit(page, "/logout")
        assert str(r.url).endswith("/login") and flash_of(r.text) == "已退出登录"
        r = await self.client.get("/villages")  # the session is gone: back to the login page
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.status_code


# ---------------------------------------------------------------- the story


async def test_survey_to_signed_agreement(app: FastAPI, client: httpx.AsyncClient, db: AsyncSession) -> None:
    await load_demo(db)
    await db.commit()
    client.headers.update(BROWSER)
    browser = Browser(client)
    today = today_in_china()

    # the household: the first of 前方庄村 in the demo data set with three people or more
    village_data = next(v for v in generate().villages if v.area.code == QFZ)
    chosen = next(h for h in village_data.households if len(h.members) >= 3)
    head = chosen.members[0].name
    assert chosen.members[0].relation == "head"

    # (1) the admin drafts plan version 2 for FQ-2022 / 前方庄村 from version 1, with a higher 搬迁补助费
    await browser.login("admin", "刘建华")
    page = await browser.get("/projects")
    versions_url = link(page, r"/projects/\d+/villages/\d+/plans")
    assert "FQ-2022 封丘县2022年前方庄村征收项目" in text_of(page)
    page = await browser.get(versions_url)
    assert "第 1 版 已批准" in text_of(page)
    new_url = link(page, r"/projects/\d+/villages/\d+/plans/new")
    page = await browser.get(new_url)
    assert "将以第 1 版（已批准）的全部参数为底稿，新建第 2 版草稿" in text_of(page)
    r = await browser.submit(page, new_url)
    assert flash_of(r.text) == "已新建：前方庄村第 2 版方案草稿（复制第 1 版），请修改后提交审核"
    edit_url = r.url.path
    plan_url = edit_url.removesuffix("/edit")
    assert form_at(r.text, edit_url).values()["relocation_allowance_per_person"] == "1200.00"
    r = await browser.submit(r.text, edit_url, relocation_allowance_per_person="1500.00")
    assert flash_of(r.text) == "已保存：前方庄村第 2 版方案草稿（修改 搬迁补助费）"
    assert "搬迁补助费 有变化 1,500.00 元/人·次（安置房安置搬迁两次） 1,200.00 元/人·次" in text_of(r.text)
    r = await browser.submit(r.text, f"{plan_url}/submit")
    assert flash_of(r.text) == "已提交审核：前方庄村第 2 版方案。提交后由乡镇审核员审批（不能是编制人本人）"
    await browser.logout()

    # (2) the reviewer approves it; version 1 is superseded
    await browser.login("reviewer", "李国栋")
    page = await browser.get("/plans/reviews")
    assert plan_url in page
    page = await browser.get(plan_url)
    r = await browser.submit(page, f"{plan_url}/approve", confirm="1")
    assert flash_of(r.text) == "已批准：前方庄村第 2 版方案，自即日起为现行方案"
    page = await browser.get(versions_url)
    rows = text_of(page)
    assert "第 2 版 已批准" in rows and "第 1 版 已被新版本取代" in rows
    await browser.logout()

    # (3) the caseworker finds the household by part of the head's name, records the survey, previews the
    # assessment under plan version 2 and submits it with two resettlement flats
    await browser.login("caseworker", "王丽娟")
    page = await browser.get("/villages")
    households_url = link(page, r"/villages/\d+/households")
    page = await browser.get(households_url)
    fragment = head[1:]
    r = await browser.submit(page, f"{households_url}/search", q=fragment)
    listing = text_of(r.text)
    assert f"姓名含“{fragment}”：共" in listing and f"{chosen.register_no} {head}" in listing
    household_url = link(r.text, rf"/households/\d+(?=\">{chosen.register_no}<)")
    page = await browser.get(household_url)
    assert f"{head}户" in text_of(page)

    survey_url = f"{household_url}/survey"
    page = await browser.get(survey_url)
    r = await browser.submit(
        page,
        survey_url,
        persons="3",
        contracted_mu="2.3500",
        acquired_mu="2.3500",
        surveyed_on=today.isoformat(),
        s0_structure="brick_concrete",
        s0_area="120.50",
        s1_structure="simple",
        s1_area="20.00",
        a0_code="wall",
        a0_qty="25",
        a1_code="tree",
        a1_qty="4",
    )
    assert flash_of(r.text) == "已保存：房屋调查（安置人口 3 人，房屋 2 处，附属物 2 项）"

    assessments_url = f"{household_url}/assessments"
    page = await browser.get(assessments_url)
    r = await browser.submit(
        page,
        assessments_url,
        via=f"{assessments_url}/preview",
        expect=200,
        option_kind="resettlement_flat",
        flat_0="90.00",
        flat_1="30.00",
    )
    preview = text_of(section(r.text, "preview"))
    assert (
        "封丘县2022年前方庄村征收项目（方案第 2 版）· 应安置面积 120.00㎡ · 所选安置房面积 120.00㎡"
        in preview
    )
    assert "房屋补偿费（砖混） 120.50㎡ × 900.00元/㎡ 108,450.00" in preview
    assert "搬迁补助费 3人 × 1,500.00元 × 2次 9,000.00" in preview  # version 2's rate
    assert "补偿总额 壹拾伍万捌仟零伍拾元整 158,050.00 元" in preview
    assert "应缴购房款 120.00㎡ × 1,000.00元/㎡ 120,000.00 元" in preview
    assert "应付净额 叁万捌仟零伍拾元整 38,050.00 元" in preview
    # submitting the form as the preview shows it, with what was typed kept
    r = await browser.submit(r.text, assessments_url)
    submitted = re.fullmatch(
        r"已提交审核：补偿核算第 (\d+) 号（安置房安置，应付净额 38,050.00元），等待乡镇审核员审核",
        flash_of(r.text),
    )
    assert submitted, flash_of(r.text)
    assessment_id = submitted.group(1)
    assert f"待审核：补偿核算第 {assessment_id} 号" in text_of(r.text)
    await browser.logout()

    # (4) the reviewer approves the assessment
    await browser.login("reviewer", "李国栋")
    page = await browser.get("/assessments/reviews")
    assert head in text_of(page) and assessments_url in page
    page = await browser.get(assessments_url)
    r = await browser.submit(page, f"/assessments/{assessment_id}/approve")
    assert flash_of(r.text) == f"已批准：补偿核算第 {assessment_id} 号"
    record = text_of(section(r.text, "history"))
    assert f"第 {assessment_id} 号 封丘县2022年前方庄村征收项目 第 2 版方案 安置房安置" in record
    assert "已批准" in record
    await browser.logout()

    # (5) the caseworker publishes the notice (started 10 days ago, so its 7 days have passed), records an
    # objection, issues the agreement; signing is refused until the objection is resolved
    await browser.login("caseworker", "王丽娟")
    page = await browser.get(f"{household_url}/notice")
    notices_url = link(page, r"/villages/\d+/notices")
    page = await browser.get(notices_url)
    started = today - timedelta(days=10)
    r = await browser.submit(page, notices_url, started_on=started.isoformat())
    period = f"公示期：{format_date_cn(started)}至{format_date_cn(started + timedelta(days=6))}"
    assert flash_of(r.text) == f"已发布公示：1 户，{period}"
    notice = text_of(r.text)
    assert f"{period}；{format_date_cn(started + timedelta(days=7))}起方可签约。共 1 户。" in notice
    assert f"1 {head} 410727********" in notice and "3 安置房安置 158,050.00 120,000.00 38,050.00" in notice

    page = await browser.get(f"{household_url}/notice")
    assert "安置房安置 158,050.00 38,050.00" in text_of(page)
    r = await browser.submit(
        page,
        f"{household_url}/objections",
        raised_by_name=head,
        content="简易房面积应为 25㎡，调查少算了",
    )
    assert flash_of(r.text) == f"已登记：{head}提出的异议；处理完毕前本户不能签约"
    assert f"{head} 简易房面积应为 25㎡，调查少算了 待处理" in text_of(r.text)
    objection_page = r.text

    agreements_url = f"{household_url}/agreements"
    page = await browser.get(agreements_url)
    r = await browser.submit(page, agreements_url)
    issued = re.fullmatch(
        r"已出具：协议书 (FQ-2022-QFZ-\d{4})（草稿），请打印后交户主核对签字", flash_of(r.text)
    )
    assert issued, flash_of(r.text)
    number = issued.group(1)
    refusal = f"有未处理的异议（{head}于{format_date_cn(today)}提出：简易房面积应为 25㎡，调查少算了），处理后方可签约"
    shown = text_of(r.text)
    assert "进度 公示期间有未处理的异议；异议处理完毕后才能签约。" in shown
    assert f"协议编号 {number} 草稿" in shown and "应付净额 38,050.00 元（叁万捌仟零伍拾元整）" in shown
    assert f"暂不能签约： {refusal}" in shown
    sign_url = link(r.text, r"/agreements/\d+/sign", "action")
    r = await browser.submit(r.text, sign_url, expect=409)
    assert error_of(r.text) == f"没有办理 {refusal}"
    assert f"协议编号 {number} 草稿" in text_of(r.text)

    resolve_url = link(objection_page, r"/objections/\d+/resolve", "action")
    r = await browser.submit(
        objection_page, resolve_url, resolution="经复核，简易房面积为 20㎡，与调查一致，已向户主说明"
    )
    assert flash_of(r.text) == "已保存：异议已处理"
    assert (
        "简易房面积应为 25㎡，调查少算了 已处理 经复核，简易房面积为 20㎡，与调查一致，已向户主说明"
        in text_of(r.text)
    )

    page = await browser.get(agreements_url)
    assert "暂不能签约" not in text_of(page)
    r = await browser.submit(page, sign_url)
    assert flash_of(r.text) == f"已登记签约：协议书 {number}，签约日期 {today.isoformat()}"
    shown = text_of(r.text)
    assert f"协议编号 {number} 已签约" in shown and f"签约日期 {format_date_cn(today)}" in shown
    assert sign_url not in r.text  # a signed agreement is never edited

    pdf = await client.get(link(r.text, r"/agreements/\d+/pdf"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    verify_url = html.unescape(re.findall(r'<dd class="idno">(/verify/agreement/[^<]+)</dd>', r.text)[0])
    assert verify_url.startswith(f"/verify/agreement/{number}?h=")

    # the QR code's page is public: a phone with no session opens it
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=BROWSER
    ) as phone:
        page = await Browser(phone).get(verify_url)
        shown = text_of(page)
        assert "校验通过：此协议书由本系统出具，已签约。" in shown
        assert f"协议编号 {number}" in shown and f"户主 {mask_name(head)}" in shown
        assert f"签约日期 {format_date_cn(today)}" in shown and "38,050.00 元 叁万捌仟零伍拾元整" in shown
        assert head not in page and "退出登录" not in page
        forged = await Browser(phone).get(f"/verify/agreement/{number}?h=000000000000")
        assert "校验码不符：此协议书可能被篡改或不是本系统出具" in text_of(forged)
        assert mask_name(head) not in forged

    # (6) the household's 操作记录 tells the story, newest first
    page = await browser.get(household_url)
    history = text_of(section(page, "history"))
    story = [
        "caseworker 村级经办员 保存房屋调查 安置人口：3",
        "caseworker 村级经办员 提交补偿核算 征收项目：FQ-2022 方案版本：2 安置方式：安置房安置 "
        "补偿总额：158,050.00 元 应缴购房款：120,000.00 元 应付净额：38,050.00 元",
        "reviewer 乡镇审核员 批准补偿核算 应付净额：38,050.00 元",
        "caseworker 村级经办员 发布公示 征收项目：FQ-2022 ",
        f"caseworker 村级经办员 登记异议 状态：待处理 提出日期：{today.isoformat()} 提出人：{head}",
        f"caseworker 村级经办员 出具协议书 状态：草稿 应付净额：38,050.00 元 编号：{number}",
        "caseworker 村级经办员 处理异议 状态：待处理 → 已处理 处理结果：经复核",
        f"caseworker 村级经办员 登记签约 状态：草稿 → 已签约 编号：{number} 签约日期：{today.isoformat()}",
    ]
    positions = [history.find(step) for step in story]
    assert -1 not in positions, [step for step, at in zip(story, positions, strict=True) if at < 0]
    assert positions == sorted(positions, reverse=True), "newest first"
    assert f"村：前方庄村 公示户数：1 公示：{period}" in history  # the notice, listed for this household too
    await browser.logout()
