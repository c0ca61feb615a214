"""工作进度: progress dashboards for the county, a project and a village, as numbers, SVG charts and a one-page PDF
briefing.

Reading them needs REGISTRY_READ; the figures cover the caller's areas only (``service._households``), and a
project or village outside them is not found. "Today" is ``today_in_china`` (pinned by tests).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.agreements import pdf
from app.agreements.api import pdf_response
from app.auth.deps import Session, WebPrincipal
from app.core.clock import today_in_china
from app.core.params import ProjectId, VillageId
from app.dashboard import charts, rules, service
from app.dashboard import pdf as briefing
from app.dashboard.service import Scope
from app.web.templating import render

router = APIRouter()


async def _page(request: Request, session: AsyncSession, scope: Scope) -> HTMLResponse:
    progress = await service.progress(session, scope, today_in_china())
    return render(
        request,
        "dashboard/index.html",
        {
            "nav": "dashboard",
            "p": progress,
            "charts": charts.dashboard_charts("chart", progress.stages, progress.weeks, progress.money),
            "percent": rules.percent,
            "n": rules.count_text,
        },
    )


async def _pdf(session: AsyncSession, scope: Scope) -> Response:
    progress = await service.progress(session, scope, today_in_china())
    data = await pdf.render_in_thread(briefing.render_briefing, progress)
    return pdf_response(data, briefing.filename(progress))


# The .pdf routes come first: "/dashboard/projects/{project_id}" would otherwise take "7.pdf" for an id.


@router.get("/dashboard.pdf")
async def area_pdf(session: Session, principal: WebPrincipal) -> Response:
    return await _pdf(session, await service.area_scope(session, principal))


@router.get("/dashboard/projects/{project_id}.pdf")
async def project_pdf(session: Session, principal: WebPrincipal, project_id: ProjectId) -> Response:
    return await _pdf(session, await service.project_scope(session, principal, project_id))


@router.get("/dashboard/villages/{village_id}.pdf")
async def village_pdf(session: Session, principal: WebPrincipal, village_id: VillageId) -> Response:
    return await _pdf(session, await service.village_scope(session, principal, village_id))


@router.get("/dashboard", response_class=HTMLResponse)
async def area_page(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    return await _page(request, session, await service.area_scope(session, principal))


@router.get("/dashboard/projects/{project_id}", response_class=HTMLResponse)
async def project_page(
    request: Request, session: Session, principal: WebPrincipal, project_id: ProjectId
) -> HTMLResponse:
    return await _page(request, session, await service.project_scope(session, principal, project_id))


@router.get("/dashboard/villages/{village_id}", response_class=HTMLResponse)
async def village_page(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageId
) -> HTMLResponse:
    return await _page(request, session, await service.village_scope(session, principal, village_id))
