"""Administrative areas: creation (keeping the materialised path right) and lookups."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import AREA_LEVELS, LEVEL_LABELS, Area
from app.audit import service as audit
from app.auth.policy import Perm, Principal, authorize
from app.core.errors import Conflict, InvalidInput

_CHILD_LEVEL = dict(itertools.pairwise(AREA_LEVELS))


async def create_area(
    session: AsyncSession,
    actor: Principal,
    *,
    code: str,
    name: str,
    level: str,
    parent_code: str | None = None,
) -> Area:
    """Add an area under ``parent_code`` (none for a county, whose code is its 6-digit division code)."""
    if level not in AREA_LEVELS:
        raise InvalidInput(f"未知区划级别：{level}", field="level")
    if await session.scalar(select(Area.id).where(Area.code == code)) is not None:
        raise Conflict(f"区划代码 {code} 已存在", field="code")
    parent: Area | None = None
    if level == "county":
        if parent_code is not None or len(code) != 6 or not code.isdigit():
            raise InvalidInput("县级区划须用6位行政区划代码，且没有上级", field="code")
        authorize(actor, Perm.AREAS_MANAGE, None)
        county_code = code
    else:
        parent = await session.scalar(select(Area).where(Area.code == parent_code))
        if parent is None:
            raise InvalidInput(f"找不到上级区划 {parent_code}", field="parent_code")
        if _CHILD_LEVEL.get(parent.level) != level:
            raise InvalidInput(
                f"{LEVEL_LABELS[parent.level]}之下应为{LEVEL_LABELS.get(_CHILD_LEVEL.get(parent.level, ''), '无下级')}",
                field="level",
            )
        authorize(actor, Perm.AREAS_MANAGE, parent.path)
        county_code = parent.county_code
    area = Area(
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        county_code=county_code,
        path="",
    )
    session.add(area)
    await session.flush()
    area.path = f"{parent.path if parent else '/'}{area.id}/"
    await session.flush()
    await audit.record(
        session,
        actor,
        "area.create",
        "area",
        area.id,
        after={"code": code, "name": name, "level": level, "parent": parent_code},
        county_code=county_code,
    )
    return area


async def area_by_code(session: AsyncSession, code: str) -> Area | None:
    return await session.scalar(select(Area).where(Area.code == code))


async def children(session: AsyncSession, parent_id: int) -> Sequence[Area]:
    return (await session.scalars(select(Area).where(Area.parent_id == parent_id).order_by(Area.code))).all()
