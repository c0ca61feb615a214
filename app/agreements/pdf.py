"""PDF rendering of the public notice list (公示名单) and the agreement (征收补偿安置协议书) with WeasyPrint, from
the Jinja2 templates in ``pdf_templates/``.

Everything is local: the fonts are the system's Noto CJK (embedded, subset, by WeasyPrint), the stylesheet is a
file next to the templates, the QR code is an inline SVG data URI drawn by ``segno``. Rendering is CPU-bound
(~0.4 s for an agreement): callers off the event loop use ``render_in_thread``, one worker at a time, so a bulk job
and a page request never render concurrently in one process.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.core.clock import format_date_cn, format_month_cn
from app.core.money import format_yuan, to_chinese_capital

# Bump when a template or the stylesheet changes what an agreement looks like: kept with every agreement, so an
# old one can be re-produced with the template it was made with.
TEMPLATE_VERSION = "2026.11-1"

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "pdf_templates"

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf")


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yuan"] = format_yuan
    env.filters["capital"] = to_chinese_capital
    env.filters["date_cn"] = format_date_cn
    env.filters["month_cn"] = format_month_cn
    return env


def html_of(template: str, context: Mapping[str, Any]) -> str:
    return _env().get_template(template).render(**context)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf()
    return pdf


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def qr_data_uri(text: str) -> str:
    """A QR code (error correction M) as an SVG data URI, for an ``<img>`` in a template."""
    return str(segno.make(text, error="m").svg_data_uri(scale=4, border=2))


def render_agreement(snapshot: Mapping[str, Any], verify_url: str) -> bytes:
    html = html_of(
        "agreement.html",
        {"a": snapshot, "verify_url": verify_url, "qr": qr_data_uri(verify_url), "version": TEMPLATE_VERSION},
    )
    return html_to_pdf(html)


def render_notice(context: Mapping[str, Any]) -> bytes:
    return html_to_pdf(html_of("notice.html", {"n": context, "version": TEMPLATE_VERSION}))


def render_minimal() -> bytes:
    """A one-page Chinese document through the same stylesheet and fonts: the benchmark's baseline."""
    return html_to_pdf(html_of("minimal.html", {}))


async def render_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a render off the event loop, on the one PDF worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_executor, fn, *args)
