"""Issue 6's "Done when", in a real browser: Debian's Chromium, driven by Playwright, on a phone-sized screen with
JavaScript switched off. A pensioner of the demo village (前方庄村) looks up their own status and sees it masked,
with their pension months paid; a wrong name gets the same page as an unknown number; hammering the lookup gets
429 with a Chinese "try again after".

The application runs as a real uvicorn server on loopback, on its own database (built by the migrations, demo
loaded and committed), because the browser is a separate process."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import uvicorn
from playwright.async_api import ViewportSize
from sqlalchemy import text

from app.agreements.rules import mask_name
from app.config import get_settings
from app.core.idcard import mask_id_number
from app.db import create_app_engine, make_sessionmaker
from app.demo.load import load_demo
from app.households.service import id_cipher
from app.main import create_app

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason="Debian's chromium is not installed (scripts/bootstrap.sh installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(url: str) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(database_url=url), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def _demo_pensioner(url: str) -> tuple[str, str, list[str]]:
    """(ID number, name, the months paid shown first) of a demo pensioner with paid months."""
    engine = await create_app_engine(get_settings(), url)
    try:
        async with make_sessionmaker(engine)() as session:
            async with session.begin():
                await load_demo(session)
            row = (
                await session.execute(
                    text(
                        "SELECT m.id_number_enc, m.name, e.id FROM enrollments e JOIN members m ON m.id = e.member_id "
                        "JOIN areas v ON v.id = (SELECT village_id FROM households WHERE id = e.household_id) "
                        "WHERE v.name = '前方庄村' AND e.status = 'active' AND EXISTS (SELECT 1 FROM pension_months p "
                        "WHERE p.enrollment_id = e.id AND p.status = 'paid') ORDER BY e.id LIMIT 1"
                    )
                )
            ).one()
            months = (
                await session.execute(
                    text(
                        "SELECT month, status FROM pension_months WHERE enrollment_id = :e ORDER BY month DESC LIMIT 12"
                    ),
                    {"e": row.id},
                )
            ).all()
    finally:
        await engine.dispose()
    shown = [f"{m.month.year}年{m.month.month}月" for m in months if m.status == "paid"]
    return id_cipher().decrypt(row.id_number_enc), row.name, shown


@asynccontextmanager
async def _phone(base: str, *, javascript: bool = False) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = await browser.new_context(
                base_url=base, viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=javascript
            )
            yield await context.new_page()
        finally:
            await browser.close()


async def _submit(page: Any, id_number: str, name: str) -> tuple[int, str]:
    """Fill the form as a resident would and press 查询: (HTTP status, the text of the page's main part)."""
    await page.goto("/query")
    await page.get_by_label("公民身份号码").fill(id_number)
    await page.get_by_label("姓名").fill(name)
    async with page.expect_response(
        lambda r: r.url.endswith("/query") and r.request.method == "POST"
    ) as info:
        await page.get_by_role("button", name="查询").click()
    response = await info.value
    await page.wait_for_load_state()
    return response.status, await page.locator("main").inner_text()


async def test_a_resident_looks_up_their_status_on_a_phone(extra_database: Callable[[str], str]) -> None:
    url = await asyncio.to_thread(extra_database, "web")
    id_number, name, paid_months = await _demo_pensioner(url)
    assert paid_months, "the demo pensioner has paid months"
    with _serving(url) as base:
        async with _phone(base) as page:
            status, shown = await _submit(page, id_number, name)
            assert status == 200, shown
            html = await page.content()
            assert id_number not in html, "the full ID number never reaches the page"
            assert f"已查到 {mask_name(name)}（{mask_id_number(id_number)}）的记录，前方庄村" in shown
            assert "被征地农民养老金" in shown and "月养老金" in shown
            assert "本户尚未完成补偿核算，暂无补偿安置信息。" in shown  # the demo has no assessments yet
            assert "下次资格认证" in shown
            assert paid_months[0] in shown
            assert shown.count("已到账") >= len(paid_months[:12])
            assert "<script" not in html

            # A wrong name and an unknown number: the same page.
            _status, wrong_name = await _submit(page, id_number, name + "某")
            _status, unknown = await _submit(page, "41072719990101123X", name)
            assert wrong_name == unknown
            assert "未查到与所填身份证号和姓名相符的记录" in wrong_name

            # Hammering one number: refused with 429 and a Chinese "try again after".
            statuses = [(await _submit(page, id_number, name + "某"))[0] for _ in range(10)]
            assert statuses[-1] == 429 and 200 in statuses, statuses
            refused = await page.locator("main").inner_text()
            assert "该身份证号查询次数过多，为保护个人信息，请 60 分钟后再试。" in refused

        # The page fits a phone: nothing wider than the screen (layout checked with scripts on).
        async with _phone(base, javascript=True) as page:
            await page.goto("/query")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], width
            font = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
            assert font >= 16, font
