"""Compensation through payments: signing posts the payable and opens the tranches; the handover (with the
account to pay into) makes the compensation due; the compensation batch pays it through the bank, re-issues a
failed payment to a corrected account, and the project's books agree; voiding reverses an unpaid payable."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import service as agreements
from app.core.errors import Conflict
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.payments import bankfiles, compensation, rules, service
from app.payments.models import CompensationTranche, PaymentLine
from app.socialsecurity.service import account_cipher
from tests.agreements.helpers import at, principal
from tests.agreements.test_service import noticed_case
from tests.payments.helpers import account_balance, trial_balance_net
from tests.seed import SEED
from tests.socialsecurity.factories import Pin

NET = 9_470_000  # domain.md's worked example: 94,700.00 after the flat price


def test_tranche_amounts_follow_the_payment_clauses() -> None:
    assert rules.tranche_amounts(
        compensation_total=26_460_000, flat_price_due=16_990_000, on_proof_total=0
    ) == [("vacate", NET)]
    # Buying existing housing: the subsidy waits for the contract.
    assert rules.tranche_amounts(compensation_total=50_000, flat_price_due=0, on_proof_total=20_000) == [
        ("vacate", 30_000),
        ("purchase_subsidy", 20_000),
    ]
    # The flat costs more than the compensation: the subsidy first pays off the difference owed.
    assert rules.tranche_amounts(compensation_total=50_000, flat_price_due=40_000, on_proof_total=20_000) == [
        ("purchase_subsidy", 10_000)
    ]
    assert rules.tranche_amounts(compensation_total=10_000, flat_price_due=40_000, on_proof_total=0) == []


async def _signed(db: AsyncSession, pin: Pin) -> tuple[int, int]:
    """(agreement id, project id) of h1's signed agreement (signed 2022-09-08)."""
    case = await noticed_case(db, pin)
    cw = await principal(db, "cw_a")
    pin(at(date(2022, 9, 8)))
    agreement = await agreements.issue_agreement(db, cw, SEED.households["h1"])
    await agreements.sign(db, cw, agreement.id, date(2022, 9, 8))
    return agreement.id, case.project.id


async def _result(db: AsyncSession, batch_id: int, number: str, paid: bool) -> bytes:
    [line] = (await db.scalars(select(PaymentLine).where(PaymentLine.batch_id == batch_id))).all()
    result = bankfiles.ResultLine(
        seq=line.seq,
        account=account_cipher().decrypt(line.account_enc),
        name=line.payee_name,
        amount=line.amount,
        id_number="410727196003151234",
        reference=rules.reference(number, line.seq),
        paid=True,
    )
    return bankfiles.result_file(
        "psbc", number, [dataclasses.replace(result, paid=paid, reason="" if paid else "户名与账号不符")]
    )


