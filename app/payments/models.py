from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

STATEMENT_CHECKED = "插入时逐语句核对存在"

BATCH_KINDS = {"pension": "养老金", "compensation": "补偿款"}
BATCH_STATUSES = {
    "draft": "待审核",
    "approved": "已审核",
    "exported": "已导出",
    "imported": "已导入结果",
    "reconciled": "已对账",
    "closed": "已关闭",
}
LINE_STATUSES = {"pending": "待银行处理", "paid": "已发放", "failed": "发放失败"}
EXCEPTION_PROBLEMS = {
    "unknown": "找不到对应的发放明细",
    "account": "账号不符",
    "name": "户名不符",
    "amount": "金额不符",
    "duplicate": "文件内重复",
    "resolved": "该笔已有银行结果",
}
TRANCHE_KINDS = {"vacate": "腾房交付后支付的补偿款", "purchase_subsidy": "购房补贴（凭购房合同）"}
TRANCHE_STATUSES = {"awaiting": "待满足支付条件", "due": "应支付", "cancelled": "已取消（协议作废）"}
EXCEPTION_RESOLUTIONS = {"paid": "确认已发放", "failed": "确认发放失败", "dismissed": "不属于本批次，已处理"}


class PaymentBatch(Base):
    """发放批次: the monthly pension batch of a period and scope (county or township), or a compensation batch.

    draft → approved (by a second finance user) → exported (bank file kept) → imported (bank results) →
    reconciled (every line resolved, no open exception) → closed. One batch per kind, period and scope.
    """

    __tablename__ = "payment_batches"
    __table_args__ = (
        UniqueConstraint("county_code", "kind", "period", "scope_area_id", name="uq_payment_batches_scope"),
        CheckConstraint("kind IN ('pension', 'compensation')", name="kind"),
        CheckConstraint(
            "status IN ('draft', 'approved', 'exported', 'imported', 'reconciled', 'closed')", name="status"
        ),
        CheckConstraint("extract(day FROM period) = 1", name="period_month"),
        CheckConstraint("line_count >= 0 AND total >= 0", name="totals"),
        CheckConstraint("approved_by IS NULL OR approved_by <> created_by", name="second_user"),
        CheckConstraint("(status = 'draft') = (approved_by IS NULL)", name="approved"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True, comment="批次号")
    county_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(20))
    period: Mapped[date] = mapped_column(Date, comment="发放期（月份首日）")
    scope_area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    area_path: Mapped[str] = mapped_column(String(200), comment="范围的区划路径")
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    line_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", comment="合计（分）")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PaymentLine(Base):
    """发放明细: one payment to one payee in a batch; never changed once written. Its status is derived from
    its bank outcome (pending without one). A pension line lists the months it covers and how much the
    individual account (个人账户) and the county pool (统筹) each pay."""

    __tablename__ = "payment_lines"
    __table_args__ = (
        UniqueConstraint("batch_id", "seq", name="uq_payment_lines_batch_seq"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(
            "(enrollment_id IS NOT NULL) = (account_part IS NOT NULL) AND (account_part IS NOT NULL) ="
            " (pool_part IS NOT NULL) AND (account_part IS NOT NULL) = (months IS NOT NULL)",
            name="pension_fields",
        ),
        CheckConstraint(
            "account_part IS NULL OR (account_part >= 0 AND pool_part >= 0 AND account_part + pool_part = amount)",
            name="split",
        ),
        CheckConstraint("octet_length(account_hash) = 32", name="account_hash_len"),
        CheckConstraint("(enrollment_id IS NULL) <> (tranche_id IS NULL)", name="payee_kind"),
        Index(
            "uq_payment_lines_tranche_period",
            "tranche_id",
            "period",
            unique=True,
            postgresql_where=text("tranche_id IS NOT NULL"),
        ),
        Index(
            "uq_payment_lines_person_period",
            "county_code",
            "person_hash",
            "period",
            unique=True,
            postgresql_where=text("enrollment_id IS NOT NULL"),
        ),
        # only the lines that re-issue one (migration 0007): not a NULL entry for each of a month's million lines
        Index("ix_payment_lines_reissue_of", "reissue_of", postgresql_where=text("reissue_of IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # batch_id, enrollment_id, tranche_id and reissue_of are checked once per INSERT statement by the trigger
    # payment_lines_refs, not by row-level foreign keys (migration 0004 says why).
    batch_id: Mapped[int] = mapped_column(Integer, comment=STATEMENT_CHECKED)
    seq: Mapped[int] = mapped_column(Integer, comment="批次内序号")
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200), comment="收款人所在村的区划路径")
    period: Mapped[date] = mapped_column(Date)
    enrollment_id: Mapped[int | None] = mapped_column(BigInteger, comment=STATEMENT_CHECKED)
    person_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    months: Mapped[list[date] | None] = mapped_column(ARRAY(Date), comment="所发月份")
    payee_name: Mapped[str] = mapped_column(String(50))
    id_masked: Mapped[str] = mapped_column(String(18))
    account_enc: Mapped[bytes] = mapped_column(LargeBinary, comment="生成时的收款账号（密文）")
    account_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    account_masked: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    account_part: Mapped[int | None] = mapped_column(BigInteger, comment="个人账户支付（分）")
    pool_part: Mapped[int | None] = mapped_column(BigInteger, comment="统筹基金支付（分）")
    tranche_id: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"补偿款的支付节点（{STATEMENT_CHECKED}）"
    )
    reissue_of: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"重发的失败明细（{STATEMENT_CHECKED}）"
    )


