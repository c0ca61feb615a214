"""What signed agreements owe households (补偿款支付节点), from signing to the payment condition.

Signing an agreement posts what it owes to the ledger as the village's payable from the project's compensation fund
and opens its tranches (``rules.tranche_amounts``): the compensation after the house is handed over, the purchase
subsidy on a checked purchase contract. Recording the condition, with the account to pay into, makes a tranche
due; the compensation batch then pays it (``service.generate_compensation_batch``). Voiding a signed agreement
cancels its tranches and reverses the payable, unless money has gone to the bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements import rules as agreement_rules
from app.agreements.models import Agreement
from app.areas.models import Area
from app.audit import service as audit
from app.auth.policy import Perm, Principal, authorize, require, scope_clause
from app.compensation.models import Assessment, AssessmentLine
from app.core.clock import today_in_china
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.money import fen_to_yuan
from app.core.text import like_fragment
from app.households.models import Household, Member
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger.rules import Entry
from app.payments import rules
from app.payments.models import TRANCHE_KINDS, TRANCHE_STATUSES, CompensationTranche, DifferenceReceipt
from app.socialsecurity.service import account_cipher, mask_account

TRANCHE_STATES = {**TRANCHE_STATUSES, "pending": "银行处理中", "paid": "已支付", "failed": "支付失败，待重发"}


async def create_tranches(
    session: AsyncSession, actor: Principal, agreement: Agreement
) -> list[CompensationTranche]:
    """At signing: the agreement's tranches, awaiting their conditions, and the payable posted."""
    assessment = await session.get(Assessment, agreement.assessment_id)
    assert assessment is not None
    on_proof = await session.scalar(
        select(func.coalesce(func.sum(AssessmentLine.amount), 0)).where(
            AssessmentLine.assessment_id == assessment.id, AssessmentLine.payable_on_proof
        )
    )
    amounts = rules.tranche_amounts(
        compensation_total=assessment.compensation_total,
        flat_price_due=assessment.flat_price_due,
        on_proof_total=int(on_proof or 0),
    )
    if not amounts:
        return []
    head = await session.scalar(
        select(Member).where(
            Member.household_id == agreement.household_id,
            Member.relation == "head",
            Member.status == "registered",
        )
    )
    if head is None:
        raise Conflict("本户没有在册的户主，无法确定补偿款收款人")
    total = sum(a for _k, a in amounts)
    payable = ledger_rules.comp_payable_code(agreement.project_id, agreement.village_id)
    tx = await ledger.post(
        session,
        actor,
        county_code=agreement.county_code,
        kind="agreement_payable",
        memo=f"协议 {agreement.number} 签订，应付补偿款",
        posted_on=agreement.signed_on or today_in_china(),
        entries=[
            Entry(ledger_rules.comp_fund_code(agreement.project_id), debit=total),
            Entry(payable, credit=total),
        ],
        accounts=await ledger.project_accounts(session, agreement.project_id, [agreement.village_id]),
    )
    tranches = [
        CompensationTranche(
            agreement_id=agreement.id,
            household_id=agreement.household_id,
            project_id=agreement.project_id,
            village_id=agreement.village_id,
            county_code=agreement.county_code,
            area_path=agreement.area_path,
            kind=kind,
            amount=amount,
            status="awaiting",
            payee_member_id=head.id,
            payee_name=head.name,
            payee_id_masked=head.id_number_masked,
            payee_hash=head.id_number_hash,
            payable_tx_id=tx.id,
        )
        for kind, amount in amounts
    ]
    session.add_all(tranches)
    await session.flush()
    return tranches


_LINE_STATE_SQL = """
SELECT t.id, CASE WHEN l.id IS NULL THEN NULL WHEN o.line_id IS NULL THEN 'pending'
                  WHEN o.paid THEN 'paid' ELSE 'failed' END AS state,
       o.resolved_on
FROM compensation_tranches t
LEFT JOIN payment_lines l ON l.tranche_id = t.id AND l.period = t.period
LEFT JOIN line_outcomes o ON o.line_id = l.id
WHERE t.id = ANY(:ids)
"""


async def _line_states(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str | None, date | None]]:
    if not ids:
        return {}
    rows = await session.execute(text(_LINE_STATE_SQL), {"ids": ids})
    return {r.id: (r.state, r.resolved_on) for r in rows}