async def test_signing_to_paid_with_a_reissue(db: AsyncSession, pinned_clock: Pin) -> None:
    agreement_id, project_id = await _signed(db, pinned_clock)
    cw, fin, fin2 = await principal(db, "cw_a"), await principal(db, "fin"), await principal(db, "fin2")
    [view] = await compensation.tranches_of_household(db, cw, SEED.households["h1"])
    assert (view.tranche.kind, view.tranche.amount, view.state) == ("vacate", NET, "awaiting")
    payable = ledger_rules.comp_payable_code(project_id, SEED.areas["410727101201"])
    assert await account_balance(db, payable) == -NET

    # Nothing is due before the handover.
    pinned_clock(at(date(2022, 9, 20)))
    with pytest.raises(Conflict, match="没有应发放"):
        await service.generate_compensation_batch(db, fin, date(2022, 9, 1), as_of=date(2022, 9, 20))
    pinned_clock(at(date(2022, 9, 26)))
    await compensation.record_condition(
        db,
        cw,
        agreement_id,
        kind="vacate",
        on=date(2022, 9, 25),
        note="腾房验收单 QFZ-001",
        bank_name="中国邮政储蓄银行",
        account_number="6221 8800 0000 0001",
    )
    await ledger.deposit_project(
        db, fin, project_id, amount=20_000_000, posted_on=date(2022, 9, 1), memo="补偿资金拨入"
    )

    pinned_clock(at(date(2022, 9, 28)))
    september = await service.generate_compensation_batch(db, fin, date(2022, 9, 1), as_of=date(2022, 9, 28))
    assert (september.lines, september.amount) == (1, NET)
    batch = september.batch
    assert batch.number.startswith("BC202209-")
    await service.approve_batch(db, fin2, batch.id)
    export = await service.export_batch(db, fin, batch.id, "psbc")
    assert export.content.endswith(f"T|1|94700.00|{batch.number}\r\n".encode())
    lines = await service.batch_lines(db, fin, batch.id)
    assert lines[0].months_text == "腾房交付后支付的补偿款"
    await service.import_results(
        db,
        fin,
        batch.id,
        fmt="psbc",
        filename="r.txt",
        content=await _result(db, batch.id, batch.number, False),
    )
    [view] = await compensation.tranches_of_household(db, cw, SEED.households["h1"])
    assert view.state == "failed"

    # Corrected account: the October batch re-issues it, and the bank pays.
    pinned_clock(at(date(2022, 10, 8)))
    await compensation.record_condition(
        db,
        cw,
        agreement_id,
        kind="vacate",
        on=date(2022, 9, 25),
        note="腾房验收单 QFZ-001（更正账号）",
        bank_name="中国邮政储蓄银行",
        account_number="6221 8800 0000 0002",
    )
    october = await service.generate_compensation_batch(db, fin, date(2022, 10, 1), as_of=date(2022, 10, 8))
    assert (october.lines, october.reissued) == (1, 1)
    await service.approve_batch(db, fin2, october.batch.id)
    await service.export_batch(db, fin, october.batch.id, "psbc")
    await service.import_results(
        db,
        fin,
        october.batch.id,
        fmt="psbc",
        filename="r.txt",
        content=await _result(db, october.batch.id, october.batch.number, True),
    )
    [view] = await compensation.tranches_of_household(db, cw, SEED.households["h1"])
    assert (view.state, view.paid_on) == ("paid", date(2022, 10, 8))
    assert await account_balance(db, payable) == 0
    assert await account_balance(db, ledger_rules.comp_bank_code(project_id)) == 20_000_000 - NET
    assert await account_balance(db, ledger_rules.comp_clearing_code(project_id)) == 0
    assert await trial_balance_net(db) == 0
    report = await service.reconciliation(db, fin, october.batch.id)
    assert report.ledger_agrees, report.checks
    # Paid: the agreement can no longer be voided, and the tranche not be changed.
    with pytest.raises(Conflict, match="不能作废"):
        await agreements.void(db, await principal(db, "rv_a"), agreement_id, "重新核算")
    with pytest.raises(Conflict):
        await compensation.record_condition(
            db,
            cw,
            agreement_id,
            kind="vacate",
            on=date(2022, 9, 25),
            note="x",
            bank_name="",
            account_number="622188000000000003",
        )
    # The November batch has nothing left to pay.
    pinned_clock(at(date(2022, 11, 8)))
    with pytest.raises(Conflict, match="没有应发放"):
        await service.generate_compensation_batch(db, fin, date(2022, 11, 1), as_of=date(2022, 11, 8))


async def test_voiding_an_unpaid_agreement_reverses_the_payable(db: AsyncSession, pinned_clock: Pin) -> None:
    agreement_id, project_id = await _signed(db, pinned_clock)
    await agreements.void(db, await principal(db, "rv_a"), agreement_id, "面积测量有误，重新核算")
    tranche = await db.scalar(
        select(CompensationTranche).where(CompensationTranche.agreement_id == agreement_id)
    )
    assert tranche is not None and tranche.status == "cancelled"
    payable = ledger_rules.comp_payable_code(project_id, SEED.areas["410727101201"])
    assert await account_balance(db, payable) == 0
    reversed_ = await db.scalar(
        text("SELECT count(*) FROM journal_transactions WHERE kind = 'reversal' AND reverses_id = :tx"),
        {"tx": tranche.payable_tx_id},
    )
    assert reversed_ == 1
    assert await trial_balance_net(db) == 0
