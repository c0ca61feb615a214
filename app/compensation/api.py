"""Compensation over JSON: the staff trial calculator, the household survey and assessments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.exceptions import RequestValidationError

from app.auth.deps import ApiPrincipal, Session
from app.auth.policy import Perm, require
from app.compensation import rules, service
from app.compensation.models import ASSESSMENT_STATUSES
from app.compensation.schemas import (
    AssessmentIn,
    AssessmentOut,
    AttachmentIn,
    LineOut,
    QuoteIn,
    QuoteOut,
    ReturnIn,
    StructureIn,
    SurveyOut,
    SurveySave,
)
from app.core.money import fen_to_yuan, to_chinese_capital
from app.core.params import BIGINT_MAX, HouseholdId

AssessmentId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="补偿核算编号")]

router = APIRouter(prefix="/api/v1", tags=["补偿核算"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求格式有误"},
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    422: {"description": "输入有误（信息中写明字段）"},
}
READ: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不在负责区域内"},
}
WRITE: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    404: {"description": "不存在或不在负责区域内"},
    409: {"description": "与现有数据冲突（他人已修改、已有待审核的核算、状态不允许）"},
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


@router.post("/compensation/quote", response_model=QuoteOut, responses=RESPONSES)
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


# ---------------------------------------------------------------- the survey


def survey_out(view: service.SurveyView) -> SurveyOut:
    inputs = view.inputs
    if view.survey is None or inputs is None:
        return SurveyOut(
            household_id=view.household.id,
            recorded=False,
            persons=0,
            contracted_mu="0.0000",
            acquired_mu="0.0000",
            surveyed_on=None,
            structures=[],
            attachments=[],
            version=None,
        )
    return SurveyOut(
        household_id=view.household.id,
        recorded=True,
        persons=inputs["persons"],
        contracted_mu=inputs["contracted_mu"],
        acquired_mu=inputs["acquired_mu"],
        surveyed_on=view.survey.surveyed_on,
        structures=[StructureIn.model_validate(s) for s in inputs["structures"]],
        attachments=[AttachmentIn.model_validate(a) for a in inputs["attachments"]],
        version=view.survey.version,
    )


@router.get("/households/{household_id}/survey", response_model=SurveyOut, responses=READ)
async def get_survey(session: Session, principal: ApiPrincipal, household_id: HouseholdId) -> SurveyOut:
    """本户的房屋调查登记（尚未登记时 ``recorded`` 为 false）。"""
    return survey_out(await service.get_survey(session, principal, household_id))


@router.put("/households/{household_id}/survey", response_model=SurveyOut, responses=WRITE)
async def put_survey(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId, body: SurveySave
) -> SurveyOut:
    """保存房屋调查登记：房屋和附属物清单整体替换；修改时须带上读取时的 ``version``。"""
    return survey_out(await service.save_survey(session, principal, household_id, body))


# ---------------------------------------------------------------- assessments


def assessment_out(row: service.AssessmentRow) -> AssessmentOut:
    a = row.assessment
    return AssessmentOut(
        id=a.id,
        household_id=a.household_id,
        project_id=a.project_id,
        plan_id=a.plan_id,
        plan_version=row.plan_version,
        status=a.status,
        status_label=ASSESSMENT_STATUSES[a.status],
        option_kind=a.option_kind,
        option_label=rules.OPTION_KINDS[a.option_kind],
        option=a.option,
        signed_on=a.signed_on,
        vacated_on=a.vacated_on,
        inputs=a.inputs,
        lines=[
            LineOut(
                code=line.code,
                label=line.label,
                basis=line.basis,
                amount=fen_to_yuan(line.amount),
                payable_on_proof=line.payable_on_proof,
            )
            for line in row.lines
        ],
        entitled_area=f"{a.entitled_area:.2f}",
        flat_area=f"{a.flat_area:.2f}",
        compensation_total=fen_to_yuan(a.compensation_total),
        compensation_total_in_words=to_chinese_capital(a.compensation_total),
        flat_price_due=fen_to_yuan(a.flat_price_due),
        flat_price_basis=a.flat_price_basis,
        net_payable=fen_to_yuan(a.net_payable),
        net_payable_in_words=to_chinese_capital(a.net_payable),
        created_by=row.maker,
        created_at=a.created_at,
        reviewer=row.reviewer,
        reviewed_at=a.reviewed_at,
        review_comment=a.review_comment,
    )


@router.get("/households/{household_id}/assessments", response_model=list[AssessmentOut], responses=READ)
async def list_assessments(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId
) -> list[AssessmentOut]:
    """本户的全部补偿核算（含已退回、已被取代的历史版本），新的在前。"""
    return [assessment_out(r) for r in await service.history(session, principal, household_id)]


@router.post(
    "/households/{household_id}/assessments", response_model=AssessmentOut, status_code=201, responses=WRITE
)
async def submit_assessment(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId, body: AssessmentIn
) -> AssessmentOut:
    """按项目的已批准方案和本户当前的房屋调查核算，并提交审核：方案版本、调查数据和每一项金额随即固定。"""
    assessment = await service.submit(session, principal, household_id, body)
    return assessment_out(await service.assessment_row(session, principal, assessment.id))


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut, responses=READ)
async def get_assessment(
    session: Session, principal: ApiPrincipal, assessment_id: AssessmentId
) -> AssessmentOut:
    """一次补偿核算的全部内容。"""
    return assessment_out(await service.assessment_row(session, principal, assessment_id))


@router.post("/assessments/{assessment_id}/approve", response_model=AssessmentOut, responses=WRITE)
async def approve_assessment(
    session: Session, principal: ApiPrincipal, assessment_id: AssessmentId
) -> AssessmentOut:
    """批准（审核员，且不是提交人）；本户在该项目中原已批准的核算随之被取代。"""
    await service.approve(session, principal, assessment_id)
    return assessment_out(await service.assessment_row(session, principal, assessment_id))


@router.post("/assessments/{assessment_id}/return", response_model=AssessmentOut, responses=WRITE)
async def return_assessment(
    session: Session, principal: ApiPrincipal, assessment_id: AssessmentId, body: ReturnIn
) -> AssessmentOut:
    """退回并写明意见；经办员修改后重新提交。"""
    await service.send_back(session, principal, assessment_id, body.comment)
    return assessment_out(await service.assessment_row(session, principal, assessment_id))
