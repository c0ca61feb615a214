"""群众查询: the public page ``/query`` (no login, phone-sized, no JavaScript): ID number and name go in a POSTed
form, never the URL; the answer is the resident's own case, masked."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.public import gate, rules
from app.web.forms import FormState, read_form
from app.web.templating import render

router = APIRouter()

FIELDS = ("id_number", "name")


def _page(request: Request, context: dict[str, object], status_code: int = 200) -> HTMLResponse:
    response = render(request, "public/query.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # a shared village PC must not show the last person's case
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get("/query")
async def query_form(request: Request) -> HTMLResponse:
    return _page(request, {"form": FormState.of(FIELDS)})


@router.post("/query")
async def query(request: Request) -> HTMLResponse:
    values = await read_form(request)
    id_text, name = values.get("id_number", "").strip(), values.get("name", "").strip()
    form = FormState.of(FIELDS, {"id_number": id_text, "name": name})
    if not id_text or not name:
        if not id_text:
            form.add("id_number", "请填写公民身份号码（18位）")
        if not name:
            form.add("name", "请填写姓名（与户口簿一致）")
        return _page(request, {"form": form}, status_code=422)
    outcome = await gate.look_up(request, id_text, name)
    if outcome.refusal is not None:
        page = _page(request, {"form": form, "refused": outcome.refusal.message}, status_code=429)
        page.headers["Retry-After"] = str(outcome.refusal.retry_after)
        return page
    if outcome.status is None:
        return _page(request, {"form": form, "not_found": rules.NOT_FOUND_MESSAGE})
    return _page(request, {"form": FormState.of(FIELDS), "s": outcome.status})
