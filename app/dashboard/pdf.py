"""工作进度简报: the dashboard's figures and charts on one A4 page, through WeasyPrint (``app.agreements.pdf``'s
environment, stylesheet and fonts). The render is CPU-bound: callers run it off the event loop
(``pdf.render_in_thread``)."""

from __future__ import annotations

from typing import Any

from app.agreements import pdf
from app.dashboard import charts, rules
from app.dashboard.service import Progress

TEMPLATE = "dashboard.html"


def briefing_context(progress: Progress) -> dict[str, Any]:
    return {
        "p": progress,
        "charts": charts.dashboard_charts("pdf", progress.stages, progress.weeks, progress.money),
        "percent": rules.percent,
        "n": rules.count_text,
    }


def render_briefing(progress: Progress) -> bytes:
    return pdf.html_to_pdf(pdf.html_of(TEMPLATE, briefing_context(progress)))


def filename(progress: Progress) -> str:
    day = progress.today
    return f"工作进度简报-{progress.scope.title}-{day.year}年{day.month}月{day.day}日.pdf"
