"""Notices, objections and agreements over JSON under /api/v1; PDFs as application/pdf downloads."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path
from fastapi.responses import Response

from app.agreements import rules, service
from app.agreements.models import AGREEMENT_STATUSES, OBJECTION_STATUSES, Agreement, Objection, PublicNotice
from app.agreements.schemas import (
    AgreementOut,
    IssueIn,
    NoticeEntryOut,
    NoticeIn,
    NoticeOut,
    ObjectionIn,
    ObjectionOut,
    ResolveIn,
    SignIn,
    VoidIn,
)
from app.auth.deps import ApiPrincipal, Session
from app.core.clock import today_in_china
from app.core.money import fen_to_yuan, to_chinese_capital
from app.core.params import BIGINT_MAX, HouseholdId, VillageId

router = APIRouter(prefix="/api/v1", tags=["公示与协议"])

NoticeId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="公示编号")]
ObjectionId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="异议编号")]
AgreementId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="协议编号")]

COMMON: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不在负责区域内"},
}
WRITE: dict[int | str, dict[str, Any]] = {
    **COMMON,
    400: {"description": "请求体无法解析"},
    409: {"description": "与当前状态冲突（如公示期未满、有未处理的异议）"},
    422: {"description": "输入有误"},
}
PDF: dict[int | str, dict[str, Any]] = {
    **COMMON,
    200: {"content": {"application/pdf": {}}, "description": "PDF 文件"},
}


def notice_out(n: PublicNotice) -> NoticeOut:
    return NoticeOut(
        id=n.id,
        project_id=n.project_id,
        village_id=n.village_id,
        started_on=n.started_on,
        days=n.days,
        ends_on=rules.notice_ends_on(n.started_on, n.days),
        signable_from=rules.signable_from(n.started_on, n.days),
        period=rules.notice_period_text(n.started_on, n.days),
        entries=[
            NoticeEntryOut(
                household_id=int(e["household_id"]),
                register_no=str(e.get("register_no", "")),
                head_name=str(e["head_name"]),
                head_id_masked=str(e["head_id_masked"]),
                persons=int(e["persons"]),
                option_label=str(e["option_label"]),
                compensation_total=fen_to_yuan(int(e["compensation_total"])),
                flat_price_due=fen_to_yuan(int(e["flat_price_due"])),
                net_payable=fen_to_yuan(int(e["net_payable"])),
            )
            for e in n.entries
        ],
        pdf_sha256=n.pdf_sha256.hex(),
        created_at=n.created_at,
    )


def objection_out(o: Objection) -> ObjectionOut:
    return ObjectionOut(
        id=o.id,
        notice_id=o.notice_id,
        household_id=o.household_id,
        raised_on=o.raised_on,
        raised_by_name=o.raised_by_name,
        content=o.content,
        status=o.status,
        status_label=OBJECTION_STATUSES[o.status],
        resolution=o.resolution,
        resolved_at=o.resolved_at,
    )


def agreement_out(a: Agreement) -> AgreementOut:
    return AgreementOut(
        id=a.id,
        number=a.number,
        household_id=a.household_id,
        project_id=a.project_id,
        assessment_id=a.assessment_id,
        status=a.status,
        status_label=AGREEMENT_STATUSES[a.status],
        net_payable=fen_to_yuan(a.net_payable),
        net_payable_in_words=to_chinese_capital(a.net_payable),
        signed_on=a.signed_on,
        void_reason=a.void_reason,
        template_version=a.template_version,
        pdf_sha256=a.pdf_sha256.hex(),
        verify_path=service.verify_url_of(a.number, a.snapshot),
        created_at=a.created_at,
    )


def pdf_response(data: bytes, filename: str) -> Response:
    """A PDF download; the file name in RFC 5987 form too, for names with Chinese characters."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------- notices


@router.get("/villages/{village_id}/notices", response_model=list[NoticeOut], responses=COMMON)
async def list_notices(session: Session, principal: ApiPrincipal, village_id: VillageId) -> list[NoticeOut]:
    """本村的公示，最新的在前。"""
    return [notice_out(n) for n in await service.notices_of_village(session, principal, village_id)]


@router.post("/villages/{village_id}/notices", response_model=NoticeOut, status_code=201, responses=WRITE)
async def create_notice(
    session: Session, principal: ApiPrincipal, village_id: VillageId, body: NoticeIn
) -> NoticeOut:
    """发布公示：本村在该项目中已批准、尚未公示（或全部已批准）的补偿核算，生成公示名单 PDF。"""
    notice = await service.create_notice(
        session,
        principal,
        body.project_id,
        village_id,
        started_on=body.started_on,
        include_noticed=body.include_noticed,
    )
    return notice_out(notice)


