"""Land-loss social security (被征地农民社会保障) over JSON under /api/v1: the trial calculator, acquisition batches
and their eligibility lists, the old policy, enrollments, passbooks, proof of life, deaths and recoveries, and the
months due. Money is two-decimal yuan strings, months ``YYYY-MM``; ID numbers and accounts are only ever masked."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.exceptions import RequestValidationError

from app.auth.deps import ApiPrincipal, Session
from app.auth.policy import Perm, require
from app.core.clock import today_in_china
from app.core.errors import InvalidInput
from app.core.idcard import IdNumber, parse_id_number
from app.core.money import fen_to_yuan, yuan_to_fen
from app.core.params import BIGINT_MAX, INT_MAX
from app.core.text import QueryText
from app.socialsecurity import rules, service
from app.socialsecurity.api_schemas import (
    BatchOut,
    CertificationDueOut,
    CertificationOut,
    ChangedOut,
    DeathOut,
    DueOut,
    DueTotalsOut,
    EligibilityListOut,
    EnrolledOut,
    EnrollmentOut,
    EnrollmentPage,
    EntryOut,
    HeirOut,
    LandRowOut,
    MonthOut,
    OldPolicyOut,
    OldPolicyPage,
    OldPolicySavedOut,
    OverpaymentOut,
    PassbookOut,
    PersonOut,
    RecoveryOut,
    VillageDueOut,
)
from app.socialsecurity.models import (
    BATCH_STATUSES,
    ENROLLMENT_STATUSES,
    Enrollment,
    HeirPayment,
    LifeCertification,
    OldPolicyRecord,
    Overpayment,
    OverpaymentRecovery,
    Passbook,
)
from app.socialsecurity.schemas import (
    BatchIn,
    BatchUpdate,
    CertificationIn,
    DeathIn,
    HeirIn,
    LandBulkIn,
    NoticeIn,
    OldPolicyIn,
    PassbookIn,
    QuoteIn,
    QuoteOut,
    RecoveryIn,
    ReviewIn,
)

router = APIRouter(prefix="/api/v1", tags=["被征地农民社保"])

BatchId = Annotated[int, Path(ge=1, le=INT_MAX, title="征地批次编号")]
EnrollmentId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="参保编号")]
Limit = Annotated[int, Query(ge=1, le=200, title="每页条数")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, title="跳过条数")]
MonthQuery = Annotated[QueryText | None, Query(max_length=7, title="年月（YYYY-MM）")]

QUOTE: dict[int | str, dict[str, Any]] = {
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
QUERY: dict[int | str, dict[str, Any]] = {**READ, 422: {"description": "查询参数有误（如年月格式）"}}
WRITE: dict[int | str, dict[str, Any]] = {
    **READ,
    400: {"description": "请求体无法解析"},
    409: {"description": "与现有数据冲突（他人已修改、状态不允许、同一人重复参保或同一月份重复发放）"},
    422: {"description": "输入有误"},
}

OLD_POLICY_CHANGES = {"created": "新增", "updated": "已更新", "unchanged": "无变化"}
HEIR_STATUSES = {"due": "待支付", "paid": "已支付"}


def _mu(value: Any) -> str:
    return f"{value:.4f}"


def _month(value: date) -> str:
    return rules.format_month(value)


def _month_or_none(value: date | None) -> str | None:
    return None if value is None else rules.format_month(value)


def _parse_month_query(value: str | None, field: str) -> date:
    """A ``YYYY-MM`` query parameter (this month when left out); a wrong one is a 422 naming it."""
    if not value:
        return rules.month_of(today_in_china())
    try:
        return rules.parse_month(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None


# ---------------------------------------------------------------- the trial calculator


def _quote_errors(body: QuoteIn) -> list[dict[str, Any]]:
    """What the calculator cannot work with although each field alone is well formed, located like any other
    validation error so that the answer names the field."""
    errors: list[dict[str, Any]] = []

    def error(loc: tuple[str, ...], msg: str) -> None:
        errors.append({"loc": ("body", *loc), "msg": msg, "type": "quote"})

    if body.batch.approved_on < body.batch.announcement_date:
        error(("batch", "approved_on"), "征地批准日不能早于补偿安置公告日")
    if body.household.acquired_mu > body.household.contracted_mu:
        error(("household", "acquired_mu"), "被征收面积不能大于承包地面积")
    return errors


@router.post("/social-security/quote", response_model=QuoteOut, responses=QUOTE)
async def quote(principal: ApiPrincipal, body: QuoteIn) -> QuoteOut:
    """试算：按给定的批次参数、身份证号、家庭承包地和老政策领取情况，计算是否符合参保条件、个人账户记入额和养老金起领年月；
    不保存任何数据。"""
    require(principal, Perm.REGISTRY_READ)
    errors = _quote_errors(body)
    person: IdNumber | None = None
    try:
        person = parse_id_number(body.person.id_number, today=today_in_china())
    except ValueError as exc:
        errors.append({"loc": ("body", "person", "id_number"), "msg": str(exc), "type": "id_number"})
    if errors or person is None:
        raise RequestValidationError(errors)
    b = body.batch
    params = rules.BatchParams(
        announcement_date=b.announcement_date,
        approved_on=b.approved_on,
        per_capita_land_threshold_mu=b.per_capita_land_threshold_mu,
        min_age=b.min_age,
        pension_age=b.pension_age,
        fee_standard=yuan_to_fen(b.fee_standard),
        monthly_pension=yuan_to_fen(b.monthly_pension),
    )
    old = body.old_policy
    result = rules.quote(
        params,
        birth_date=person.birth_date,
        registered_on_announcement=body.person.registered_on_announcement,
        land=rules.HouseholdLand(
            body.household.contracted_mu, body.household.acquired_mu, body.household.members
        ),
        other_enrollment=body.other_enrollment,
        old_lump_sum=yuan_to_fen(old.lump_sum_received) if old else 0,
        old_monthly_paid_through=(
            rules.parse_month(old.monthly_paid_through) if old and old.monthly_paid_through else None
        ),
    )
    return QuoteOut(
        eligible=result.eligibility.eligible,
        reasons=list(result.eligibility.reasons),
        age_on_announcement=result.eligibility.age_on_announcement,
        account_credit=fen_to_yuan(result.account_credit),
        monthly_pension=fen_to_yuan(result.monthly_pension),
        pension_start_month=_month(result.pension_start_month),
    )


# ---------------------------------------------------------------- batches and their lists


def batch_out(row: service.BatchRow) -> BatchOut:
    b = row.batch
    return BatchOut(
        id=b.id,
        code=b.code,
        name=b.name,
        project_id=b.project_id,
        project_code=row.project_code,
        village_id=b.village_id,
        village_name=row.village_name,
        status=b.status,
        status_label=BATCH_STATUSES[b.status],
        announcement_date=b.announcement_date,
        approved_on=b.approved_on,
        per_capita_land_threshold_mu=_mu(b.per_capita_land_threshold_mu),
        min_age=b.min_age,
        pension_age=b.pension_age,
        fee_standard=fen_to_yuan(b.fee_standard),
        monthly_pension=fen_to_yuan(b.monthly_pension),
        notice_start=b.notice_start,
        notice_end=b.notice_end,
        review_comment=b.review_comment,
        reviewed_at=b.reviewed_at,
        enrolled_at=b.enrolled_at,
        listed=row.listed,
        eligible=row.eligible,
        enrolled=row.enrolled,
        version=b.version,
    )


async def _batch(session: Session, principal: ApiPrincipal, batch_id: int) -> BatchOut:
    return batch_out(await service.batch_row(session, principal, batch_id))


@router.get("/social-security/batches", response_model=list[BatchOut], responses=READ)
async def list_batches(session: Session, principal: ApiPrincipal) -> list[BatchOut]:
    """我负责区域内的征地批次（新公告的在前），含名册人数、符合条件人数和已参保人数。"""
    return [batch_out(r) for r in await service.list_batches(session, principal)]


@router.post("/social-security/batches", response_model=BatchOut, status_code=201, responses=WRITE)
async def create_batch(session: Session, principal: ApiPrincipal, body: BatchIn) -> BatchOut:
    """新建征地批次（县级管理员）：项目中的一个村，及其补偿安置公告日、批准日和社保参数。"""
    batch = await service.create_batch(session, principal, body)
    return await _batch(session, principal, batch.id)


@router.get("/social-security/batches/{batch_id}", response_model=BatchOut, responses=READ)
async def get_batch(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> BatchOut:
    """一个征地批次的参数和状态。"""
    return await _batch(session, principal, batch_id)


@router.put("/social-security/batches/{batch_id}", response_model=BatchOut, responses=WRITE)
async def update_batch(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, body: BatchUpdate
) -> BatchOut:
    """修改编制中批次的参数（县级管理员）；须带上读取时的 ``version``，名册公示后不能再改。"""
    await service.update_batch(session, principal, batch_id, body)
    return await _batch(session, principal, batch_id)


@router.get("/social-security/batches/{batch_id}/land", response_model=list[LandRowOut], responses=READ)
async def land_rows(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> list[LandRowOut]:
    """本批次所在村的每一户：公告日在册人数，及已登记的承包地和被征收面积（未登记为空）。"""
    return [
        LandRowOut(
            household_id=r.household.id,
            register_no=r.household.register_no,
            head_name=r.head_name,
            members_on_announcement=r.members_on_announcement,
            contracted_mu=None if r.contracted_mu is None else _mu(r.contracted_mu),
            acquired_mu=None if r.acquired_mu is None else _mu(r.acquired_mu),
        )
        for r in await service.land_rows(session, principal, batch_id)
    ]


@router.put("/social-security/batches/{batch_id}/land", response_model=ChangedOut, responses=WRITE)
async def set_land(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, body: LandBulkIn
) -> ChangedOut:
    """登记或更正各户的承包地和被征收面积（编制中的批次）；返回有变化的户数。"""
    return ChangedOut(changed=await service.set_land(session, principal, batch_id, body.items))


def entry_out(e: service.EntryView) -> EntryOut:
    return EntryOut(
        member_id=e.member_id,
        household_id=e.household_id,
        register_no=e.register_no,
        name=e.name,
        id_number_masked=e.id_number_masked,
        birth_date=e.birth_date,
        age_on_announcement=e.age_on_announcement,
        household_members=e.household_members,
        remaining_mu=_mu(e.remaining_mu),
        eligible=e.eligible,
        reasons=list(e.reasons),
        reason_labels=[rules.REASONS[r] for r in e.reasons],
        duplicate_of=e.duplicate_of,
    )


@router.get(
    "/social-security/batches/{batch_id}/eligibility", response_model=EligibilityListOut, responses=READ
)
async def eligibility_list(
    session: Session, principal: ApiPrincipal, batch_id: BatchId
) -> EligibilityListOut:
    """参保人员名册（身份认定）：编制中为按当前户籍计算的预览，公示后为固定的名册；不符合条件的写明原因。"""
    entries = await service.eligibility_list(session, principal, batch_id)
    batch = await service.get_batch(session, principal, batch_id)
    return EligibilityListOut(
        batch_id=batch.id,
        status=batch.status,
        status_label=BATCH_STATUSES[batch.status],
        frozen=batch.status != "draft",
        notice_start=batch.notice_start,
        notice_end=batch.notice_end,
        listed=len(entries),
        eligible=sum(1 for e in entries if e.eligible),
        entries=[entry_out(e) for e in entries],
    )


@router.post("/social-security/batches/{batch_id}/notice", response_model=BatchOut, responses=WRITE)
async def start_notice(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, body: NoticeIn
) -> BatchOut:
    """固定名册并公示（经办员）：自公示开始日起按公示天数公示。"""
    await service.start_notice(session, principal, batch_id, body)
    return await _batch(session, principal, batch_id)


@router.post("/social-security/batches/{batch_id}/approve", response_model=BatchOut, responses=WRITE)
async def approve_batch(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> BatchOut:
    """审核通过名册（审核员，且不是公示人）；公示期满后才能审核。"""
    await service.approve_batch(session, principal, batch_id)
    return await _batch(session, principal, batch_id)


@router.post("/social-security/batches/{batch_id}/send-back", response_model=BatchOut, responses=WRITE)
async def send_back_batch(
    session: Session, principal: ApiPrincipal, batch_id: BatchId, body: ReviewIn
) -> BatchOut:
    """退回名册并写明原因：批次回到编制中，可更正土地面积后重新公示。"""
    await service.send_back_batch(session, principal, batch_id, body.comment)
    return await _batch(session, principal, batch_id)


@router.post("/social-security/batches/{batch_id}/enroll", response_model=EnrolledOut, responses=WRITE)
async def enroll_batch(session: Session, principal: ApiPrincipal, batch_id: BatchId) -> EnrolledOut:
    """为审核通过名册中符合条件的每一人办理参保：记入个人账户（扣除老政策一次性领取），确定养老金起领年月。"""
    return EnrolledOut(enrolled=await service.enroll_batch(session, principal, batch_id))


# ---------------------------------------------------------------- the old policy


def old_policy_out(r: OldPolicyRecord) -> OldPolicyOut:
    return OldPolicyOut(
        id=r.id,
        member_id=r.member_id,
        name=r.name,
        id_number_masked=r.id_number_masked,
        lump_sum_received=fen_to_yuan(r.lump_sum_received),
        monthly_subsidy=None if r.monthly_subsidy is None else fen_to_yuan(r.monthly_subsidy),
        paid_from=_month_or_none(r.paid_from),
        paid_through=_month_or_none(r.paid_through),
        source=r.source,
    )


@router.post("/social-security/old-policy", response_model=OldPolicySavedOut, responses=WRITE)
async def record_old_policy(
    session: Session, principal: ApiPrincipal, body: OldPolicyIn
) -> OldPolicySavedOut:
    """登记一人在老政策下的一次性领取和月养老补贴（按身份证号对应户籍）；已参保的随即重新衔接。"""
    outcome = await service.record_old_policy(session, principal, body)
    return OldPolicySavedOut(
        **old_policy_out(outcome.record).model_dump(),
        change=outcome.change,
        change_label=OLD_POLICY_CHANGES[outcome.change],
    )


@router.get("/social-security/old-policy", response_model=OldPolicyPage, responses=QUERY)
async def list_old_policy(
    session: Session, principal: ApiPrincipal, limit: Limit = 50, offset: Offset = 0
) -> OldPolicyPage:
    """老政策登记（新登记的在前）。"""
    rows, total = await service.list_old_policy(session, principal, limit=limit, offset=offset)
    return OldPolicyPage(items=[old_policy_out(r) for r in rows], total=total, limit=limit, offset=offset)


# ---------------------------------------------------------------- enrollments


def enrollment_out(e: Enrollment) -> EnrollmentOut:
    return EnrollmentOut(
        id=e.id,
        batch_id=e.batch_id,
        member_id=e.member_id,
        household_id=e.household_id,
        name=e.name,
        id_number_masked=e.id_number_masked,
        birth_date=e.birth_date,
        enrolled_on=e.enrolled_on,
        status=e.status,
        status_label=ENROLLMENT_STATUSES[e.status],
        fee_standard=fen_to_yuan(e.fee_standard),
        old_lump_sum=fen_to_yuan(e.old_lump_sum),
        old_paid_through=_month_or_none(e.old_paid_through),
        account_credit=fen_to_yuan(e.account_credit),
        monthly_pension=fen_to_yuan(e.monthly_pension),
        pension_start_month=_month(e.pension_start_month),
        death_date=e.death_date,
    )


def passbook_out(p: Passbook) -> PassbookOut:
    return PassbookOut(
        enrollment_id=p.enrollment_id,
        bank_name=p.bank_name,
        account_masked=p.account_masked,
        opened_on=p.opened_on,
    )


def certification_out(c: LifeCertification) -> CertificationOut:
    return CertificationOut(
        id=c.id,
        enrollment_id=c.enrollment_id,
        certified_on=c.certified_on,
        method=c.method,
        method_label=rules.CERTIFICATION_METHODS[c.method],
        certified_by=c.certified_by,
    )


def overpayment_out(o: Overpayment, recoveries: list[OverpaymentRecovery]) -> OverpaymentOut:
    return OverpaymentOut(
        amount=fen_to_yuan(o.amount),
        recovered=fen_to_yuan(o.recovered),
        outstanding=fen_to_yuan(o.amount - o.recovered),
        months=[_month(m) for m in sorted(o.months)],
        recoveries=[
            RecoveryOut(id=r.id, amount=fen_to_yuan(r.amount), recovered_on=r.recovered_on, note=r.note)
            for r in recoveries
        ],
    )


def heir_out(h: HeirPayment) -> HeirOut:
    return HeirOut(
        heir_name=h.heir_name,
        heir_id_number_masked=h.heir_id_masked,
        relation=h.relation,
        amount=fen_to_yuan(h.amount),
        status=h.status,
        status_label=HEIR_STATUSES.get(h.status, h.status),
    )


def person_out(view: service.PersonView) -> PersonOut:
    e = view.enrollment
    return PersonOut(
        enrollment=enrollment_out(e),
        batch_code=view.batch.code,
        batch_name=view.batch.name,
        village_name=view.village_name,
        register_no=view.register_no,
        account_credit=fen_to_yuan(e.account_credit),
        paid_total=fen_to_yuan(view.paid_total),
        account_balance=fen_to_yuan(view.account_balance),
        pension_start_month=_month(e.pension_start_month),
        passbook=None if view.passbook is None else passbook_out(view.passbook),
        old_policy=None if view.old_policy is None else old_policy_out(view.old_policy),
        certifications=[certification_out(c) for c in view.certifications],
        certification_expires=view.certification_expires,
        overdue=view.certification_overdue,
        months=[
            MonthOut(
                month=_month(m.month),
                state=m.state,
                label=m.label,
                amount=fen_to_yuan(m.amount),
                paid_on=m.paid_on,
            )
            for m in view.months
        ],
        overpayment=(
            None if view.overpayment is None else overpayment_out(view.overpayment, view.recoveries)
        ),
        heir=None if view.heir is None else heir_out(view.heir),
    )


@router.get("/social-security/enrollments", response_model=EnrollmentPage, responses=QUERY)
async def list_enrollments(
    session: Session,
    principal: ApiPrincipal,
    batch_id: Annotated[int | None, Query(ge=1, le=INT_MAX, title="征地批次编号")] = None,
    name: Annotated[QueryText | None, Query(max_length=50, title="姓名（部分）")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> EnrollmentPage:
    """参保人员，可按批次和姓名（部分）查找。"""
    rows, total = await service.list_enrollments(
        session, principal, batch_id=batch_id, name=name or None, limit=limit, offset=offset
    )
    return EnrollmentPage(items=[enrollment_out(e) for e in rows], total=total, limit=limit, offset=offset)


@router.get("/social-security/enrollments/{enrollment_id}", response_model=PersonOut, responses=READ)
async def person(session: Session, principal: ApiPrincipal, enrollment_id: EnrollmentId) -> PersonOut:
    """一位参保人员的全部情况：个人账户记入额和余额、养老金起领年月、专用存折（账号已遮挡）、资格认证、逐月发放、
    多发追回和继承人。"""
    return person_out(await service.person_view(session, principal, enrollment_id))


@router.put(
    "/social-security/enrollments/{enrollment_id}/passbook", response_model=PassbookOut, responses=WRITE
)
async def set_passbook(
    session: Session, principal: ApiPrincipal, enrollment_id: EnrollmentId, body: PassbookIn
) -> PassbookOut:
    """开立或变更专用存折；账号加密保存，只显示遮挡后的形式，变更记入操作记录。"""
    return passbook_out(await service.set_passbook(session, principal, enrollment_id, body))


@router.post(
    "/social-security/enrollments/{enrollment_id}/certifications",
    response_model=CertificationOut,
    status_code=201,
    responses=WRITE,
)
async def record_certification(
    session: Session, principal: ApiPrincipal, enrollment_id: EnrollmentId, body: CertificationIn
) -> CertificationOut:
    """登记一次资格认证。"""
    return certification_out(await service.record_certification(session, principal, enrollment_id, body))


@router.post("/social-security/enrollments/{enrollment_id}/death", response_model=DeathOut, responses=WRITE)
async def record_death(
    session: Session, principal: ApiPrincipal, enrollment_id: EnrollmentId, body: DeathIn
) -> DeathOut:
    """登记死亡：死亡当月以后不再发放；已发放的记为多发待追回，未发放的取消；算出应付继承人的个人账户余额。"""
    outcome = await service.record_death(session, principal, enrollment_id, body)
    overpayment = outcome.overpayment
    return DeathOut(
        enrollment_id=enrollment_id,
        death_date=body.death_date,
        overpayment=fen_to_yuan(overpayment.amount if overpayment else 0),
        overpaid_months=[_month(m) for m in sorted(overpayment.months)] if overpayment else [],
        cancelled_months=outcome.cancelled_months,
        heir_amount=fen_to_yuan(outcome.heir_amount),
    )


@router.put("/social-security/enrollments/{enrollment_id}/heir", response_model=HeirOut, responses=WRITE)
async def set_heir(
    session: Session, principal: ApiPrincipal, enrollment_id: EnrollmentId, body: HeirIn
) -> HeirOut:
    """登记继承人（身份证号只显示遮挡后的形式），个人账户余额一次性支付给继承人。"""
    return heir_out(await service.set_heir(session, principal, enrollment_id, body))


@router.post(
    "/social-security/enrollments/{enrollment_id}/recoveries",
    response_model=OverpaymentOut,
    status_code=201,
    responses=WRITE,
)
async def record_recovery(
    session: Session, principal: ApiPrincipal, enrollment_id: EnrollmentId, body: RecoveryIn
) -> OverpaymentOut:
    """登记一笔追回的多发金额（财政局），直至全部追回；返回追回后的情况。"""
    await service.record_recovery(session, principal, enrollment_id, body)
    view = await service.person_view(session, principal, enrollment_id)
    assert view.overpayment is not None
    return overpayment_out(view.overpayment, view.recoveries)


# ---------------------------------------------------------------- what is due


@router.get("/social-security/due", response_model=DueOut, responses=QUERY)
async def due(session: Session, principal: ApiPrincipal, period: MonthQuery = None) -> DueOut:
    """某月（默认本月）应发的养老金，按村汇总：人数、当月、补发和暂停发放的月数及金额；只读，不认领。"""
    month = _parse_month_query(period, "period")
    rows = await service.due_summary(session, principal, month)
    return DueOut(
        period=_month(month),
        villages=[
            VillageDueOut(
                village_name=r.village_name,
                people=r.people,
                regular=r.regular,
                back_pay=r.back_pay,
                suspended=r.suspended,
                amount=fen_to_yuan(r.amount),
            )
            for r in rows
        ],
        totals=DueTotalsOut(
            people=sum(r.people for r in rows),
            regular=sum(r.regular for r in rows),
            back_pay=sum(r.back_pay for r in rows),
            suspended=sum(r.suspended for r in rows),
            amount=fen_to_yuan(sum(r.amount for r in rows)),
        ),
    )


@router.get("/social-security/certification-due", response_model=list[CertificationDueOut], responses=QUERY)
async def certification_due(
    session: Session,
    principal: ApiPrincipal,
    month: MonthQuery = None,
    village_id: Annotated[int | None, Query(ge=1, le=INT_MAX, title="村编号")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, title="跳过前多少人")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, title="最多列出多少人")] = 1_000,
) -> list[CertificationDueOut]:
    """到某月（默认本月）月底资格认证到期（或已过期）的领取人员，可按村筛选；按村、到期日排列，每次最多 limit 人
    （默认 1000），用 offset 取后面的。"""
    rows = await service.certification_due_list(
        session,
        principal,
        month=_parse_month_query(month, "month"),
        village_id=village_id,
        offset=offset,
        limit=limit,
    )
    return [
        CertificationDueOut(
            enrollment_id=r.enrollment_id,
            name=r.name,
            id_number_masked=r.id_number_masked,
            village_name=r.village_name,
            register_no=r.register_no,
            last_certified_on=r.last_certified_on,
            expires_on=r.expires_on,
            overdue=r.overdue,
        )
        for r in rows
    ]
