"""Pages for the books (资金账务): balances per account with a village filter, the trial balance (试算平衡表),
the deposit forms (资金拨入 to the social-security fund, 补偿资金拨入 to a project's compensation fund) and one
account's statement (科目明细账).

Authorisation and audit stay in ``app.ledger.service``; the deposit forms are only shown to someone who may post,
and its POST checks the permission first. POST → redirect (303) → GET with a confirmation naming what was posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.auth.deps import Session, WebPrincipal
from app.auth.policy import Perm, Principal, require
from app.core.clock import format_date_cn, today_in_china
from app.core.money import InvalidAmount, fen_to_yuan, format_yuan, to_chinese_capital, yuan_to_fen
from app.core.params import INT_MAX
from app.households import service as households
from app.ledger import service
from app.ledger.models import ACCOUNT_KINDS
from app.payments import compensation
from app.payments import service as payments
from app.roster import exports
from app.web.forms import FormState, attempt, clamp_page, pager, read_date, read_form
from app.web.templating import flash, render

router = APIRouter()

AccountId = Annotated[int, Path(ge=1, le=INT_MAX, title="科目编号")]
TransactionId = Annotated[int, Path(ge=1, le=2**63 - 1, title="凭证号")]
VillageQuery = Annotated[str | None, Query(max_length=20, title="村")]

DEPOSIT_LABELS = {"amount": "拨入金额（元）", "posted_on": "记账日期", "memo": "摘要", "confirm": "确认"}
PROJECT_DEPOSIT_LABELS = {
    "comp_project_id": "征收项目",
    "comp_amount": "拨入金额（元）",
    "comp_posted_on": "记账日期",
    "comp_memo": "摘要",
    "comp_confirm": "确认",
}
REVERSE_LABELS = {"reason": "冲销原因", "posted_on": "记账日期", "confirm": "确认"}
MAX_DEPOSIT = 10**14  # fen: a sanity bound, far above any county's fund


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _village_id(raw: str | None) -> int | None:
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= INT_MAX else None


def _deposit_form(values: dict[str, str] | None = None) -> FormState:
    return FormState.of(DEPOSIT_LABELS, values or {"posted_on": today_in_china().isoformat()})


def _project_deposit_form(values: dict[str, str] | None = None) -> FormState:
    return FormState.of(PROJECT_DEPOSIT_LABELS, values or {"comp_posted_on": today_in_china().isoformat()})


def _read_deposit(state: FormState, prefix: str, memo_example: str) -> tuple[int | None, date | None, str]:
    """Amount (fen), date and memo of a deposit form whose inputs are named ``{prefix}amount`` and so on; the
    messages go next to the inputs."""
    amount: int | None = None
    raw_amount = state.value(f"{prefix}amount").strip()
    if not raw_amount:
        state.add(f"{prefix}amount", "请填写拨入金额，如 1200.00")
    else:
        try:
            amount = yuan_to_fen(raw_amount)
        except InvalidAmount as exc:
            state.add(f"{prefix}amount", f"{exc}（应为元，最多两位小数，如 1200.00）")
        else:
            if amount <= 0:
                state.add(f"{prefix}amount", "拨入金额必须大于 0")
            elif amount > MAX_DEPOSIT:
                state.add(f"{prefix}amount", "拨入金额过大，请核对")
    posted_on = read_date(state, f"{prefix}posted_on", "请填写记账日期")
    if posted_on is not None and posted_on > today_in_china():
        state.add(f"{prefix}posted_on", "记账日期不能晚于今天")
    memo = state.value(f"{prefix}memo").strip()
    if not memo:
        state.add(f"{prefix}memo", f"请填写摘要，如 {memo_example}")
    elif len(memo) > 200:
        state.add(f"{prefix}memo", "摘要最多 200 字")
    if state.value(f"{prefix}confirm") != "1":
        state.add(f"{prefix}confirm", "请先勾选确认：已核对银行到账凭证")
    return amount, posted_on, memo


async def _ledger_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    *,
    village_id: int | None = None,
    form: FormState | None = None,
    project_form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tb = await service.trial_balance(session, principal)
    villages = await households.list_villages(session, principal)
    choices = [(v.village.id, f"{v.township_name} {v.village.name}") for v in villages]
    if village_id not in {c[0] for c in choices}:
        village_id = None
    rows = (
        tb.rows if village_id is None else await service.balances(session, principal, village_id=village_id)
    )
    return render(
        request,
        "ledger/index.html",
        {
            "nav": "ledger",
            "rows": rows,
            "row_debit": sum(r.debit for r in rows),
            "row_credit": sum(r.credit for r in rows),
            "tb": tb,
            "balanced": tb.debit == tb.credit,
            "village_id": village_id,
            "village_choices": choices,
            "village_name": dict(choices).get(village_id or 0, ""),
            "can_deposit": principal.can(Perm.LEDGER_POST),
            "form": form or _deposit_form(),
            "labels": DEPOSIT_LABELS,
            "project_choices": [
                (p.id, f"{p.name}（{p.code}）") for p in await service.county_projects(session, principal)
            ]
            if principal.can(Perm.LEDGER_POST)
            else [],
            "project_form": project_form or _project_deposit_form(),
            "project_labels": PROJECT_DEPOSIT_LABELS,
        },
        status_code=status_code,
    )


# The balances table's columns (ledger/index.html) and its XLSX download's alike.
BALANCE_HEADERS = ("科目", "类别", "借方合计（元）", "贷方合计（元）", "余额（元）")
STATEMENT_HEADERS = ("日期", "凭证号", "摘要", "类型", "借方（元）", "贷方（元）", "余额（元）", "发放批次")
STATEMENT_EXPORT_LIMIT = 1_000_000
STATEMENT_PAGE = 100
DateQuery = Annotated[str | None, Query(max_length=20, title="日期")]
PageQuery = Annotated[int, Query(ge=0, le=100_000, title="页码（0：最后一页）")]


@router.get("/ledger/balances.xlsx")
async def balances_xlsx(
    session: Session, principal: WebPrincipal, village_id: VillageQuery = None
) -> Response:
    """科目余额 (all accounts, or one village's) with the 合计 row, as XLSX; the download is audited."""
    require(principal, Perm.LEDGER_READ)
    villages = {v.village.id: v.village.name for v in await households.list_villages(session, principal)}
    chosen = _village_id(village_id)
    chosen = chosen if chosen in villages else None
    rows = await service.balances(session, principal, village_id=chosen)
    cells: list[tuple[object, ...]] = [
        (
            f"{r.name} {r.code}",
            r.kind_label,
            fen_to_yuan(r.debit),
            fen_to_yuan(r.credit),
            fen_to_yuan(r.balance),
        )
        for r in rows
    ]
    cells.append(
        ("合计", "", fen_to_yuan(sum(r.debit for r in rows)), fen_to_yuan(sum(r.credit for r in rows)), "")
    )
    name = villages.get(chosen or 0, "")
    return await exports.audited_xlsx(
        session,
        principal,
        what="ledger_balances",
        detail={"village": name or None},
        title="科目余额",
        headers=BALANCE_HEADERS,
        rows=cells,
        text_columns=(2, 3, 4),
        filename=f"科目余额{'-' + name if name else ''}-{today_in_china().isoformat()}.xlsx",
    )


STATEMENT_LABELS = {"start": "起始日期", "end": "截止日期"}


def _statement_period(state: FormState) -> tuple[date | None, date | None]:
    """The period typed into the statement's filter (either end may be left empty), errors next to the fields."""
    found: list[date | None] = []
    for name in ("start", "end"):
        raw = state.value(name).strip()
        found.append(read_date(state, name, "") if raw else None)
    start, end = found
    if start is not None and end is not None and start > end:
        state.add("start", "起始日期不能晚于截止日期")
    return start, end


def _period_text(start: date | None, end: date | None) -> str:
    if start is None and end is None:
        return "全部"
    return f"{format_date_cn(start) if start else '开户'}至{format_date_cn(end) if end else '今'}"


@router.get("/ledger/accounts/{account_id}/statement.xlsx")
async def statement_xlsx(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    account_id: AccountId,
    start: DateQuery = None,
    end: DateQuery = None,
) -> Response:
    """科目明细账 of the period shown (every line of it, the page shows them a page at a time) as XLSX, between the
    balance brought forward and the period's totals; the download is audited."""
    state = FormState.of(STATEMENT_LABELS, {"start": start or "", "end": end or ""})
    first, last = _statement_period(state)
    if state.invalid:
        return await _statement_page(
            request, session, principal, account_id, state, (None, None), 0, status_code=422
        )
    found = await service.statement(
        session, principal, account_id, start=first, end=last, offset=0, limit=STATEMENT_EXPORT_LIMIT
    )
    batches = await _batch_numbers(session, principal, found.lines)
    cells: list[tuple[object, ...]] = [
        (format_date_cn(first) if first else "", "", "期初余额", "", "", "", fen_to_yuan(found.opening), "")
    ]
    cells += [
        (
            format_date_cn(line.posted_on),
            line.transaction_id,
            line.memo,
            line.kind,
            fen_to_yuan(line.debit) if line.debit else "",
            fen_to_yuan(line.credit) if line.credit else "",
            fen_to_yuan(line.balance),
            batches.get(line.batch_id, "") if line.batch_id is not None else "",
        )
        for line in found.lines
    ]
    cells.append(
        (
            format_date_cn(last) if last else "",
            "",
            "本期合计",
            "",
            fen_to_yuan(found.debit),
            fen_to_yuan(found.credit),
            fen_to_yuan(found.closing),
            "",
        )
    )
    account = found.account
    period = _period_text(first, last)
    return await exports.audited_xlsx(
        session,
        principal,
        what="ledger_statement",
        detail={"account": account.code, "period": period},
        title=f"科目明细账 {account.code}（{period}）",
        headers=STATEMENT_HEADERS,
        rows=cells,
        text_columns=(4, 5, 6),
        filename=f"科目明细账-{account.code}{'' if period == '全部' else '-' + period}.xlsx",
    )


async def _batch_numbers(
    session: AsyncSession, principal: Principal, lines: Sequence[service.StatementLine]
) -> dict[int, str]:
    batches: dict[int, str] = {}
    for batch_id in {line.batch_id for line in lines if line.batch_id is not None}:
        batches[batch_id] = (await payments.get_batch(session, principal, batch_id)).number
    return batches


@router.get("/ledger")
async def ledger_home(
    request: Request, session: Session, principal: WebPrincipal, village_id: VillageQuery = None
) -> HTMLResponse:
    return await _ledger_page(request, session, principal, village_id=_village_id(village_id))


@router.post("/ledger/deposit", response_model=None)
async def deposit(request: Request, session: Session, principal: WebPrincipal) -> Response:
    require(principal, Perm.LEDGER_POST)
    state = _deposit_form(await read_form(request))
    amount, posted_on, memo = _read_deposit(state, "", "县财政拨入被征地农民社保资金")
    if not state.invalid and amount is not None and posted_on is not None:
        fen, on = amount, posted_on
        tx = await attempt(
            session, state, lambda: service.deposit(session, principal, amount=fen, posted_on=on, memo=memo)
        )
        if tx is not None:
            response = _see_other("/ledger")
            flash(
                response,
                f"已登记资金拨入：{format_yuan(fen)} 元（{to_chinese_capital(fen)}），"
                f"记账日期 {format_date_cn(on)}，凭证号 {tx.id}",
            )
            return response
    return await _ledger_page(request, session, principal, form=state, status_code=state.status)


@router.post("/ledger/deposit-project", response_model=None)
async def deposit_project(request: Request, session: Session, principal: WebPrincipal) -> Response:
    """补偿资金拨入: money into a project's compensation fund (补偿资金专户), which compensation batches draw on."""
    require(principal, Perm.LEDGER_POST)
    state = _project_deposit_form(await read_form(request))
    projects = {p.id: p for p in await service.county_projects(session, principal)}
    raw_project = state.value("comp_project_id").strip()
    project = projects.get(int(raw_project)) if raw_project.isdigit() and len(raw_project) <= 10 else None
    if project is None:
        state.add("comp_project_id", "请选择征收项目")
    amount, posted_on, memo = _read_deposit(state, "comp_", "县财政拨入征收补偿资金")
    if not state.invalid and project is not None and amount is not None and posted_on is not None:
        project_id, name, fen, on = project.id, project.name, amount, posted_on
        tx = await attempt(
            session,
            state,
            lambda: service.deposit_project(
                session, principal, project_id, amount=fen, posted_on=on, memo=memo
            ),
            rename={"amount": "comp_amount", "posted_on": "comp_posted_on", "memo": "comp_memo"},
        )
        if tx is not None:
            response = _see_other("/ledger")
            flash(
                response,
                f"已登记补偿资金拨入：{name} {format_yuan(fen)} 元（{to_chinese_capital(fen)}），"
                f"记账日期 {format_date_cn(on)}，凭证号 {tx.id}",
            )
            return response
    return await _ledger_page(request, session, principal, project_form=state, status_code=state.status)


async def _statement_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    account_id: int,
    state: FormState,
    period: tuple[date | None, date | None],
    page: int,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """The statement of ``period`` (everything when it was typed wrong: the errors are next to the fields), the
    last page unless one is asked for: the latest postings in view first."""
    first, last = period
    found = await service.statement(
        session, principal, account_id, start=first, end=last, page=page, limit=STATEMENT_PAGE
    )
    batches = await _batch_numbers(session, principal, found.lines)
    # the period shown (none when it was typed wrong), kept by the page links and the download
    params = {"start": first.isoformat() if first else "", "end": last.isoformat() if last else ""}
    return render(
        request,
        "ledger/account.html",
        {
            "nav": "ledger",
            "account": found.account,
            "kind_label": ACCOUNT_KINDS.get(found.account.kind, found.account.kind),
            "balance": found.current,
            "statement": found,
            "period": _period_text(first, last),
            "batches": batches,
            "form": state,
            "labels": STATEMENT_LABELS,
            "xlsx_url": f"/ledger/accounts/{account_id}/statement.xlsx"
            + ("?" + urlencode({k: v for k, v in params.items() if v}) if any(params.values()) else ""),
            "pager": pager(
                f"/ledger/accounts/{account_id}",
                params,
                page=found.offset // STATEMENT_PAGE + 1,
                total=found.count,
                page_size=STATEMENT_PAGE,
            ),
        },
        status_code=status_code,
    )


DIFFERENCES_PAGE = 50
DiffPageQuery = Annotated[int, Query(ge=1, le=100_000, title="页码")]
OpenQuery = Annotated[str | None, Query(max_length=1, title="只列未收取的（1）")]
SearchQuery = Annotated[str | None, Query(max_length=40, title="协议编号、户口簿编号或户主姓名")]


@router.get("/ledger/differences")
async def differences(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    open: OpenQuery = None,
    q: SearchQuery = None,
    page: DiffPageQuery = 1,
) -> HTMLResponse:
    """安置房差价: the households that owe the difference for their flats, what each owes and whether it was
    received (the outstanding ones first), with the totals; each row leads to the household's 协议 tab where
    finance records the receipt."""
    open_only = open == "1"
    search = (q or "").strip()

    async def read(n: int) -> tuple[list[compensation.DifferenceRow], compensation.DifferenceTotals, int]:
        return await compensation.differences(
            session,
            principal,
            open_only=open_only,
            search=search,
            offset=(n - 1) * DIFFERENCES_PAGE,
            limit=DIFFERENCES_PAGE,
        )

    rows, totals, shown = await read(page)
    if page != clamp_page(page, shown, DIFFERENCES_PAGE):  # past the end (the list shrank meanwhile)
        page = clamp_page(page, shown, DIFFERENCES_PAGE)
        rows, totals, shown = await read(page)
    return render(
        request,
        "ledger/differences.html",
        {
            "nav": "ledger",
            "rows": rows,
            "totals": totals,
            "open_only": open_only,
            "search": search,
            "pager": pager(
                "/ledger/differences",
                {"open": "1" if open_only else "", "q": search},
                page=page,
                total=shown,
                page_size=DIFFERENCES_PAGE,
            ),
        },
    )


@router.get("/ledger/accounts/{account_id}")
async def statement(
    request: Request,
    session: Session,
    principal: WebPrincipal,
    account_id: AccountId,
    start: DateQuery = None,
    end: DateQuery = None,
    page: PageQuery = 0,
) -> HTMLResponse:
    """科目明细账: the account's lines of a period (all by default), a page at a time, between the balance brought
    forward (期初/承前页) and the balance carried (过次页/期末)."""
    state = FormState.of(STATEMENT_LABELS, {"start": start or "", "end": end or ""})
    period = _statement_period(state)
    return await _statement_page(
        request,
        session,
        principal,
        account_id,
        state,
        (None, None) if state.invalid else period,
        page,
        status_code=422 if state.invalid else 200,
    )


def _reverse_form(values: dict[str, str] | None = None) -> FormState:
    return FormState.of(REVERSE_LABELS, values or {"posted_on": today_in_china().isoformat()})


async def _voucher_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    transaction_id: int,
    *,
    form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = await service.voucher(session, principal, transaction_id)
    batch = (
        (await payments.get_batch(session, principal, found.tx.batch_id)).number
        if found.tx.batch_id is not None
        else None
    )
    return render(
        request,
        "ledger/voucher.html",
        {
            "nav": "ledger",
            "v": found,
            "batch_number": batch,
            "can_reverse": found.reversible and principal.can(Perm.LEDGER_POST),
            "form": form or _reverse_form(),
            "labels": REVERSE_LABELS,
        },
        status_code=status_code,
    )


@router.get("/ledger/transactions/{transaction_id}")
async def voucher(
    request: Request, session: Session, principal: WebPrincipal, transaction_id: TransactionId
) -> HTMLResponse:
    """记账凭证: its lines, who posted it, and what reversed it; a deposit not reversed yet can be reversed here."""
    return await _voucher_page(request, session, principal, transaction_id)


@router.post("/ledger/transactions/{transaction_id}/reverse", response_model=None)
async def reverse(
    request: Request, session: Session, principal: WebPrincipal, transaction_id: TransactionId
) -> Response:
    """冲销 a deposit typed in wrongly: the mirror transaction, with the reason; POST → 303 → the voucher."""
    require(principal, Perm.LEDGER_POST)
    state = _reverse_form(await read_form(request))
    posted_on = read_date(state, "posted_on", "请填写记账日期")
    reason = state.value("reason").strip()
    if not reason:
        state.add("reason", "请填写冲销原因，如 金额录错，应为 120000.00 元")
    if state.value("confirm") != "1":
        state.add("confirm", "请先勾选确认：这笔拨入确实登记错了")
    if not state.invalid and posted_on is not None:
        on = posted_on
        reversal = await attempt(
            session,
            state,
            lambda: service.reverse(session, principal, transaction_id, reason=reason, posted_on=on),
        )
        if reversal is not None:
            found = await service.voucher(session, principal, transaction_id)
            response = _see_other(f"/ledger/transactions/{transaction_id}")
            flash(
                response,
                f"已冲销凭证 {transaction_id}：{format_yuan(found.amount)} 元（{to_chinese_capital(found.amount)}），"
                f"冲销凭证号 {reversal.id}，记账日期 {format_date_cn(on)}",
            )
            return response
    return await _voucher_page(
        request, session, principal, transaction_id, form=state, status_code=state.status
    )
