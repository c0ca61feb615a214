from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin

AREA_LEVELS = ("county", "township", "village", "group")
LEVEL_LABELS = {"county": "县", "township": "乡镇", "village": "村", "group": "村民小组"}


class Area(TimestampMixin, Base):
    """An administrative area (行政区划): county 县 → township 乡镇 → village 村 → group 村民小组.

    ``path`` is the materialised chain of ids (``/1/4/17/``); area scoping is a prefix match on it.
    """

    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint("level IN ('county', 'township', 'village', 'group')", name="level"),
        CheckConstraint("(level = 'county') = (parent_id IS NULL)", name="root_is_county"),
        CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
        Index("ix_areas_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True, comment="行政区划代码")
    name: Mapped[str] = mapped_column(String(60))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), index=True)
    county_code: Mapped[str] = mapped_column(String(6))
    path: Mapped[str] = mapped_column(String(200), unique=True)
