"""A plan version's parameters in Chinese with their units, and the differences between two versions, for the
version page and the reviewer (ui.md: "each with the difference from the previous version")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.core.clock import format_date_cn
from app.core.money import format_yuan, yuan_to_fen

STRUCTURE_LABELS: dict[str, str] = {
    "frame": "框架",
    "brick_concrete": "砖混",
    "brick_wood": "砖木",
    "simple": "简易",
}
OPTION_LABELS: dict[str, str] = {
    "cash": "货币安置",
    "existing_housing": "购买存量房安置",
    "resettlement_flat": "安置房安置",
}
SECTIONS: dict[str, str] = {
    "house": "房屋补偿",
    "attachments": "附属物补偿",
    "allowances": "搬迁与过渡",
    "bonuses": "奖励",
    "resettlement": "安置",
    "notice": "公示",
}


@dataclass(frozen=True, slots=True)
class ParamLine:
    key: str  # fine-grained, e.g. "structure_rates.frame", "attachment_prices.wall"
    section: str
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class ShownLine:
    line: ParamLine
    changed: bool
    before: str | None  # the previous version's value when it changed (None: added in this version)


@dataclass(frozen=True, slots=True)
class ShownSection:
    title: str
    lines: list[ShownLine]


def _money(value: Any) -> str:
    return f"{format_yuan(yuan_to_fen(str(value)))} 元"


def _date(value: Any) -> str:
    return format_date_cn(date.fromisoformat(str(value)))


def describe(params: dict[str, Any]) -> list[ParamLine]:
    """Every parameter of a version as lines of text with units, in the order of domain.md."""
    lines: list[ParamLine] = []

    def add(key: str, section: str, label: str, text: str) -> None:
        lines.append(ParamLine(key, section, label, text))

    rates = params.get("structure_rates") or {}
    for code, name in STRUCTURE_LABELS.items():
        if code in rates:
            add(f"structure_rates.{code}", "house", f"房屋补偿单价（{name}）", f"{_money(rates[code])}/㎡")
    for p in params.get("attachment_prices") or []:
        add(
            f"attachment_prices.{p['code']}",
            "attachments",
            f"{p['name']}（{p['code']}）",
            f"{_money(p['price'])}/{p['unit']}",
        )
    add(
        "relocation_allowance_per_person",
        "allowances",
        "搬迁补助费",
        f"{_money(params['relocation_allowance_per_person'])}/人·次（安置房安置搬迁两次）",
    )
    add(
        "transition_allowance_per_person_month",
        "allowances",
        "临时安置补助费",
        f"{_money(params['transition_allowance_per_person_month'])}/人·月",
    )
    months = params.get("transition_months") or {}
    for kind, name in OPTION_LABELS.items():
        if kind in months:
            add(f"transition_months.{kind}", "allowances", f"过渡月数（{name}）", f"{months[kind]} 个月")
    add("signing_deadline", "bonuses", "签约期限", _date(params["signing_deadline"]))
    add(
        "signing_bonus_per_person",
        "bonuses",
        "按时签约奖励",
        f"{_money(params['signing_bonus_per_person'])}/人（在签约期限当天或之前签约）",
    )
    for i, tier in enumerate(params.get("early_vacate_tiers") or [], start=1):
        add(
            f"early_vacate_tiers.{i}",
            "bonuses",
            f"提前腾房奖励 第 {i} 档",
            f"{_date(tier['by'])}或之前腾房：{_money(tier['rate'])}/㎡（按房屋总建筑面积）",
        )
    add(
        "entitlement_sqm_per_person",
        "resettlement",
        "人均安置面积",
        f"{params['entitlement_sqm_per_person']} ㎡/人",
    )
    add(
        "cash_rate_per_entitled_sqm",
        "resettlement",
        "货币安置单价",
        f"{_money(params['cash_rate_per_entitled_sqm'])}/㎡（按应安置面积）",
    )
    add(
        "purchase_subsidy_per_entitled_sqm",
        "resettlement",
        "购房补贴单价",
        f"{_money(params['purchase_subsidy_per_entitled_sqm'])}/㎡（按应安置面积，凭购房合同支付）",
    )
    add(
        "flat_price_within",
        "resettlement",
        "安置房安置价（应安置面积以内）",
        f"{_money(params['flat_price_within'])}/㎡",
    )
    add("flat_price_excess", "resettlement", "超面积部分价格", f"{_money(params['flat_price_excess'])}/㎡")
    add("flat_max_excess_sqm", "resettlement", "每户最多可超面积", f"{params['flat_max_excess_sqm']} ㎡")
    add("public_notice_days", "notice", "公示天数", f"{params.get('public_notice_days', 7)} 天")
    return lines


def compare(
    params: dict[str, Any], previous: dict[str, Any] | None
) -> tuple[list[ShownSection], list[ParamLine]]:
    """The version's lines by section, each marked when it differs from ``previous``; and the previous
    version's lines that this one no longer has."""
    now = describe(params)
    before = {line.key: line for line in describe(previous)} if previous is not None else {}
    sections: dict[str, list[ShownLine]] = {key: [] for key in SECTIONS}
    for line in now:
        old = before.get(line.key)
        changed = previous is not None and (old is None or old.text != line.text or old.label != line.label)
        sections[line.section].append(
            ShownLine(line, changed, old.text if old is not None and changed else None)
        )
    keys = {line.key for line in now}
    removed = [line for line in before.values() if line.key not in keys]
    return [ShownSection(SECTIONS[k], v) for k, v in sections.items() if v], removed


def changed_labels(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The labels of the lines that differ (for a confirmation after a save)."""
    old = {line.key: line.text for line in describe(before)}
    new = describe(after)
    labels = [line.label for line in new if old.get(line.key) != line.text]
    keys = {line.key for line in new}
    labels += [f"删除 {line.label}" for line in describe(before) if line.key not in keys]
    return labels
