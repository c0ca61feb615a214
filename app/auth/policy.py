"""Who may do what, where: the one place that authorises every read and write.

A role grants permissions (domain.md, "Who uses it"); the areas assigned to a user bound where they apply. Every
service reads case data through ``scope_clause`` and checks every write with ``authorize``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import Forbidden, NotFound
from app.core.text import like_prefix


class Role(StrEnum):
    CASEWORKER = "caseworker"
    REVIEWER = "reviewer"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLE_LABELS: dict[str, str] = {
    Role.CASEWORKER: "村级经办员",
    Role.REVIEWER: "乡镇审核员",
    Role.FINANCE: "财政局",
    Role.AUDITOR: "审计/纪检",
    Role.ADMIN: "县级管理员",
}

# The area level a role's assignments are made at (domain.md: own villages / own township / whole county).
ROLE_SCOPE_LEVEL: dict[str, str] = {
    Role.CASEWORKER: "village",
    Role.REVIEWER: "township",
    Role.FINANCE: "county",
    Role.AUDITOR: "county",
    Role.ADMIN: "county",
}


class Perm(StrEnum):
    REGISTRY_READ = "registry.read"  # households and members, ID numbers masked
    REGISTRY_WRITE = "registry.write"  # add/edit households and members, move members
    ID_REVEAL = "registry.reveal_id"  # read a full ID number (each read is audited)
    AUDIT_READ = "audit.read"  # the whole audit trail and its verification
    USERS_MANAGE = "users.manage"
    AREAS_MANAGE = "areas.manage"
    # Compensation (issue 3). Reading plans, surveys, assessments, notices, agreements and flats is REGISTRY_READ.
    PROJECTS_MANAGE = "projects.manage"  # projects, their villages, buildings and units of flats
    PLAN_EDIT = "plans.edit"  # draft a plan version from the previous one, edit it, submit it
    PLAN_APPROVE = "plans.approve"  # approve or send back a plan version made by someone else
    SURVEY_WRITE = "survey.write"  # record the property survey
    ASSESSMENT_SUBMIT = "assessment.submit"  # choose the option and submit the assessment
    ASSESSMENT_APPROVE = "assessment.approve"  # approve or send back an assessment made by someone else
    NOTICE_MANAGE = "notice.manage"  # public notices, objections and their resolution
    AGREEMENT_MANAGE = "agreement.manage"  # issue agreements and record their signing
    AGREEMENT_VOID = "agreement.void"  # void an agreement (with a reason)
    FLATS_ALLOCATE = "flats.allocate"  # allocate flats in the published order; draw the lottery
    # Land-loss social security (issue 4). Reading batches, lists, enrollments and pensions is REGISTRY_READ.
    SOCIAL_BATCH_MANAGE = "social.batches"  # create acquisition batches and set their parameters
    SOCIAL_CASE_WRITE = "social.write"  # land per household, notice the list, enroll, old policy, passbooks,
    # proof of life, deaths and heirs
    SOCIAL_APPROVE = "social.approve"  # approve or send back an eligibility list noticed by someone else
    RECOVERY_RECORD = "social.recovery"  # record money recovered from an overpayment
    PENSION_CLAIM = "pension.claim"  # put the pensions due for a month into payment (the monthly batch)
    # Payments and the ledger (issue 5).
    LEDGER_READ = "ledger.read"  # balances, statements, trial balance, payment batches and their reports
    LEDGER_POST = "ledger.post"  # record fund deposits and payouts made outside a batch (heir payments)
    PAYMENT_PREPARE = (
        "payments.prepare"  # generate batches, export bank files, import results, resolve exceptions
    )
    PAYMENT_APPROVE = "payments.approve"  # approve a batch prepared by another finance user


PERMISSION_LABELS: dict[str, str] = {
    Perm.REGISTRY_READ: "查看户籍信息",
    Perm.REGISTRY_WRITE: "登记和修改户籍信息",
    Perm.ID_REVEAL: "查看完整身份证号",
    Perm.AUDIT_READ: "查看操作记录",
    Perm.USERS_MANAGE: "管理用户",
    Perm.AREAS_MANAGE: "管理区划",
    Perm.PROJECTS_MANAGE: "管理征收项目和安置房源",
    Perm.PLAN_EDIT: "编制补偿安置方案",
    Perm.PLAN_APPROVE: "审核补偿安置方案",
    Perm.SURVEY_WRITE: "登记房屋调查",
    Perm.ASSESSMENT_SUBMIT: "提交补偿核算",
    Perm.ASSESSMENT_APPROVE: "审核补偿核算",
    Perm.NOTICE_MANAGE: "办理公示与异议",
    Perm.AGREEMENT_MANAGE: "出具和签订协议",
    Perm.AGREEMENT_VOID: "作废协议",
    Perm.FLATS_ALLOCATE: "分配安置房",
    Perm.SOCIAL_BATCH_MANAGE: "管理征地批次",
    Perm.SOCIAL_CASE_WRITE: "办理被征地农民社保业务",
    Perm.SOCIAL_APPROVE: "审核参保人员名册",
    Perm.RECOVERY_RECORD: "登记多发追回",
    Perm.PENSION_CLAIM: "核定月度养老金",
    Perm.LEDGER_READ: "查看资金账务",
    Perm.LEDGER_POST: "登记资金拨入和支付",
    Perm.PAYMENT_PREPARE: "编制发放批次和办理银行代发",
    Perm.PAYMENT_APPROVE: "审核发放批次",
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.CASEWORKER: frozenset(
        {
            Perm.REGISTRY_READ,
            Perm.REGISTRY_WRITE,
            Perm.ID_REVEAL,
            Perm.SURVEY_WRITE,
            Perm.ASSESSMENT_SUBMIT,
            Perm.NOTICE_MANAGE,
            Perm.AGREEMENT_MANAGE,
            Perm.FLATS_ALLOCATE,
            Perm.SOCIAL_CASE_WRITE,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            Perm.REGISTRY_READ,
            Perm.ID_REVEAL,
            Perm.PLAN_APPROVE,
            Perm.ASSESSMENT_APPROVE,
            Perm.AGREEMENT_VOID,
            Perm.SOCIAL_APPROVE,
        }
    ),
    Role.FINANCE: frozenset(
        {
            Perm.REGISTRY_READ,
            Perm.RECOVERY_RECORD,
            Perm.PENSION_CLAIM,
            Perm.LEDGER_READ,
            Perm.LEDGER_POST,
            Perm.PAYMENT_PREPARE,
            Perm.PAYMENT_APPROVE,
        }
    ),
    Role.AUDITOR: frozenset({Perm.REGISTRY_READ, Perm.ID_REVEAL, Perm.AUDIT_READ, Perm.LEDGER_READ}),
    Role.ADMIN: frozenset(
        {
            Perm.REGISTRY_READ,
            Perm.USERS_MANAGE,
            Perm.AREAS_MANAGE,
            Perm.PROJECTS_MANAGE,
            Perm.PLAN_EDIT,
            Perm.SOCIAL_BATCH_MANAGE,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: who, in which role, over which areas (as materialised paths)."""

    user_id: int | None
    username: str
    role: str
    county_code: str
    scope_paths: tuple[str, ...] = field(default=())
    full_name: str = ""

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def can(self, perm: Perm) -> bool:
        return perm in ROLE_PERMISSIONS.get(self.role, frozenset())

    def covers(self, area_path: str) -> bool:
        return any(area_path.startswith(p) for p in self.scope_paths)


