"""The ledger: accounts, posting balanced transactions, balances, statements and the trial balance.

Other domains post through ``post``; nothing updates or deletes a journal line (the database refuses it), and the
database checks at commit that every transaction balances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.audit import service as audit
from app.auth.models import User
from app.auth.policy import SYSTEM, Perm, Principal, require
from app.core.clock import today_in_china
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.money import fen_to_yuan
from app.ledger import rules
from app.ledger.models import ACCOUNT_KINDS, JournalLine, JournalTransaction, LedgerAccount
from app.ledger.rules import Entry
from app.plans.models import Project

TRANSACTION_KINDS = {
    "deposit": "资金拨入",
    "enrollment_credit": "参保记入个人账户",
    "agreement_payable": "协议应付补偿款",
    "batch_export": "代发资金划出",
    "bank_paid": "银行代发成功",
    "bank_failed": "银行代发失败退回",
    "overpayment": "多发待追回",
    "recovery": "多发追回",
    "heir_payout": "个人账户余额支付继承人",
    "opening": "期初",
    "reversal": "冲销",
    "difference": "收取安置房差价",
}


@dataclass(frozen=True, slots=True)
class AccountSpec:
    code: str
    kind: str
    name: str
    area_path: str
    village_id: int | None = None
    project_id: int | None = None


async def county_area(session: AsyncSession, county_code: str) -> Area:
    area = await session.scalar(select(Area).where(Area.code == county_code, Area.level == "county"))
    if area is None:
        raise NotFound("找不到该县的区划")
    return area


async def social_security_accounts(session: AsyncSession, county_code: str) -> list[AccountSpec]:
    """The county-level social-security accounts."""
    county = await county_area(session, county_code)
    return [AccountSpec(code, kind, name, county.path) for code, (kind, name) in rules.SS_ACCOUNTS.items()]


async def individual_accounts(
    session: AsyncSession, county_code: str, village_ids: Sequence[int]
) -> list[AccountSpec]:
    """The individual-account control accounts of these villages."""
    if not village_ids:
        return []
    villages = await session.scalars(select(Area).where(Area.id.in_(set(village_ids))))
    return [
        AccountSpec(rules.individual_code(v.id), "individual", rules.individual_name(v.name), v.path, v.id)
        for v in villages
        if v.county_code == county_code
    ]


async def project_accounts(
    session: AsyncSession, project_id: int, village_ids: Sequence[int] = ()
) -> list[AccountSpec]:
    """A project's compensation fund accounts and, for these villages, its payables to their households."""
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound("找不到该征收项目")
    specs = [
        AccountSpec(code, kind, name, project.area_path, project_id=project.id)
        for code, kind, name in rules.comp_accounts(project.id, project.name)
    ]
    if village_ids:
        villages = await session.scalars(select(Area).where(Area.id.in_(set(village_ids))))
        specs += [
            AccountSpec(
                rules.comp_payable_code(project.id, v.id),
                "payable",
                f"应付补偿款·{project.name}·{v.name}",
                v.path,
                v.id,
                project.id,
            )
            for v in villages
        ]
    return specs


async def ensure_accounts(
    session: AsyncSession, county_code: str, specs: Sequence[AccountSpec]
) -> dict[str, int]:
    """Open the accounts that do not exist yet (concurrency-safe) and return code → id."""
    if specs:
        await session.execute(
            insert(LedgerAccount)
            .values(
                [
                    {
                        "county_code": county_code,
                        "code": s.code,
                        "kind": s.kind,
                        "name": s.name,
                        "area_path": s.area_path,
                        "village_id": s.village_id,
                        "project_id": s.project_id,
                    }
                    for s in specs
                ]
            )
            .on_conflict_do_nothing(constraint="uq_ledger_accounts_code")
        )
    rows = await session.execute(
        select(LedgerAccount.code, LedgerAccount.id).where(
            LedgerAccount.county_code == county_code, LedgerAccount.code.in_([s.code for s in specs])
        )
    )
    return {code: account_id for code, account_id in rows}


