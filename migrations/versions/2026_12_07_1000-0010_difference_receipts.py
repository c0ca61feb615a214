"""安置房差价: where a household's flats cost more than its compensation it owes the difference (the agreement's
付款方式 says so), and nothing recorded that it paid it. One receipt per agreement, for exactly what the agreement
says is owed (checked by a trigger against the signed agreement), posted to the project's fund, kept.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "'deposit', 'enrollment_credit', 'agreement_payable', 'batch_export', 'bank_paid', 'bank_failed', 'overpayment',"
    " 'recovery', 'heir_payout', 'opening', 'reversal'"
)


def upgrade() -> None:
    op.drop_constraint("ck_journal_transactions_kind", "journal_transactions", type_="check")
    op.create_check_constraint(
        "ck_journal_transactions_kind", "journal_transactions", f"kind IN ({KINDS}, 'difference')"
    )
    op.create_table(
        "difference_receipts",
        sa.Column(
            "agreement_id",
            sa.BigInteger(),
            sa.ForeignKey("agreements.id", ondelete="RESTRICT"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="金额（分）"),
        sa.Column("received_on", sa.Date(), nullable=False, comment="收款日期"),
        sa.Column("receipt_no", sa.String(100), nullable=False, comment="收据号或银行流水号"),
        sa.Column(
            "tx_id",
            sa.BigInteger(),
            sa.ForeignKey("journal_transactions.id", ondelete="RESTRICT"),
            nullable=False,
            comment="记账凭证",
        ),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("amount > 0", name="ck_difference_receipts_amount"),
        sa.CheckConstraint("length(btrim(receipt_no)) > 0", name="ck_difference_receipts_receipt_no"),
    )
    op.create_index("ix_difference_receipts_household_id", "difference_receipts", ["household_id"])
    # what is received is what the signed agreement's assessment says the household owes, to the fen
    op.execute(
        """
        CREATE FUNCTION difference_receipts_owed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (
                SELECT 1 FROM agreements g
                WHERE g.id = NEW.agreement_id AND g.status = 'signed' AND g.net_payable = -NEW.amount
            ) THEN
                RAISE EXCEPTION 'difference_receipts.amount must be what the signed agreement owes'
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER difference_receipts_owed BEFORE INSERT ON difference_receipts "
        "FOR EACH ROW EXECUTE FUNCTION difference_receipts_owed()"
    )
    # the same append-only trigger as the other kept tables (0003, 0004, 0009)
    op.execute(
        """
        CREATE FUNCTION difference_receipts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'difference_receipts rows are never changed or deleted'
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER difference_receipts_append_only BEFORE UPDATE OR DELETE ON difference_receipts "
        "FOR EACH ROW EXECUTE FUNCTION difference_receipts_append_only()"
    )


def downgrade() -> None:
    op.drop_table("difference_receipts")
    op.execute("DROP FUNCTION difference_receipts_append_only()")
    op.execute("DROP FUNCTION difference_receipts_owed()")
    op.drop_constraint("ck_journal_transactions_kind", "journal_transactions", type_="check")
    op.create_check_constraint("ck_journal_transactions_kind", "journal_transactions", f"kind IN ({KINDS})")
