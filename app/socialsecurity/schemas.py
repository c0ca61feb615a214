"""Payloads of land-loss social security: money as two-decimal strings, land in mu with up to four decimals,
months as ``"YYYY-MM"``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from app.core.text import CleanText
from app.core.validation import register_titles
from app.plans.schemas import Money
from app.socialsecurity import rules

Mu = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000"), max_digits=12, decimal_places=4),
    PlainSerializer(lambda v: f"{v.normalize():f}" if v == v.to_integral() else f"{v}", return_type=str),
]
# Dates a case can carry: bounded so that month arithmetic (notice end, pension start) always stays in range.
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]
MonthText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", min_length=7, max_length=7)]
CertificationMethod = Literal["in_person", "video", "home_visit", "data_match"]
PositiveMoney = Annotated[Decimal, Field(gt=0, le=Decimal("100000000"), max_digits=11, decimal_places=2)]


def _month(value: str | None) -> str | None:
    if value is None:
        return None
    rules.parse_month(value)  # raises ValueError with a Chinese message
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200)


class BatchParamsIn(_In):
    announcement_date: Day = Field(title="补偿安置公告日")
    approved_on: Day = Field(title="征地批准日")
    per_capita_land_threshold_mu: Mu = Field(default=Decimal("0.3"), title="人均剩余承包地标准（亩）")
    min_age: int = Field(default=16, ge=0, le=120, title="参保最低年龄")
    pension_age: int = Field(default=60, ge=0, le=120, title="领取养老金年龄")
    fee_standard: Money = Field(default=Decimal("24000.00"), title="社会保障费标准")
    monthly_pension: PositiveMoney = Field(default=Decimal("260.00"), title="月养老金")

    @model_validator(mode="after")
    def _consistent(self) -> BatchParamsIn:
        if self.approved_on < self.announcement_date:
            raise ValueError("征地批准日不能早于补偿安置公告日")
        if self.pension_age < self.min_age:
            raise ValueError("领取养老金年龄不能小于参保最低年龄")
        return self


class BatchIn(BatchParamsIn):
    project_id: int = Field(ge=1, le=2**31 - 1, title="征收项目")
    village_id: int = Field(ge=1, le=2**31 - 1, title="村")
    code: CleanText = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$", title="批次编号")
    name: CleanText = Field(min_length=1, max_length=100, title="批次名称")


class BatchUpdate(BatchParamsIn):
    name: CleanText = Field(min_length=1, max_length=100, title="批次名称")
    version: int = Field(ge=1, le=2_000_000_000, title="版本")


class LandIn(_In):
    household_id: int = Field(ge=1, le=2**62, title="户")
    contracted_mu: Mu = Field(title="承包地面积（亩）")
    acquired_mu: Mu = Field(title="被征收面积（亩）")

    @model_validator(mode="after")
    def _within(self) -> LandIn:
        if self.acquired_mu > self.contracted_mu:
            raise ValueError("被征收面积不能大于承包地面积")
        return self


class LandBulkIn(_In):
    items: list[LandIn] = Field(min_length=1, max_length=5000, title="各户土地")


class NoticeIn(_In):
    notice_start: Day = Field(title="公示开始日")
    notice_days: int = Field(default=7, ge=1, le=60, title="公示天数")


class ReviewIn(_In):
    comment: CleanText = Field(default="", max_length=500, title="审核意见")


class QuoteBatchIn(_In):
    announcement_date: Day = Field(title="补偿安置公告日")
    approved_on: Day = Field(title="征地批准日")
    per_capita_land_threshold_mu: Mu = Field(title="人均剩余承包地标准（亩）")
    min_age: int = Field(ge=0, le=120, title="参保最低年龄")
    pension_age: int = Field(ge=0, le=120, title="领取养老金年龄")
    fee_standard: Money = Field(title="社会保障费标准")
    monthly_pension: PositiveMoney = Field(title="月养老金")


class QuotePersonIn(_In):
    id_number: CleanText = Field(min_length=15, max_length=18, title="身份证号")
    registered_on_announcement: bool = Field(title="公告日是否在册")


class QuoteHouseholdIn(_In):
    contracted_mu: Mu = Field(title="承包地面积（亩）")
    acquired_mu: Mu = Field(title="被征收面积（亩）")
    members: int = Field(ge=1, le=100, title="在册人数")


class QuoteOldPolicyIn(_In):
    lump_sum_received: Money = Field(default=Decimal("0"), title="老政策一次性领取金额")
    monthly_paid_through: MonthText | None = Field(default=None, title="老政策补贴发放至")

    _month = field_validator("monthly_paid_through")(_month)


class QuoteIn(_In):
    batch: QuoteBatchIn
    person: QuotePersonIn
    household: QuoteHouseholdIn
    old_policy: QuoteOldPolicyIn | None = None
    other_enrollment: bool = Field(default=False, title="是否已在其他批次参保")


class QuoteOut(BaseModel):
    eligible: bool
    reasons: list[str]
    age_on_announcement: int
    account_credit: str
    monthly_pension: str
    pension_start_month: str


class OldPolicyIn(_In):
    name: CleanText = Field(min_length=1, max_length=50, title="姓名")
    id_number: CleanText = Field(min_length=15, max_length=18, title="身份证号")
    lump_sum_received: Money = Field(default=Decimal("0"), title="老政策一次性领取金额")
    monthly_subsidy: PositiveMoney | None = Field(default=None, title="老政策月养老补贴")
    paid_from: MonthText | None = Field(default=None, title="补贴起始年月")
    paid_through: MonthText | None = Field(default=None, title="补贴发放至年月")

    _from = field_validator("paid_from")(_month)
    _through = field_validator("paid_through")(_month)

    @model_validator(mode="after")
    def _complete(self) -> OldPolicyIn:
        given = [self.monthly_subsidy is not None, self.paid_from is not None, self.paid_through is not None]
        if any(given) and not all(given):
            raise ValueError("老政策月养老补贴、补贴起始年月和补贴发放至年月须同时填写或同时留空")
        if self.paid_from and self.paid_through and self.paid_from > self.paid_through:
            raise ValueError("补贴起始年月不能晚于补贴发放至年月")
        return self


class PassbookIn(_In):
    bank_name: CleanText = Field(default="中国邮政储蓄银行", min_length=2, max_length=60, title="开户银行")
    account_number: CleanText = Field(min_length=12, max_length=30, pattern=r"^[0-9 ]+$", title="存折账号")
    opened_on: Day = Field(title="开户日期")


class CertificationIn(_In):
    certified_on: Day = Field(title="认证日期")
    method: CertificationMethod = Field(title="认证方式")
    certified_by: CleanText = Field(min_length=1, max_length=100, title="认证人")


class DeathIn(_In):
    death_date: Day = Field(title="死亡日期")


class HeirIn(_In):
    heir_name: CleanText = Field(min_length=1, max_length=50, title="继承人姓名")
    heir_id_number: CleanText = Field(min_length=15, max_length=18, title="继承人身份证号")
    relation: CleanText = Field(min_length=1, max_length=20, title="与死者关系")


class RecoveryIn(_In):
    amount: PositiveMoney = Field(title="追回金额")
    recovered_on: Day = Field(title="追回日期")
    note: CleanText = Field(default="", max_length=200, title="说明")


register_titles(
    BatchIn,
    BatchUpdate,
    LandIn,
    LandBulkIn,
    NoticeIn,
    ReviewIn,
    QuoteIn,
    QuoteBatchIn,
    QuotePersonIn,
    QuoteHouseholdIn,
    QuoteOldPolicyIn,
    OldPolicyIn,
    PassbookIn,
    CertificationIn,
    DeathIn,
    HeirIn,
    RecoveryIn,
)
