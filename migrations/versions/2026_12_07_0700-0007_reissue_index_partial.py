"""The index of re-issued lines holds only the lines that re-issue one.

A pension batch writes a million lines a month and almost none re-issues a failed line: the full index on
payment_lines.reissue_of took one NULL entry per line (an index insert and its WAL record each, one of the five
per line). Only lines with a reissue_of are looked up by it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_payment_lines_reissue_of", table_name="payment_lines")
    op.create_index(
        "ix_payment_lines_reissue_of",
        "payment_lines",
        ["reissue_of"],
        postgresql_where=sa.text("reissue_of IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_payment_lines_reissue_of", table_name="payment_lines")
    op.create_index("ix_payment_lines_reissue_of", "payment_lines", ["reissue_of"])
