"""Path and query parameter types with the bounds of their database columns (so no request can overflow one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1

HouseholdId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="户编号")]
MemberId = Annotated[int, Path(ge=1, le=BIGINT_MAX, title="成员编号")]
VillageId = Annotated[int, Path(ge=1, le=INT_MAX, title="村编号")]
PageNo = Annotated[int, Query(ge=1, le=100_000, title="页码")]
PageSize = Annotated[int, Query(ge=1, le=200, title="每页条数")]
ProjectId = Annotated[int, Path(ge=1, le=INT_MAX, title="项目编号")]
PlanId = Annotated[int, Path(ge=1, le=INT_MAX, title="方案版本编号")]