SYSTEM = Principal(user_id=None, username="system", role="system", county_code="000000")


def require(principal: Principal, perm: Perm) -> None:
    """Refuse a role that lacks ``perm``."""
    if principal is SYSTEM:
        return
    if not principal.can(perm):
        raise Forbidden(f"您的角色（{principal.role_label}）无权{PERMISSION_LABELS[perm]}")


def authorize(principal: Principal, perm: Perm, area_path: str | None) -> None:
    """Refuse unless the role has ``perm`` and ``area_path`` lies in the caller's areas.

    Out-of-area things are reported as not found, so their existence is not revealed.
    """
    require(principal, perm)
    if principal is SYSTEM or area_path is None:
        return
    if not principal.covers(area_path):
        raise NotFound("找不到该记录，或它不在您负责的区域内")


def scope_clause(principal: Principal, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """SQL condition restricting ``column`` (an area path) to the caller's areas."""
    if principal is SYSTEM:
        return column.is_not(None)
    if not principal.scope_paths:
        return false()
    return or_(*(column.startswith(p, autoescape=True) for p in principal.scope_paths))


def scope_prefixes(principal: Principal) -> list[str] | None:
    """``LIKE`` patterns for the caller's areas (``None``: everywhere), for set-based SQL written as text:
    ``area_path LIKE ANY(:prefixes)``. Same meaning as ``scope_clause``."""
    if principal is SYSTEM:
        return None
    return [like_prefix(p) for p in principal.scope_paths]