async def post(
    session: AsyncSession,
    actor: Principal,
    *,
    county_code: str,
    kind: str,
    memo: str,
    posted_on: date,
    entries: Sequence[Entry],
    accounts: Sequence[AccountSpec] = (),
    batch_id: int | None = None,
    reverses_id: int | None = None,
) -> JournalTransaction:
    """Post one balanced transaction. ``accounts`` opens the accounts it needs; every entry's code must name an
    account of the county."""
    lines = rules.normalise(entries)
    ids = await ensure_accounts(session, county_code, accounts) if accounts else {}
    missing = [e.code for e in lines if e.code not in ids]
    if missing:
        found = await session.execute(
            select(LedgerAccount.code, LedgerAccount.id).where(
                LedgerAccount.county_code == county_code, LedgerAccount.code.in_(missing)
            )
        )
        ids.update(dict(found.all()))
    unknown = [e.code for e in lines if e.code not in ids]
    if unknown:
        raise InvalidInput(f"科目不存在：{'、'.join(unknown)}")
    tx = JournalTransaction(
        county_code=county_code,
        kind=kind,
        memo=memo,
        posted_on=posted_on,
        batch_id=batch_id,
        reverses_id=reverses_id,
        posted_by=actor.user_id,
    )
    session.add(tx)
    await session.flush()
    session.add_all(
        JournalLine(transaction_id=tx.id, account_id=ids[e.code], debit=e.debit, credit=e.credit)
        for e in lines
    )
    await session.flush()
    return tx


async def deposit(
    session: AsyncSession, actor: Principal, *, amount: int, posted_on: date, memo: str
) -> JournalTransaction:
    """资金拨入: money paid into the social-security fund's bank account for the county pool (统筹基金)."""
    require(actor, Perm.LEDGER_POST)
    if amount <= 0:
        raise InvalidInput("拨入金额必须大于 0", field="amount")
    tx = await post(
        session,
        actor,
        county_code=actor.county_code,
        kind="deposit",
        memo=memo,
        posted_on=posted_on,
        entries=[Entry(rules.SS_BANK, debit=amount), Entry(rules.SS_POOL, credit=amount)],
        accounts=await social_security_accounts(session, actor.county_code),
    )
    await audit.record(
        session,
        actor,
        "ledger.deposit",
        "journal_transaction",
        tx.id,
        after={"amount": fen_to_yuan(amount), "posted_on": posted_on.isoformat(), "memo": memo},
        county_code=actor.county_code,
    )
    return tx


async def deposit_project(
    session: AsyncSession, actor: Principal, project_id: int, *, amount: int, posted_on: date, memo: str
) -> JournalTransaction:
    """补偿资金拨入: money paid into a project's compensation fund account."""
    require(actor, Perm.LEDGER_POST)
    if amount <= 0:
        raise InvalidInput("拨入金额必须大于 0", field="amount")
    project = await session.get(Project, project_id)
    if project is None or (actor is not SYSTEM and project.county_code != actor.county_code):
        raise NotFound("找不到该征收项目")
    tx = await post(
        session,
        actor,
        county_code=project.county_code,
        kind="deposit",
        memo=memo,
        posted_on=posted_on,
        entries=[
            Entry(rules.comp_bank_code(project.id), debit=amount),
            Entry(rules.comp_fund_code(project.id), credit=amount),
        ],
        accounts=await project_accounts(session, project.id),
    )
    await audit.record(
        session,
        actor,
        "ledger.deposit",
        "journal_transaction",
        tx.id,
        after={
            "project": project.code,
            "amount": fen_to_yuan(amount),
            "posted_on": posted_on.isoformat(),
            "memo": memo,
        },
        county_code=project.county_code,
    )
    return tx


# ------------------------------------------------------------------------------------------- correcting


