"""Compensation assessment (补偿核算) as pure functions: domain.md, "Assessment rules".

Amounts are integer fen; areas and quantities are ``Decimal``. Each line is rounded half-up to the fen and the
totals are sums of rounded lines. Nothing here reads a clock or a database: dates come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from app.core.money import format_yuan, round_half_up

STRUCTURES: dict[str, str] = {
    "frame": "框架",
    "brick_concrete": "砖混",
    "brick_wood": "砖木",
    "simple": "简易",
}
OPTION_KINDS: dict[str, str] = {
    "cash": "货币安置",
    "existing_housing": "购买存量房安置",
    "resettlement_flat": "安置房安置",
}
LINE_LABELS: dict[str, str] = {
    "house": "房屋补偿费",
    "attachment": "附属物补偿费",
    "relocation": "搬迁补助费",
    "transition": "临时安置补助费",
    "signing_bonus": "按时签约奖励",
    "early_vacate": "提前腾房奖励",
    "cash_resettlement": "货币安置补偿",
    "purchase_subsidy": "购房补贴（凭购房合同支付）",
    "unused_entitlement": "未选足安置面积补偿",
}
# The flat option moves a household twice: out to transitional housing, then into the flat.
MOVES_BY_OPTION = {"cash": 1, "existing_housing": 1, "resettlement_flat": 2}


class AssessmentError(ValueError):
    """Input the rules cannot assess; ``field`` names the input, ``message`` says why in Chinese."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class AttachmentPrice:
    code: str
    name: str
    unit: str
    price: int  # fen per unit


@dataclass(frozen=True, slots=True)
class VacateTier:
    by: date  # vacated on or before this date
    rate: int  # fen per ㎡ of total house area


@dataclass(frozen=True, slots=True)
class PlanParams:
    """The parameters of one approved plan version (补偿安置方案), in fen and ㎡."""

    structure_rates: Mapping[str, int]
    attachment_prices: Sequence[AttachmentPrice]
    relocation_allowance_per_person: int
    transition_allowance_per_person_month: int
    transition_months: Mapping[str, int]
    signing_deadline: date
    signing_bonus_per_person: int
    early_vacate_tiers: Sequence[VacateTier]
    entitlement_sqm_per_person: Decimal
    cash_rate_per_entitled_sqm: int
    purchase_subsidy_per_entitled_sqm: int
    flat_price_within: int
    flat_price_excess: int
    flat_max_excess_sqm: Decimal
    public_notice_days: int = 7


@dataclass(frozen=True, slots=True)
class Structure:
    structure: str
    area: Decimal


@dataclass(frozen=True, slots=True)
class Attachment:
    code: str
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Survey:
    persons: int
    structures: Sequence[Structure] = ()
    attachments: Sequence[Attachment] = ()


@dataclass(frozen=True, slots=True)
class Option:
    kind: str
    flats: Sequence[Decimal] = ()  # areas of the chosen flats
    cash_area: Decimal = Decimal(0)  # entitled ㎡ taken in cash alongside flats


@dataclass(frozen=True, slots=True)
class Line:
    code: str
    label: str
    basis: str
    amount: int
    payable_on_proof: bool = False


@dataclass(frozen=True, slots=True)
class Assessment:
    lines: tuple[Line, ...]
    entitled_area: Decimal
    flat_area: Decimal
    flat_price_due: int
    flat_price_basis: str
    compensation_total: int
    net_payable: int
    notes: tuple[str, ...] = field(default=())


def sqm(value: Decimal) -> str:
    return f"{value:.2f}㎡"


