"""The audit trail for auditors: search and chain verification."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.audit import service
from app.auth.deps import ApiPrincipal, Session
from app.core.clock import CHINA_TZ
from app.core.params import BIGINT_MAX, PageNo, PageSize
from app.core.text import QueryText
from app.households.api import event_out
from app.households.schemas import AuditEventOut

router = APIRouter(prefix="/api/v1/audit", tags=["操作记录"])

COMMON: dict[int | str, dict[str, object]] = {
    401: {"description": "未登录"},
    403: {"description": "角色无权"},
}


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    total: int
    page: int
    page_size: int


class VerifyOut(BaseModel):
    intact: bool
    checked: int
    first_broken_seq: int | None
    message: str


def _day_start(d: date | None) -> datetime | None:
    return None if d is None else datetime.combine(d, time.min, tzinfo=CHINA_TZ)


@router.get("/events", response_model=AuditPage, responses=COMMON)
async def events(
    session: Session,
    principal: ApiPrincipal,
    household_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    actor: Annotated[QueryText | None, Query(max_length=40)] = None,
    action: Annotated[QueryText | None, Query(max_length=60)] = None,
    date_from: Annotated[date | None, Query(title="起始日期")] = None,
    date_to: Annotated[date | None, Query(title="截止日期（含）")] = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> AuditPage:
    end = None if date_to is None or date_to >= date.max else date_to + timedelta(days=1)
    f = service.EventFilter(
        household_id=household_id,
        actor_username=actor or None,
        action=action or None,
        date_from=_day_start(date_from),
        date_to=_day_start(end),
    )
    rows, total = await service.search_events(session, principal, f, page=page, page_size=page_size)
    return AuditPage(items=[event_out(e) for e in rows], total=total, page=page, page_size=page_size)


@router.post("/verify", response_model=VerifyOut, responses=COMMON)
async def verify(session: Session, principal: ApiPrincipal) -> VerifyOut:
    """审计链校验：逐条重算哈希，报告第一处断开的位置。"""
    result = await service.verify_for(session, principal)
    return VerifyOut(
        intact=result.intact,
        checked=result.checked,
        first_broken_seq=result.first_break.seq if result.first_break else None,
        message=result.message,
    )
