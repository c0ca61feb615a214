"""Responses of the land-loss social security API: money as two-decimal strings (yuan), land as four-decimal
strings (mu), months as ``"YYYY-MM"``, dates ISO. ID numbers and bank accounts appear only masked; a person's
lookup hash never leaves the server."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class BatchOut(BaseModel):
    id: int
    code: str
    name: str
    project_id: int
    project_code: str
    village_id: int
    village_name: str
    status: str
    status_label: str
    announcement_date: date
    approved_on: date
    per_capita_land_threshold_mu: str
    min_age: int
    pension_age: int
    fee_standard: str
    monthly_pension: str
    notice_start: date | None
    notice_end: date | None
    review_comment: str | None
    reviewed_at: datetime | None
    enrolled_at: datetime | None
    listed: int
    eligible: int
    enrolled: int
    version: int


class LandRowOut(BaseModel):
    household_id: int
    register_no: str
    head_name: str | None
    members_on_announcement: int
    contracted_mu: str | None
    acquired_mu: str | None


class ChangedOut(BaseModel):
    changed: int


class EnrolledOut(BaseModel):
    enrolled: int


class EntryOut(BaseModel):
    member_id: int
    household_id: int
    register_no: str
    name: str
    id_number_masked: str
    birth_date: date
    age_on_announcement: int
    household_members: int
    remaining_mu: str
    eligible: bool
    reasons: list[str]
    reason_labels: list[str]
    duplicate_of: str | None


class EligibilityListOut(BaseModel):
    batch_id: int
    status: str
    status_label: str
    frozen: bool  # false while the batch is a draft: the list is a preview from the registry as it stands
    notice_start: date | None
    notice_end: date | None
    listed: int
    eligible: int
    entries: list[EntryOut]


class OldPolicyOut(BaseModel):
    id: int
    member_id: int
    name: str
    id_number_masked: str
    lump_sum_received: str
    monthly_subsidy: str | None
    paid_from: str | None
    paid_through: str | None
    source: str


class OldPolicySavedOut(OldPolicyOut):
    change: str  # created / updated / unchanged
    change_label: str


class OldPolicyPage(BaseModel):
    items: list[OldPolicyOut]
    total: int
    limit: int
    offset: int


class EnrollmentOut(BaseModel):
    id: int
    batch_id: int
    member_id: int
    household_id: int
    name: str
    id_number_masked: str
    birth_date: date
    enrolled_on: date
    status: str
    status_label: str
    fee_standard: str
    old_lump_sum: str
    old_paid_through: str | None
    account_credit: str
    monthly_pension: str
    pension_start_month: str
    death_date: date | None


class EnrollmentPage(BaseModel):
    items: list[EnrollmentOut]
    total: int
    limit: int
    offset: int


class PassbookOut(BaseModel):
    enrollment_id: int
    bank_name: str
    account_masked: str
    opened_on: date


class CertificationOut(BaseModel):
    id: int
    enrollment_id: int
    certified_on: date
    method: str
    method_label: str
    certified_by: str


class MonthOut(BaseModel):
    month: str
    state: str
    label: str
    amount: str
    paid_on: date | None


class RecoveryOut(BaseModel):
    id: int
    amount: str
    recovered_on: date
    note: str


class OverpaymentOut(BaseModel):
    amount: str
    recovered: str
    outstanding: str
    months: list[str]
    recoveries: list[RecoveryOut]


class HeirOut(BaseModel):
    heir_name: str
    heir_id_number_masked: str
    relation: str
    amount: str
    status: str
    status_label: str


class PersonOut(BaseModel):
    enrollment: EnrollmentOut
    batch_code: str
    batch_name: str
    village_name: str
    register_no: str
    account_credit: str
    paid_total: str
    account_balance: str
    pension_start_month: str
    passbook: PassbookOut | None
    old_policy: OldPolicyOut | None
    certifications: list[CertificationOut]
    certification_expires: date
    overdue: bool
    months: list[MonthOut]
    overpayment: OverpaymentOut | None
    heir: HeirOut | None


class DeathOut(BaseModel):
    enrollment_id: int
    death_date: date
    overpayment: str
    overpaid_months: list[str]
    cancelled_months: int
    heir_amount: str


class VillageDueOut(BaseModel):
    village_name: str
    people: int
    regular: int
    back_pay: int
    suspended: int
    amount: str


class DueTotalsOut(BaseModel):
    people: int
    regular: int
    back_pay: int
    suspended: int
    amount: str


class DueOut(BaseModel):
    period: str
    villages: list[VillageDueOut]
    totals: DueTotalsOut


class CertificationDueOut(BaseModel):
    enrollment_id: int
    name: str
    id_number_masked: str
    village_name: str
    register_no: str
    last_certified_on: date
    expires_on: date
    overdue: bool
