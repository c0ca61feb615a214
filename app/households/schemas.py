"""API and form models for households and members. Field titles are the Chinese words of ui.md."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.idcard import InvalidIdNumber, parse_id_number
from app.core.text import CleanText, OptionalCleanText
from app.core.validation import field_error, register_titles

Relation = Literal[
    "head", "spouse", "child", "child_in_law", "grandchild", "parent", "grandparent", "sibling", "other"
]
MemberStatus = Literal["registered", "moved_out", "deceased"]

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


Text = CleanText
OptionalText = OptionalCleanText


def _check_id_number(value: str) -> str:
    try:
        return parse_id_number(value).number
    except InvalidIdNumber as exc:
        raise field_error("id_number", str(exc)) from None


def _check_phone(value: str | None) -> str | None:
    if value is None:
        return None
    compact = value.replace(" ", "")
    if not _PHONE.match(compact):
        raise field_error("phone", "联系电话应为11位手机号或带区号的固定电话")
    return compact


# 户籍迁入日期: when the person was registered in the household (moved in, married in, born); left empty when
# that was before the registry was kept. Land-loss eligibility asks who was registered on an announcement date.
RegisteredOn = Annotated[date | None, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200)


class MemberIn(_In):
    name: Text = Field(min_length=1, max_length=50, title="姓名")
    id_number: Text = Field(min_length=1, max_length=40, title="身份证号")
    relation: Relation = Field(title="与户主关系")
    status: MemberStatus = Field(default="registered", title="户籍状态")
    phone: OptionalText = Field(default=None, max_length=20, title="联系电话")
    registered_on: RegisteredOn = Field(default=None, title="户籍迁入日期")

    _id = field_validator("id_number")(_check_id_number)
    _phone = field_validator("phone")(_check_phone)


class MemberUpdate(_In):
    name: Text = Field(min_length=1, max_length=50, title="姓名")
    relation: Relation = Field(title="与户主关系")
    status: MemberStatus = Field(title="户籍状态")
    phone: OptionalText = Field(default=None, max_length=20, title="联系电话")
    registered_on: RegisteredOn = Field(default=None, title="户籍迁入日期")
    # A corrected ID number (更正身份证号); leave out to keep the current one.
    id_number: OptionalText = Field(default=None, max_length=40, title="身份证号")
    version: int = Field(ge=1, le=2_000_000_000, title="版本")

    _phone = field_validator("phone")(_check_phone)

    @field_validator("id_number")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        return None if value is None else _check_id_number(value)


class MemberMove(_In):
    target_household_id: int = Field(ge=1, le=2**62, title="迁入户")
    relation: Relation = Field(title="与户主关系")  # in the new household


class HouseholdIn(_In):
    village_id: int = Field(ge=1, le=2**31 - 1, title="村")
    group_id: int | None = Field(default=None, ge=1, le=2**31 - 1, title="村民小组")
    register_no: Text = Field(min_length=1, max_length=32, title="户口簿编号")
    address: Text = Field(min_length=1, max_length=200, title="住址")
    head_name: Text = Field(min_length=1, max_length=50, title="户主姓名")
    head_id_number: Text = Field(min_length=1, max_length=40, title="户主身份证号")
    head_phone: OptionalText = Field(default=None, max_length=20, title="户主联系电话")

    _id = field_validator("head_id_number")(_check_id_number)
    _phone = field_validator("head_phone")(_check_phone)


class HouseholdUpdate(_In):
    group_id: int | None = Field(default=None, ge=1, le=2**31 - 1, title="村民小组")
    register_no: Text = Field(min_length=1, max_length=32, title="户口簿编号")
    address: Text = Field(min_length=1, max_length=200, title="住址")
    version: int = Field(ge=1, le=2_000_000_000, title="版本")


class IdNumberQuery(_In):
    id_number: Text = Field(min_length=1, max_length=40, title="身份证号")

    _id = field_validator("id_number")(_check_id_number)


class MemberOut(BaseModel):
    id: int
    household_id: int
    name: str
    id_number_masked: str
    birth_date: date
    sex: Literal["M", "F"]
    relation: Relation
    relation_label: str
    status: MemberStatus
    status_label: str
    phone: str | None
    registered_on: date | None = None
    version: int


class HouseholdSummary(BaseModel):
    id: int
    village_id: int
    village_name: str
    group_id: int | None
    group_name: str | None
    register_no: str
    address: str
    head_name: str | None
    member_count: int
    version: int


class HouseholdOut(HouseholdSummary):
    members: list[MemberOut]


class HouseholdPage(BaseModel):
    items: list[HouseholdSummary]
    total: int
    page: int
    page_size: int


class FullIdNumber(BaseModel):
    member_id: int
    id_number: str


class VillageOut(BaseModel):
    id: int
    code: str
    name: str
    township_name: str
    household_count: int
    member_count: int


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: str
    actor_username: str
    actor_role: str
    action: str
    action_label: str
    entity_type: str
    entity_id: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None


register_titles(MemberIn, MemberUpdate, MemberMove, HouseholdIn, HouseholdUpdate, IdNumberQuery)