@router.get("/notices/{notice_id}", response_model=NoticeOut, responses=COMMON)
async def get_notice(session: Session, principal: ApiPrincipal, notice_id: NoticeId) -> NoticeOut:
    return notice_out(await service.get_notice(session, principal, notice_id))


@router.get("/notices/{notice_id}/pdf", response_class=Response, responses=PDF)
async def notice_pdf(session: Session, principal: ApiPrincipal, notice_id: NoticeId) -> Response:
    """公示名单 PDF。"""
    notice = await service.get_notice(session, principal, notice_id)
    return pdf_response(notice.pdf, f"公示-{notice.id}-{notice.started_on.isoformat()}.pdf")


# ---------------------------------------------------------------- objections


@router.get("/households/{household_id}/objections", response_model=list[ObjectionOut], responses=COMMON)
async def list_objections(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId
) -> list[ObjectionOut]:
    return [objection_out(o) for o in await service.objections_of(session, principal, household_id)]


@router.post(
    "/households/{household_id}/objections", response_model=ObjectionOut, status_code=201, responses=WRITE
)
async def record_objection(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId, body: ObjectionIn
) -> ObjectionOut:
    """登记异议：未处理的异议会阻止本户签约。"""
    objection = await service.record_objection(
        session,
        principal,
        household_id,
        raised_on=body.raised_on or today_in_china(),
        raised_by_name=body.raised_by_name,
        content=body.content,
    )
    return objection_out(objection)


@router.post("/objections/{objection_id}/resolve", response_model=ObjectionOut, responses=WRITE)
async def resolve_objection(
    session: Session, principal: ApiPrincipal, objection_id: ObjectionId, body: ResolveIn
) -> ObjectionOut:
    """处理异议（填写处理结果）。"""
    return objection_out(await service.resolve_objection(session, principal, objection_id, body.resolution))


# ---------------------------------------------------------------- agreements


@router.get("/households/{household_id}/agreements", response_model=list[AgreementOut], responses=COMMON)
async def list_agreements(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId
) -> list[AgreementOut]:
    return [agreement_out(a) for a in await service.agreements_of(session, principal, household_id)]


@router.post(
    "/households/{household_id}/agreements", response_model=AgreementOut, status_code=201, responses=WRITE
)
async def issue_agreement(
    session: Session, principal: ApiPrincipal, household_id: HouseholdId, body: IssueIn
) -> AgreementOut:
    """出具协议书（草稿）：依据已批准、已公示的补偿核算，按项目和村编号。"""
    return agreement_out(await service.issue_agreement(session, principal, household_id, body.project_id))


@router.get("/agreements/{agreement_id}", response_model=AgreementOut, responses=COMMON)
async def get_agreement(session: Session, principal: ApiPrincipal, agreement_id: AgreementId) -> AgreementOut:
    return agreement_out(await service.get_agreement(session, principal, agreement_id))


@router.get("/agreements/{agreement_id}/pdf", response_class=Response, responses=PDF)
async def agreement_pdf(session: Session, principal: ApiPrincipal, agreement_id: AgreementId) -> Response:
    """协议书 PDF（保存的原件，与 pdf_sha256 一致）。"""
    agreement = await service.get_agreement(session, principal, agreement_id)
    return pdf_response(agreement.pdf, f"{agreement.number}.pdf")


@router.post("/agreements/{agreement_id}/render", response_model=AgreementOut, responses=WRITE)
async def rerender(session: Session, principal: ApiPrincipal, agreement_id: AgreementId) -> AgreementOut:
    """按当前数据重新生成协议书草稿（编号不变；已签约或已作废的协议不能重新生成）。"""
    return agreement_out(await service.rerender(session, principal, agreement_id))


@router.post("/agreements/{agreement_id}/sign", response_model=AgreementOut, responses=WRITE)
async def sign(
    session: Session, principal: ApiPrincipal, agreement_id: AgreementId, body: SignIn
) -> AgreementOut:
    """登记签约（签约日期默认今天）。公示期未满或有未处理的异议时拒绝，并说明原因和期限。"""
    return agreement_out(await service.sign(session, principal, agreement_id, body.signed_on))


@router.post("/agreements/{agreement_id}/void", response_model=AgreementOut, responses=WRITE)
async def void(
    session: Session, principal: ApiPrincipal, agreement_id: AgreementId, body: VoidIn
) -> AgreementOut:
    """作废协议（乡镇审核员，须填写原因）；作废后可为本户重新出具协议书。"""
    return agreement_out(await service.void(session, principal, agreement_id, body.reason))
