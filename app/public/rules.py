"""What a resident sees of their own case (群众查询): the stages of the case as a timeline, the state of each
payment in words, and when the next proof of life is due. Pure functions; today's date is passed in."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.socialsecurity import rules as social_rules

# domain.md, "Typical process": plan → survey → assessment → notice → signing → handover → payments → settlement.
STAGES: tuple[tuple[str, str], ...] = (
    ("surveyed", "调查登记"),
    ("assessed", "补偿核算"),
    ("noticed", "公示"),
    ("signed", "签约"),
    ("vacated", "腾房交付"),
    ("settled", "安置完成"),
)

NOT_FOUND_MESSAGE = "未查到与所填身份证号和姓名相符的记录。请核对身份证号（18位）和姓名（与户口簿一致）后再试；仍查不到请联系村征收工作组。"

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Step:
    code: str
    label: str
    on: date | None  # the day it was reached, where the record has one
    done: bool


def _folded(text: str) -> str:
    """Control characters dropped, full-width forms folded, spaces removed."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", _CONTROL.sub("", text)))


def clean_name(text: str) -> str:
    """The name as typed, compared with the register: folded (``王 建国``, full-width letters), so a resident is
    not refused for how their phone's keyboard spaced it."""
    return _folded(text)


def clean_id_text(text: str) -> str:
    """What is hashed for the per-number limit and, when the number cannot be parsed, for the lookup itself (which
    then finds nothing, in the same time as an unknown number)."""
    return _folded(text).upper()


def timeline(on: dict[str, date | None]) -> list[Step]:
    """The stages in order, each with the day it was reached. A stage is done when it has a day or a later stage
    has one (an assessment implies its survey even where the survey was registered on paper without a day)."""
    steps: list[Step] = []
    later_reached = False
    for code, label in reversed(STAGES):
        day = on.get(code)
        later_reached = later_reached or day is not None
        steps.append(Step(code, label, day, later_reached))
    return steps[::-1]


def current_stage(steps: Sequence[Step]) -> str:
    """The label of the last stage reached."""
    reached = [s for s in steps if s.done]
    return reached[-1].label if reached else "尚未调查登记"


def settled_on(
    *,
    option_kind: str | None,
    vacated_on: date | None,
    tranches: Sequence[tuple[str, date | None]],
    flat_allocated_on: date | None,
    owes_difference: bool = False,
    difference_paid_on: date | None = None,
) -> date | None:
    """安置完成: the house is handed over, every tranche still owed is paid, the difference the household owes
    for its flats (安置房差价), if any, received, and — for a resettlement flat — the flat is allocated. ``tranches``
    are (status, paid on) for the agreement's tranches that are not cancelled; the day is the last of those
    events."""
    if vacated_on is None:
        return None
    days = [vacated_on]
    if owes_difference:
        if difference_paid_on is None:
            return None
        days.append(difference_paid_on)
    for _status, paid_on in tranches:
        if paid_on is None:
            return None
        days.append(paid_on)
    if option_kind == "resettlement_flat":
        if flat_allocated_on is None:
            return None
        days.append(flat_allocated_on)
    return max(days)


def payment_state(paid: bool | None, exported: bool) -> str:
    """A payment line in the words of the public page."""
    if paid is True:
        return "已到账"
    if paid is False:
        return "发放失败，将重新发放"
    return "银行处理中" if exported else "待发放"


def pension_month_state(status: str, line_paid: bool | None, exported: bool) -> str:
    """A month of the pension register (养老金月份登记) in the words of the public page; a claimed month takes
    the state of the payment line that carries it."""
    if status == "paid":
        return "已到账"
    if status == "claimed":
        return payment_state(line_paid, exported)
    return {
        "suspended": "暂停发放（请尽快资格认证，认证后补发）",
        "cancelled": "已停发",
        "old_policy": "按老政策已发放",
    }.get(status, status)


def next_certification_due(
    enrolled_on: date, start_month: date, last_certified_on: date | None, death_date: date | None
) -> date | None:
    """The last day the current proof of life holds (资格认证到期日); none after a death."""
    if death_date is not None:
        return None
    baseline = social_rules.certification_baseline(enrolled_on, start_month)
    certified = [last_certified_on] if last_certified_on else []
    return social_rules.certification_expires(social_rules.last_certification(baseline, certified, date.max))
