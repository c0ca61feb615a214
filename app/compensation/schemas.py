"""The trial calculator (试算) and assessment payloads: money and areas as two-decimal strings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from app.compensation import rules
from app.core.text import CleanText
from app.core.validation import register_titles
from app.plans.schemas import Area, PlanParamsIn

Quantity = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000"), max_digits=9, decimal_places=2),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str),
]
OptionKind = Literal["cash", "existing_housing", "resettlement_flat"]


class StructureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    structure: CleanText = Field(min_length=1, max_length=30, title="房屋结构")
    area: Area = Field(title="建筑面积")


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: CleanText = Field(min_length=1, max_length=30, title="附属物")
    qty: Quantity = Field(title="数量")


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persons: int = Field(ge=0, le=100, title="安置人口")
    structures: list[StructureIn] = Field(default_factory=list, max_length=100, title="房屋")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=200, title="附属物清单")

    def to_rules(self) -> rules.Survey:
        return rules.Survey(
            persons=self.persons,
            structures=tuple(rules.Structure(s.structure, s.area) for s in self.structures),
            attachments=tuple(rules.Attachment(a.code, a.qty) for a in self.attachments),
        )


class FlatChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: Area = Field(title="安置房面积")


class OptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OptionKind = Field(title="安置方式")
    flats: list[FlatChoice] = Field(default_factory=list, max_length=10, title="安置房")
    cash_area: Area = Field(default=Decimal(0), title="货币安置面积")

    def to_rules(self) -> rules.Option:
        return rules.Option(self.kind, tuple(f.area for f in self.flats), self.cash_area)


class QuoteIn(BaseModel):
    """试算: the assessment rules on given inputs; nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    plan: PlanParamsIn = Field(title="补偿安置方案")
    survey: SurveyIn = Field(title="调查登记")
    option: OptionIn = Field(title="安置方式选择")
    signed_on: date | None = Field(default=None, title="签约日期")
    vacated_on: date | None = Field(default=None, title="腾房日期")


class LineOut(BaseModel):
    code: str
    label: str
    basis: str
    amount: str
    payable_on_proof: bool = False


class QuoteOut(BaseModel):
    lines: list[LineOut]
    entitled_area: str
    flat_area: str
    compensation_total: str
    compensation_total_in_words: str
    flat_price_due: str
    flat_price_basis: str
    net_payable: str
    net_payable_in_words: str


# ---------------------------------------------------------------- the household survey and assessments

Mu = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("100000"), max_digits=10, decimal_places=4),
    PlainSerializer(lambda v: f"{v:.4f}", return_type=str),
]


class SurveySave(SurveyIn):
    """调查登记 as saved: the assessed inputs plus land (亩) and the survey date; ``version`` guards against a
    concurrent edit (leave it out for the first save)."""

    contracted_mu: Mu = Field(default=Decimal(0), title="承包地面积（亩）")
    acquired_mu: Mu = Field(default=Decimal(0), title="被征收土地面积（亩）")
    surveyed_on: date | None = Field(default=None, title="调查日期")
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, title="版本号")


class SurveyOut(BaseModel):
    household_id: int
    recorded: bool
    persons: int
    contracted_mu: str
    acquired_mu: str
    surveyed_on: date | None
    structures: list[StructureIn]
    attachments: list[AttachmentIn]
    version: int | None


class AssessmentIn(BaseModel):
    """提交补偿核算: the project (its approved plan is used), the option and the agreed dates."""

    model_config = ConfigDict(extra="forbid")

    project_id: int = Field(ge=1, le=2**31 - 1, title="征收项目")
    option: OptionIn = Field(title="安置方式选择")
    signed_on: date | None = Field(default=None, title="约定签约日期")
    vacated_on: date | None = Field(default=None, title="约定腾房日期")


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: CleanText = Field(min_length=1, max_length=1000, title="退回意见")


class AssessmentOut(BaseModel):
    id: int
    household_id: int
    project_id: int
    plan_id: int
    plan_version: int
    status: str
    status_label: str
    option_kind: str
    option_label: str
    option: dict[str, Any]
    signed_on: date | None
    vacated_on: date | None
    inputs: dict[str, Any]
    lines: list[LineOut]
    entitled_area: str
    flat_area: str
    compensation_total: str
    compensation_total_in_words: str
    flat_price_due: str
    flat_price_basis: str
    net_payable: str
    net_payable_in_words: str
    created_by: str | None
    created_at: datetime
    reviewer: str | None
    reviewed_at: datetime | None
    review_comment: str | None


register_titles(
    StructureIn, AttachmentIn, SurveyIn, FlatChoice, OptionIn, QuoteIn, SurveySave, AssessmentIn, ReturnIn
)
