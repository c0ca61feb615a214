"""API and form models for resettlement flats (安置房源). Field titles are the Chinese words of ui.md."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.core.text import CleanText, OptionalCleanText

Area = Annotated[Decimal, Field(gt=0, max_digits=8, decimal_places=2)]


def _split_areas(value: object) -> object:
    """The bulk form types the areas per position in one box: ``75 90 110`` (spaces, commas or 、)."""
    if isinstance(value, str):
        return [p for p in re.split(r"[\s,，、;；]+", value.strip()) if p]
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200)


class BuildingIn(_In):
    name: CleanText = Field(min_length=1, max_length=40, title="楼号")


class UnitIn(_In):
    number: CleanText = Field(min_length=1, max_length=20, title="房号")
    floor: int = Field(ge=-5, le=200, title="楼层")
    area: Area = Field(title="建筑面积")


class UnitsBulkIn(_In):
    prefix: OptionalCleanText = Field(default=None, max_length=12, title="房号前缀")
    floor_from: int = Field(ge=1, le=200, title="起始楼层")
    floor_to: int = Field(ge=1, le=200, title="结束楼层")
    areas: Annotated[list[Area], BeforeValidator(_split_areas)] = Field(
        min_length=1, max_length=20, title="每层各户面积"
    )


class LotteryIn(_In):
    project_id: int = Field(ge=1, le=2**31 - 1, title="征收项目")
    seed: OptionalCleanText = Field(default=None, max_length=100, title="摇号种子")


class AllocationIn(_In):
    household_id: int = Field(ge=1, le=2**62, title="被征收户")


class AllocateForm(_In):
    project_id: int = Field(ge=1, le=2**31 - 1, title="征收项目")
    household_id: int = Field(ge=1, le=2**62, title="被征收户")
    unit_id: int = Field(ge=1, le=2**62, title="房源")


class ReleaseIn(_In):
    reason: CleanText = Field(min_length=2, max_length=200, title="退回原因")


class AreaCountOut(BaseModel):
    area: Decimal
    total: int
    available: int


class BuildingOut(BaseModel):
    id: int
    project_id: int
    name: str
    total: int
    available: int
    by_area: list[AreaCountOut]


class UnitOut(BaseModel):
    id: int
    building_id: int
    number: str
    floor: int
    area: Decimal
    allocated: bool


class BulkOut(BaseModel):
    created: int
    numbers: list[str]


class OrderEntryOut(BaseModel):
    position: int
    household_id: int
    register_no: str
    head_name_masked: str
    agreement_number: str
    signed_on: date
    areas_chosen: list[Decimal]
    areas_left: list[Decimal]
    allocated: list[str]
    current: bool


class OrderOut(BaseModel):
    project_id: int
    village_id: int
    method: str
    method_label: str
    seed: str | None
    drawn_at: datetime | None
    algorithm: str
    current_household_id: int | None
    entries: list[OrderEntryOut]


class LotteryOut(BaseModel):
    id: int
    seed: str
    drawn_at: datetime
    order: list[int]


class AllocationOut(BaseModel):
    id: int
    unit_id: int
    household_id: int
    building: str
    number: str
    floor: int
    area: Decimal
    method: str
    allocated_at: datetime
    released_at: datetime | None


class HouseholdFlatsOut(BaseModel):
    household_id: int
    areas_chosen: list[Decimal]
    allocations: list[AllocationOut]
