"""Compensation over JSON: the staff trial calculator (more routes join as the issue proceeds)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError

from app.auth.deps import ApiPrincipal
from app.auth.policy import Perm, require
from app.compensation import rules
from app.compensation.schemas import LineOut, QuoteIn, QuoteOut
from app.core.money import fen_to_yuan, to_chinese_capital

router = APIRouter(prefix="/api/v1/compensation", tags=["补偿核算"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求格式有误"},
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    422: {"description": "输入有误（信息中写明字段）"},
}


def assessment_error(exc: rules.AssessmentError, *prefix: str) -> RequestValidationError:
    """A rules error as a validation error, so the API answers it like any other bad field."""
    loc: list[str | int] = ["body", *prefix]
    loc += [int(p) if p.isdigit() else p for p in exc.field.split(".")]
    return RequestValidationError([{"loc": tuple(loc), "msg": exc.message, "type": "assessment"}])


def quote_out(result: rules.Assessment) -> QuoteOut:
    return QuoteOut(
        lines=[
            LineOut(
                code=line.code,
                label=line.label,
                basis=line.basis,
                amount=fen_to_yuan(line.amount),
                payable_on_proof=line.payable_on_proof,
            )
            for line in result.lines
        ],
        entitled_area=f"{result.entitled_area:.2f}",
        flat_area=f"{result.flat_area:.2f}",
        compensation_total=fen_to_yuan(result.compensation_total),
        compensation_total_in_words=to_chinese_capital(result.compensation_total),
        flat_price_due=fen_to_yuan(result.flat_price_due),
        flat_price_basis=result.flat_price_basis,
        net_payable=fen_to_yuan(result.net_payable),
        net_payable_in_words=to_chinese_capital(result.net_payable),
    )


@router.post("/quote", response_model=QuoteOut, responses=RESPONSES)
async def quote(principal: ApiPrincipal, body: QuoteIn) -> QuoteOut:
    """试算：按给定的方案参数、调查数据和安置方式计算每一项补偿及合计；不保存任何数据。"""
    require(principal, Perm.REGISTRY_READ)
    try:
        result = rules.assess(
            body.plan.to_rules(),
            body.survey.to_rules(),
            body.option.to_rules(),
            signed_on=body.signed_on,
            vacated_on=body.vacated_on,
        )
    except rules.AssessmentError as exc:
        # survey.* and option.* fields live under the request's "survey" and "option".
        prefix = () if exc.field.startswith("option") else ("survey",)
        raise assessment_error(exc, *prefix) from None
    return quote_out(result)