async def cancel_tranches(session: AsyncSession, actor: Principal, agreement: Agreement) -> None:
    """At voiding a signed agreement: refused once money has gone to the bank, or the household has paid the
    difference for its flats; otherwise its tranches are cancelled and the payable reversed."""
    if await difference_of(session, agreement.id) is not None:
        raise Conflict(f"协议 {agreement.number} 的安置房差价已收取，不能作废", field="reason")
    tranches = list(
        (
            await session.scalars(
                select(CompensationTranche).where(
                    CompensationTranche.agreement_id == agreement.id,
                    CompensationTranche.status != "cancelled",
                )
            )
        ).all()
    )
    if not tranches:
        return
    states = await _line_states(session, [t.id for t in tranches])
    if any(states[t.id][0] in ("pending", "paid") for t in tranches):
        raise Conflict(f"协议 {agreement.number} 的补偿款已支付或正在银行处理，不能作废", field="reason")
    total = sum(t.amount for t in tranches)
    for t in tranches:
        t.status = "cancelled"
    await session.flush()
    await ledger.post(
        session,
        actor,
        county_code=agreement.county_code,
        kind="reversal",
        memo=f"协议 {agreement.number} 作废，冲回应付补偿款",
        posted_on=today_in_china(),
        entries=[
            Entry(ledger_rules.comp_payable_code(agreement.project_id, agreement.village_id), debit=total),
            Entry(ledger_rules.comp_fund_code(agreement.project_id), credit=total),
        ],
        reverses_id=tranches[0].payable_tx_id,
    )


@dataclass(frozen=True, slots=True)
class TrancheView:
    tranche: CompensationTranche
    agreement_number: str
    state: str
    paid_on: date | None

    @property
    def kind_label(self) -> str:
        return TRANCHE_KINDS[self.tranche.kind]

    @property
    def state_label(self) -> str:
        return TRANCHE_STATES[self.state]


async def tranches_of_household(
    session: AsyncSession, principal: Principal, household_id: int
) -> list[TrancheView]:
    """A household's tranches with their state: awaiting / due / pending / paid / failed / cancelled."""
    require(principal, Perm.REGISTRY_READ)
    household = await session.get(Household, household_id)
    if household is None:
        raise NotFound("找不到该户")
    authorize(principal, Perm.REGISTRY_READ, household.area_path)
    rows = (
        await session.execute(
            select(CompensationTranche, Agreement.number)
            .join(Agreement, Agreement.id == CompensationTranche.agreement_id)
            .where(CompensationTranche.household_id == household_id)
            .order_by(CompensationTranche.id)
        )
    ).all()
    states = await _line_states(session, [t.id for t, _n in rows])
    out = []
    for tranche, number in rows:
        line_state, resolved_on = states.get(tranche.id, (None, None))
        state = tranche.status if tranche.status != "due" or line_state is None else line_state
        out.append(TrancheView(tranche, number, state, resolved_on if state == "paid" else None))
    return out


