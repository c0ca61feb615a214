"""A draft payment batch can be discarded: its lines may be deleted while the batch is still a draft, by the
transaction that discards it (it names the batch in the setting anzhi.discard_batch).

Payment lines are otherwise never changed or deleted. A draft has not been approved, exported or posted to the
books: nothing outside the system has seen it, and while it stands it holds the period and scope (its unique key)
and the register's months it claimed, so a batch generated from wrong data could not be made again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION payment_lines_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.batch_id::text = current_setting('anzhi.discard_batch', true)
                   AND EXISTS (SELECT 1 FROM payment_batches b WHERE b.id = OLD.batch_id AND b.status = 'draft') THEN
                    RETURN OLD;
                END IF;
            END IF;
            RAISE EXCEPTION 'payment_lines rows are never changed or deleted' USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION payment_lines_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'payment_lines rows are never changed or deleted' USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
