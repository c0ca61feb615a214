"""A plan's parameters under domain.md's names, in the JSON form of the API: money ``"1100.00"`` (yuan, two
decimals), areas ``"40.00"`` (㎡). One model serves the stored plan versions and the trial calculator."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from app.compensation import rules
from app.core.money import yuan_to_fen
from app.core.text import CleanText
from app.core.validation import field_error, register_titles

MAX_YUAN = Decimal("100000000")  # no single rate or price reaches 100 million yuan
MAX_SQM = Decimal("100000")

# Money and areas travel as strings with exactly two decimals.
Money = Annotated[
    Decimal,
    Field(ge=0, le=MAX_YUAN, max_digits=11, decimal_places=2),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str),
]
Area = Annotated[
    Decimal,
    Field(ge=0, le=MAX_SQM, max_digits=8, decimal_places=2),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str),
]


class AttachmentPriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: CleanText = Field(min_length=1, max_length=30, pattern=r"^[a-z0-9_]+$", title="附属物代码")
    name: CleanText = Field(min_length=1, max_length=30, title="附属物名称")
    unit: CleanText = Field(min_length=1, max_length=10, title="计量单位")
    price: Money = Field(title="单价")


class VacateTierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: date = Field(title="腾房期限")
    rate: Money = Field(title="每平方米奖励")


class TransitionMonthsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cash: int = Field(ge=0, le=120, title="货币安置过渡月数")
    existing_housing: int = Field(ge=0, le=120, title="购买存量房安置过渡月数")
    resettlement_flat: int = Field(ge=0, le=120, title="安置房安置过渡月数")


class PlanParamsIn(BaseModel):
    """Every parameter of the compensation plan (domain.md, "Compensation plan")."""

    model_config = ConfigDict(extra="forbid")

    structure_rates: dict[str, Money] = Field(title="房屋结构单价")
    attachment_prices: list[AttachmentPriceIn] = Field(max_length=200, title="附属物价格表")
    relocation_allowance_per_person: Money = Field(title="搬迁补助费标准")
    transition_allowance_per_person_month: Money = Field(title="临时安置补助费标准")
    transition_months: TransitionMonthsIn = Field(title="过渡月数")
    signing_deadline: date = Field(title="签约期限")
    signing_bonus_per_person: Money = Field(title="按时签约奖励标准")
    early_vacate_tiers: list[VacateTierIn] = Field(max_length=20, title="提前腾房奖励档次")
    entitlement_sqm_per_person: Area = Field(title="人均安置面积")
    cash_rate_per_entitled_sqm: Money = Field(title="货币安置单价")
    purchase_subsidy_per_entitled_sqm: Money = Field(title="购房补贴单价")
    flat_price_within: Money = Field(title="安置房安置价")
    flat_price_excess: Money = Field(title="超面积部分价格")
    flat_max_excess_sqm: Area = Field(title="最多可超面积")
    public_notice_days: int = Field(default=7, ge=1, le=60, title="公示天数")

    @field_validator("structure_rates")
    @classmethod
    def _known_structures(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        unknown = [k for k in value if k not in rules.STRUCTURES]
        if unknown:
            raise field_error(
                "structure",
                f"未知的房屋结构“{unknown[0]}”（可选：frame 框架、brick_concrete 砖混、brick_wood 砖木、simple 简易）",
            )
        return value

    @field_validator("attachment_prices")
    @classmethod
    def _unique_codes(cls, value: list[AttachmentPriceIn]) -> list[AttachmentPriceIn]:
        codes = [p.code for p in value]
        duplicate = next((c for c in codes if codes.count(c) > 1), None)
        if duplicate:
            raise field_error("attachment_code", f"附属物代码“{duplicate}”重复")
        return value

    @model_validator(mode="after")
    def _tiers_ordered(self) -> PlanParamsIn:
        dates = [t.by for t in self.early_vacate_tiers]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise field_error("tiers", "提前腾房奖励档次应按期限从早到晚排列，且期限不重复")
        return self

    def to_rules(self) -> rules.PlanParams:
        return rules.PlanParams(
            structure_rates={k: yuan_to_fen(v) for k, v in self.structure_rates.items()},
            attachment_prices=tuple(
                rules.AttachmentPrice(p.code, p.name, p.unit, yuan_to_fen(p.price))
                for p in self.attachment_prices
            ),
            relocation_allowance_per_person=yuan_to_fen(self.relocation_allowance_per_person),
            transition_allowance_per_person_month=yuan_to_fen(self.transition_allowance_per_person_month),
            transition_months=self.transition_months.model_dump(),
            signing_deadline=self.signing_deadline,
            signing_bonus_per_person=yuan_to_fen(self.signing_bonus_per_person),
            early_vacate_tiers=tuple(
                rules.VacateTier(t.by, yuan_to_fen(t.rate)) for t in self.early_vacate_tiers
            ),
            entitlement_sqm_per_person=self.entitlement_sqm_per_person,
            cash_rate_per_entitled_sqm=yuan_to_fen(self.cash_rate_per_entitled_sqm),
            purchase_subsidy_per_entitled_sqm=yuan_to_fen(self.purchase_subsidy_per_entitled_sqm),
            flat_price_within=yuan_to_fen(self.flat_price_within),
            flat_price_excess=yuan_to_fen(self.flat_price_excess),
            flat_max_excess_sqm=self.flat_max_excess_sqm,
            public_notice_days=self.public_notice_days,
        )

    def stored(self) -> dict[str, Any]:
        """The JSON kept in ``plans.params`` (the API form, so a version reads back exactly as entered)."""
        return self.model_dump(mode="json")


def demo_params(signing_deadline: date) -> PlanParamsIn:
    """domain.md's demo defaults as plan parameters."""
    from datetime import timedelta

    return PlanParamsIn.model_validate(
        {
            "structure_rates": {
                "frame": "1100.00",
                "brick_concrete": "900.00",
                "brick_wood": "650.00",
                "simple": "300.00",
            },
            "attachment_prices": [
                {"code": "wall", "name": "围墙", "unit": "米", "price": "80.00"},
                {"code": "well", "name": "水井", "unit": "眼", "price": "1500.00"},
                {"code": "tree", "name": "树木", "unit": "棵", "price": "50.00"},
                {"code": "grave", "name": "坟墓", "unit": "座", "price": "3000.00"},
                {"code": "greenhouse", "name": "大棚", "unit": "㎡", "price": "30.00"},
            ],
            "relocation_allowance_per_person": "1200.00",
            "transition_allowance_per_person_month": "450.00",
            "transition_months": {"cash": 6, "existing_housing": 6, "resettlement_flat": 24},
            "signing_deadline": signing_deadline.isoformat(),
            "signing_bonus_per_person": "10000.00",
            "early_vacate_tiers": [
                {"by": signing_deadline.isoformat(), "rate": "200.00"},
                {"by": (signing_deadline + timedelta(days=30)).isoformat(), "rate": "100.00"},
            ],
            "entitlement_sqm_per_person": "40.00",
            "cash_rate_per_entitled_sqm": "2500.00",
            "purchase_subsidy_per_entitled_sqm": "2800.00",
            "flat_price_within": "1000.00",
            "flat_price_excess": "1980.00",
            "flat_max_excess_sqm": "15.00",
            "public_notice_days": 7,
        }
    )