class BankExport(Base):
    """The bank file written for a batch, its bytes and SHA-256 kept: the same batch always exports to them."""

    __tablename__ = "bank_exports"
    __table_args__ = (
        UniqueConstraint("batch_id", "format", name="uq_bank_exports_batch_format"),
        CheckConstraint("octet_length(sha256) = 32", name="sha256_len"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batches.id", ondelete="RESTRICT"))
    format: Mapped[str] = mapped_column(String(10))
    # The file as sent (~85 MB for a province's month): loaded only for a download.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    line_count: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)
    exported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    exported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ResultImport(Base):
    """One bank result file imported for a batch (a file is imported once: its SHA-256 is unique per batch)."""

    __tablename__ = "result_imports"
    __table_args__ = (
        UniqueConstraint("batch_id", "sha256", name="uq_result_imports_file"),
        CheckConstraint("octet_length(sha256) = 32", name="sha256_len"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batches.id", ondelete="RESTRICT"), index=True)
    format: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(200))
    # The bank's file, kept byte for byte (~90 MB for a province's month): loaded only when asked for.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    line_count: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)
    paid_count: Mapped[int] = mapped_column(Integer)
    paid_total: Mapped[int] = mapped_column(BigInteger)
    failed_count: Mapped[int] = mapped_column(Integer)
    failed_total: Mapped[int] = mapped_column(BigInteger)
    exception_count: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LineOutcome(Base):
    """银行结果: what the bank said about one line — appended once, never changed (the primary key is the line:
    a line resolves exactly once)."""

    __tablename__ = "line_outcomes"
    __table_args__ = (CheckConstraint("paid OR reason <> ''", name="failed_reason"),)

    # line_id and import_id are checked against their (append-only) parents once per INSERT statement by the
    # trigger line_outcomes_refs (migration 0004), not by row-level foreign keys: see the migration.
    line_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, comment=f"发放明细编号（{STATEMENT_CHECKED}）"
    )
    paid: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    import_id: Mapped[int | None] = mapped_column(Integer, comment=f"回盘文件编号（{STATEMENT_CHECKED}）")
    exception_id: Mapped[int | None] = mapped_column(BigInteger, comment="由差错处理确认时的差错编号")
    resolved_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankException(Base):
    """差错: a result line that did not match (unknown reference, different account/name/amount, a
    duplicate); a finance user resolves it as paid, failed or dismissed."""

    __tablename__ = "bank_exceptions"
    __table_args__ = (
        CheckConstraint(
            "problem IN ('unknown', 'account', 'name', 'amount', 'duplicate', 'resolved')", name="problem"
        ),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('paid', 'failed', 'dismissed')", name="resolution"
        ),
        CheckConstraint("(resolution IS NULL) = (resolved_by IS NULL)", name="resolved"),
        CheckConstraint("resolution NOT IN ('paid', 'failed') OR line_id IS NOT NULL", name="resolved_line"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("result_imports.id", ondelete="RESTRICT"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batches.id", ondelete="RESTRICT"), index=True)
    row_no: Mapped[int] = mapped_column(Integer, comment="回盘文件行号")
    reference: Mapped[str] = mapped_column(String(60))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("payment_lines.id", ondelete="RESTRICT"))
    problem: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    bank_paid: Mapped[bool] = mapped_column(Boolean, comment="回盘文件中的处理结果")
    bank_name: Mapped[str] = mapped_column(String(50))
    bank_amount: Mapped[int] = mapped_column(BigInteger)
    bank_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    resolution: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CompensationTranche(Base):
    """补偿款支付节点: what a signed agreement owes the household, by payment condition (付款方式): the
    compensation after the house is vacated and handed over, and the purchase subsidy on a recorded purchase
    contract. ``awaiting`` until the condition is recorded (with the account to pay into), then ``due``; paid is
    derived from its payment line's bank outcome. ``period`` is the batch period that last claimed it, so a
    tranche has one live line per period (unique) and is re-issued, never paid twice."""

    __tablename__ = "compensation_tranches"
    __table_args__ = (
        UniqueConstraint("agreement_id", "kind", name="uq_compensation_tranches_agreement_kind"),
        CheckConstraint("kind IN ('vacate', 'purchase_subsidy')", name="kind"),
        CheckConstraint("status IN ('awaiting', 'due', 'cancelled')", name="status"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(
            "status <> 'due' OR (due_on IS NOT NULL AND account_enc IS NOT NULL AND account_hash IS NOT NULL)",
            name="due_needs_condition",
        ),
        Index("ix_compensation_tranches_due", "county_code", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    village_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger, comment="金额（分）")
    status: Mapped[str] = mapped_column(String(20), default="awaiting", server_default="awaiting")
    due_on: Mapped[date | None] = mapped_column(Date, comment="支付条件满足之日（腾房验收/购房合同审核）")
    condition_note: Mapped[str | None] = mapped_column(String(200), comment="腾房验收单号或购房合同编号")
    payee_member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="RESTRICT"))
    payee_name: Mapped[str] = mapped_column(String(50))
    payee_id_masked: Mapped[str] = mapped_column(String(18))
    payee_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    bank_name: Mapped[str | None] = mapped_column(String(60))
    account_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    account_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    account_masked: Mapped[str | None] = mapped_column(String(40))
    period: Mapped[date | None] = mapped_column(Date, comment="最近一次纳入发放的发放期")
    payable_tx_id: Mapped[int] = mapped_column(
        ForeignKey("journal_transactions.id", ondelete="RESTRICT"), comment="签约时记入应付的凭证"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class DifferenceReceipt(Base):
    """安置房差价收款: the household paid what its agreement says it owes for its flats (the flats cost more than its
    compensation: the agreement's ``net_payable`` is negative). Once per agreement, for exactly that amount (a
    trigger checks it against the signed agreement), posted to the project's fund (``tx_id``). Kept:
    never changed or deleted (trigger)."""

    __tablename__ = "difference_receipts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("length(btrim(receipt_no)) > 0", name="receipt_no"),
    )

    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="RESTRICT"), primary_key=True, autoincrement=False
    )
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    county_code: Mapped[str] = mapped_column(String(6))
    area_path: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger, comment="金额（分）")
    received_on: Mapped[date] = mapped_column(Date, comment="收款日期")
    receipt_no: Mapped[str] = mapped_column(String(100), comment="收据号或银行流水号")
    tx_id: Mapped[int] = mapped_column(
        ForeignKey("journal_transactions.id", ondelete="RESTRICT"), comment="记账凭证"
    )
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
