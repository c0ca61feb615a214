from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin

PLAN_STATUSES = {"draft": "草稿", "submitted": "待审核", "approved": "已批准", "superseded": "已被新版本取代"}


class Project(TimestampMixin, Base):
    """征收项目: a land-acquisition project of one county, covering one or more villages."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("code ~ '^[A-Z0-9]+(-[A-Z0-9]+)*$'", name="code"),
        CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(20), unique=True, comment="项目编号，协议编号的前缀，如 FQ-2022")
    name: Mapped[str] = mapped_column(String(100))
    area_path: Mapped[str] = mapped_column(String(200), comment="县的区划路径")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class ProjectVillage(Base):
    """A village in a project, with its abbreviation for agreement numbers (FQ-2022-QFZ-0001)."""

    __tablename__ = "project_villages"
    __table_args__ = (
        UniqueConstraint("project_id", "abbr", name="uq_project_villages_abbr"),
        CheckConstraint("abbr ~ '^[A-Z0-9]{1,10}$'", name="abbr"),
        CheckConstraint("next_agreement_no >= 1", name="next_agreement_no"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True)
    abbr: Mapped[str] = mapped_column(String(10))
    area_path: Mapped[str] = mapped_column(String(200), comment="村的区划路径")
    next_agreement_no: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Plan(Base):
    """补偿安置方案, one version of a village's plan in a project (一村一方案).

    ``params`` holds every parameter of domain.md under its own name, in the JSON form of the API (money as
    ``"1100.00"``). draft → submitted → approved (by a reviewer who is not the author) → superseded; an approved
    version never changes (a trigger refuses it).
    """

    __tablename__ = "plans"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "village_id"],
            ["project_villages.project_id", "project_villages.village_id"],
            ondelete="RESTRICT",
            name="fk_plans_project_village",
        ),
        UniqueConstraint("project_id", "village_id", "version", name="uq_plans_version"),
        CheckConstraint("status IN ('draft', 'submitted', 'approved', 'superseded')", name="status"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(
            "status NOT IN ('approved', 'superseded') OR (reviewer_id IS NOT NULL AND reviewer_id <> author_id "
            "AND approved_at IS NOT NULL)",
            name="maker_checker",
        ),
        Index(
            "uq_plans_one_approved",
            "project_id",
            "village_id",
            unique=True,
            postgresql_where=text("status = 'approved'"),
        ),
        Index(
            "uq_plans_one_open",
            "project_id",
            "village_id",
            unique=True,
            postgresql_where=text("status IN ('draft', 'submitted')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    village_id: Mapped[int] = mapped_column(Integer)
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft", server_default="draft")
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_comment: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Lock for concurrent edits of a draft.
    lock_version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012
