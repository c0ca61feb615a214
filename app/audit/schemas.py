"""The 操作记录 search form."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.audit.labels import ACTION_LABELS
from app.core.params import BIGINT_MAX
from app.core.text import OptionalCleanText
from app.core.validation import field_error, register_titles


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    household_id: int | None = Field(default=None, ge=1, le=BIGINT_MAX, title="户编号")
    actor: OptionalCleanText = Field(default=None, max_length=40, title="操作人用户名")
    action: OptionalCleanText = Field(default=None, max_length=60, title="操作类型")
    date_from: date | None = Field(default=None, title="起始日期")
    date_to: date | None = Field(default=None, title="截止日期")

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str | None) -> str | None:
        if value is not None and value not in ACTION_LABELS:
            raise field_error("action", "不是可选的操作类型")
        return value

    @model_validator(mode="after")
    def _check_order(self) -> AuditQuery:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise field_error("date_order", "截止日期：不能早于起始日期")
        return self


register_titles(AuditQuery)
