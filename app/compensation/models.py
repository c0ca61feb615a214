from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin

ASSESSMENT_STATUSES = {
    "submitted": "待审核",
    "approved": "已批准",
    "returned": "已退回",
    "superseded": "已被取代",
}


class Survey(TimestampMixin, Base):
    """调查登记 of one household: resettled persons (安置人口) and land; structures and attachments below."""

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("persons >= 0", name="persons"),
        CheckConstraint("contracted_mu >= 0 AND acquired_mu >= 0", name="land"),
    )

    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True
    )
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    persons: Mapped[int] = mapped_column(Integer, comment="安置人口")
    contracted_mu: Mapped[Decimal] = mapped_column(Numeric(12, 4), comment="承包地（亩）")
    acquired_mu: Mapped[Decimal] = mapped_column(Numeric(12, 4), comment="被征收土地（亩）")
    surveyed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class SurveyStructure(Base):
    """A building of the household: structure type and floor area (建筑面积)."""

    __tablename__ = "survey_structures"
    __table_args__ = (
        CheckConstraint("structure IN ('frame', 'brick_concrete', 'brick_wood', 'simple')", name="structure"),
        CheckConstraint("area >= 0", name="area"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("surveys.household_id", ondelete="CASCADE"), index=True
    )
    structure: Mapped[str] = mapped_column(String(20))
    area: Mapped[Decimal] = mapped_column(Numeric(10, 2))


class SurveyAttachment(Base):
    """附属物: an item of the plan's price list (by code) and its quantity."""

    __tablename__ = "survey_attachments"
    __table_args__ = (CheckConstraint("qty >= 0", name="qty"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("surveys.household_id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(30))
    qty: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class Assessment(Base):
    """补偿核算, frozen when submitted: the plan version, the inputs and every line are kept as they were.

    submitted → approved (by a reviewer other than its maker) | returned; a newer approved assessment of the same
    household and project supersedes the old one, which stays in history. The totals are checked by the database:
    net = total − flat price, and the lines add up to the total.
    """

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint("status IN ('submitted', 'approved', 'returned', 'superseded')", name="status"),
        CheckConstraint(
            "option_kind IN ('cash', 'existing_housing', 'resettlement_flat')", name="option_kind"
        ),
        CheckConstraint("compensation_total >= 0 AND flat_price_due >= 0", name="amounts"),
        CheckConstraint("net_payable = compensation_total - flat_price_due", name="net_payable"),
        CheckConstraint(
            "status NOT IN ('approved', 'superseded') OR (reviewer_id IS NOT NULL AND reviewer_id <> created_by)",
            name="maker_checker",
        ),
        Index(
            "uq_assessments_one_approved",
            "household_id",
            "project_id",
            unique=True,
            postgresql_where=text("status = 'approved'"),
        ),
        Index(
            "uq_assessments_one_pending",
            "household_id",
            "project_id",
            unique=True,
            postgresql_where=text("status = 'submitted'"),
        ),
        Index("ix_assessments_household", "household_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    option_kind: Mapped[str] = mapped_column(String(20))
    option: Mapped[dict[str, Any]] = mapped_column(JSONB, comment="flats and cash_area as given")
    signed_on: Mapped[date | None] = mapped_column(Date, comment="约定签约日期")
    vacated_on: Mapped[date | None] = mapped_column(Date, comment="约定腾房日期")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, comment="the survey as assessed")
    entitled_area: Mapped[Decimal] = mapped_column(Numeric(10, 2), comment="应安置面积")
    flat_area: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    compensation_total: Mapped[int] = mapped_column(BigInteger, comment="补偿总额（分）")
    flat_price_due: Mapped[int] = mapped_column(BigInteger, comment="应缴购房款（分）")
    flat_price_basis: Mapped[str] = mapped_column(String(200), default="", server_default="")
    net_payable: Mapped[int] = mapped_column(BigInteger, comment="应付净额（分）；负数为应缴差价")
    status: Mapped[str] = mapped_column(String(12), default="submitted", server_default="submitted")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_comment: Mapped[str | None] = mapped_column(Text)


class AssessmentLine(Base):
    """One line of a frozen assessment, with its basis (``120.50㎡ × 900.00元/㎡``)."""

    __tablename__ = "assessment_lines"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint(
            "code IN ('house', 'attachment', 'relocation', 'transition', 'signing_bonus', 'early_vacate', "
            "'cash_resettlement', 'purchase_subsidy', 'unused_entitlement')",
            name="code",
        ),
    )

    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessments.id", ondelete="RESTRICT"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30))
    label: Mapped[str] = mapped_column(String(60))
    basis: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    payable_on_proof: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
