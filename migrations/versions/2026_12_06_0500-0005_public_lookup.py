"""Public status lookup (群众查询): the household's notices are found from the household.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # notice_entries' key leads with the notice; a lookup by household (the public page, the household's
    # timeline) would otherwise scan every notice of the county.
    op.create_index("ix_notice_entries_household", "notice_entries", ["household_id"])


def downgrade() -> None:
    op.drop_index("ix_notice_entries_household", table_name="notice_entries")
