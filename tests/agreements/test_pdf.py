"""The agreement and notice PDFs: embedded CJK fonts (pdffonts), the household's name and the 大写 total in the
text (pdftotext), page numbers, and the QR code's verification URL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import pdf, rules, service
from tests.agreements.helpers import NET_WORDS, approved_assessment, at, principal, project_with_plan
from tests.seed import SEED

Pin = Callable[[datetime], None]

pytestmark = pytest.mark.skipif(
    shutil.which("pdffonts") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils is not installed (scripts/bootstrap.sh installs it)",
)


def run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603


def fonts(path: Path) -> list[tuple[str, str]]:
    """(font name, emb) of each font in the PDF, from ``pdffonts``."""
    out = run("pdffonts", str(path))
    rows = []
    for line in out.splitlines()[2:]:
        parts = line.split()
        # name type [type…] encoding emb sub uni object ID
        rows.append((parts[0], parts[-5]))
    return rows


def text_of(path: Path) -> str:
    return run("pdftotext", "-layout", str(path), "-")


def assert_cjk_embedded(path: Path) -> None:
    found = fonts(path)
    assert found, "the PDF has no fonts"
    for name, emb in found:
        assert re.search(r"\+Noto-?(Sans|Serif)-?CJK", name), found
        assert emb == "yes", found


async def test_agreement_pdf(db: AsyncSession, pinned_clock: Pin, tmp_path: Path) -> None:
    pinned_clock(at(date(2022, 9, 1)))
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    cw = await principal(db, "cw_a")
    await service.create_notice(db, cw, case.project.id, case.village_id)
    pinned_clock(at(date(2022, 9, 8)))
    agreement = await service.issue_agreement(db, cw, SEED.households["h1"])
    path = tmp_path / f"{agreement.number}.pdf"
    path.write_bytes(agreement.pdf)
    if os.environ.get("ANZHI_KEEP_PDF"):
        shutil.copy(path, os.environ["ANZHI_KEEP_PDF"])
    assert pdf.sha256(agreement.pdf) == agreement.pdf_sha256
    assert agreement.template_version == pdf.TEMPLATE_VERSION
    assert_cjk_embedded(path)
    body = text_of(path)
    flat = re.sub(r"\s+", "", body)
    assert "王建国" in flat
    assert NET_WORDS in flat
    assert "FQ-2022-QFZ-0001" in flat
    assert "贰拾陆万肆仟陆佰元整" in flat  # compensation total 264,600.00
    assert re.search(r"第1页共\d+页", flat)
    # Members' ID numbers are printed masked, the head's too (see app.agreements.service).
    assert SEED.id_numbers["h1_head"] not in flat and SEED.id_numbers["h1_spouse"] not in flat
    code = rules.check_code(agreement.snapshot, agreement.template_version)
    assert rules.verify_path(agreement.number, code) in flat


async def test_notice_pdf(db: AsyncSession, pinned_clock: Pin, tmp_path: Path) -> None:
    pinned_clock(at(date(2022, 9, 1)))
    case = await project_with_plan(db)
    await approved_assessment(db, case, SEED.households["h1"])
    notice = await service.create_notice(db, await principal(db, "cw_a"), case.project.id, case.village_id)
    path = tmp_path / "notice.pdf"
    path.write_bytes(notice.pdf)
    assert_cjk_embedded(path)
    flat = re.sub(r"\s+", "", text_of(path))
    assert "公示期：2022年9月1日至2022年9月7日" in flat
    assert "王建国" in flat and "94,700.00" in flat
    assert SEED.id_numbers["h1_head"] not in flat
    assert SEED.id_numbers["h1_head"][:6] + "********" + SEED.id_numbers["h1_head"][-4:] in flat