def qty_text(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def yuan(fen: int) -> str:
    return f"{format_yuan(fen)}元"


def times(quantity: Decimal | int, fen: int) -> int:
    """quantity × price, rounded half-up to the fen."""
    return round_half_up(Decimal(quantity) * Decimal(fen) / 100)


def _check_survey(plan: PlanParams, survey: Survey) -> None:
    if survey.persons < 0:
        raise AssessmentError("persons", "不能为负数")
    for i, s in enumerate(survey.structures):
        if s.structure not in plan.structure_rates:
            known = "、".join(STRUCTURES.get(k, k) for k in plan.structure_rates)
            raise AssessmentError(f"structures.{i}.structure", f"“{s.structure}”不在方案中（可选：{known}）")
        if s.area < 0:
            raise AssessmentError(f"structures.{i}.area", "不能为负数")
    prices = {p.code for p in plan.attachment_prices}
    for i, a in enumerate(survey.attachments):
        if a.code not in prices:
            raise AssessmentError(f"attachments.{i}.code", f"“{a.code}”不在方案的附属物价格表中")
        if a.qty < 0:
            raise AssessmentError(f"attachments.{i}.qty", "不能为负数")


def _property_lines(plan: PlanParams, survey: Survey) -> list[Line]:
    lines = []
    for s in survey.structures:
        rate = plan.structure_rates[s.structure]
        lines.append(
            Line(
                "house",
                f"{LINE_LABELS['house']}（{STRUCTURES.get(s.structure, s.structure)}）",
                f"{sqm(s.area)} × {yuan(rate)}/㎡",
                times(s.area, rate),
            )
        )
    prices = {p.code: p for p in plan.attachment_prices}
    for a in survey.attachments:
        p = prices[a.code]
        lines.append(
            Line(
                "attachment",
                f"{LINE_LABELS['attachment']}（{p.name}）",
                f"{qty_text(a.qty)}{p.unit} × {yuan(p.price)}/{p.unit}",
                times(a.qty, p.price),
            )
        )
    return lines


def _allowance_lines(
    plan: PlanParams, survey: Survey, kind: str, signed_on: date | None, vacated_on: date | None
) -> list[Line]:
    persons = survey.persons
    moves = MOVES_BY_OPTION[kind]
    months = plan.transition_months.get(kind, 0)
    lines = [
        Line(
            "relocation",
            LINE_LABELS["relocation"],
            f"{persons}人 × {yuan(plan.relocation_allowance_per_person)} × {moves}次",
            persons * plan.relocation_allowance_per_person * moves,
        ),
        Line(
            "transition",
            LINE_LABELS["transition"],
            f"{persons}人 × {yuan(plan.transition_allowance_per_person_month)}/月 × {months}个月",
            persons * plan.transition_allowance_per_person_month * months,
        ),
    ]
    deadline = plan.signing_deadline
    if signed_on is not None and signed_on <= deadline:
        lines.append(
            Line(
                "signing_bonus",
                LINE_LABELS["signing_bonus"],
                f"{persons}人 × {yuan(plan.signing_bonus_per_person)}（{deadline:%Y-%m-%d}前签约）",
                persons * plan.signing_bonus_per_person,
            )
        )
    else:
        why = "签约日期未定" if signed_on is None else f"签约日期晚于{deadline:%Y-%m-%d}"
        lines.append(Line("signing_bonus", LINE_LABELS["signing_bonus"], f"{why}，不予奖励", 0))
    total_area = sum((s.area for s in survey.structures), Decimal(0))
    tier = next(
        (
            t
            for t in sorted(plan.early_vacate_tiers, key=lambda t: t.by)
            if vacated_on is not None and vacated_on <= t.by
        ),
        None,
    )
    if tier is not None:
        lines.append(
            Line(
                "early_vacate",
                LINE_LABELS["early_vacate"],
                f"{sqm(total_area)} × {yuan(tier.rate)}/㎡（{tier.by:%Y-%m-%d}前腾房）",
                times(total_area, tier.rate),
            )
        )
    else:
        why = "腾房日期未定" if vacated_on is None else "腾房日期晚于各档期限"
        lines.append(Line("early_vacate", LINE_LABELS["early_vacate"], f"{why}，不予奖励", 0))
    return lines


def assess(
    plan: PlanParams,
    survey: Survey,
    option: Option,
    *,
    signed_on: date | None = None,
    vacated_on: date | None = None,
) -> Assessment:
    """Every line of domain.md's rules 1–8 for one household and one option."""
    if option.kind not in OPTION_KINDS:
        raise AssessmentError(
            "option.kind", f"“{option.kind}”不是可选的安置方式（货币安置、购买存量房安置、安置房安置）"
        )
    _check_survey(plan, survey)
    lines = _property_lines(plan, survey) + _allowance_lines(plan, survey, option.kind, signed_on, vacated_on)
    entitled = survey.persons * plan.entitlement_sqm_per_person
    flat_area = sum(option.flats, Decimal(0))
    flat_price_due, flat_basis = 0, ""
    cash_rate = plan.cash_rate_per_entitled_sqm

    if option.kind != "resettlement_flat" and (option.flats or option.cash_area):
        raise AssessmentError("option.flats", "只有安置房安置才能选择安置房和部分货币安置面积")
    if option.kind == "cash":
        lines.append(
            Line(
                "cash_resettlement",
                LINE_LABELS["cash_resettlement"],
                f"应安置面积 {sqm(entitled)} × {yuan(cash_rate)}/㎡",
                times(entitled, cash_rate),
            )
        )
    elif option.kind == "existing_housing":
        rate = plan.purchase_subsidy_per_entitled_sqm
        lines.append(
            Line(
                "purchase_subsidy",
                LINE_LABELS["purchase_subsidy"],
                f"应安置面积 {sqm(entitled)} × {yuan(rate)}/㎡",
                times(entitled, rate),
                payable_on_proof=True,
            )
        )
    else:
        if not option.flats:
            raise AssessmentError("option.flats", "请至少选择一套安置房")
        for i, area in enumerate(option.flats):
            if area <= 0:
                raise AssessmentError(f"option.flats.{i}.area", "应大于 0")
        cash_area = option.cash_area
        if cash_area < 0:
            raise AssessmentError("option.cash_area", "不能为负数")
        if cash_area > entitled:
            raise AssessmentError("option.cash_area", f"{sqm(cash_area)} 超过应安置面积 {sqm(entitled)}")
        entitled_flat = entitled - cash_area
        excess = flat_area - entitled_flat
        if excess > plan.flat_max_excess_sqm:
            raise AssessmentError(
                "option.flats",
                f"所选安置房共 {sqm(flat_area)}，超出应安置面积 {sqm(entitled_flat)} 达 {sqm(excess)}，"
                f"超过方案允许的最多 {sqm(plan.flat_max_excess_sqm)}",
            )
        if cash_area > 0:
            lines.append(
                Line(
                    "cash_resettlement",
                    LINE_LABELS["cash_resettlement"],
                    f"货币安置面积 {sqm(cash_area)} × {yuan(cash_rate)}/㎡",
                    times(cash_area, cash_rate),
                )
            )
        within = min(flat_area, entitled_flat)
        over = max(Decimal(0), excess)
        flat_price_due = times(within, plan.flat_price_within) + times(over, plan.flat_price_excess)
        flat_basis = f"{sqm(within)} × {yuan(plan.flat_price_within)}/㎡"
        if over > 0:
            flat_basis += f" + {sqm(over)} × {yuan(plan.flat_price_excess)}/㎡"
        unused = max(Decimal(0), entitled_flat - flat_area)
        if unused > 0:
            lines.append(
                Line(
                    "unused_entitlement",
                    LINE_LABELS["unused_entitlement"],
                    f"{sqm(unused)} × {yuan(cash_rate)}/㎡",
                    times(unused, cash_rate),
                )
            )

    total = sum(line.amount for line in lines)
    return Assessment(
        lines=tuple(lines),
        entitled_area=entitled,
        flat_area=flat_area,
        flat_price_due=flat_price_due,
        flat_price_basis=flat_basis,
        compensation_total=total,
        net_payable=total - flat_price_due,
    )
