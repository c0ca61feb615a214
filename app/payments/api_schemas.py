"""Requests and responses of the payments API: money as two-decimal yuan strings (``"260.00"``), periods and months
as ``"YYYY-MM"``, dates ISO. Payees' ID numbers and accounts appear only masked; the bank file, which carries them
whole, is a download of its own (audited), never part of a JSON answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.text import CleanText
from app.core.validation import register_titles
from app.socialsecurity import rules as ss_rules

# The bank file formats of ``app.payments.bankfiles.FORMATS`` (a test keeps the two the same).
BankFormatCode = Literal["psbc", "csv", "xlsx"]
LineStatus = Literal["pending", "paid", "failed"]
BatchKind = Literal["pension", "compensation"]  # models.BATCH_KINDS
BatchStatus = Literal[
    "draft", "approved", "exported", "imported", "reconciled", "closed"
]  # models.BATCH_STATUSES
Resolution = Literal["paid", "failed", "dismissed"]
MonthText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", min_length=7, max_length=7)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=500)


class GenerateIn(_In):
    kind: BatchKind = Field(default="pension", title="批次类型")
    period: MonthText = Field(title="发放期")
    scope_area_code: str | None = Field(
        default=None, min_length=6, max_length=12, pattern=r"^[0-9]+$", title="发放范围（县或乡镇的区划代码）"
    )
    reissue_all: bool = Field(default=False, title="重发全部失败明细")

    @field_validator("period")
    @classmethod
    def _month(cls, value: str) -> str:
        ss_rules.parse_month(value)  # a ValueError with a Chinese message
        return value


class ExportIn(_In):
    format: BankFormatCode = Field(default="psbc", title="文件格式")


class ResolveIn(_In):
    resolution: Resolution = Field(title="处理结果")
    note: CleanText = Field(min_length=1, max_length=500, title="处理说明")


class DiscardIn(_In):
    reason: CleanText = Field(min_length=1, max_length=200, title="作废原因")


class DiscardedOut(BaseModel):
    number: str = Field(description="作废的批次号（本期该范围可以重新生成）")
    lines: int
    total: str


register_titles(GenerateIn, ExportIn, ResolveIn, DiscardIn)


class BatchOut(BaseModel):
    id: int
    number: str
    kind: str
    kind_label: str
    period: str
    scope_area_id: int
    scope_name: str
    status: str
    status_label: str
    line_count: int
    total: str
    pending: int
    paid: int
    failed: int
    pending_total: str
    paid_total: str
    failed_total: str
    open_exceptions: int
    reissued: int
    created_by: int | None
    created_at: datetime
    approved_by: int | None
    approved_at: datetime | None
    exported_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None
    version: int


class GeneratedOut(BatchOut):
    created: (
        bool  # false: the batch of this kind, period and scope was there already and is returned as it is
    )
    months: int  # months paid by this generation (0 when it was there already)
    back_pay_months: int
    suspended: int  # pensioners left out this month for want of a proof of life


class LineOut(BaseModel):
    id: int
    seq: int
    reference: str
    village: str
    name: str
    id_number_masked: str
    account_masked: str
    months: list[str] | None
    months_text: str
    amount: str
    account_part: str | None
    pool_part: str | None
    status: str
    status_label: str
    reason: str
    reissue_of: int | None
    resolved_on: date | None


class LinePage(BaseModel):
    items: list[LineOut]
    total: int
    offset: int
    limit: int


class ExceptionOut(BaseModel):
    id: int
    batch_id: int
    import_id: int
    row_no: int
    reference: str
    line_id: int | None
    line_name: str | None
    line_amount: str | None
    line_status: str | None
    problem: str
    problem_label: str
    detail: str
    bank_paid: bool
    bank_name: str
    bank_amount: str
    bank_reason: str
    resolution: str | None
    resolution_label: str
    note: str | None
    resolved_by: int | None
    resolved_at: datetime | None


class ResultImportOut(BaseModel):
    id: int
    format: str
    filename: str
    sha256: str
    line_count: int
    total: str
    paid_count: int
    paid_total: str
    failed_count: int
    failed_total: str
    exception_count: int
    imported_by: int | None
    imported_at: datetime


class ImportOutcomeOut(ResultImportOut):
    batch_status: str
    batch_status_label: str


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class ReconciliationOut(BaseModel):
    batch: BatchOut
    imports: list[ResultImportOut]
    exceptions: list[ExceptionOut]  # the first 500 by line of the file
    exception_count: int  # all of them
    postings: dict[str, str]  # account code → debit − credit posted for the batch
    clearing_left: str
    ledger_agrees: bool
    checks: list[CheckOut]
