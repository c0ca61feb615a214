from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin

BATCH_STATUSES = {
    "draft": "编制中",
    "noticed": "公示中",
    "approved": "已审核",
    "enrolled": "已参保",
}
ENROLLMENT_STATUSES = {"active": "正常", "deceased": "已死亡"}
PENSION_MONTH_STATUSES = {
    "old_policy": "老政策已发放",
    "suspended": "暂停发放",
    "claimed": "待发放",
    "paid": "已发放",
    "cancelled": "已取消",
}
PENSION_MONTH_KINDS = {"regular": "当月", "back_pay": "补发", "old_policy": "老政策"}


class AcquisitionBatch(TimestampMixin, Base):
    """征地批次: one land acquisition in one village of a project, with its social-security parameters.

    draft (parameters and land editable) → noticed (the eligibility list is frozen and publicly noticed) →
    approved (by a reviewer who did not notice it) → enrolled.
    """

    __tablename__ = "acquisition_batches"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "village_id"],
            ["project_villages.project_id", "project_villages.village_id"],
            ondelete="RESTRICT",
            name="fk_acquisition_batches_project_village",
        ),
        UniqueConstraint("county_code", "code", name="uq_acquisition_batches_code"),
        CheckConstraint("status IN ('draft', 'noticed', 'approved', 'enrolled')", name="status"),
        CheckConstraint("per_capita_land_threshold_mu >= 0", name="threshold"),
        CheckConstraint("min_age BETWEEN 0 AND 120 AND pension_age BETWEEN min_age AND 120", name="ages"),
        CheckConstraint("fee_standard >= 0 AND monthly_pension > 0", name="money"),
        CheckConstraint("approved_on >= announcement_date", name="approved_after_announcement"),
        CheckConstraint("notice_end IS NULL OR notice_end >= notice_start", name="notice_dates"),
        CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200), comment="村的区划路径")
    project_id: Mapped[int] = mapped_column(Integer)
    village_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40), comment="批次编号")
    name: Mapped[str] = mapped_column(String(100))
    announcement_date: Mapped[date] = mapped_column(Date, comment="补偿安置公告日")
    approved_on: Mapped[date] = mapped_column(Date, comment="征地批准日")
    per_capita_land_threshold_mu: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    min_age: Mapped[int] = mapped_column(SmallInteger)
    pension_age: Mapped[int] = mapped_column(SmallInteger)
    fee_standard: Mapped[int] = mapped_column(BigInteger, comment="社会保障费标准（分/人）")
    monthly_pension: Mapped[int] = mapped_column(BigInteger, comment="月养老金（分）")
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    notice_start: Mapped[date | None] = mapped_column(Date)
    notice_end: Mapped[date | None] = mapped_column(Date)
    noticed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_comment: Mapped[str | None] = mapped_column(Text)
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class BatchHousehold(Base):
    """A household's contracted and acquired land (承包地/被征收地, mu) in a batch."""

    __tablename__ = "batch_households"
    __table_args__ = (
        CheckConstraint("contracted_mu >= 0 AND acquired_mu >= 0", name="land_nonnegative"),
        CheckConstraint("acquired_mu <= contracted_mu", name="acquired_within_contracted"),
    )

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("acquisition_batches.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="RESTRICT"), primary_key=True
    )
    contracted_mu: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    acquired_mu: Mapped[Decimal] = mapped_column(Numeric(12, 4))