async def record_condition(
    session: AsyncSession,
    actor: Principal,
    agreement_id: int,
    *,
    kind: str,
    on: date,
    note: str,
    bank_name: str,
    account_number: str,
) -> CompensationTranche:
    """Record that a tranche's payment condition holds — the house was handed over and accepted (腾房交付验收),
    or the purchase contract (购房合同) was checked — and the account to pay into. A tranche the bank failed may
    be given a new account here (then the next batch re-issues it); one with the bank or paid cannot change."""
    if kind not in TRANCHE_KINDS:
        raise InvalidInput("未知的支付节点", field="kind")
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("找不到该协议")
    authorize(actor, Perm.AGREEMENT_MANAGE, agreement.area_path)
    if agreement.status != "signed":
        raise Conflict(f"协议 {agreement.number} 未签订或已作废")
    tranche = await session.scalar(
        select(CompensationTranche)
        .where(CompensationTranche.agreement_id == agreement.id, CompensationTranche.kind == kind)
        # Batches claim tranches with set-based SQL: read the row as it is now.
        .execution_options(populate_existing=True)
    )
    if tranche is None or tranche.status == "cancelled":
        raise Conflict(f"协议 {agreement.number} 没有“{TRANCHE_KINDS[kind]}”这一支付节点", field="kind")
    state, _on = (await _line_states(session, [tranche.id])).get(tranche.id, (None, None))
    if state in ("pending", "paid"):
        raise Conflict("该笔补偿款已支付或正在银行处理，不能再更改", field="account_number")
    if on > today_in_china():
        raise InvalidInput("日期不能晚于今天", field="on")
    if agreement.signed_on and on < agreement.signed_on:
        raise InvalidInput("日期不能早于签约日期", field="on")
    number = "".join(account_number.split())
    if not number.isdigit() or not 12 <= len(number) <= 30:
        raise InvalidInput("收款账号应为 12 至 30 位数字", field="account_number")
    cipher = account_cipher()
    before = {
        "status": tranche.status,
        "account": tranche.account_masked,
        "due_on": str(tranche.due_on or ""),
    }
    tranche.status, tranche.due_on, tranche.condition_note = "due", on, note.strip()[:200]
    tranche.bank_name = bank_name.strip()[:60] or "中国邮政储蓄银行"
    tranche.account_enc = cipher.encrypt(number)
    tranche.account_hash = cipher.lookup_hash(number)
    tranche.account_masked = mask_account(number)
    await session.flush()
    await audit.record(
        session,
        actor,
        "tranche.condition",
        "agreement",
        agreement.id,
        before=before,
        after={
            "kind": TRANCHE_KINDS[kind],
            "amount": fen_to_yuan(tranche.amount),
            "due_on": on.isoformat(),
            "note": tranche.condition_note,
            "account": tranche.account_masked,
        },
        household_id=agreement.household_id,
        county_code=agreement.county_code,
    )
    return tranche


# ------------------------------------------------------------------------------ the difference the household owes


def difference_owed(agreement: Agreement) -> int:
    """安置房差价: what the household owes where its flats cost more than its compensation (fen; 0 otherwise)."""
    return max(0, -agreement.net_payable)


async def difference_of(session: AsyncSession, agreement_id: int) -> DifferenceReceipt | None:
    return await session.get(DifferenceReceipt, agreement_id)


async def unpaid_difference(session: AsyncSession, household_id: int, project_id: int) -> int:
    """What the household still owes for its flats under its signed agreement in the project (fen; 0 when it owes
    nothing or has paid it). The agreement says it is paid before the flats are chosen (选房前缴清)."""
    found = await session.scalar(
        select(-Agreement.net_payable).where(
            Agreement.household_id == household_id,
            Agreement.project_id == project_id,
            Agreement.status == "signed",
            Agreement.net_payable < 0,
            ~select(DifferenceReceipt.agreement_id)
            .where(DifferenceReceipt.agreement_id == Agreement.id)
            .exists(),
        )
    )
    return int(found or 0)


async def record_difference(
    session: AsyncSession, actor: Principal, agreement_id: int, *, on: date, receipt_no: str
) -> DifferenceReceipt:
    """登记收取安置房差价 (finance): the household paid what its signed agreement says it owes for its flats,
    into the project's compensation fund account. Once, for the whole amount; never changed."""
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound("找不到该协议")
    authorize(actor, Perm.LEDGER_POST, agreement.area_path)
    if agreement.status != "signed":
        raise Conflict(f"协议 {agreement.number} 未签订或已作废，不能登记收取差价")
    owed = difference_owed(agreement)
    if not owed:
        raise Conflict(f"协议 {agreement.number} 没有户主应补的安置房差价")
    if await difference_of(session, agreement.id) is not None:
        raise Conflict(f"协议 {agreement.number} 的安置房差价已登记收取", field="on")
    receipt_no = agreement_rules.checked_record(
        on,
        receipt_no,
        signed_on=agreement.signed_on,
        today=today_in_china(),
        labels=("收款日期", "收据号或银行流水号"),
        note_field="receipt_no",
        max_len=100,
    )
    tx = await ledger.post(
        session,
        actor,
        county_code=agreement.county_code,
        kind="difference",
        memo=f"协议 {agreement.number} 户主补交安置房差价（{receipt_no}）",
        posted_on=on,
        entries=[
            Entry(ledger_rules.comp_bank_code(agreement.project_id), debit=owed),
            Entry(ledger_rules.comp_fund_code(agreement.project_id), credit=owed),
        ],
        accounts=await ledger.project_accounts(session, agreement.project_id),
    )
    receipt = DifferenceReceipt(
        agreement_id=agreement.id,
        household_id=agreement.household_id,
        project_id=agreement.project_id,
        county_code=agreement.county_code,
        area_path=agreement.area_path,
        amount=owed,
        received_on=on,
        receipt_no=receipt_no,
        tx_id=tx.id,
        recorded_by=actor.user_id,
    )
    session.add(receipt)
    try:
        await session.flush()
    # recorded meanwhile by someone else (the key is the agreement); the caller rolls back
    except IntegrityError:
        raise Conflict(f"协议 {agreement.number} 的安置房差价已登记收取", field="on") from None
    await audit.record(
        session,
        actor,
        "agreement.difference",
        "agreement",
        agreement.id,
        after={
            "number": agreement.number,
            "amount": fen_to_yuan(owed),
            "received_on": on.isoformat(),
            "receipt_no": receipt_no,
            "transaction": tx.id,
        },
        household_id=agreement.household_id,
        county_code=agreement.county_code,
    )
    return receipt


