"""Payment batch decisions as pure functions (domain.md, "Payments, bank files, reconciliation"): batch numbers,
line references, the individual-account / pool split of a pension payment, a line's status from its outcome, and
what a bank result line must agree with.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from app.socialsecurity.rules import account_share

BATCH_PREFIX = {"pension": "YL", "compensation": "BC"}
SEQ_DIGITS = 7


def batch_number(kind: str, period: date, scope_code: str) -> str:
    """``YL202611-410727`` — kind, period and the scope's area code: one batch per kind, period and scope."""
    return f"{BATCH_PREFIX[kind]}{period:%Y%m}-{scope_code}"


def reference(batch_no: str, seq: int) -> str:
    """The line's unique reference, written into the bank file's remarks: ``YL202611-410727-0000001``."""
    return f"{batch_no}-{seq:0{SEQ_DIGITS}d}"


def split_line(credit: int, monthly: int, start: date, months: Iterable[tuple[date, int]]) -> tuple[int, int]:
    """(individual account, pool) of a line paying ``months`` as (month, amount) pairs."""
    account = 0
    total = 0
    for month, amount in months:
        account += account_share(credit, monthly, start, month, amount)
        total += amount
    return account, total - account


def line_status(outcome_paid: bool | None) -> str:
    """pending until the bank answers; then paid or failed, once."""
    if outcome_paid is None:
        return "pending"
    return "paid" if outcome_paid else "failed"


def tranche_amounts(
    *, compensation_total: int, flat_price_due: int, on_proof_total: int
) -> list[tuple[str, int]]:
    """What a signed agreement pays the household, by condition, as its 付款方式 clauses say
    (``app.agreements.rules.payment_clauses``): the compensation less the purchase subsidy and the flat price set
    off against it, after vacating; the purchase subsidy, less what it offsets of a difference the household owes,
    on a purchase contract. Nothing is paid where the household owes (差价)."""
    out: list[tuple[str, int]] = []
    payable_now = compensation_total - on_proof_total - flat_price_due
    if payable_now > 0:
        out.append(("vacate", payable_now))
    if on_proof_total:
        offset = min(on_proof_total, -payable_now) if payable_now < 0 else 0
        if on_proof_total - offset > 0:
            out.append(("purchase_subsidy", on_proof_total - offset))
    return out
