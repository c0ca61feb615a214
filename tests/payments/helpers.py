"""Builders for payment tests, through the services: pensioners with passbooks, money in the fund, bank result
files written as the bank would, and the ledger figures tests compare against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.households.service import id_cipher
from app.ledger import service as ledger
from app.payments import bankfiles, rules
from app.payments.models import PaymentBatch
from app.socialsecurity import service as social
from app.socialsecurity.models import Enrollment
from app.socialsecurity.schemas import PassbookIn
from tests.agreements.helpers import at, principal
from tests.socialsecurity.factories import Pin, pensioners


@dataclass
class World:
    enrollments: list[Enrollment]
    accounts: dict[int, str]  # enrollment id → passbook number


def account_number(i: int, version: int = 0) -> str:
    return f"62210{version:02d}{i:012d}"


async def give_passbooks(
    db: AsyncSession, enrollments: Sequence[Enrollment], version: int = 0
) -> dict[int, str]:
    cw = await principal(db, "cw_a")
    out = {}
    for e in enrollments:
        number = account_number(e.id, version)
        await social.set_passbook(
            db, cw, e.id, PassbookIn(account_number=number, opened_on=date(2023, 5, 30))
        )
        out[e.id] = number
    return out


async def world(db: AsyncSession, pin: Pin, births: Sequence[date], *, deposit: int = 100_000_000) -> World:
    """Pensioners (enrolled 2023-05-30 in 前方庄村, pensions from 2023-06 for those 60 or over), each with a
    passbook, and ``deposit`` fen paid into the county's fund."""
    enrollments = await pensioners(db, pin, births)
    accounts = await give_passbooks(db, enrollments)
    pin(at(date(2023, 6, 1)))
    await ledger.deposit(
        db, await principal(db, "fin"), amount=deposit, posted_on=date(2023, 6, 1), memo="财政拨入社保资金"
    )
    return World(enrollments, accounts)


async def result_lines(db: AsyncSession, batch: PaymentBatch) -> list[bankfiles.ResultLine]:
    """Every line of the batch as the bank would echo it back, all paid."""
    rows = await db.execute(
        text(
            "SELECT l.seq, l.account_enc, l.payee_name, l.amount, m.id_number_enc FROM payment_lines l "
            "JOIN enrollments e ON e.id = l.enrollment_id JOIN members m ON m.id = e.member_id "
            "WHERE l.batch_id = :b ORDER BY l.seq"
        ),
        {"b": batch.id},
    )
    accounts, ids = social.account_cipher(), id_cipher()
    return [
        bankfiles.ResultLine(
            seq=r.seq,
            account=accounts.decrypt(r.account_enc),
            name=r.payee_name,
            amount=int(r.amount),
            id_number=ids.decrypt(r.id_number_enc),
            reference=rules.reference(batch.number, r.seq),
            paid=True,
        )
        for r in rows
    ]


async def trial_balance_net(db: AsyncSession) -> int:
    return int(await db.scalar(text("SELECT coalesce(sum(debit - credit), 0) FROM journal_lines")) or 0)


async def account_balance(db: AsyncSession, code: str, county: str = "410727") -> int:
    """debit − credit of one account."""
    value = await db.scalar(
        text(
            "SELECT coalesce(sum(l.debit - l.credit), 0) FROM journal_lines l JOIN ledger_accounts a "
            "ON a.id = l.account_id WHERE a.code = :code AND a.county_code = :county"
        ),
        {"code": code, "county": county},
    )
    return int(value or 0)