async def lock_funds(session: AsyncSession, county_code: str) -> None:
    """Serialise, per county, the writes that check a fund's balance before drawing on it (a batch's export, the
    reversal of a deposit), so two of them cannot both see the same money."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('ledger_funds:' || :county))"), {"county": county_code}
    )


# Which transactions a finance user may reverse by hand: deposits, the ones typed in. The others follow from a
# batch, a bank file, an agreement or a death, and are corrected through those (a failed line comes back by its
# bank result, a voided agreement reverses its payable).
REVERSIBLE_KINDS = frozenset({"deposit"})
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class VoucherLine:
    account_id: int
    code: str
    name: str
    kind: str
    debit: int
    credit: int


@dataclass(frozen=True, slots=True)
class Voucher:
    """记账凭证 with its lines, and the transaction that reversed it or that it reverses."""

    tx: JournalTransaction
    kind_label: str
    posted_by: str  # the user's name, or "系统"
    lines: list[VoucherLine]
    reversed_by: JournalTransaction | None
    reverses: JournalTransaction | None

    @property
    def amount(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def reversible(self) -> bool:
        return self.tx.kind in REVERSIBLE_KINDS and self.reversed_by is None


async def voucher(session: AsyncSession, principal: Principal, transaction_id: int) -> Voucher:
    require(principal, Perm.LEDGER_READ)
    tx = await session.get(JournalTransaction, transaction_id)
    if tx is None or (principal is not SYSTEM and tx.county_code != principal.county_code):
        raise NotFound("找不到该记账凭证")
    rows = await session.execute(
        select(LedgerAccount.id, LedgerAccount.code, LedgerAccount.name, LedgerAccount.kind, JournalLine)
        .join(JournalLine, JournalLine.account_id == LedgerAccount.id)
        .where(JournalLine.transaction_id == tx.id)
        .order_by(JournalLine.id)
    )
    lines = [VoucherLine(i, code, name, kind, line.debit, line.credit) for i, code, name, kind, line in rows]
    reversed_by = await session.scalar(
        select(JournalTransaction).where(JournalTransaction.reverses_id == tx.id)
    )
    reverses = await session.get(JournalTransaction, tx.reverses_id) if tx.reverses_id is not None else None
    poster = await session.get(User, tx.posted_by) if tx.posted_by is not None else None
    return Voucher(
        tx,
        TRANSACTION_KINDS.get(tx.kind, tx.kind),
        poster.full_name if poster is not None else "系统",
        lines,
        reversed_by,
        reverses,
    )


async def reverse(
    session: AsyncSession, actor: Principal, transaction_id: int, *, reason: str, posted_on: date
) -> JournalTransaction:
    """冲销: post the mirror of a deposit typed in wrongly (every debit a credit and the other way round) and say
    why. A deposit is reversed once (the database's unique key on reverses_id), not before its own date, and not
    when its money has been drawn on since (an account would go below zero)."""
    require(actor, Perm.LEDGER_POST)
    found = await voucher(session, actor, transaction_id)
    tx = found.tx
    if tx.kind not in REVERSIBLE_KINDS:
        raise Conflict(
            f"凭证 {tx.id}（{found.kind_label}）不能手工冲销：只有资金拨入可以；其他凭证随发放批次、银行结果和协议更正"
        )
    reason = reason.strip()
    if not reason:
        raise InvalidInput("请填写冲销原因，如 金额录错，应为 120000.00 元", field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"冲销原因最多 {REASON_MAX} 字", field="reason")
    if posted_on > today_in_china():
        raise InvalidInput("记账日期不能晚于今天", field="posted_on")
    if posted_on < tx.posted_on:
        raise InvalidInput(
            f"冲销的记账日期不能早于原凭证的记账日期 {tx.posted_on.isoformat()}", field="posted_on"
        )
    await lock_funds(session, tx.county_code)
    earlier = await session.scalar(select(JournalTransaction).where(JournalTransaction.reverses_id == tx.id))
    if earlier is not None:
        raise Conflict(f"凭证 {tx.id} 已由凭证 {earlier.id} 冲销，不能重复冲销")
    for line in found.lines:
        side = rules.NORMAL_SIDE[line.kind]
        after = side * (await account_net(session, tx.county_code, line.code) + line.credit - line.debit)
        if after < 0:
            now = side * await account_net(session, tx.county_code, line.code)
            raise Conflict(
                f"{line.name}余额 {fen_to_yuan(now)} 元，少于要冲销的 {fen_to_yuan(found.amount)} 元："
                "这笔资金已有部分划出或记入其他科目，不能冲销"
            )
    reversal = await post(
        session,
        actor,
        county_code=tx.county_code,
        kind="reversal",
        memo=f"冲销凭证 {tx.id}（{tx.memo}）：{reason}",
        posted_on=posted_on,
        entries=[Entry(line.code, debit=line.credit, credit=line.debit) for line in found.lines],
        reverses_id=tx.id,
    )
    await audit.record(
        session,
        actor,
        "ledger.reverse",
        "journal_transaction",
        reversal.id,
        before={
            "transaction": tx.id,
            "kind": found.kind_label,
            "memo": tx.memo,
            "amount": fen_to_yuan(found.amount),
        },
        after={"reverses": tx.id, "reason": reason, "posted_on": posted_on.isoformat()},
        county_code=tx.county_code,
    )
    return reversal


async def county_projects(session: AsyncSession, principal: Principal) -> list[Project]:
    """The projects of the caller's county, to choose where a compensation deposit goes."""
    require(principal, Perm.LEDGER_READ)
    query = select(Project).order_by(Project.code)
    if principal is not SYSTEM:
        query = query.where(Project.county_code == principal.county_code)
    return list((await session.scalars(query)).all())


async def account_net(session: AsyncSession, county_code: str, code: str) -> int:
    """debit − credit of one account (0 when it has no lines or does not exist yet)."""
    value = await session.scalar(
        text(
            """
            SELECT coalesce(sum(l.debit - l.credit), 0) FROM journal_lines l
            JOIN ledger_accounts a ON a.id = l.account_id
            WHERE a.county_code = :county AND a.code = :code
            """
        ),
        {"county": county_code, "code": code},
    )
    return int(value or 0)


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class AccountBalance:
    id: int
    code: str
    kind: str
    kind_label: str
    name: str
    village_id: int | None
    debit: int
    credit: int

    @property
    def balance(self) -> int:
        return rules.shown_balance(self.kind, self.debit, self.credit)

    @property
    def net(self) -> int:
        return self.debit - self.credit


def _county_of(principal: Principal) -> str | None:
    return None if principal is SYSTEM else principal.county_code


async def balances(
    session: AsyncSession, principal: Principal, *, village_id: int | None = None
) -> list[AccountBalance]:
    """Every account of the caller's county with its debit and credit totals (one query)."""
    require(principal, Perm.LEDGER_READ)
    rows = await session.execute(
        text(
            """
            SELECT a.id, a.code, a.kind, a.name, a.village_id,
                   coalesce(sum(l.debit), 0) AS debit, coalesce(sum(l.credit), 0) AS credit
            FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id
            WHERE (CAST(:county AS varchar) IS NULL OR a.county_code = CAST(:county AS varchar))
              AND (CAST(:village AS integer) IS NULL OR a.village_id = CAST(:village AS integer))
            GROUP BY a.id ORDER BY a.code
            """
        ),
        {"county": _county_of(principal), "village": village_id},
    )
    return [
        AccountBalance(
            r.id, r.code, r.kind, ACCOUNT_KINDS[r.kind], r.name, r.village_id, int(r.debit), int(r.credit)
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class TrialBalance:
    rows: list[AccountBalance]
    debit: int
    credit: int

    @property
    def net(self) -> int:
        return self.debit - self.credit


async def trial_balance(session: AsyncSession, principal: Principal) -> TrialBalance:
    """试算平衡表: Σ debits = Σ credits over all accounts."""
    rows = await balances(session, principal)
    return TrialBalance(rows, sum(r.debit for r in rows), sum(r.credit for r in rows))


@dataclass(frozen=True, slots=True)
class StatementLine:
    transaction_id: int
    posted_on: date
    posted_at: datetime
    kind: str
    memo: str
    batch_id: int | None
    debit: int
    credit: int
    balance: int


async def get_account(session: AsyncSession, principal: Principal, account_id: int) -> LedgerAccount:
    require(principal, Perm.LEDGER_READ)
    account = await session.get(LedgerAccount, account_id)
    if account is None or (principal is not SYSTEM and account.county_code != principal.county_code):
        raise NotFound("找不到该科目")
    return account


@dataclass(frozen=True, slots=True)
class Statement:
    """科目明细账 of one account for a period (either end open): the balance brought forward (期初), the period's
    debit and credit totals, the balance carried (期末) and one page of the period's lines. Balances are on the
    account's normal side; lines run by 记账日期, then voucher number."""

    account: LedgerAccount
    start: date | None
    end: date | None
    opening: int
    debit: int
    credit: int
    closing: int
    count: int  # the period's lines
    offset: int  # of the first line shown
    lines: list[StatementLine]
    side: int  # the account's normal side: 1 debit, -1 credit
    current: int  # the balance now, over every line (the period's closing balance when it runs to today)

    @property
    def brought_forward(self) -> int:
        """The balance before the first line shown (承前页; 期初 on the first page)."""
        if not self.lines:
            return self.opening if self.offset == 0 else self.closing
        first = self.lines[0]
        return first.balance - self.side * (first.debit - first.credit)

    @property
    def carried(self) -> int:
        """The balance after the last line shown (过次页; 期末 on the last page)."""
        return self.lines[-1].balance if self.lines else self.brought_forward

    @property
    def last_page(self) -> bool:
        return self.offset + len(self.lines) >= self.count


_STATEMENT_PERIOD = """
    l.account_id = :account
    AND (CAST(:start AS date) IS NULL OR t.posted_on >= CAST(:start AS date))
    AND (CAST(:end AS date) IS NULL OR t.posted_on <= CAST(:end AS date))
"""


async def statement(
    session: AsyncSession,
    principal: Principal,
    account_id: int,
    *,
    start: date | None = None,
    end: date | None = None,
    offset: int | None = None,
    page: int | None = None,
    limit: int = 500,
) -> Statement:
    """科目明细账 for the period from ``start`` to ``end`` (each included, None: open): ``limit`` lines from
    ``offset``, or page ``page`` of ``limit`` lines each (0 or past the end: the last page), or else the last
    ``limit`` lines of the period; each with the running balance."""
    account = await get_account(session, principal, account_id)
    if start is not None and end is not None and start > end:
        raise InvalidInput("起始日期不能晚于截止日期", field="start")
    side = rules.NORMAL_SIDE[account.kind]
    period = {"account": account.id, "start": start, "end": end}
    totals = (
        await session.execute(
            text(
                f"""
                SELECT coalesce(sum(l.debit - l.credit) FILTER (
                           WHERE CAST(:start AS date) IS NOT NULL AND t.posted_on < CAST(:start AS date)), 0) AS before,
                       coalesce(sum(l.debit) FILTER (WHERE {_STATEMENT_PERIOD}), 0) AS debit,
                       coalesce(sum(l.credit) FILTER (WHERE {_STATEMENT_PERIOD}), 0) AS credit,
                       count(*) FILTER (WHERE {_STATEMENT_PERIOD}) AS n,
                       coalesce(sum(l.debit - l.credit), 0) AS everything
                FROM journal_lines l JOIN journal_transactions t ON t.id = l.transaction_id
                WHERE l.account_id = :account
                """  # noqa: S608 - the fragment is a constant
            ),
            period,
        )
    ).one()
    before, debit, credit, count = int(totals.before), int(totals.debit), int(totals.credit), int(totals.n)
    if offset is not None:
        first = offset
    elif page is not None:
        pages = max(1, -(-count // limit))
        first = ((min(page, pages) if page > 0 else pages) - 1) * limit
    else:
        first = max(count - limit, 0)
    rows = await session.execute(
        text(
            f"""
            SELECT t.id, t.posted_on, t.posted_at, t.kind, t.memo, t.batch_id, l.debit, l.credit,
                   CAST(:before AS bigint) + sum(l.debit - l.credit) OVER (ORDER BY t.posted_on, t.id, l.id) AS running
            FROM journal_lines l JOIN journal_transactions t ON t.id = l.transaction_id
            WHERE {_STATEMENT_PERIOD}
            ORDER BY t.posted_on, t.id, l.id OFFSET :offset LIMIT :limit
            """  # noqa: S608 - the fragment is a constant
        ),
        {**period, "before": before, "offset": first, "limit": limit},
    )
    lines = [
        StatementLine(
            r.id,
            r.posted_on,
            r.posted_at,
            TRANSACTION_KINDS.get(r.kind, r.kind),
            r.memo,
            r.batch_id,
            int(r.debit),
            int(r.credit),
            side * int(r.running),
        )
        for r in rows
    ]
    return Statement(
        account,
        start,
        end,
        side * before,
        debit,
        credit,
        side * (before + debit - credit),
        count,
        first,
        lines,
        side,
        side * int(totals.everything),
    )


async def batch_postings(session: AsyncSession, batch_id: int) -> dict[str, int]:
    """Σ (debit − credit) per account code of the transactions posted for a batch (for its reconciliation
    report's ledger check)."""
    rows = await session.execute(
        select(LedgerAccount.code, func.sum(JournalLine.debit - JournalLine.credit))
        .join(JournalLine, JournalLine.account_id == LedgerAccount.id)
        .join(JournalTransaction, JournalTransaction.id == JournalLine.transaction_id)
        .where(JournalTransaction.batch_id == batch_id)
        .group_by(LedgerAccount.code)
    )
    return {code: int(v) for code, v in rows}
