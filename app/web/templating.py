"""Jinja2 pages: one environment, filters for dates, money and masked numbers, flash messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.auth.policy import ROLE_LABELS, Perm
from app.core.clock import format_date_cn, format_datetime_cn, format_month_cn
from app.core.money import format_yuan, to_chinese_capital
from app.households.models import MEMBER_STATUSES, RELATIONS, SEXES
from app.web.csrf import CSRF_FIELD, attach_cookie, csrf_token

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
FLASH_COOKIE = "anzhi_flash"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
env = templates.env
env.filters["date_cn"] = format_date_cn
env.filters["datetime_cn"] = format_datetime_cn
env.filters["month_cn"] = format_month_cn
env.filters["yuan"] = format_yuan
env.filters["capital"] = to_chinese_capital
env.globals["RELATIONS"] = RELATIONS
env.globals["MEMBER_STATUSES"] = MEMBER_STATUSES
env.globals["SEXES"] = SEXES
env.globals["ROLE_LABELS"] = ROLE_LABELS
env.globals["CSRF_FIELD"] = CSRF_FIELD


@dataclass(frozen=True, slots=True)
class HouseholdTab:
    key: str
    label: str
    url: str | None  # ``{id}`` is the household id; None: not open yet


# The household page's tabs (ui.md); each is a page of its own under /households/{id}.
HOUSEHOLD_TABS: list[HouseholdTab] = [
    HouseholdTab("members", "家庭成员", "/households/{id}"),
    HouseholdTab("survey", "房屋调查", "/households/{id}/survey"),
    HouseholdTab("assessment", "补偿核算", "/households/{id}/assessments"),
    HouseholdTab("notice", "公示与异议", "/households/{id}/notice"),
    HouseholdTab("agreement", "协议", "/households/{id}/agreements"),
    HouseholdTab("flats", "安置房", "/households/{id}/flats"),
    HouseholdTab("payments", "付款", "/households/{id}/agreements#tranches"),
    HouseholdTab("social", "社保", "/households/{id}/social"),
    HouseholdTab("history", "操作记录", "/households/{id}#history"),
]
env.globals["HOUSEHOLD_TABS"] = HOUSEHOLD_TABS
env.globals["Perm"] = Perm


def flash(response: Response, message: str, kind: str = "success") -> None:
    """A one-shot message shown on the next page (after POST → redirect → GET)."""
    response.set_cookie(
        FLASH_COOKIE,
        json.dumps({"m": message, "k": kind}, ensure_ascii=True),
        max_age=60,
        httponly=True,
        samesite="lax",
        path="/",
    )


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return {"message": str(data["m"]), "kind": str(data.get("k", "success"))}
    except (ValueError, KeyError, TypeError):
        return None


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "csrf_token": csrf_token(request),
        "principal": getattr(request.state, "principal", None),
        "flash": _read_flash(request),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    attach_cookie(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response
