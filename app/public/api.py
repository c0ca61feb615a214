"""群众查询 as JSON: ``POST /api/v1/public/status`` (no login; the number travels in the body, never the URL)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app.public import gate, rules
from app.public.schemas import Message, StatusOut, StatusQuery, status_out

router = APIRouter(prefix="/api/v1/public", tags=["群众查询"])

NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "/status",
    response_model=StatusOut,
    responses={
        400: {"model": Message, "description": "请求体无法解析"},
        404: {"model": Message, "description": "未查到（身份证号未登记、姓名不符或号码无效，答复相同）"},
        429: {"model": Message, "description": "查询过于频繁；Retry-After 为需等待的秒数"},
    },
)
async def public_status(request: Request, body: StatusQuery) -> Response:
    """按公民身份号码和姓名查询本人的征收安置进度、补偿款发放和被征地农民养老金（均部分隐藏）。"""
    outcome = await gate.look_up(request, body.id_number, body.name)
    if outcome.refusal is not None:
        return JSONResponse(
            {"detail": outcome.refusal.message},
            status_code=429,
            headers={**NO_STORE, "Retry-After": str(outcome.refusal.retry_after)},
        )
    if outcome.status is None:
        return JSONResponse({"detail": rules.NOT_FOUND_MESSAGE}, status_code=404, headers=NO_STORE)
    # Serialised by pydantic-core straight to JSON: a third of the cost of a dict through json.dumps.
    return Response(
        status_out(outcome.status).model_dump_json(), media_type="application/json", headers=NO_STORE
    )
