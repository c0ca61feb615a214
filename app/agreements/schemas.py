"""Request and response shapes for notices, objections and agreements (API and HTML forms)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.text import CleanText

INT_MAX = 2**31 - 1

ProjectRef = Annotated[int, Field(ge=1, le=INT_MAX, title="征收项目")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=2000)


class NoticeIn(_In):
    project_id: ProjectRef
    started_on: date | None = Field(default=None, title="公示开始日期")
    include_noticed: bool = Field(default=False, title="包括已公示的户")


class ObjectionIn(_In):
    raised_on: date | None = Field(default=None, title="提出日期")
    raised_by_name: CleanText = Field(min_length=1, max_length=50, title="提出人")
    content: CleanText = Field(min_length=1, max_length=2000, title="异议内容")


class ResolveIn(_In):
    resolution: CleanText = Field(min_length=1, max_length=2000, title="处理结果")


class IssueIn(_In):
    project_id: ProjectRef | None = None


class SignIn(_In):
    signed_on: date | None = Field(default=None, title="签约日期")


class VoidIn(_In):
    reason: CleanText = Field(min_length=1, max_length=500, title="作废原因")


class NoticeEntryOut(BaseModel):
    household_id: int
    register_no: str
    head_name: str
    head_id_masked: str
    persons: int
    option_label: str
    compensation_total: str
    flat_price_due: str
    net_payable: str


class NoticeOut(BaseModel):
    id: int
    project_id: int
    village_id: int
    started_on: date
    days: int
    ends_on: date
    signable_from: date
    period: str
    entries: list[NoticeEntryOut]
    pdf_sha256: str
    created_at: datetime


class ObjectionOut(BaseModel):
    id: int
    notice_id: int
    household_id: int
    raised_on: date
    raised_by_name: str
    content: str
    status: str
    status_label: str
    resolution: str | None
    resolved_at: datetime | None


class AgreementOut(BaseModel):
    id: int
    number: str
    household_id: int
    project_id: int
    assessment_id: int
    status: str
    status_label: str
    net_payable: str
    net_payable_in_words: str
    signed_on: date | None
    void_reason: str | None
    template_version: str
    pdf_sha256: str
    verify_path: str
    created_at: datetime
