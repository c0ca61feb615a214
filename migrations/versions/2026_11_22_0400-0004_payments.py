"""Payments: the double-entry ledger (accounts, balanced journal transactions), payment batches and their lines,
bank files written, bank result files imported, one outcome row per resolved line, and reconciliation exceptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = (
    "journal_transactions",
    "journal_lines",
    "payment_lines",
    "bank_exports",
    "result_imports",
    "line_outcomes",
)


# payment_lines and line_outcomes are written a million rows at a time. Their references are checked once per
# INSERT statement (triggers *_refs, over the statement's transition table) instead of by row-level foreign keys,
# whose per-row key lookups are the main cost of such an insert (../shared/docs/performance.md: 3.0 s → 7.2 s for
# one foreign key on 930k lines). Rows of both tables are never updated (append-only), and the tables they name
# are never deleted from while named (triggers *_kept), so a check at insert is the whole referential check.
_STATEMENT_CHECKED = "插入时逐语句核对存在"


def _user(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


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
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
    )


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("code", sa.String(80), nullable=False, comment="科目代码，如 ss.pool、ss.individual.12"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False, comment="科目所属区划（县或村）"),
        sa.Column("village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=True),
        sa.Column(
            "project_id", sa.Integer(), sa.ForeignKey("projects.id", ondelete="RESTRICT"), nullable=True
        ),
        _now("created_at"),
        sa.UniqueConstraint("county_code", "code", name="uq_ledger_accounts_code"),
        sa.CheckConstraint(
            "kind IN ('asset', 'fund', 'individual', 'payable', 'receivable', 'clearing')",
            name="ck_ledger_accounts_kind",
        ),
        sa.CheckConstraint("county_code ~ '^[0-9]{6}$'", name="ck_ledger_accounts_county_code"),
    )

    op.create_table(
        "payment_batches",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("number", sa.String(40), nullable=False, comment="批次号"),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("period", sa.Date(), nullable=False, comment="发放期（月份首日）"),
        sa.Column(
            "scope_area_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("area_path", sa.String(200), nullable=False, comment="范围的区划路径"),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("line_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.BigInteger(), nullable=False, server_default="0", comment="合计（分）"),
        _user("created_by"),
        _now("created_at"),
        _user("approved_by"),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        _user("closed_by"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("number", name="uq_payment_batches_number"),
        sa.UniqueConstraint(
            "county_code", "kind", "period", "scope_area_id", name="uq_payment_batches_scope"
        ),
        sa.CheckConstraint("kind IN ('pension', 'compensation')", name="ck_payment_batches_kind"),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'exported', 'imported', 'reconciled', 'closed')",
            name="ck_payment_batches_status",
        ),
        sa.CheckConstraint("extract(day FROM period) = 1", name="ck_payment_batches_period_month"),
        sa.CheckConstraint("line_count >= 0 AND total >= 0", name="ck_payment_batches_totals"),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> created_by", name="ck_payment_batches_second_user"
        ),
        sa.CheckConstraint("(status = 'draft') = (approved_by IS NULL)", name="ck_payment_batches_approved"),
    )

    op.create_table(
        "journal_transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False, comment="记账日期"),
        sa.Column(
            "batch_id", sa.Integer(), sa.ForeignKey("payment_batches.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column(
            "reverses_id",
            sa.BigInteger(),
            sa.ForeignKey("journal_transactions.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        _user("posted_by"),
        _now("posted_at"),
        sa.UniqueConstraint("reverses_id", name="uq_journal_transactions_reverses_id"),
        sa.CheckConstraint(
            "kind IN ('deposit', 'enrollment_credit', 'agreement_payable', 'batch_export', 'bank_paid',"
            " 'bank_failed', 'overpayment', 'recovery', 'heir_payout', 'opening', 'reversal')",
            name="ck_journal_transactions_kind",
        ),
    )
    op.create_index("ix_journal_transactions_county_code", "journal_transactions", ["county_code"])
    op.create_index("ix_journal_transactions_batch_id", "journal_transactions", ["batch_id"])

    op.create_table(
        "journal_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "transaction_id",
            sa.BigInteger(),
            sa.ForeignKey("journal_transactions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("ledger_accounts.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("debit", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("credit", sa.BigInteger(), nullable=False, server_default="0"),
        sa.CheckConstraint(
            "debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)", name="ck_journal_lines_one_side"
        ),
    )
    op.create_index("ix_journal_lines_transaction_id", "journal_lines", ["transaction_id"])
    op.create_index("ix_journal_lines_account", "journal_lines", ["account_id", "transaction_id"])
    # Debits equal credits in every transaction, checked when the database transaction commits (all its lines
    # are in by then), whichever code wrote them.
    op.execute(
        """
        CREATE FUNCTION journal_lines_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            d bigint;
            c bigint;
            n integer;
        BEGIN
            SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*) INTO d, c, n
            FROM journal_lines WHERE transaction_id = NEW.transaction_id;
            IF d <> c OR n < 2 THEN
                RAISE EXCEPTION 'journal transaction % is not balanced: debits %, credits %, lines %',
                    NEW.transaction_id, d, c, n USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_lines_balanced()
        """
    )

    op.create_table(
        "compensation_tranches",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "agreement_id",
            sa.BigInteger(),
            sa.ForeignKey("agreements.id", ondelete="RESTRICT"),
            nullable=False,
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
        sa.Column("village_id", sa.Integer(), sa.ForeignKey("areas.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="金额（分）"),
        sa.Column("status", sa.String(20), nullable=False, server_default="awaiting"),
        sa.Column("due_on", sa.Date(), nullable=True, comment="支付条件满足之日（腾房验收/购房合同审核）"),
        sa.Column("condition_note", sa.String(200), nullable=True, comment="腾房验收单号或购房合同编号"),
        sa.Column(
            "payee_member_id",
            sa.BigInteger(),
            sa.ForeignKey("members.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("payee_name", sa.String(50), nullable=False),
        sa.Column("payee_id_masked", sa.String(18), nullable=False),
        sa.Column("payee_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("bank_name", sa.String(60), nullable=True),
        sa.Column("account_enc", sa.LargeBinary(), nullable=True),
        sa.Column("account_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("account_masked", sa.String(40), nullable=True),
        sa.Column("period", sa.Date(), nullable=True, comment="最近一次纳入发放的发放期"),
        sa.Column(
            "payable_tx_id",
            sa.BigInteger(),
            sa.ForeignKey("journal_transactions.id", ondelete="RESTRICT"),
            nullable=False,
            comment="签约时记入应付的凭证",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("agreement_id", "kind", name="uq_compensation_tranches_agreement_kind"),
        sa.CheckConstraint("kind IN ('vacate', 'purchase_subsidy')", name="ck_compensation_tranches_kind"),
        sa.CheckConstraint(
            "status IN ('awaiting', 'due', 'cancelled')", name="ck_compensation_tranches_status"
        ),
        sa.CheckConstraint("amount > 0", name="ck_compensation_tranches_amount"),
        sa.CheckConstraint(
            "status <> 'due' OR (due_on IS NOT NULL AND account_enc IS NOT NULL AND account_hash IS NOT NULL)",
            name="ck_compensation_tranches_due_needs_condition",
        ),
    )
    op.create_index("ix_compensation_tranches_household_id", "compensation_tranches", ["household_id"])
    op.create_index("ix_compensation_tranches_due", "compensation_tranches", ["county_code", "status"])

    op.create_table(
        "payment_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), nullable=False, comment=_STATEMENT_CHECKED),
        sa.Column("seq", sa.Integer(), nullable=False, comment="批次内序号"),
        sa.Column("county_code", sa.String(6), nullable=False),
        sa.Column("area_path", sa.String(200), nullable=False, comment="收款人所在村的区划路径"),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("enrollment_id", sa.BigInteger(), nullable=True, comment=_STATEMENT_CHECKED),
        sa.Column("person_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("months", postgresql.ARRAY(sa.Date()), nullable=True, comment="所发月份"),
        sa.Column("payee_name", sa.String(50), nullable=False),
        sa.Column("id_masked", sa.String(18), nullable=False),
        sa.Column("account_enc", sa.LargeBinary(), nullable=False, comment="生成时的收款账号（密文）"),
        sa.Column("account_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("account_masked", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("account_part", sa.BigInteger(), nullable=True, comment="个人账户支付（分）"),
        sa.Column("pool_part", sa.BigInteger(), nullable=True, comment="统筹基金支付（分）"),
        sa.Column(
            "tranche_id",
            sa.BigInteger(),
            nullable=True,
            comment="补偿款的支付节点（" + _STATEMENT_CHECKED + "）",
        ),
        sa.Column(
            "reissue_of",
            sa.BigInteger(),
            nullable=True,
            comment="重发的失败明细（" + _STATEMENT_CHECKED + "）",
        ),
        sa.UniqueConstraint("batch_id", "seq", name="uq_payment_lines_batch_seq"),
        sa.CheckConstraint("amount > 0", name="ck_payment_lines_amount"),
        sa.CheckConstraint(
            "(enrollment_id IS NOT NULL) = (account_part IS NOT NULL) AND (account_part IS NOT NULL) ="
            " (pool_part IS NOT NULL) AND (account_part IS NOT NULL) = (months IS NOT NULL)",
            name="ck_payment_lines_pension_fields",
        ),
        sa.CheckConstraint(
            "account_part IS NULL OR (account_part >= 0 AND pool_part >= 0 AND account_part + pool_part = amount)",
            name="ck_payment_lines_split",
        ),
        sa.CheckConstraint("octet_length(account_hash) = 32", name="ck_payment_lines_account_hash_len"),
        sa.CheckConstraint(
            "(enrollment_id IS NULL) <> (tranche_id IS NULL)", name="ck_payment_lines_payee_kind"
        ),
    )
    op.create_index(
        "uq_payment_lines_tranche_period",
        "payment_lines",
        ["tranche_id", "period"],
        unique=True,
        postgresql_where=sa.text("tranche_id IS NOT NULL"),
    )
    # One pension line per person and period: with the month register's unique key, nobody is paid twice.
    op.create_index(
        "uq_payment_lines_person_period",
        "payment_lines",
        ["county_code", "person_hash", "period"],
        unique=True,
        postgresql_where=sa.text("enrollment_id IS NOT NULL"),
    )

    op.create_table(
        "bank_exports",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column(
            "batch_id", sa.Integer(), sa.ForeignKey("payment_batches.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        _user("exported_by"),
        _now("exported_at"),
        sa.UniqueConstraint("batch_id", "format", name="uq_bank_exports_batch_format"),
        sa.CheckConstraint("octet_length(sha256) = 32", name="ck_bank_exports_sha256_len"),
    )

    op.create_table(
        "result_imports",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column(
            "batch_id", sa.Integer(), sa.ForeignKey("payment_batches.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("paid_count", sa.Integer(), nullable=False),
        sa.Column("paid_total", sa.BigInteger(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("failed_total", sa.BigInteger(), nullable=False),
        sa.Column("exception_count", sa.Integer(), nullable=False),
        _user("imported_by"),
        _now("imported_at"),
        sa.UniqueConstraint("batch_id", "sha256", name="uq_result_imports_file"),
        sa.CheckConstraint("octet_length(sha256) = 32", name="ck_result_imports_sha256_len"),
    )
    op.create_index("ix_result_imports_batch_id", "result_imports", ["batch_id"])
    # Bank files are kept byte for byte; a province's monthly file is ~90 MB, which pglz compresses at ~35 MB/s —
    # seconds of a result import. Stored out of line without compression instead.
    for table in ("bank_exports", "result_imports"):
        op.execute(f"ALTER TABLE {table} ALTER COLUMN content SET STORAGE EXTERNAL")

    # The outcome's references (line, import) are checked once per statement by line_outcomes_refs below, not by
    # row-level foreign keys: a million outcome rows of one import would otherwise run a million key lookups
    # (5–6 s of a 1M-line import). Both parents are append-only, so a check at insert is the whole check.
    op.create_table(
        "line_outcomes",
        sa.Column(
            "line_id", sa.BigInteger(), primary_key=True, comment="发放明细编号（" + _STATEMENT_CHECKED + "）"
        ),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column(
            "import_id", sa.Integer(), nullable=True, comment="银行结果文件编号（" + _STATEMENT_CHECKED + "）"
        ),
        sa.Column("exception_id", sa.BigInteger(), nullable=True, comment="由异常处理确认时的异常编号"),
        sa.Column("resolved_on", sa.Date(), nullable=False),
        _now("recorded_at"),
        sa.CheckConstraint("paid OR reason <> ''", name="ck_line_outcomes_failed_reason"),
    )
    op.create_index("ix_payment_lines_reissue_of", "payment_lines", ["reissue_of"])

    op.create_table(
        "bank_exceptions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "import_id", sa.Integer(), sa.ForeignKey("result_imports.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column(
            "batch_id", sa.Integer(), sa.ForeignKey("payment_batches.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("row_no", sa.Integer(), nullable=False, comment="结果文件行号"),
        sa.Column("reference", sa.String(60), nullable=False),
        sa.Column(
            "line_id", sa.BigInteger(), sa.ForeignKey("payment_lines.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column("problem", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("bank_paid", sa.Boolean(), nullable=False, comment="银行文件中的处理结果"),
        sa.Column("bank_name", sa.String(50), nullable=False),
        sa.Column("bank_amount", sa.BigInteger(), nullable=False),
        sa.Column("bank_reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("resolution", sa.String(20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _user("resolved_by"),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "problem IN ('unknown', 'account', 'name', 'amount', 'duplicate', 'resolved')",
            name="ck_bank_exceptions_problem",
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('paid', 'failed', 'dismissed')",
            name="ck_bank_exceptions_resolution",
        ),
        sa.CheckConstraint(
            "(resolution IS NULL) = (resolved_by IS NULL)", name="ck_bank_exceptions_resolved"
        ),
        sa.CheckConstraint(
            "resolution NOT IN ('paid', 'failed') OR line_id IS NOT NULL",
            name="ck_bank_exceptions_resolved_line",
        ),
    )
    op.create_index("ix_bank_exceptions_import_id", "bank_exceptions", ["import_id"])
    op.create_index("ix_bank_exceptions_batch_id", "bank_exceptions", ["batch_id"])

    # A batch's count and total are those of its lines, checked when the database transaction commits.
    op.execute(
        """
        CREATE FUNCTION payment_batches_totals() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            n integer;
            s bigint;
            cur_n integer;
            cur_s bigint;
        BEGIN
            -- Deferred: NEW is the row as this event left it; the batch may have been updated since, so the
            -- check compares the row as it stands at commit.
            SELECT line_count, total INTO cur_n, cur_s FROM payment_batches WHERE id = NEW.id;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            SELECT count(*), coalesce(sum(amount), 0) INTO n, s FROM payment_lines WHERE batch_id = NEW.id;
            IF n <> cur_n OR s <> cur_s THEN
                RAISE EXCEPTION 'payment batch % totals (%, %) differ from its lines (%, %)',
                    NEW.id, cur_n, cur_s, n, s USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER payment_batches_totals AFTER INSERT OR UPDATE OF line_count, total
            ON payment_batches DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payment_batches_totals()
        """
    )
    op.execute(
        """
        CREATE FUNCTION line_outcomes_refs() RETURNS trigger LANGUAGE plpgsql AS $$
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
    )
    op.execute(
        """
        CREATE FUNCTION refuse_removal() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION payment_lines_refs() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad bigint;
        BEGIN
            SELECT a.id INTO bad FROM added a
            WHERE NOT EXISTS (SELECT 1 FROM payment_batches b WHERE b.id = a.batch_id)
               OR (a.enrollment_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.id = a.enrollment_id))
               OR (a.tranche_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM compensation_tranches t
                                                            WHERE t.id = a.tranche_id))
               OR (a.reissue_of IS NOT NULL AND NOT EXISTS (SELECT 1 FROM payment_lines r WHERE r.id = a.reissue_of))
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'payment line % names a batch, pensioner, tranche or line that does not exist', bad
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER payment_lines_refs AFTER INSERT ON payment_lines REFERENCING NEW TABLE AS added "
        "FOR EACH STATEMENT EXECUTE FUNCTION payment_lines_refs()"
    )
    # A batch, pensioner or tranche that a payment line names is never deleted (nor its id changed).
    op.execute(
        """
        CREATE FUNCTION payment_refs_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            named boolean;
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
                RETURN NEW;
            END IF;
            IF TG_TABLE_NAME = 'payment_batches' THEN
                named := EXISTS (SELECT 1 FROM payment_lines l WHERE l.batch_id = OLD.id);
            ELSIF TG_TABLE_NAME = 'enrollments' THEN
                -- by the unique key (county, person, period) of pension lines: no index on enrollment_id needed
                named := EXISTS (SELECT 1 FROM payment_lines l WHERE l.enrollment_id IS NOT NULL
                                 AND l.county_code = OLD.county_code AND l.person_hash = OLD.person_hash
                                 AND l.enrollment_id = OLD.id);
            ELSE
                named := EXISTS (SELECT 1 FROM payment_lines l WHERE l.tranche_id = OLD.id);
            END IF;
            IF named THEN
                RAISE EXCEPTION '% % is named by payment lines and cannot be removed', TG_TABLE_NAME, OLD.id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
        END $$
        """
    )
    for parent in ("payment_batches", "enrollments", "compensation_tranches"):
        op.execute(
            f"CREATE TRIGGER {parent}_payment_refs_kept BEFORE DELETE OR UPDATE OF id ON {parent} "
            "FOR EACH ROW EXECUTE FUNCTION payment_refs_kept()"
        )
        op.execute(
            f"CREATE TRIGGER {parent}_payment_refs_no_truncate BEFORE TRUNCATE ON {parent} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal()"
        )
    op.execute(
        "CREATE TRIGGER line_outcomes_refs AFTER INSERT ON line_outcomes REFERENCING NEW TABLE AS added "
        "FOR EACH STATEMENT EXECUTE FUNCTION line_outcomes_refs()"
    )
    for table in APPEND_ONLY:
        _append_only(table)
    # Exceptions are resolved (updated) but never removed: an outcome may name one.
    op.execute(
        "CREATE TRIGGER bank_exceptions_kept BEFORE DELETE ON bank_exceptions "
        "FOR EACH ROW EXECUTE FUNCTION refuse_removal()"
    )
    op.execute(
        "CREATE TRIGGER bank_exceptions_no_truncate BEFORE TRUNCATE ON bank_exceptions "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal()"
    )
    op.add_column("heir_payments", sa.Column("paid_on", sa.Date(), nullable=True, comment="支付日期"))
    op.add_column(
        "heir_payments", sa.Column("payment_note", sa.String(200), nullable=True, comment="支付凭证")
    )
    op.create_check_constraint(
        "ck_heir_payments_paid_on", "heir_payments", "(status = 'paid') = (paid_on IS NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER enrollments_payment_refs_kept ON enrollments")
    op.execute("DROP TRIGGER enrollments_payment_refs_no_truncate ON enrollments")
    op.drop_constraint("ck_heir_payments_paid_on", "heir_payments", type_="check")
    op.drop_column("heir_payments", "payment_note")
    op.drop_column("heir_payments", "paid_on")
    for table in (
        "bank_exceptions",
        "line_outcomes",
        "result_imports",
        "bank_exports",
        "payment_lines",
        "compensation_tranches",
        "journal_lines",
        "journal_transactions",
        "payment_batches",
        "ledger_accounts",
    ):
        op.drop_table(table)
    for fn in (
        "journal_lines_balanced",
        "payment_batches_totals",
        "line_outcomes_refs",
        "payment_lines_refs",
        "payment_refs_kept",
        "refuse_removal",
        *(f"{t}_append_only" for t in APPEND_ONLY),
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
