"""腾房交付验收 of an agreement that pays nothing on the handover (the household owes the difference for its flats,
or is paid only on its purchase contract): until now it had no payment condition to record it on, so such a
household could never be counted as handed over or settled.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handovers",
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
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column("handed_over_on", sa.Date(), nullable=False, comment="验收日期"),
        sa.Column("note", sa.String(200), nullable=False, comment="验收单号"),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("length(btrim(note)) > 0", name="ck_handovers_note"),
    )
    op.create_index("ix_handovers_household_id", "handovers", ["household_id"])
    # the same append-only trigger as the other kept tables (0003, 0004)
    op.execute(
        """
        CREATE FUNCTION handovers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'handovers rows are never changed or deleted' USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER handovers_append_only BEFORE UPDATE OR DELETE ON handovers "
        "FOR EACH ROW EXECUTE FUNCTION handovers_append_only()"
    )


def downgrade() -> None:
    op.drop_table("handovers")
    op.execute("DROP FUNCTION handovers_append_only()")
