"""Compensation: projects and versioned village plans, surveys, frozen assessments, public notices and
objections, agreements, resettlement flats and allocations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if default else None
    )


def _user(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)


def _scope() -> list[sa.Column[object]]:
    return [
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        _user("created_by"),
        _ts("created_at", nullable=False, default=True),
        _ts("updated_at", nullable=False, default=True),
        sa.CheckConstraint("code ~ '^[A-Z0-9]+(-[A-Z0-9]+)*$'", name="ck_projects_code"),
        sa.CheckConstraint("county_code ~ '^[0-9]{6}$'", name="ck_projects_county_code"),
    )
    op.create_table(
        "project_villages",
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), primary_key=True
        ),
        sa.Column(
            "village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True
        ),
        sa.Column("abbr", sa.String(10), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column("next_agreement_no", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("project_id", "abbr", name="uq_project_villages_abbr"),
        sa.CheckConstraint("abbr ~ '^[A-Z0-9]{1,10}$'", name="ck_project_villages_abbr"),
        sa.CheckConstraint("next_agreement_no >= 1", name="ck_project_villages_next_agreement_no"),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        *_scope(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="draft"),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        _user("author_id"),
        _ts("created_at", nullable=False, default=True),
        _ts("submitted_at"),
        _user("reviewer_id"),
        _ts("reviewed_at"),
        sa.Column("review_comment", sa.Text(), nullable=True),
        _ts("approved_at"),
        _ts("superseded_at"),
        sa.Column("lock_version", sa.BigInteger(), nullable=False, server_default="1"),
        sa.ForeignKeyConstraint(
            ["project_id", "village_id"],
            ["project_villages.project_id", "project_villages.village_id"],
            ondelete="RESTRICT",
            name="fk_plans_project_village",
        ),
        sa.UniqueConstraint("project_id", "village_id", "version", name="uq_plans_version"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'superseded')", name="ck_plans_status"
        ),
        sa.CheckConstraint("version >= 1", name="ck_plans_version"),
        sa.CheckConstraint(
            "status NOT IN ('approved', 'superseded') OR (reviewer_id IS NOT NULL AND reviewer_id <> author_id "
            "AND approved_at IS NOT NULL)",
            name="ck_plans_maker_checker",
        ),
    )
    op.create_index(
        "uq_plans_one_approved",
        "plans",
        ["project_id", "village_id"],
        unique=True,
        postgresql_where=sa.text("status = 'approved'"),
    )
    op.create_index(
        "uq_plans_one_open",
        "plans",
        ["project_id", "village_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('draft', 'submitted')"),
    )
    # An approved version never changes: only its move to superseded is allowed, and nothing after that.
    op.execute(
        """
        CREATE FUNCTION plans_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.status IN ('approved', 'superseded') THEN
                    RAISE EXCEPTION 'approved plan % cannot be deleted', OLD.id USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN OLD;
            END IF;
            IF OLD.status = 'superseded'
               OR (OLD.status = 'approved' AND (NEW.status <> 'superseded' OR NEW.params IS DISTINCT FROM OLD.params
                   OR NEW.version <> OLD.version OR NEW.author_id IS DISTINCT FROM OLD.author_id
                   OR NEW.reviewer_id IS DISTINCT FROM OLD.reviewer_id)) THEN
                RAISE EXCEPTION 'approved plan % cannot be changed', OLD.id USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER plans_guard BEFORE UPDATE OR DELETE ON plans FOR EACH ROW EXECUTE FUNCTION plans_guard()
        """
    )

    op.create_table(
        "surveys",
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        *_scope(),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("contracted_mu", sa.Numeric(12, 4), nullable=False),
        sa.Column("acquired_mu", sa.Numeric(12, 4), nullable=False),
        sa.Column("surveyed_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        _ts("created_at", nullable=False, default=True),
        _ts("updated_at", nullable=False, default=True),
        sa.CheckConstraint("persons >= 0", name="ck_surveys_persons"),
        sa.CheckConstraint("contracted_mu >= 0 AND acquired_mu >= 0", name="ck_surveys_land"),
    )
    op.create_table(
        "survey_structures",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("surveys.household_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("structure", sa.String(20), nullable=False),
        sa.Column("area", sa.Numeric(10, 2), nullable=False),
        sa.CheckConstraint(
            "structure IN ('frame', 'brick_concrete', 'brick_wood', 'simple')",
            name="ck_survey_structures_structure",
        ),
        sa.CheckConstraint("area >= 0", name="ck_survey_structures_area"),
    )
    op.create_index("ix_survey_structures_household_id", "survey_structures", ["household_id"])
    op.create_table(
        "survey_attachments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("surveys.household_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("qty", sa.Numeric(12, 2), nullable=False),
        sa.CheckConstraint("qty >= 0", name="ck_survey_attachments_qty"),
    )
    op.create_index("ix_survey_attachments_household_id", "survey_attachments", ["household_id"])

    op.create_table(
        "assessments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="RESTRICT"), nullable=False),
        *_scope(),
        sa.Column("option_kind", sa.String(20), nullable=False),
        sa.Column("option", postgresql.JSONB(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("vacated_on", sa.Date(), nullable=True),
        sa.Column("inputs", postgresql.JSONB(), nullable=False),
        sa.Column("entitled_area", sa.Numeric(10, 2), nullable=False),
        sa.Column("flat_area", sa.Numeric(10, 2), nullable=False),
        sa.Column("compensation_total", sa.BigInteger(), nullable=False),
        sa.Column("flat_price_due", sa.BigInteger(), nullable=False),
        sa.Column("flat_price_basis", sa.String(200), nullable=False, server_default=""),
        sa.Column("net_payable", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="submitted"),
        _user("created_by"),
        _ts("created_at", nullable=False, default=True),
        _user("reviewer_id"),
        _ts("reviewed_at"),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'returned', 'superseded')", name="ck_assessments_status"
        ),
        sa.CheckConstraint(
            "option_kind IN ('cash', 'existing_housing', 'resettlement_flat')",
            name="ck_assessments_option_kind",
        ),
        sa.CheckConstraint("compensation_total >= 0 AND flat_price_due >= 0", name="ck_assessments_amounts"),
        sa.CheckConstraint(
            "net_payable = compensation_total - flat_price_due", name="ck_assessments_net_payable"
        ),
        sa.CheckConstraint(
            "status NOT IN ('approved', 'superseded') OR (reviewer_id IS NOT NULL AND reviewer_id <> created_by)",
            name="ck_assessments_maker_checker",
        ),
    )
    op.create_index(
        "uq_assessments_one_approved",
        "assessments",
        ["household_id", "project_id"],
        unique=True,
        postgresql_where=sa.text("status = 'approved'"),
    )
    op.create_index(
        "uq_assessments_one_pending",
        "assessments",
        ["household_id", "project_id"],
        unique=True,
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.create_index("ix_assessments_household", "assessments", ["household_id", "id"])
    op.create_table(
        "assessment_lines",
        sa.Column(
            "assessment_id",
            sa.BigInteger(),
            sa.ForeignKey("assessments.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(30), nullable=False),
        sa.Column("label", sa.String(60), nullable=False),
        sa.Column("basis", sa.String(200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payable_on_proof", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.CheckConstraint("amount >= 0", name="ck_assessment_lines_amount"),
        sa.CheckConstraint(
            "code IN ('house', 'attachment', 'relocation', 'transition', 'signing_bonus', 'early_vacate', "
            "'cash_resettlement', 'purchase_subsidy', 'unused_entitlement')",
            name="ck_assessment_lines_code",
        ),
    )
    # A frozen assessment: its lines must add up to its total (checked at commit, once all lines are in), and
    # neither the lines nor the assessed figures change afterwards; only the review fields and status move.
    op.execute(
        """
        CREATE FUNCTION assessments_lines_add_up() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            total bigint;
        BEGIN
            SELECT coalesce(sum(amount), 0) INTO total FROM assessment_lines WHERE assessment_id = NEW.id;
            IF total <> NEW.compensation_total THEN
                RAISE EXCEPTION 'assessment %: lines add up to %, total says %', NEW.id, total, NEW.compensation_total
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER assessments_lines_add_up AFTER INSERT ON assessments
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION assessments_lines_add_up()
        """
    )
    op.execute(
        """
        CREATE FUNCTION assessments_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'assessments are kept: % cannot be deleted', OLD.id
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF (NEW.household_id, NEW.project_id, NEW.plan_id, NEW.option_kind, NEW.option, NEW.signed_on,
                NEW.vacated_on, NEW.inputs, NEW.entitled_area, NEW.flat_area, NEW.compensation_total,
                NEW.flat_price_due, NEW.net_payable, NEW.created_by)
               IS DISTINCT FROM
               (OLD.household_id, OLD.project_id, OLD.plan_id, OLD.option_kind, OLD.option, OLD.signed_on,
                OLD.vacated_on, OLD.inputs, OLD.entitled_area, OLD.flat_area, OLD.compensation_total,
                OLD.flat_price_due, OLD.net_payable, OLD.created_by)
               OR OLD.status IN ('returned', 'superseded')
               OR (OLD.status = 'approved' AND NEW.status NOT IN ('approved', 'superseded')) THEN
                RAISE EXCEPTION 'assessment % is frozen', OLD.id USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER assessments_frozen BEFORE UPDATE OR DELETE ON assessments
            FOR EACH ROW EXECUTE FUNCTION assessments_frozen()
        """
    )
    op.execute(
        """
        CREATE FUNCTION assessment_lines_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'assessment lines are frozen' USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER assessment_lines_frozen BEFORE UPDATE OR DELETE ON assessment_lines
            FOR EACH ROW EXECUTE FUNCTION assessment_lines_frozen()
        """
    )

    op.create_table(
        "public_notices",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=False),
        *_scope(),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("entries", postgresql.JSONB(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.LargeBinary(32), nullable=False),
        _user("created_by"),
        _ts("created_at", nullable=False, default=True),
        sa.CheckConstraint("days >= 1", name="ck_public_notices_days"),
    )
    op.create_table(
        "notice_entries",
        sa.Column(
            "notice_id",
            sa.BigInteger(),
            sa.ForeignKey("public_notices.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column(
            "assessment_id",
            sa.BigInteger(),
            sa.ForeignKey("assessments.id", ondelete="RESTRICT"),
            nullable=False,
        ),
    )
    op.create_index("ix_notice_entries_assessment_id", "notice_entries", ["assessment_id"])
    op.create_table(
        "objections",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "notice_id",
            sa.BigInteger(),
            sa.ForeignKey("public_notices.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        *_scope(),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("raised_by_name", sa.String(50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("resolution", sa.Text(), nullable=True),
        _user("recorded_by"),
        _user("resolved_by"),
        _ts("resolved_at"),
        sa.CheckConstraint("status IN ('open', 'resolved')", name="ck_objections_status"),
        sa.CheckConstraint(
            "(status = 'resolved') = (resolution IS NOT NULL AND resolved_at IS NOT NULL)",
            name="ck_objections_resolved",
        ),
    )
    op.create_index("ix_objections_notice_id", "objections", ["notice_id"])
    op.create_index(
        "ix_objections_open", "objections", ["household_id"], postgresql_where=sa.text("status = 'open'")
    )

    op.create_table(
        "agreements",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False, unique=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=False),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "assessment_id",
            sa.BigInteger(),
            sa.ForeignKey("assessments.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        *_scope(),
        sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
        sa.Column("template_version", sa.String(20), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("net_payable", sa.BigInteger(), nullable=False),
        _user("created_by"),
        _ts("created_at", nullable=False, default=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        _user("signed_recorded_by"),
        _ts("signed_at"),
        sa.Column("void_reason", sa.Text(), nullable=True),
        _user("voided_by"),
        _ts("voided_at"),
        sa.CheckConstraint("status IN ('draft', 'signed', 'voided')", name="ck_agreements_status"),
        sa.CheckConstraint("status <> 'signed' OR signed_on IS NOT NULL", name="ck_agreements_signed_on"),
        sa.CheckConstraint(
            "status <> 'voided' OR (void_reason IS NOT NULL AND voided_at IS NOT NULL)",
            name="ck_agreements_voided",
        ),
        sa.CheckConstraint("octet_length(pdf_sha256) = 32", name="ck_agreements_sha_len"),
    )
    op.create_index("ix_agreements_household_id", "agreements", ["household_id"])
    op.create_index(
        "uq_agreements_one_live",
        "agreements",
        ["household_id", "project_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'voided'"),
    )
    # A signed agreement is never edited: it may only be voided (with a reason); a voided one never changes.
    op.execute(
        """
        CREATE FUNCTION agreements_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.status <> 'draft' THEN
                    RAISE EXCEPTION 'agreement % is kept', OLD.number USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN OLD;
            END IF;
            IF OLD.status = 'voided'
               OR (OLD.status = 'signed' AND (
                   NEW.status <> 'voided'
                   OR (NEW.number, NEW.household_id, NEW.assessment_id, NEW.snapshot, NEW.pdf, NEW.pdf_sha256,
                       NEW.template_version, NEW.net_payable, NEW.signed_on)
                      IS DISTINCT FROM
                      (OLD.number, OLD.household_id, OLD.assessment_id, OLD.snapshot, OLD.pdf, OLD.pdf_sha256,
                       OLD.template_version, OLD.net_payable, OLD.signed_on))) THEN
                RAISE EXCEPTION 'agreement % cannot be changed', OLD.number
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER agreements_guard BEFORE UPDATE OR DELETE ON agreements
            FOR EACH ROW EXECUTE FUNCTION agreements_guard()
        """
    )

    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        *_scope(),
        sa.Column("name", sa.String(40), nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_buildings_name"),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "building_id", sa.Integer(), sa.ForeignKey("buildings.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=False),
        sa.Column("area", sa.Numeric(8, 2), nullable=False),
        sa.UniqueConstraint("building_id", "number", name="uq_units_number"),
        sa.CheckConstraint("area > 0", name="ck_units_area"),
    )
    op.create_index("ix_units_building_id", "units", ["building_id"])
    op.create_table(
        "lotteries",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=False),
        *_scope(),
        sa.Column("seed", sa.String(100), nullable=False),
        sa.Column("order", postgresql.JSONB(), nullable=False),
        _user("drawn_by"),
        _ts("drawn_at", nullable=False, default=True),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("unit_id", sa.BigInteger(), sa.ForeignKey("units.id", ondelete="RESTRICT"), nullable=False),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        *_scope(),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column(
            "lottery_id", sa.Integer(), sa.ForeignKey("lotteries.id", ondelete="RESTRICT"), nullable=True
        ),
        _user("allocated_by"),
        _ts("allocated_at", nullable=False, default=True),
        _ts("released_at"),
        sa.CheckConstraint("method IN ('signing_order', 'lottery')", name="ck_allocations_method"),
        sa.CheckConstraint("method <> 'lottery' OR lottery_id IS NOT NULL", name="ck_allocations_lottery"),
    )
    op.create_index(
        "uq_allocations_unit_live",
        "allocations",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index("ix_allocations_household", "allocations", ["household_id"])


def downgrade() -> None:
    for table in (
        "allocations",
        "lotteries",
        "units",
        "buildings",
        "agreements",
        "objections",
        "notice_entries",
        "public_notices",
        "assessment_lines",
        "assessments",
        "survey_attachments",
        "survey_structures",
        "surveys",
        "plans",
        "project_villages",
        "projects",
    ):
        op.drop_table(table)
    for fn in (
        "agreements_guard",
        "assessment_lines_frozen",
        "assessments_frozen",
        "assessments_lines_add_up",
        "plans_guard",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
