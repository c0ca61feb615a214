"""Public notice (公示) and agreement (征收补偿安置协议书) decisions as pure functions (domain.md, "Public notice,
agreement, flats"): when a household may sign, what the agreement's payment clauses say, masking for public pages,
and the check code printed in the agreement's QR code. No clock, no database: dates come in as arguments.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.core.clock import format_date_cn
from app.core.errors import InvalidInput
from app.core.money import format_yuan, to_chinese_capital

# Compensation is paid within this many days after the house is vacated and handed over (腾房交付验收).
PAYMENT_DAYS_AFTER_VACATING = 15
# The purchase subsidy is paid within this many days after the purchase contract has been checked.
PAYMENT_DAYS_AFTER_PROOF = 15
CHECK_CODE_HEX = 12
OBJECTION_EXCERPT_CHARS = 30


# ---------------------------------------------------------------- the notice period and signing


def notice_ends_on(started_on: date, days: int) -> date:
    """The last day of a notice period of ``days`` days starting on ``started_on`` (both days counted)."""
    return started_on + timedelta(days=days - 1)


def signable_from(started_on: date, days: int) -> date:
    """The first day an agreement may be signed: the day after the notice period."""
    return started_on + timedelta(days=days)


def notice_period_text(started_on: date, days: int) -> str:
    """``公示期：2022年9月1日至2022年9月7日``"""
    return f"公示期：{format_date_cn(started_on)}至{format_date_cn(notice_ends_on(started_on, days))}"


@dataclass(frozen=True, slots=True)
class OpenObjection:
    raised_on: date
    raised_by_name: str
    content: str


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= OBJECTION_EXCERPT_CHARS else text[:OBJECTION_EXCERPT_CHARS] + "…"


def signing_refusal(
    *,
    on: date,
    noticed: tuple[date, int] | None,
    open_objections: Sequence[OpenObjection],
) -> str | None:
    """Why a household cannot sign on ``on`` (``None``: it can). ``noticed`` is the latest notice of its approved
    assessment as (started_on, days); the reasons say until when, so the caseworker can tell the household."""
    if noticed is None:
        return "本户的补偿核算尚未公示，公示期满且无未处理的异议后方可签约"
    started_on, days = noticed
    first = signable_from(started_on, days)
    if on < first:
        return (
            f"公示期至{format_date_cn(notice_ends_on(started_on, days))}，{format_date_cn(first)}起方可签约"
        )
    if open_objections:
        shown = "；".join(
            f"{o.raised_by_name}于{format_date_cn(o.raised_on)}提出：{_excerpt(o.content)}"
            for o in open_objections
        )
        return f"有未处理的异议（{shown}），处理后方可签约"
    return None


# ---------------------------------------------------------------- masking for public pages and notices


def mask_name(name: str) -> str:
    """王建国 → 王*国, 王明 → 王*, 欧阳小明 → 欧**明: enough for the household to recognise itself, no more."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# ---------------------------------------------------------------- numbers and check codes


def agreement_number(project_code: str, village_abbr: str, serial: int) -> str:
    """FQ-2022-QFZ-0001"""
    return f"{project_code}-{village_abbr}-{serial:04d}"


def canonical_json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def content_digest(snapshot: Mapping[str, Any], template_version: str) -> str:
    """SHA-256 (hex) of everything the agreement prints except its own QR code: the snapshot and the template
    version. A PDF cannot contain its own hash, so this is what the QR code's check code is cut from."""
    return hashlib.sha256(canonical_json({"t": template_version, "s": snapshot})).hexdigest()


def check_code(snapshot: Mapping[str, Any], template_version: str) -> str:
    return content_digest(snapshot, template_version)[:CHECK_CODE_HEX]


def verify_path(number: str, code: str) -> str:
    return f"/verify/agreement/{number}?h={code}"


def check_code_matches(given: str | None, *, content_code: str, pdf_sha256_hex: str) -> bool:
    """The QR code's check code, or the first 12 hex digits of the stored PDF's SHA-256 (anyone holding the PDF
    file can compute that one with ``sha256sum``)."""
    if not given:
        return False
    given = given.strip().lower()
    return len(given) == CHECK_CODE_HEX and given in (content_code, pdf_sha256_hex[:CHECK_CODE_HEX])


# ---------------------------------------------------------------- the payment schedule


def payment_clauses(
    *,
    compensation_total: int,
    flat_price_due: int,
    on_proof_total: int,
    vacate_by: date | None,
) -> list[str]:
    """The agreement's 付款方式 clauses, in fen: compensation after vacating, the purchase subsidy on proof of a
    purchase, and the flat price set off against the compensation (or the difference the household pays)."""
    clauses: list[str] = []
    if vacate_by is not None:
        clauses.append(f"乙方应于{format_date_cn(vacate_by)}前腾空房屋并交付甲方验收。")
    else:
        clauses.append("乙方应按甲方通知的期限腾空房屋并交付甲方验收。")
    payable_now = compensation_total - on_proof_total
    if flat_price_due:
        setoff = min(flat_price_due, payable_now)
        clauses.append(
            f"乙方应缴安置房购房款 {format_yuan(flat_price_due)} 元（{to_chinese_capital(flat_price_due)}），"
            f"由甲方从补偿款中直接抵扣 {format_yuan(max(setoff, 0))} 元。"
        )
        payable_now -= flat_price_due
    if payable_now > 0:
        clauses.append(
            f"甲方在乙方腾空房屋并交付验收之日起 {PAYMENT_DAYS_AFTER_VACATING} 日内，"
            f"向乙方支付补偿款 {format_yuan(payable_now)} 元（{to_chinese_capital(payable_now)}）。"
        )
    if on_proof_total:
        if payable_now < 0:
            offset = min(on_proof_total, -payable_now)
            clauses.append(
                f"购房补贴 {format_yuan(on_proof_total)} 元（{to_chinese_capital(on_proof_total)}），"
                f"先抵扣乙方应缴差价 {format_yuan(offset)} 元，余款由乙方凭购房合同（网签备案）申请，"
                f"甲方审核后 {PAYMENT_DAYS_AFTER_PROOF} 日内支付。"
            )
            payable_now += offset
        else:
            clauses.append(
                f"购房补贴 {format_yuan(on_proof_total)} 元（{to_chinese_capital(on_proof_total)}），"
                f"由乙方凭购房合同（网签备案）申请，甲方审核后 {PAYMENT_DAYS_AFTER_PROOF} 日内支付。"
            )
    if payable_now < 0:
        owed = -payable_now
        clauses.append(
            f"补偿款不足抵扣购房款，乙方应在选房前向甲方缴清差价 {format_yuan(owed)} 元"
            f"（{to_chinese_capital(owed)}）。"
        )
    return clauses


def checked_record(
    on: date,
    note: str,
    *,
    signed_on: date | None,
    today: date,
    labels: tuple[str, str],
    note_field: str = "note",
    max_len: int = 200,
) -> str:
    """What is recorded against a signed agreement once it happened (腾房交付验收, 差价收款): its date, neither
    after today nor before the signing, and its document number (``labels``: the date's and the number's names),
    stripped, present and at most ``max_len`` characters — which is returned."""
    date_label, note_label = labels
    if on > today:
        raise InvalidInput(f"{date_label}不能晚于今天", field="on")
    if signed_on and on < signed_on:
        raise InvalidInput(f"{date_label}不能早于签约日期", field="on")
    note = note.strip()
    if not note:
        raise InvalidInput(f"请填写{note_label}", field=note_field)
    if len(note) > max_len:
        raise InvalidInput(f"{note_label}最多 {max_len} 字", field=note_field)
    return note