# ---------------------------------------------------------------- projects and plan versions over the API

INT_MAX = 2**31 - 1


class ProjectVillageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village_id: int = Field(ge=1, le=INT_MAX, title="村")
    abbr: CleanText = Field(min_length=1, max_length=10, pattern=r"^[A-Z0-9]{1,10}$", title="村简称")


class ProjectIn(BaseModel):
    """A new 征收项目 of the caller's county."""

    model_config = ConfigDict(extra="forbid")

    code: CleanText = Field(
        min_length=1, max_length=20, pattern=r"^[A-Z0-9]+(-[A-Z0-9]+)*$", title="项目编号"
    )
    name: CleanText = Field(min_length=1, max_length=100, title="项目名称")
    villages: list[ProjectVillageIn] = Field(min_length=1, max_length=100, title="涉及的村")

    @field_validator("villages")
    @classmethod
    def _distinct(cls, value: list[ProjectVillageIn]) -> list[ProjectVillageIn]:
        ids = [v.village_id for v in value]
        abbrs = [v.abbr for v in value]
        if len(set(ids)) != len(ids):
            raise field_error("villages", "同一个村只能选一次")
        duplicate = next((a for a in abbrs if abbrs.count(a) > 1), None)
        if duplicate:
            raise field_error("villages", f"村简称“{duplicate}”重复，每个村的简称须不同")
        return value


class ProjectVillageOut(BaseModel):
    project_id: int
    project_code: str
    project_name: str
    village_id: int
    village_name: str
    abbr: str
    approved_version: int | None = Field(title="现行方案版本")
    latest_version: int | None = Field(title="最新方案版本")
    latest_status: str | None = Field(title="最新版本状态")


class ProjectOut(BaseModel):
    id: int
    code: str
    name: str
    county_code: str
    villages: list[ProjectVillageOut]


class PlanDraftIn(BaseModel):
    """A new draft version; without ``params`` it copies the latest version."""

    model_config = ConfigDict(extra="forbid")

    params: PlanParamsIn | None = Field(default=None, title="方案参数")


class PlanUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: PlanParamsIn = Field(title="方案参数")
    lock_version: int = Field(ge=1, le=2**63 - 1, title="版本号")


class SendBackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: CleanText = Field(min_length=1, max_length=1000, title="退回意见")


class PlanOut(BaseModel):
    id: int
    project_id: int
    village_id: int
    version: int
    status: str
    status_label: str
    params: PlanParamsIn
    author_id: int | None
    reviewer_id: int | None
    review_comment: str | None
    created_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    superseded_at: datetime | None
    lock_version: int


register_titles(
    PlanParamsIn,
    AttachmentPriceIn,
    VacateTierIn,
    TransitionMonthsIn,
    ProjectIn,
    ProjectVillageIn,
    PlanUpdateIn,
    SendBackIn,
)
