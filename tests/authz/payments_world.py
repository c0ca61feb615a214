"""What the authorisation matrix aims payment and ledger routes at (issue 5), inside the probe's rolled-back
transaction (rows written directly with the models, valid for every database constraint).

Payment batches belong to a county, not a village, so a label names its county's things: h1, h2 and h3 share
those of 封丘县 (410727), h4 has those of 延津县 (410726). Per county, over the whole county and for periods long
gone (2001), prepared by nobody of the matrix (so finance may approve) and approved, where they are, by ``fin2``:

* ``payment_draft_batch``: a draft batch — approving it changes it;
* ``payment_exported_batch``: an exported batch whose ``psbc`` bank file is kept — exporting again returns that
  file (and is audited), its ledger can be downloaded;
* ``payment_imported_batch``: a batch with one result file imported and one open exception
  (``payment_exception``: a reference the batch does not have, dismissable with a note);
* ``payment_reconciled_batch``: a reconciled batch — closing it changes it.

Besides, per label: ``payment_scope``, the area code of its village's township (what a new batch's body may
name), ``payment_township``, that township's id (what the batch list page's form names), and ``ledger_account``,
the individual-account control account of its village, and ``ledger_deposit``, a deposit of 1,000.00 into its
county's social-security fund (reversible). The batches have no lines: the matrix is about who may
reach them; tests/payments covers what they hold.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.auth.policy import SYSTEM
from app.ledger import rules as ledger_rules
from app.ledger import service as ledger
from app.ledger.rules import Entry
from app.payments.models import BankException, BankExport, PaymentBatch, ResultImport
from tests.seed import HOUSEHOLDS, SEED

if TYPE_CHECKING:
    from tests.authz.test_matrix import Aim, Probe, World

PAYMENT_KINDS = frozenset(
    {
        "payment_draft_batch",
        "payment_exported_batch",
        "payment_imported_batch",
        "payment_reconciled_batch",
        "payment_exception",
        "payment_scope",
        "payment_township",
        "ledger_account",
        "ledger_deposit",
        "tranche_kind",
    }
)
STATES = {"draft": 1, "exported": 2, "imported": 3, "reconciled": 4}  # status → month of 2001


def _batch(county: str, status: str, approver: int) -> PaymentBatch:
    return PaymentBatch(
        number=f"MX{secrets.token_hex(4).upper()}-{status[0].upper()}",
        county_code=county,
        kind="pension",
        period=date(2001, STATES[status], 1),
        scope_area_id=SEED.areas[county],
        area_path=SEED.paths[county],
        status=status,
        line_count=0,
        total=0,
        created_by=None,
        approved_by=None if status == "draft" else approver,
    )


async def _county(db: AsyncSession, county: str, approver: int) -> dict[str, int]:
    batches = {status: _batch(county, status, approver) for status in STATES}
    db.add_all(batches.values())
    await db.flush()
    content = f"MATRIX|{batches['exported'].number}\r\n".encode()
    db.add(
        BankExport(
            batch_id=batches["exported"].id,
            format="psbc",
            content=content,
            sha256=hashlib.sha256(content).digest(),
            line_count=0,
            total=0,
        )
    )
    imported = batches["imported"]
    result = f"MATRIX-RESULT|{imported.number}\r\n".encode()
    result_import = ResultImport(
        batch_id=imported.id,
        format="psbc",
        filename="矩阵回盘.txt",
        content=result,
        sha256=hashlib.sha256(result).digest(),
        line_count=1,
        total=26_000,
        paid_count=0,
        paid_total=0,
        failed_count=0,
        failed_total=0,
        exception_count=1,
    )
    db.add(result_import)
    await db.flush()
    reference = f"{imported.number}-0000009"
    exception = BankException(
        import_id=result_import.id,
        batch_id=imported.id,
        row_no=1,
        reference=reference,
        line_id=None,
        problem="unknown",
        detail=f"本批次没有业务参考号为“{reference}”的发放明细",
        bank_paid=True,
        bank_name="矩阵收款人",
        bank_amount=26_000,
        bank_reason="",
    )
    db.add(exception)
    await db.flush()
    deposit = await ledger.post(
        db,
        SYSTEM,
        county_code=county,
        kind="deposit",
        memo="矩阵拨入（待冲销）",
        posted_on=date(2001, 1, 2),
        entries=[Entry(ledger_rules.SS_BANK, debit=100_000), Entry(ledger_rules.SS_POOL, credit=100_000)],
        accounts=await ledger.social_security_accounts(db, county),
    )
    return {
        "ledger_deposit": deposit.id,
        "payment_draft_batch": batches["draft"].id,
        "payment_exported_batch": batches["exported"].id,
        "payment_imported_batch": imported.id,
        "payment_reconciled_batch": batches["reconciled"].id,
        "payment_exception": exception.id,
    }


async def add_payments(db: AsyncSession, world: World) -> None:
    approver = await db.scalar(select(User.id).where(User.username == "fin2"))
    assert approver is not None
    counties = {village[:6] for _label, village, _group, _no, _people in HOUSEHOLDS}
    per_county = {county: await _county(db, county, approver) for county in sorted(counties)}
    found: dict[str, dict[str, Any]] = {kind: {} for kind in PAYMENT_KINDS}
    for label, village, _group, _no, _people in HOUSEHOLDS:
        for kind, value in per_county[village[:6]].items():
            found[kind][label] = value
        township = village[:9]
        found["payment_scope"][label] = township
        found["payment_township"][label] = str(SEED.areas[township])
        [account] = await ledger.individual_accounts(db, village[:6], [SEED.areas[village]])
        ids = await ledger.ensure_accounts(db, village[:6], [account])
        found["ledger_account"][label] = ids[account.code]
        found["tranche_kind"][label] = "vacate"
    await db.commit()
    world.extra.update(found)


# ----------------------------------------------------------------------------------------- request bodies


def generate_body(aim: Aim) -> dict[str, Any]:
    """The pensions of May 2024 in the aimed township: nothing is due there in the matrix's world."""
    return {"kind": "pension", "period": "2024-05", "scope_area_code": aim["scope_area_code"]}