@dataclass(frozen=True, slots=True)
class DifferenceRow:
    agreement_id: int
    household_id: int
    number: str
    village: str
    register_no: str
    head_name: str | None
    signed_on: date | None
    owed: int
    received_on: date | None
    receipt_no: str | None


@dataclass(frozen=True, slots=True)
class DifferenceTotals:
    households: int
    owed: int
    received_households: int
    received: int

    @property
    def outstanding(self) -> int:
        return self.owed - self.received

    @property
    def outstanding_households(self) -> int:
        return self.households - self.received_households


async def differences(
    session: AsyncSession,
    principal: Principal,
    *,
    open_only: bool = False,
    search: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[DifferenceRow], DifferenceTotals, int]:
    """安置房差价 of the caller's areas: every signed agreement whose household owes the difference for its
    flats, with its receipt if recorded — the outstanding ones first, then by agreement number; ``open_only``:
    the outstanding ones only; ``search``: part of the agreement number, the 户口簿编号 or the head's name.
    Returns (rows of the page, totals over all of them, how many the list has)."""
    require(principal, Perm.LEDGER_READ)
    owing = (
        Agreement.status == "signed",
        Agreement.net_payable < 0,
        scope_clause(principal, Agreement.area_path),
    )
    received = DifferenceReceipt.agreement_id.is_not(None)
    totals = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(-Agreement.net_payable), 0),
                func.count(DifferenceReceipt.agreement_id),
                func.coalesce(func.sum(DifferenceReceipt.amount), 0),
            )
            .select_from(Agreement)
            .outerjoin(DifferenceReceipt, DifferenceReceipt.agreement_id == Agreement.id)
            .where(*owing)
        )
    ).one()
    summary = DifferenceTotals(int(totals[0]), int(totals[1]), int(totals[2]), int(totals[3]))
    head = (
        select(Member.name)
        .where(Member.household_id == Household.id, Member.relation == "head", Member.status == "registered")
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Agreement, Area.name, Household.register_no, head, DifferenceReceipt)
        .join(Household, Household.id == Agreement.household_id)
        .join(Area, Area.id == Agreement.village_id)
        .outerjoin(DifferenceReceipt, DifferenceReceipt.agreement_id == Agreement.id)
        .where(*owing)
    )
    if open_only:
        query = query.where(~received)
    shown = summary.outstanding_households if open_only else summary.households
    search = search.strip()
    if search:
        pattern = like_fragment(search)
        query = query.where(
            or_(
                Agreement.number.ilike(pattern),
                Household.register_no.ilike(pattern),
                head.ilike(pattern),
            )
        )
        shown = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = (
        await session.execute(query.order_by(received, Agreement.number).offset(offset).limit(limit))
    ).all()
    return (
        [
            DifferenceRow(
                agreement_id=g.id,
                household_id=g.household_id,
                number=g.number,
                village=village,
                register_no=register_no,
                head_name=head_name,
                signed_on=g.signed_on,
                owed=-g.net_payable,
                received_on=r.received_on if r is not None else None,
                receipt_no=r.receipt_no if r is not None else None,
            )
            for g, village, register_no, head_name, r in rows
        ],
        summary,
        shown,
    )
