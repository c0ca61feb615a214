"""Pure payment and ledger rules, no database: references, the account/pool split by month, balanced entries."""

from __future__ import annotations

from datetime import date
from typing import get_args

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger import rules as ledger_rules
from app.ledger.rules import Entry, Unbalanced
from app.payments import rules
from app.payments.api_schemas import BatchKind, BatchStatus
from app.payments.models import BATCH_KINDS, BATCH_STATUSES
from app.payments.service import months_text
from app.socialsecurity.rules import account_left, account_share


def test_batch_numbers_and_references() -> None:
    number = rules.batch_number("pension", date(2026, 11, 1), "410727")
    assert number == "YL202611-410727"
    assert rules.reference(number, 12) == "YL202611-410727-0000012"
    assert rules.batch_number("compensation", date(2022, 9, 1), "410727101") == "BC202209-410727101"


def test_the_account_pays_months_in_order_until_the_credit_is_used() -> None:
    start = date(2023, 6, 1)
    # Credit 600.00, 260.00 a month: 260 + 260 + 80 from the account, then the pool.
    shares = [account_share(60_000, 26_000, start, date(2023, m, 1), 26_000) for m in (6, 7, 8, 9)]
    assert shares == [26_000, 26_000, 8_000, 0]
    assert rules.split_line(
        60_000, 26_000, start, [(date(2023, 8, 1), 26_000), (date(2023, 9, 1), 26_000)]
    ) == (
        8_000,
        44_000,
    )
    # A back-paid month draws what it would have drawn on time.
    assert account_share(60_000, 26_000, start, date(2023, 7, 1), 26_000) == 26_000
    assert (
        account_left(60_000, 26_000, start, [(date(2023, 6, 1), 26_000), (date(2023, 7, 1), 26_000)]) == 8_000
    )
    assert account_left(0, 26_000, start, [(date(2023, 6, 1), 26_000)]) == 0


def test_line_status() -> None:
    assert [rules.line_status(v) for v in (None, True, False)] == ["pending", "paid", "failed"]


def test_months_text() -> None:
    assert months_text([date(2026, 10, 1)]) == "2026年10月"
    assert (
        months_text([date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]) == "2026年3月至2026年5月（3个月）"
    )
    assert months_text([date(2025, 12, 1), date(2026, 1, 1)]) == "2025年12月至2026年1月（2个月）"
    assert months_text([date(2026, 3, 1), date(2026, 5, 1)]) == "2026年3月、2026年5月"
    assert months_text(None) == ""


def test_entries_are_netted_and_must_balance() -> None:
    out = ledger_rules.normalise(
        [
            Entry("a", debit=100),
            Entry("b", credit=60),
            Entry("b", credit=40),
            Entry("c", debit=5),
            Entry("c", credit=5),
        ]
    )
    assert out == [Entry("a", debit=100), Entry("b", credit=100)]
    with pytest.raises(Unbalanced):
        ledger_rules.normalise([Entry("a", debit=100), Entry("b", credit=99)])
    with pytest.raises(Unbalanced):
        ledger_rules.normalise([Entry("a", debit=5), Entry("a", credit=5)])
    with pytest.raises(Unbalanced):
        ledger_rules.normalise([Entry("a", debit=-5), Entry("b", credit=-5)])
    assert ledger_rules.shown_balance("fund", 10, 110) == 100
    assert ledger_rules.shown_balance("asset", 110, 10) == 100
    assert ledger_rules.trial_balance_sum([(100, 0), (0, 100)]) == 0


async def test_the_database_refuses_unbalanced_and_changed_journal_rows(db: AsyncSession) -> None:
    tx = await db.scalar(
        text(
            "INSERT INTO journal_transactions (county_code, kind, memo, posted_on) "
            "VALUES ('410727', 'deposit', 't', '2026-11-01') RETURNING id"
        )
    )
    account = await db.scalar(
        text(
            "INSERT INTO ledger_accounts (county_code, code, kind, name, area_path) "
            "VALUES ('410727', 't.a', 'asset', 't', '/1/') RETURNING id"
        )
    )
    await db.execute(
        text("INSERT INTO journal_lines (transaction_id, account_id, debit) VALUES (:t, :a, 100)"),
        {"t": tx, "a": account},
    )
    nested = await db.begin_nested()
    with pytest.raises(DBAPIError, match="not balanced"):
        await db.execute(text("SET CONSTRAINTS journal_lines_balanced IMMEDIATE"))
    await nested.rollback()
    nested = await db.begin_nested()
    with pytest.raises(DBAPIError, match="never changed"):
        await db.execute(text("UPDATE journal_lines SET debit = 200 WHERE transaction_id = :t"), {"t": tx})
    await nested.rollback()


def test_api_literals_name_the_models_kinds_and_statuses() -> None:
    assert get_args(BatchKind) == tuple(BATCH_KINDS)
    assert get_args(BatchStatus) == tuple(BATCH_STATUSES)
