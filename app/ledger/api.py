"""The county's books (账务) over JSON under /api/v1: account balances, the trial balance, an account's statement,
and fund deposits (资金拨入). Money is two-decimal yuan strings; balances are shown on each account's normal side.
Authorisation and audit stay in ``app.ledger.service``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from app.auth.deps import ApiPrincipal, Session
from app.core.clock import today_in_china
from app.core.errors import InvalidInput
from app.core.money import fen_to_yuan, yuan_to_fen
from app.core.params import INT_MAX
from app.ledger import service
from app.ledger.api_schemas import (
    AccountInfoOut,
    AccountOut,
    DepositIn,
    ReversalIn,
    StatementLineOut,
    StatementOut,
    TransactionOut,
    TrialBalanceOut,
    VoucherLineOut,
    VoucherOut,
)
from app.ledger.models import ACCOUNT_KINDS

router = APIRouter(prefix="/api/v1", tags=["资金账务"])

AccountId = Annotated[int, Path(ge=1, le=INT_MAX, title="科目编号")]
TransactionId = Annotated[int, Path(ge=1, le=2**63 - 1, title="凭证号")]

READ: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效"},
    403: {"description": "角色无权"},
    404: {"description": "不存在或不属于本县"},
}
QUERY: dict[int | str, dict[str, Any]] = {**READ, 422: {"description": "查询参数有误"}}
WRITE: dict[int | str, dict[str, Any]] = {
    **READ,
    400: {"description": "请求体无法解析"},
    422: {"description": "输入有误（信息中写明字段）"},
}
REVERSE: dict[int | str, dict[str, Any]] = {
    **WRITE,
    409: {"description": "不能冲销：不是资金拨入、已冲销过，或拨入的资金已被动用"},
}


def account_out(a: service.AccountBalance) -> AccountOut:
    return AccountOut(
        id=a.id,
        code=a.code,
        kind=a.kind,
        kind_label=a.kind_label,
        name=a.name,
        village_id=a.village_id,
        debit=fen_to_yuan(a.debit),
        credit=fen_to_yuan(a.credit),
        balance=fen_to_yuan(a.balance),
    )


@router.get("/ledger/accounts", response_model=list[AccountOut], responses=QUERY)
async def accounts(
    session: Session,
    principal: ApiPrincipal,
    village_id: Annotated[
        int | None, Query(ge=1, le=INT_MAX, title="村编号（只列该村的个人账户等科目）")
    ] = None,
) -> list[AccountOut]:
    """本县的会计科目及其借方、贷方合计和余额（按科目代码）。"""
    return [account_out(a) for a in await service.balances(session, principal, village_id=village_id)]


@router.get("/ledger/trial-balance", response_model=TrialBalanceOut, responses=READ)
async def trial_balance(session: Session, principal: ApiPrincipal) -> TrialBalanceOut:
    """试算平衡表：每个科目的借方、贷方合计，及全部科目的借方合计与贷方合计（两者必然相等）。"""
    tb = await service.trial_balance(session, principal)
    return TrialBalanceOut(
        rows=[account_out(a) for a in tb.rows],
        debit=fen_to_yuan(tb.debit),
        credit=fen_to_yuan(tb.credit),
        balanced=tb.debit == tb.credit,
    )


@router.get("/ledger/accounts/{account_id}/statement", response_model=StatementOut, responses=QUERY)
async def statement(
    session: Session,
    principal: ApiPrincipal,
    account_id: AccountId,
    start: Annotated[date | None, Query(title="起始日期（含）")] = None,
    end: Annotated[date | None, Query(title="截止日期（含）")] = None,
    limit: Annotated[int, Query(ge=1, le=500, title="最近的条数")] = 500,
) -> StatementOut:
    """科目明细账：期间（不填为全部）的期初余额、借贷方合计和最近的记账（按记账日期、凭证号，旧的在前），每行后的余额按科目的
    正常方向计算。"""
    found = await service.statement(session, principal, account_id, start=start, end=end, limit=limit)
    account, lines = found.account, found.lines
    return StatementOut(
        account=AccountInfoOut(
            id=account.id,
            code=account.code,
            kind=account.kind,
            kind_label=ACCOUNT_KINDS[account.kind],
            name=account.name,
            village_id=account.village_id,
        ),
        lines=[
            StatementLineOut(
                transaction_id=line.transaction_id,
                posted_on=line.posted_on,
                posted_at=line.posted_at,
                kind_label=line.kind,
                memo=line.memo,
                batch_id=line.batch_id,
                debit=fen_to_yuan(line.debit),
                credit=fen_to_yuan(line.credit),
                balance=fen_to_yuan(line.balance),
            )
            for line in lines
        ],
        start=start,
        end=end,
        opening=fen_to_yuan(found.opening),
        debit=fen_to_yuan(found.debit),
        credit=fen_to_yuan(found.credit),
        count=found.count,
        balance=fen_to_yuan(found.closing),
    )


@router.post("/ledger/deposits", response_model=TransactionOut, status_code=201, responses=WRITE)
async def deposit(session: Session, principal: ApiPrincipal, body: DepositIn) -> TransactionOut:
    """登记资金拨入：财政拨入社保基金专户的资金记入统筹基金（借：社保基金专户存款，贷：统筹基金）；记账日期不能晚于
    今天。"""
    if body.posted_on > today_in_china():
        raise InvalidInput("记账日期不能晚于今天", field="posted_on")
    amount = yuan_to_fen(body.amount)
    tx = await service.deposit(session, principal, amount=amount, posted_on=body.posted_on, memo=body.memo)
    return TransactionOut(
        id=tx.id,
        kind=tx.kind,
        kind_label=service.TRANSACTION_KINDS[tx.kind],
        memo=tx.memo,
        posted_on=tx.posted_on,
        posted_at=tx.posted_at,
        amount=fen_to_yuan(amount),
    )


def voucher_out(v: service.Voucher) -> VoucherOut:
    return VoucherOut(
        id=v.tx.id,
        kind=v.tx.kind,
        kind_label=v.kind_label,
        memo=v.tx.memo,
        posted_on=v.tx.posted_on,
        posted_at=v.tx.posted_at,
        amount=fen_to_yuan(v.amount),
        posted_by=v.posted_by,
        batch_id=v.tx.batch_id,
        lines=[
            VoucherLineOut(
                account_id=line.account_id,
                code=line.code,
                name=line.name,
                debit=fen_to_yuan(line.debit),
                credit=fen_to_yuan(line.credit),
            )
            for line in v.lines
        ],
        reverses_id=v.tx.reverses_id,
        reversed_by_id=v.reversed_by.id if v.reversed_by is not None else None,
        reversible=v.reversible,
    )


@router.get("/ledger/transactions/{transaction_id}", response_model=VoucherOut, responses=QUERY)
async def transaction(session: Session, principal: ApiPrincipal, transaction_id: TransactionId) -> VoucherOut:
    """记账凭证：分录、登记人，及冲销它的或它冲销的凭证。"""
    return voucher_out(await service.voucher(session, principal, transaction_id))


@router.post(
    "/ledger/transactions/{transaction_id}/reversal",
    response_model=VoucherOut,
    status_code=201,
    responses=REVERSE,
)
async def reversal(
    session: Session, principal: ApiPrincipal, transaction_id: TransactionId, body: ReversalIn
) -> VoucherOut:
    """冲销一笔登记错的资金拨入：记一张借贷方向相反的冲销凭证（原凭证保留，两张合计为零），返回冲销凭证。每笔拨入只能冲销
    一次；记账日期不早于原凭证、不晚于今天；拨入的资金已被动用（余额不足）时不能冲销。"""
    tx = await service.reverse(
        session, principal, transaction_id, reason=body.reason, posted_on=body.posted_on
    )
    return voucher_out(await service.voucher(session, principal, tx.id))
