"""A result import's reference check reads the payment lines in the range of the lines it names, not all of them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK = """
        CREATE OR REPLACE FUNCTION line_outcomes_refs() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad bigint;
            lo bigint;
            hi bigint;
        BEGIN
            SELECT min(line_id), max(line_id) INTO lo, hi FROM added;
            SELECT a.line_id INTO bad FROM added a
            WHERE NOT EXISTS (SELECT 1 FROM payment_lines l WHERE l.id = a.line_id AND l.id BETWEEN lo AND hi)
               OR (a.import_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM result_imports r WHERE r.id = a.import_id))
               OR (a.exception_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bank_exceptions x
                                                              WHERE x.id = a.exception_id))
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'line outcome of line % names a payment line, result import or exception that does not exist', bad
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$
"""


def upgrade() -> None:
    # The check of a million outcomes hashed every payment line ever written (1.6 s with one earlier month on
    # record, growing by the month); bounded by the range of the lines named, it reads that batch's lines. The
    # bound changes no answer: every line named is inside it.
    op.execute(_CHECK)


_ORIGINAL = """
        CREATE OR REPLACE FUNCTION line_outcomes_refs() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad bigint;
        BEGIN
            SELECT a.line_id INTO bad FROM added a
            WHERE NOT EXISTS (SELECT 1 FROM payment_lines l WHERE l.id = a.line_id)
               OR (a.import_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM result_imports r WHERE r.id = a.import_id))
               OR (a.exception_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bank_exceptions x
                                                              WHERE x.id = a.exception_id))
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'line outcome of line % names a payment line, result import or exception that does not exist', bad
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$
"""


def downgrade() -> None:
    op.execute(_ORIGINAL)
