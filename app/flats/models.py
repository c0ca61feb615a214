from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

ORDER_METHODS = {"signing_order": "按签约顺序", "lottery": "按摇号顺序"}


class Building(Base):
    """安置房源: a building of resettlement flats in a project."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_buildings_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(40), comment="楼号，如 1号楼")


class Unit(Base):
    """A flat (套): number, floor and floor area."""

    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("building_id", "number", name="uq_units_number"),
        CheckConstraint("area > 0", name="area"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="RESTRICT"), index=True)
    number: Mapped[str] = mapped_column(String(20), comment="房号，如 2单元301")
    floor: Mapped[int] = mapped_column(Integer)
    area: Mapped[Decimal] = mapped_column(Numeric(8, 2), comment="建筑面积（㎡）")


class Lottery(Base):
    """摇号: the order in which a village's households choose, drawn from a published seed (kept, so anyone can
    redraw it)."""

    __tablename__ = "lotteries"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    seed: Mapped[str] = mapped_column(String(100))
    order: Mapped[list[Any]] = mapped_column(JSONB, comment="household ids in drawn order")
    drawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Allocation(Base):
    """A flat allocated to a household; a unit is held by at most one live allocation (partial unique index)."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("method IN ('signing_order', 'lottery')", name="method"),
        CheckConstraint("method <> 'lottery' OR lottery_id IS NOT NULL", name="lottery"),
        Index(
            "uq_allocations_unit_live", "unit_id", unique=True, postgresql_where=text("released_at IS NULL")
        ),
        Index("ix_allocations_household", "household_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))
    lottery_id: Mapped[int | None] = mapped_column(ForeignKey("lotteries.id", ondelete="RESTRICT"))
    allocated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
