"""Requests and responses of the ledger API: money as two-decimal yuan strings (``"1000000.00"``), dates ISO."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.text import CleanText
from app.core.validation import register_titles

# At most 999,999,999.99 yuan in one deposit: far above any real transfer, far below what a bigint of fen holds.
DepositAmount = Annotated[Decimal, Field(gt=0, le=Decimal("999999999.99"), max_digits=11, decimal_places=2)]
PostingDay = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2199, 12, 31))]


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=500)

    amount: DepositAmount = Field(title="拨入金额")
    posted_on: PostingDay = Field(title="记账日期")
    memo: CleanText = Field(min_length=1, max_length=200, title="摘要")


register_titles(DepositIn)


class ReversalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=500)

    reason: CleanText = Field(min_length=1, max_length=200, title="冲销原因")
    posted_on: PostingDay = Field(title="记账日期")


register_titles(ReversalIn)


class AccountOut(BaseModel):
    id: int
    code: str
    kind: str
    kind_label: str
    name: str
    village_id: int | None
    debit: str  # Σ debits
    credit: str  # Σ credits
    balance: str  # on the account's normal side: positive when normal


class TrialBalanceOut(BaseModel):
    rows: list[AccountOut]
    debit: str
    credit: str
    balanced: bool  # Σ debits = Σ credits


class AccountInfoOut(BaseModel):
    id: int
    code: str
    kind: str
    kind_label: str
    name: str
    village_id: int | None


class StatementLineOut(BaseModel):
    transaction_id: int
    posted_on: date
    posted_at: datetime
    kind_label: str
    memo: str
    batch_id: int | None
    debit: str
    credit: str
    balance: str  # running, on the account's normal side


class StatementOut(BaseModel):
    account: AccountInfoOut
    start: date | None  # the period asked for (either end open)
    end: date | None
    opening: str  # 期初余额: before the period
    debit: str  # the period's totals
    credit: str
    count: int  # the period's lines (the last `limit` of them are listed)
    lines: list[StatementLineOut]
    balance: str  # 期末余额: at the end of the period, after the last line listed


class TransactionOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    memo: str
    posted_on: date
    posted_at: datetime
    amount: str


class VoucherLineOut(BaseModel):
    account_id: int
    code: str
    name: str
    debit: str
    credit: str


class VoucherOut(TransactionOut):
    posted_by: str
    batch_id: int | None
    lines: list[VoucherLineOut]
    reverses_id: int | None = Field(description="本凭证冲销的凭证号")
    reversed_by_id: int | None = Field(description="冲销本凭证的凭证号")
    reversible: bool = Field(description="是否可以冲销（资金拨入且未冲销）")
