"""The county's chart of accounts (会计科目) and the arithmetic of balances, as pure functions.

Every money movement is a balanced journal transaction (domain.md, "Payments, bank files, reconciliation"): debits
equal credits, so the trial balance of all accounts always sums to zero. Balances are debit − credit; fund,
individual, payable and clearing accounts normally carry credit balances and are shown as positive amounts on
their normal side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Normal side of each kind: +1 debit (assets, receivables), −1 credit (funds, individual accounts, payables).
NORMAL_SIDE = {"asset": 1, "receivable": 1, "clearing": 1, "fund": -1, "individual": -1, "payable": -1}

SS_BANK = "ss.bank"  # 社保基金专户存款
SS_POOL = "ss.pool"  # 统筹基金
SS_CLEARING = "ss.clearing"  # 养老金代发在途
SS_OVERPAID = "ss.overpaid"  # 多发养老金待追回

SS_ACCOUNTS: dict[str, tuple[str, str]] = {
    SS_BANK: ("asset", "社保基金专户存款"),
    SS_POOL: ("fund", "被征地农民社保统筹基金"),
    SS_CLEARING: ("clearing", "养老金代发在途"),
    SS_OVERPAID: ("receivable", "多发养老金待追回"),
}


def individual_code(village_id: int) -> str:
    """个人账户 (control account of the village's pensioners' individual accounts)."""
    return f"ss.individual.{village_id}"


def individual_name(village_name: str) -> str:
    return f"个人账户·{village_name}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One side of a transaction to post: ``debit`` or ``credit`` (fen), the other 0."""

    code: str
    debit: int = 0
    credit: int = 0


class Unbalanced(ValueError):
    pass


def normalise(entries: Iterable[Entry]) -> list[Entry]:
    """Net the entries per account (an account appears once, on one side), drop zeros, and refuse a transaction
    whose debits differ from its credits or that moves nothing."""
    net: dict[str, int] = {}
    for e in entries:
        if e.debit < 0 or e.credit < 0:
            raise Unbalanced("借贷金额不能为负数")
        net[e.code] = net.get(e.code, 0) + e.debit - e.credit
    out = [Entry(code, debit=v) if v > 0 else Entry(code, credit=-v) for code, v in net.items() if v != 0]
    debits = sum(e.debit for e in out)
    credits = sum(e.credit for e in out)
    if debits != credits:
        raise Unbalanced(f"借方合计 {debits} 分与贷方合计 {credits} 分不等")
    if not out:
        raise Unbalanced("凭证没有金额")
    return out


def shown_balance(kind: str, debit_total: int, credit_total: int) -> int:
    """The balance on the account's normal side (positive when normal)."""
    return NORMAL_SIDE[kind] * (debit_total - credit_total)


def trial_balance_sum(rows: Sequence[tuple[int, int]]) -> int:
    """Σ (debit − credit) over all accounts: always 0 for balanced books."""
    return sum(d - c for d, c in rows)


# A project's compensation fund (补偿资金), per project; payables per project and village.
def comp_bank_code(project_id: int) -> str:
    return f"comp.bank.{project_id}"  # 补偿资金专户存款


def comp_fund_code(project_id: int) -> str:
    return f"comp.fund.{project_id}"  # 征收补偿资金


def comp_clearing_code(project_id: int) -> str:
    return f"comp.clearing.{project_id}"  # 补偿款代发在途


def comp_payable_code(project_id: int, village_id: int) -> str:
    return f"comp.payable.{project_id}.{village_id}"  # 应付补偿款


def comp_accounts(project_id: int, project_name: str) -> list[tuple[str, str, str]]:
    """(code, kind, name) of a project's fund accounts."""
    return [
        (comp_bank_code(project_id), "asset", f"补偿资金专户存款·{project_name}"),
        (comp_fund_code(project_id), "fund", f"征收补偿资金·{project_name}"),
        (comp_clearing_code(project_id), "clearing", f"补偿款代发在途·{project_name}"),
    ]
