from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.text import CleanText
from app.core.validation import register_titles

RoleName = Literal["caseworker", "reviewer", "finance", "auditor", "admin"]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class MeOut(BaseModel):
    username: str
    full_name: str
    role: str
    role_label: str
    county_code: str
    permissions: list[str]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[a-z0-9_.-]{3,40}$", title="用户名")
    full_name: CleanText = Field(min_length=1, max_length=50, title="姓名")
    role: RoleName = Field(title="角色")
    password: CleanText = Field(min_length=8, max_length=200, title="密码")
    area_codes: list[CleanText] = Field(min_length=1, max_length=200, title="负责区域")


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: str
    county_code: str
    is_active: bool


register_titles(UserCreate)