class EligibilityEntry(Base):
    """One person on a batch's frozen eligibility list (参保人员名册), eligible or with the reasons why not."""

    __tablename__ = "eligibility_entries"
    __table_args__ = (
        UniqueConstraint("batch_id", "member_id", name="uq_eligibility_entries_member"),
        Index(
            "uq_eligibility_entries_eligible_person",
            "batch_id",
            "person_hash",
            unique=True,
            postgresql_where="eligible",
        ),
        CheckConstraint("eligible = (cardinality(reasons) = 0)", name="eligible_iff_no_reason"),
        CheckConstraint(
            "reasons <@ ARRAY['not_registered', 'under_min_age', 'land_above_threshold', "
            "'duplicate_enrollment']::varchar[]",
            name="reason_codes",
        ),
        CheckConstraint(
            "('duplicate_enrollment' = ANY(reasons)) = (duplicate_of IS NOT NULL)", name="duplicate_named"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("acquisition_batches.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    person_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    name: Mapped[str] = mapped_column(String(50))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[date] = mapped_column(Date)
    age_on_announcement: Mapped[int] = mapped_column(SmallInteger)
    household_members: Mapped[int] = mapped_column(SmallInteger, comment="公告日在册人数")
    remaining_mu: Mapped[Decimal] = mapped_column(Numeric(12, 4), comment="征地后剩余承包地（亩）")
    eligible: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    duplicate_of: Mapped[str | None] = mapped_column(String(200), comment="重复参保的另一记录")


class OldPolicyRecord(TimestampMixin, Base):
    """What a person received under the old land-loss policy (老政策): a lump sum and/or a monthly subsidy."""

    __tablename__ = "old_policy_records"
    __table_args__ = (
        UniqueConstraint("county_code", "person_hash", name="uq_old_policy_records_person"),
        CheckConstraint("lump_sum_received >= 0", name="lump_sum"),
        CheckConstraint(
            "(monthly_subsidy IS NULL) = (paid_from IS NULL) AND (paid_from IS NULL) = (paid_through IS NULL)",
            name="subsidy_complete",
        ),
        CheckConstraint("monthly_subsidy IS NULL OR monthly_subsidy > 0", name="subsidy_positive"),
        CheckConstraint(
            "paid_from IS NULL OR (paid_from <= paid_through AND extract(day FROM paid_from) = 1 "
            "AND extract(day FROM paid_through) = 1)",
            name="subsidy_months",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"))
    person_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    name: Mapped[str] = mapped_column(String(50))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    lump_sum_received: Mapped[int] = mapped_column(BigInteger, comment="老政策一次性领取（分）")
    monthly_subsidy: Mapped[int | None] = mapped_column(BigInteger, comment="老政策月养老补贴（分）")
    paid_from: Mapped[date | None] = mapped_column(Date, comment="补贴起始月")
    paid_through: Mapped[date | None] = mapped_column(Date, comment="补贴发放至月")
    source: Mapped[str] = mapped_column(String(200), comment="来源：导入文件名或手工登记")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))


class Enrollment(TimestampMixin, Base):
    """参保: a land-loss farmer enrolled through one batch. One person is enrolled at most once per county.

    The account credit is the fee standard less the old lump sum, never below zero; the pension starts no earlier
    than the month after an old monthly subsidy ended (both checked here, by the database).
    """

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("county_code", "person_hash", name="uq_enrollments_person"),
        UniqueConstraint("id", "pension_start_month", name="uq_enrollments_id_start"),
        CheckConstraint("status IN ('active', 'deceased')", name="status"),
        CheckConstraint("old_lump_sum >= 0 AND fee_standard >= 0 AND monthly_pension > 0", name="money"),
        CheckConstraint("account_credit = GREATEST(fee_standard - old_lump_sum, 0)", name="account_credit"),
        CheckConstraint(
            "old_paid_through IS NULL OR pension_start_month > old_paid_through",
            name="start_after_old_subsidy",
        ),
        CheckConstraint("extract(day FROM pension_start_month) = 1", name="start_is_month"),
        CheckConstraint("(status = 'deceased') = (death_date IS NOT NULL)", name="death_date"),
        CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
        Index("ix_enrollments_area_path", "area_path", postgresql_ops={"area_path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("acquisition_batches.id", ondelete="RESTRICT"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    person_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    name: Mapped[str] = mapped_column(String(50))
    id_number_masked: Mapped[str] = mapped_column(String(18))
    birth_date: Mapped[date] = mapped_column(Date)
    enrolled_on: Mapped[date] = mapped_column(Date)
    fee_standard: Mapped[int] = mapped_column(BigInteger)
    old_lump_sum: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    old_paid_through: Mapped[date | None] = mapped_column(Date)
    account_credit: Mapped[int] = mapped_column(BigInteger, comment="个人账户记入额（分）")
    monthly_pension: Mapped[int] = mapped_column(BigInteger)
    pension_start_month: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    death_date: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Passbook(TimestampMixin, Base):
    """失地农民养老金专用存折: the pensioner's dedicated account. The number is sealed, hashed and masked."""

    __tablename__ = "passbooks"
    __table_args__ = (CheckConstraint("octet_length(account_hash) = 32", name="account_hash_len"),)

    enrollment_id: Mapped[int] = mapped_column(
        ForeignKey("enrollments.id", ondelete="RESTRICT"), primary_key=True
    )
    bank_name: Mapped[str] = mapped_column(String(60))
    account_enc: Mapped[bytes] = mapped_column(LargeBinary)
    account_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    account_masked: Mapped[str] = mapped_column(String(40))
    opened_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class LifeCertification(Base):
    """资格认证 (proof of life) of a pensioner."""

    __tablename__ = "life_certifications"
    __table_args__ = (
        CheckConstraint("method IN ('in_person', 'video', 'home_visit', 'data_match')", name="method"),
        Index("ix_life_certifications_enrollment", "enrollment_id", "certified_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="RESTRICT"))
    certified_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20))
    certified_by: Mapped[str] = mapped_column(String(100), comment="认证人（经办人或比对来源）")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PensionMonth(Base):
    """The register of months per person (养老金月份登记): one row per person and month, whatever the policy or
    batch — the unique key is what makes "no month is ever paid twice" a database fact.

    ``old_policy`` rows record months an old-policy subsidy paid; new-policy rows are ``claimed`` when a monthly run
    puts them up for payment, ``suspended`` while proof of life is overdue (claimed later as back pay), ``paid``
    once the bank confirms, ``cancelled`` when a death stops them unpaid. New-policy rows cannot precede the
    enrollment's pension start (composite foreign key + check).
    """

    __tablename__ = "pension_months"
    __table_args__ = (
        UniqueConstraint("county_code", "person_hash", "month", name="uq_pension_months_person_month"),
        ForeignKeyConstraint(
            ["enrollment_id", "start_month"],
            ["enrollments.id", "enrollments.pension_start_month"],
            ondelete="RESTRICT",
            onupdate="CASCADE",
            name="fk_pension_months_enrollment_start",
        ),
        CheckConstraint(
            "status IN ('old_policy', 'suspended', 'claimed', 'paid', 'cancelled')", name="status"
        ),
        CheckConstraint("kind IN ('regular', 'back_pay', 'old_policy')", name="kind"),
        CheckConstraint(
            "(status = 'old_policy') = (old_policy_id IS NOT NULL) AND (status = 'old_policy') = (kind = 'old_policy')"
            " AND (old_policy_id IS NULL) = (enrollment_id IS NOT NULL) AND (enrollment_id IS NULL) = (start_month IS NULL)",
            name="source",
        ),
        CheckConstraint("enrollment_id IS NULL OR month >= start_month", name="not_before_start"),
        CheckConstraint("extract(day FROM month) = 1", name="month_first_day"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name="paid_on"),
        CheckConstraint("status <> 'claimed' OR period IS NOT NULL", name="claimed_period"),
        Index("ix_pension_months_enrollment", "enrollment_id", "month"),
        Index("ix_pension_months_period", "period", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    person_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    month: Mapped[date] = mapped_column(Date)
    enrollment_id: Mapped[int | None] = mapped_column(BigInteger)
    start_month: Mapped[date | None] = mapped_column(Date)
    old_policy_id: Mapped[int | None] = mapped_column(ForeignKey("old_policy_records.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    period: Mapped[date | None] = mapped_column(Date, comment="认领该月的发放期（YYYY-MM 的首日）")
    amount: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Overpayment(TimestampMixin, Base):
    """多发追回: months paid after a pensioner's death, to be recovered; ``recovered`` never exceeds ``amount``."""

    __tablename__ = "overpayments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("recovered >= 0 AND recovered <= amount", name="recovered"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="RESTRICT"), unique=True)
    months: Mapped[list[date]] = mapped_column(ARRAY(Date))
    amount: Mapped[int] = mapped_column(BigInteger)
    recovered: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class OverpaymentRecovery(Base):
    """One recovery against an overpayment (append-only)."""

    __tablename__ = "overpayment_recoveries"
    __table_args__ = (CheckConstraint("amount > 0", name="amount"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    overpayment_id: Mapped[int] = mapped_column(
        ForeignKey("overpayments.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    recovered_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HeirPayment(TimestampMixin, Base):
    """The individual-account balance left at death, paid once to the named heir (继承人)."""

    __tablename__ = "heir_payments"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        CheckConstraint("status IN ('due', 'paid')", name="status"),
        CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name="paid_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="RESTRICT"), unique=True)
    heir_name: Mapped[str] = mapped_column(String(50))
    heir_id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    heir_id_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    heir_id_masked: Mapped[str] = mapped_column(String(18))
    relation: Mapped[str] = mapped_column(String(20), comment="与死者关系")
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="due", server_default="due")
    paid_on: Mapped[date | None] = mapped_column(Date, comment="支付日期")
    payment_note: Mapped[str | None] = mapped_column(String(200), comment="支付凭证")