def web_generate_body(aim: Aim) -> dict[str, Any]:
    return {"period": "2024-05", "scope": aim["scope"]}


def resolve_body(aim: Aim) -> dict[str, Any]:
    return {"resolution": "dismissed", "note": "矩阵核实：不属于本批次"}


def web_resolve_body(aim: Aim) -> dict[str, Any]:
    exception_id = aim["exception_id"]
    return {
        f"resolution_{exception_id}": "dismissed",
        f"note_{exception_id}": "矩阵核实：不属于本批次",
        f"confirm_{exception_id}": "1",
    }


def deposit_body(aim: Aim) -> dict[str, Any]:
    return {"amount": "1000.00", "posted_on": "2024-01-02", "memo": "矩阵拨入"}


def reversal_body(aim: Aim) -> dict[str, Any]:
    return {"reason": "矩阵冲销", "posted_on": "2024-01-02"}


def web_reversal_body(aim: Aim) -> dict[str, Any]:
    return {**reversal_body(aim), "confirm": "1"}


def web_project_deposit_body(aim: Aim) -> dict[str, Any]:
    return {
        "comp_project_id": str(aim["comp_project_id"]),
        "comp_amount": "1000.00",
        "comp_posted_on": "2024-01-02",
        "comp_memo": "矩阵拨入补偿资金",
        "comp_confirm": "1",
    }


def web_compensation_body(aim: Aim) -> dict[str, Any]:
    return {"comp_period": "2024-05", "comp_scope": aim["comp_scope"]}


def web_heir_payment_body(aim: Aim) -> dict[str, Any]:
    return {"paid_on": "2024-01-02", "payment_note": "矩阵转账凭证", "pay_confirm": "1"}


def web_tranche_body(aim: Aim) -> dict[str, Any]:
    return {
        "vacate_on": "2024-01-02",
        "vacate_note": "矩阵验收",
        "vacate_bank_name": "中国邮政储蓄银行",
        "vacate_account_number": "6221880000000000017",
    }


# ----------------------------------------------------------------------- checks of what a success returns


def check_batch(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        assert response.json()["id"] == aim["batch_id"]


def check_status(status: str) -> Any:
    def check(probe: Probe, aim: Aim, response: httpx.Response) -> None:
        if probe.succeeds:
            assert response.json()["status"] == status, response.text

    return check


def check_nothing_due(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        assert "没有应发放的养老金" in response.json()["detail"], response.text


def check_bank_file(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    """The kept file, whole, with its SHA-256."""
    if probe.succeeds:
        assert response.content.startswith(b"MATRIX|")
        assert response.headers["x-content-sha256"] == hashlib.sha256(response.content).hexdigest()


def check_statement(probe: Probe, aim: Aim, response: httpx.Response) -> None:
    if probe.succeeds:
        assert response.json()["account"]["id"] == aim["account_id"]
