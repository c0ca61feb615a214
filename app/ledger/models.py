from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

import app.payments.models  # noqa: F401 - journal transactions refer to payment batches
from app.db import Base

ACCOUNT_KINDS = {
    "asset": "资产",
    "fund": "基金",
    "individual": "个人账户",
    "payable": "应付",
    "receivable": "应收",
    "clearing": "代发在途",
}


class LedgerAccount(Base):
    """会计科目: one account of the county's books. Balances are sums of journal lines (debit − credit)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("county_code", "code", name="uq_ledger_accounts_code"),
        CheckConstraint(
            "kind IN ('asset', 'fund', 'individual', 'payable', 'receivable', 'clearing')", name="kind"
        ),
        CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    code: Mapped[str] = mapped_column(String(80), comment="科目代码，如 ss.pool、ss.individual.12")
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    area_path: Mapped[str] = mapped_column(String(200), comment="科目所属区划（县或村）")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="RESTRICT"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class JournalTransaction(Base):
    """记账凭证: one balanced money movement. Never changed; a correction is a reversing transaction."""

    __tablename__ = "journal_transactions"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('deposit', 'enrollment_credit', 'agreement_payable', 'batch_export', 'bank_paid',"
            " 'bank_failed', 'overpayment', 'recovery', 'heir_payout', 'opening', 'reversal', 'difference')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    memo: Mapped[str] = mapped_column(Text)
    posted_on: Mapped[date] = mapped_column(Date, comment="记账日期")
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_batches.id", ondelete="RESTRICT"), index=True
    )
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("journal_transactions.id", ondelete="RESTRICT"), unique=True
    )
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class JournalLine(Base):
    """分录: one side of a transaction. Exactly one of debit (借) and credit (贷) is positive; a transaction's
    debits equal its credits (checked by the database when the transaction commits)."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)", name="one_side"),
        Index("ix_journal_lines_account", "account_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("journal_transactions.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id", ondelete="RESTRICT"))
    debit: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    credit: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
