from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

AGREEMENT_STATUSES = {"draft": "草稿", "signed": "已签约", "voided": "已作废"}
OBJECTION_STATUSES = {"open": "待处理", "resolved": "已处理"}


class PublicNotice(Base):
    """公示 of a project's approved assessments in one village: the posted list (PDF) and its period."""

    __tablename__ = "public_notices"
    __table_args__ = (CheckConstraint("days >= 1", name="days"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    started_on: Mapped[date] = mapped_column(Date, comment="公示开始日期")
    days: Mapped[int] = mapped_column(Integer, comment="公示天数")
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, comment="the list as posted (masked)")
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NoticeEntry(Base):
    """A household on a notice, with the assessment that was shown."""

    __tablename__ = "notice_entries"
    __table_args__ = (Index("ix_notice_entries_household", "household_id"),)

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("public_notices.id", ondelete="RESTRICT"), primary_key=True
    )
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True
    )
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="RESTRICT"), index=True)


class Objection(Base):
    """异议 raised against a household's entry on a notice; an open one blocks that household's signing."""

    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        CheckConstraint(
            "(status = 'resolved') = (resolution IS NOT NULL AND resolved_at IS NOT NULL)", name="resolved"
        ),
        Index("ix_objections_open", "household_id", postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("public_notices.id", ondelete="RESTRICT"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    raised_on: Mapped[date] = mapped_column(Date)
    raised_by_name: Mapped[str] = mapped_column(String(50), comment="提出人")
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    resolution: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Agreement(Base):
    """征收补偿安置协议书, numbered per project and village (FQ-2022-QFZ-0001).

    Rendered from a frozen snapshot of the approved assessment; the PDF bytes, their SHA-256 and the template
    version are kept. draft → signed (date) → voided (reason); a signed agreement never changes (trigger).
    """

    __tablename__ = "agreements"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'signed', 'voided')", name="status"),
        CheckConstraint("status <> 'signed' OR signed_on IS NOT NULL", name="signed_on"),
        CheckConstraint(
            "status <> 'voided' OR (void_reason IS NOT NULL AND voided_at IS NOT NULL)", name="voided"
        ),
        CheckConstraint("octet_length(pdf_sha256) = 32", name="sha_len"),
        Index(
            "uq_agreements_one_live",
            "household_id",
            "project_id",
            unique=True,
            postgresql_where=text("status <> 'voided'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True, comment="协议编号")
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="draft", server_default="draft")
    template_version: Mapped[str] = mapped_column(String(20))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    net_payable: Mapped[int] = mapped_column(BigInteger, comment="应付净额（分），与快照一致")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    signed_on: Mapped[date | None] = mapped_column(Date, comment="签约日期")
    signed_recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(Text)
    voided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Handover(Base):
    """腾房交付验收 of a signed agreement that pays nothing on the handover: the household owes the difference for
    its flats (差价) or everything it is owed comes on the purchase contract. Where the handover releases money, it
    is recorded with the account to pay into as that payment's condition (``compensation_tranches``, kind
    ``vacate``) instead. Kept: never changed or deleted (trigger)."""

    __tablename__ = "handovers"
    __table_args__ = (CheckConstraint("length(btrim(note)) > 0", name="note"),)

    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="RESTRICT"), primary_key=True, autoincrement=False
    )
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    handed_over_on: Mapped[date] = mapped_column(Date, comment="验收日期")
    note: Mapped[str] = mapped_column(String(200), comment="验收单号")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
