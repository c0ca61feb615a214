"""The auditor's pages: 操作记录 search and 审计链校验."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.audit import service
from app.audit.labels import ACTION_LABELS
from app.audit.schemas import AuditQuery
from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, require
from app.core.clock import CHINA_TZ
from app.web.forms import FormState, pager, read_form, validate
from app.web.history import history_rows
from app.web.templating import render

router = APIRouter()

PAGE_SIZE = 50
QUERY_FIELDS = ("household_id", "actor", "action", "date_from", "date_to")
MAX_PAGE = 100_000


def _day_start(d: date | None) -> datetime | None:
    """Dates are China dates: a day starts at 00:00 China Standard Time."""
    return None if d is None else datetime.combine(d, time.min, tzinfo=CHINA_TZ)


def _page(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE else 1


@router.get("/audit")
async def events(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    require(principal, Perm.AUDIT_READ)
    params = request.query_params
    state = FormState.of(QUERY_FIELDS, {k: params.get(k, "")[:100] for k in QUERY_FIELDS})
    query = validate(AuditQuery, state, choose=("action",))
    context: dict[str, Any] = {"form": state, "actions": ACTION_LABELS, "rows": [], "total": 0, "pager": None}
    if query is None:
        return _render(request, context, 422)
    end = None if query.date_to is None or query.date_to >= date.max else query.date_to + timedelta(days=1)
    f = service.EventFilter(
        household_id=query.household_id,
        actor_username=query.actor,
        action=query.action,
        date_from=_day_start(query.date_from),
        date_to=_day_start(end),
    )
    page = _page(params.get("page"))
    rows, total = await service.search_events(session, principal, f, page=page, page_size=PAGE_SIZE)
    context.update(
        rows=await history_rows(session, rows),
        total=total,
        pager=pager(
            request.url.path,
            {k: state.value(k) for k in QUERY_FIELDS},
            page=page,
            total=total,
            page_size=PAGE_SIZE,
        ),
    )
    return _render(request, context, 200)


def _render(request: Request, context: dict[str, Any], status: int) -> HTMLResponse:
    return render(request, "audit_events.html", context, status_code=status)


@router.get("/audit/verify")
async def verify_form(request: Request, principal: WebPrincipal) -> HTMLResponse:
    require(principal, Perm.AUDIT_READ)
    return render(request, "audit_verify.html", {"result": None})


@router.post("/audit/verify")
async def verify(request: Request, session: Session, principal: WebPrincipal) -> HTMLResponse:
    """A POST, because the check is itself recorded in the trail; the result is shown at once."""
    await read_form(request)
    result = await service.verify_for(session, principal)
    return render(request, "audit_verify.html", {"result": result})
