"""Land-loss social security: acquisition batches, eligibility lists, old-policy records, enrollments, passbooks,
proof of life, the per-person month register, overpayments and heir payments; members' registration date.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if default else None
    )


def _user(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)


def _stamps() -> list[sa.Column[object]]:
    return [_ts("created_at", nullable=False, default=True), _ts("updated_at", nullable=False, default=True)]


def _version() -> sa.Column[object]:
    return sa.Column("version", sa.Integer(), nullable=False, server_default="1")


def _fk(name: str, target: str, *, ondelete: str = "RESTRICT", nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger(), sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def _append_only(table: str) -> None:
    op.execute(
        f"""
        CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{table} rows are never changed or deleted' USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def upgrade() -> None:
    op.add_column(
        "members",
        sa.Column("registered_on", sa.Date(), nullable=True, comment="户籍迁入日期；空表示迁入早于系统登记"),
    )

    op.create_table(
        "acquisition_batches",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False, comment="村的区划路径"),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False, comment="批次编号"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("announcement_date", sa.Date(), nullable=False, comment="补偿安置公告日"),
        sa.Column("approved_on", sa.Date(), nullable=False, comment="征地批准日"),
        sa.Column("per_capita_land_threshold_mu", sa.Numeric(10, 4), nullable=False),
        sa.Column("min_age", sa.SmallInteger(), nullable=False),
        sa.Column("pension_age", sa.SmallInteger(), nullable=False),
        sa.Column("fee_standard", sa.BigInteger(), nullable=False, comment="社会保障费标准（分/人）"),
        sa.Column("monthly_pension", sa.BigInteger(), nullable=False, comment="月养老金（分）"),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("notice_start", sa.Date(), nullable=True),
        sa.Column("notice_end", sa.Date(), nullable=True),
        _user("noticed_by"),
        _user("reviewed_by"),
        _ts("reviewed_at"),
        sa.Column("review_comment", sa.Text(), nullable=True),
        _ts("enrolled_at"),
        _user("created_by"),
        _version(),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["project_id", "village_id"],
            ["project_villages.project_id", "project_villages.village_id"],
            ondelete="RESTRICT",
            name="fk_acquisition_batches_project_village",
        ),
        sa.UniqueConstraint("county_code", "code", name="uq_acquisition_batches_code"),
        sa.CheckConstraint(
            "status IN ('draft', 'noticed', 'approved', 'enrolled')", name="ck_acquisition_batches_status"
        ),
        sa.CheckConstraint("per_capita_land_threshold_mu >= 0", name="ck_acquisition_batches_threshold"),
        sa.CheckConstraint(
            "min_age BETWEEN 0 AND 120 AND pension_age BETWEEN min_age AND 120",
            name="ck_acquisition_batches_ages",
        ),
        sa.CheckConstraint("fee_standard >= 0 AND monthly_pension > 0", name="ck_acquisition_batches_money"),
        sa.CheckConstraint(
            "approved_on >= announcement_date", name="ck_acquisition_batches_approved_after_announcement"
        ),
        sa.CheckConstraint(
            "notice_end IS NULL OR notice_end >= notice_start", name="ck_acquisition_batches_notice_dates"
        ),
        sa.CheckConstraint("county_code ~ '^[0-9]{6}$'", name="ck_acquisition_batches_county_code"),
    )

    op.create_table(
        "batch_households",
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("acquisition_batches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("contracted_mu", sa.Numeric(12, 4), nullable=False),
        sa.Column("acquired_mu", sa.Numeric(12, 4), nullable=False),
        sa.CheckConstraint(
            "contracted_mu >= 0 AND acquired_mu >= 0", name="ck_batch_households_land_nonnegative"
        ),
        sa.CheckConstraint(
            "acquired_mu <= contracted_mu", name="ck_batch_households_acquired_within_contracted"
        ),
    )

    op.create_table(
        "eligibility_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("acquisition_batches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _fk("member_id", "members.id"),
        _fk("household_id", "households.id"),
        sa.Column("person_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("id_number_masked", sa.String(18), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("age_on_announcement", sa.SmallInteger(), nullable=False),
        sa.Column("household_members", sa.SmallInteger(), nullable=False, comment="公告日在册人数"),
        sa.Column("remaining_mu", sa.Numeric(12, 4), nullable=False, comment="征地后剩余承包地（亩）"),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.String(30)), nullable=False),
        sa.Column("duplicate_of", sa.String(200), nullable=True, comment="重复参保的另一记录"),
        sa.UniqueConstraint("batch_id", "member_id", name="uq_eligibility_entries_member"),
        sa.CheckConstraint(
            "eligible = (cardinality(reasons) = 0)", name="ck_eligibility_entries_eligible_iff_no_reason"
        ),
        sa.CheckConstraint(
            "reasons <@ ARRAY['not_registered', 'under_min_age', 'land_above_threshold', "
            "'duplicate_enrollment']::varchar[]",
            name="ck_eligibility_entries_reason_codes",
        ),
        sa.CheckConstraint(
            "('duplicate_enrollment' = ANY(reasons)) = (duplicate_of IS NOT NULL)",
            name="ck_eligibility_entries_duplicate_named",
        ),
    )
    op.create_index(
        "uq_eligibility_entries_eligible_person",
        "eligibility_entries",
        ["batch_id", "person_hash"],
        unique=True,
        postgresql_where=sa.text("eligible"),
    )

    op.create_table(
        "old_policy_records",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        _fk("member_id", "members.id"),
        sa.Column("person_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("id_number_masked", sa.String(18), nullable=False),
        sa.Column("lump_sum_received", sa.BigInteger(), nullable=False, comment="老政策一次性领取（分）"),
        sa.Column("monthly_subsidy", sa.BigInteger(), nullable=True, comment="老政策月养老补贴（分）"),
        sa.Column("paid_from", sa.Date(), nullable=True, comment="补贴起始月"),
        sa.Column("paid_through", sa.Date(), nullable=True, comment="补贴发放至月"),
        sa.Column("source", sa.String(200), nullable=False, comment="来源：导入文件名或手工登记"),
        _user("recorded_by"),
        *_stamps(),
        sa.UniqueConstraint("county_code", "person_hash", name="uq_old_policy_records_person"),
        sa.CheckConstraint("lump_sum_received >= 0", name="ck_old_policy_records_lump_sum"),
        sa.CheckConstraint(
            "(monthly_subsidy IS NULL) = (paid_from IS NULL) AND (paid_from IS NULL) = (paid_through IS NULL)",
            name="ck_old_policy_records_subsidy_complete",
        ),
        sa.CheckConstraint(
            "monthly_subsidy IS NULL OR monthly_subsidy > 0", name="ck_old_policy_records_subsidy_positive"
        ),
        sa.CheckConstraint(
            "paid_from IS NULL OR (paid_from <= paid_through AND extract(day FROM paid_from) = 1 "
            "AND extract(day FROM paid_through) = 1)",
            name="ck_old_policy_records_subsidy_months",
        ),
    )

    op.create_table(
        "enrollments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("acquisition_batches.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        _fk("member_id", "members.id"),
        _fk("household_id", "households.id"),
        sa.Column("person_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("id_number_masked", sa.String(18), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("fee_standard", sa.BigInteger(), nullable=False),
        sa.Column("old_lump_sum", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("old_paid_through", sa.Date(), nullable=True),
        sa.Column("account_credit", sa.BigInteger(), nullable=False, comment="个人账户记入额（分）"),
        sa.Column("monthly_pension", sa.BigInteger(), nullable=False),
        sa.Column("pension_start_month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("death_date", sa.Date(), nullable=True),
        _version(),
        *_stamps(),
        sa.UniqueConstraint("county_code", "person_hash", name="uq_enrollments_person"),
        sa.UniqueConstraint("id", "pension_start_month", name="uq_enrollments_id_start"),
        sa.CheckConstraint("status IN ('active', 'deceased')", name="ck_enrollments_status"),
        sa.CheckConstraint(
            "old_lump_sum >= 0 AND fee_standard >= 0 AND monthly_pension > 0", name="ck_enrollments_money"
        ),
        sa.CheckConstraint(
            "account_credit = GREATEST(fee_standard - old_lump_sum, 0)", name="ck_enrollments_account_credit"
        ),
        sa.CheckConstraint(
            "old_paid_through IS NULL OR pension_start_month > old_paid_through",
            name="ck_enrollments_start_after_old_subsidy",
        ),
        sa.CheckConstraint("extract(day FROM pension_start_month) = 1", name="ck_enrollments_start_is_month"),
        sa.CheckConstraint(
            "(status = 'deceased') = (death_date IS NOT NULL)", name="ck_enrollments_death_date"
        ),
        sa.CheckConstraint("county_code ~ '^[0-9]{6}$'", name="ck_enrollments_county_code"),
    )
    op.create_index(
        "ix_enrollments_area_path",
        "enrollments",
        ["area_path"],
        postgresql_ops={"area_path": "text_pattern_ops"},
    )
    op.create_index("ix_enrollments_batch_id", "enrollments", ["batch_id"])
    op.create_index("ix_enrollments_member_id", "enrollments", ["member_id"])
    op.create_index("ix_enrollments_household_id", "enrollments", ["household_id"])

    op.create_table(
        "passbooks",
        sa.Column(
            "enrollment_id",
            sa.BigInteger(),
            sa.ForeignKey("enrollments.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("bank_name", sa.String(60), nullable=False),
        sa.Column("account_enc", sa.LargeBinary(), nullable=False),
        sa.Column("account_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("account_masked", sa.String(40), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        _version(),
        *_stamps(),
        sa.CheckConstraint("octet_length(account_hash) = 32", name="ck_passbooks_account_hash_len"),
    )

    op.create_table(
        "life_certifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _fk("enrollment_id", "enrollments.id"),
        sa.Column("certified_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("certified_by", sa.String(100), nullable=False, comment="认证人（经办人或比对来源）"),
        _user("recorded_by"),
        _ts("created_at", nullable=False, default=True),
        sa.CheckConstraint(
            "method IN ('in_person', 'video', 'home_visit', 'data_match')",
            name="ck_life_certifications_method",
        ),
    )
    op.create_index(
        "ix_life_certifications_enrollment", "life_certifications", ["enrollment_id", "certified_on"]
    )
    _append_only("life_certifications")

    op.create_table(
        "pension_months",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column("person_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("enrollment_id", sa.BigInteger(), nullable=True),
        sa.Column("start_month", sa.Date(), nullable=True),
        _fk("old_policy_id", "old_policy_records.id", ondelete="CASCADE", nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period", sa.Date(), nullable=True, comment="认领该月的发放期（YYYY-MM 的首日）"),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        _ts("created_at", nullable=False, default=True),
        sa.UniqueConstraint("county_code", "person_hash", "month", name="uq_pension_months_person_month"),
        sa.ForeignKeyConstraint(
            ["enrollment_id", "start_month"],
            ["enrollments.id", "enrollments.pension_start_month"],
            ondelete="RESTRICT",
            onupdate="CASCADE",
            name="fk_pension_months_enrollment_start",
        ),
        sa.CheckConstraint(
            "status IN ('old_policy', 'suspended', 'claimed', 'paid', 'cancelled')",
            name="ck_pension_months_status",
        ),
        sa.CheckConstraint("kind IN ('regular', 'back_pay', 'old_policy')", name="ck_pension_months_kind"),
        sa.CheckConstraint(
            "(status = 'old_policy') = (old_policy_id IS NOT NULL) AND (status = 'old_policy') = (kind = 'old_policy')"
            " AND (old_policy_id IS NULL) = (enrollment_id IS NOT NULL) AND (enrollment_id IS NULL) = (start_month IS NULL)",
            name="ck_pension_months_source",
        ),
        sa.CheckConstraint(
            "enrollment_id IS NULL OR month >= start_month", name="ck_pension_months_not_before_start"
        ),
        sa.CheckConstraint("extract(day FROM month) = 1", name="ck_pension_months_month_first_day"),
        sa.CheckConstraint("amount > 0", name="ck_pension_months_amount"),
        sa.CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL)", name="ck_pension_months_paid_on"),
        sa.CheckConstraint(
            "status <> 'claimed' OR period IS NOT NULL", name="ck_pension_months_claimed_period"
        ),
    )
    op.create_index("ix_pension_months_enrollment", "pension_months", ["enrollment_id", "month"])
    op.create_index("ix_pension_months_period", "pension_months", ["period", "status"])

    op.create_table(
        "overpayments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "enrollment_id",
            sa.BigInteger(),
            sa.ForeignKey("enrollments.id", ondelete="RESTRICT"),
            nullable=False,
            unique=True,
        ),
        sa.Column("months", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recovered", sa.BigInteger(), nullable=False, server_default="0"),
        _version(),
        *_stamps(),
        sa.CheckConstraint("amount > 0", name="ck_overpayments_amount"),
        sa.CheckConstraint("recovered >= 0 AND recovered <= amount", name="ck_overpayments_recovered"),
    )

    op.create_table(
        "overpayment_recoveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _fk("overpayment_id", "overpayments.id"),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recovered_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        _user("recorded_by"),
        _ts("created_at", nullable=False, default=True),
        sa.CheckConstraint("amount > 0", name="ck_overpayment_recoveries_amount"),
    )
    op.create_index("ix_overpayment_recoveries_overpayment_id", "overpayment_recoveries", ["overpayment_id"])
    _append_only("overpayment_recoveries")

    op.create_table(
        "heir_payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "enrollment_id",
            sa.BigInteger(),
            sa.ForeignKey("enrollments.id", ondelete="RESTRICT"),
            nullable=False,
            unique=True,
        ),
        sa.Column("heir_name", sa.String(50), nullable=False),
        sa.Column("heir_id_enc", sa.LargeBinary(), nullable=False),
        sa.Column("heir_id_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("heir_id_masked", sa.String(18), nullable=False),
        sa.Column("relation", sa.String(20), nullable=False, comment="与死者关系"),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="due"),
        *_stamps(),
        sa.CheckConstraint("amount >= 0", name="ck_heir_payments_amount"),
        sa.CheckConstraint("status IN ('due', 'paid')", name="ck_heir_payments_status"),
    )


def downgrade() -> None:
    for table in (
        "heir_payments",
        "overpayment_recoveries",
        "overpayments",
        "pension_months",
        "life_certifications",
        "passbooks",
        "enrollments",
        "old_policy_records",
        "eligibility_entries",
        "batch_households",
        "acquisition_batches",
    ):
        op.drop_table(table)
    for fn in ("life_certifications_append_only", "overpayment_recoveries_append_only"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
    op.drop_column("members", "registered_on")
