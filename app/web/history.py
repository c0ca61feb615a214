"""Audit events as people read them: who did what, when, and each changed field as ``原值 → 新值``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agreements.models import AGREEMENT_STATUSES, OBJECTION_STATUSES
from app.areas.models import Area
from app.audit.labels import action_label
from app.audit.models import AuditEvent
from app.auth.policy import ROLE_LABELS
from app.compensation.models import ASSESSMENT_STATUSES
from app.core.money import format_yuan

FIELD_LABELS: dict[str, str] = {
    "register_no": "户口簿编号",
    "address": "住址",
    "village_id": "村",
    "group_id": "村民小组",
    "head": "户主",
    "name": "姓名",
    "id_number": "身份证号",
    "relation": "与户主关系",
    "status": "户籍状态",
    "phone": "联系电话",
    "to_register_no": "迁入户口簿编号",
    "from_register_no": "原户口簿编号",
    "failures": "连续失败次数",
    "locked": "已锁定",
    "kind": "方式",
    "intact": "审计链完整",
    "checked": "已校验条数",
    "username": "用户名",
    "full_name": "姓名",
    "role": "角色",
    "areas": "负责区域",
    "code": "区划代码",
    "level": "级别",
    "parent": "上级区划",
    # compensation and agreements (issue 3)
    "project": "征收项目",
    "plan_version": "方案版本",
    "persons": "安置人口",
    "contracted_mu": "承包地面积（亩）",
    "acquired_mu": "被征收土地面积（亩）",
    "surveyed_on": "调查日期",
    "structures": "房屋",
    "structure": "房屋结构",
    "area": "面积（㎡）",
    "attachments": "附属物",
    "qty": "数量",
    "option": "安置方式",
    "compensation_total": "补偿总额",
    "flat_price_due": "应缴购房款",
    "net_payable": "应付净额",
    "comment": "审核意见",
    "number": "编号",
    "signed_on": "签约日期",
    "template_version": "模板版本",
    "pdf_sha256": "PDF 的 SHA-256",
    "raised_on": "提出日期",
    "raised_by_name": "提出人",
    "content": "异议内容",
    "resolution": "处理结果",
    "reason": "原因",
    "village": "村",
    "households": "公示户数",
    "period": "公示",
    "members": "家庭成员",
    "source": "来源",
}
# The registry's own words for ``status`` and ``code`` (户籍状态, 区划代码) do not fit other records.
_REGISTRY_ENTITIES = frozenset({"household", "member", "user", "area", "audit_chain"})
_OTHER_LABELS = {"status": "状态", "code": "代码"}
_STATUS_VALUES: dict[str, Mapping[str, str]] = {
    "agreement": AGREEMENT_STATUSES,
    "objection": OBJECTION_STATUSES,
    "assessment": ASSESSMENT_STATUSES,
}
_MONEY_KEYS = frozenset({"compensation_total", "flat_price_due", "net_payable"})  # stored in fen

ENTITY_LABELS: dict[str, str] = {
    "household": "被征收户",
    "member": "家庭成员",
    "user": "用户",
    "area": "区划",
    "audit_chain": "审计链",
}

_AREA_KEYS = ("village_id", "group_id")
# Internal ids the reader cannot use; the register numbers beside them say the same thing.
_SKIPPED = frozenset({"household_id", "to_household_id", "from_household_id"})
_KIND_LABELS = {"web": "网页", "api": "接口"}
_ACTOR_ROLES = {**ROLE_LABELS, "system": "系统", "anonymous": "未登录"}
_ORDER = {key: i for i, key in enumerate(FIELD_LABELS)}


@dataclass(frozen=True, slots=True)
class HistoryRow:
    seq: int
    occurred_at: datetime
    actor: str
    actor_role: str
    action: str
    action_label: str
    subject: str  # 被征收户（编号 12）, 家庭成员 王小红
    member_name: str | None
    household_id: int | None
    changes: tuple[str, ...]


def _label(key: str, entity: str | None) -> str:
    if entity is not None and entity not in _REGISTRY_ENTITIES and key in _OTHER_LABELS:
        return _OTHER_LABELS[key]
    return FIELD_LABELS.get(key, key)


def _format(key: str, value: Any, areas: Mapping[int, str], entity: str | None = None) -> str:
    if value is None or value == "":
        return "（空）"
    if key == "status" and isinstance(value, str) and entity in _STATUS_VALUES:
        return _STATUS_VALUES[entity].get(value, value)
    if key in _MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return f"{format_yuan(value)} 元"
    if key in _AREA_KEYS and isinstance(value, int):
        return areas.get(value, f"编号 {value}")
    if key == "role" and isinstance(value, str):
        return _ACTOR_ROLES.get(value, value)
    if key == "kind" and isinstance(value, str):
        return _KIND_LABELS.get(value, value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_format(key, v, areas, entity) for v in value)
    if isinstance(value, dict):
        return "，".join(
            f"{_label(k, entity)} {_format(k, v, areas, entity)}"
            for k, v in sorted(value.items(), key=lambda kv: _ORDER.get(kv[0], len(_ORDER)))
            if k not in _SKIPPED and v not in (None, "")
        )
    return str(value)


def describe_changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    areas: Mapping[int, str],
    entity: str | None = None,
) -> tuple[str, ...]:
    """One line per field, in the order of the forms: ``住址：旧 → 新`` when both sides are known, ``姓名：王小明``
    for a new value (blank new values are left out: on a new record they say nothing)."""
    before, after = before or {}, after or {}
    keys = sorted({*after, *before}, key=lambda k: (_ORDER.get(k, len(_ORDER)), k))
    lines: list[str] = []
    for key in keys:
        if key in _SKIPPED:
            continue
        label = _label(key, entity)
        if key in before and key in after:
            if before[key] == after[key]:
                continue
            old, new = _format(key, before[key], areas, entity), _format(key, after[key], areas, entity)
            lines.append(f"{label}：{old} → {new}")
        elif key in after:
            if after[key] is None or after[key] == "":
                continue
            lines.append(f"{label}：{_format(key, after[key], areas, entity)}")
        else:
            lines.append(f"{label}：{_format(key, before[key], areas, entity)} → （空）")
    return tuple(lines)


def _area_ids(events: Iterable[AuditEvent]) -> set[int]:
    ids: set[int] = set()
    for event in events:
        for side in (event.before, event.after):
            for key in _AREA_KEYS:
                value = (side or {}).get(key)
                if isinstance(value, int):
                    ids.add(value)
    return ids


async def history_rows(
    session: AsyncSession, events: Sequence[AuditEvent], *, member_names: Mapping[int, str] | None = None
) -> list[HistoryRow]:
    """Readable rows for events the caller has already been authorised to see. Area ids become names;
    ``member_names`` (member id → name) says which member an event was about."""
    ids = _area_ids(events)
    areas: dict[int, str] = {}
    if ids:
        areas = {
            i: n for i, n in (await session.execute(select(Area.id, Area.name).where(Area.id.in_(ids)))).all()
        }
    rows = []
    for e in events:
        subject = ENTITY_LABELS.get(e.entity_type, e.entity_type)
        name = None
        if e.entity_type == "member" and member_names and e.entity_id and e.entity_id.isdigit():
            name = member_names.get(int(e.entity_id))
        if name:
            subject = f"{subject} {name}"
        elif e.entity_id:
            subject = f"{subject}（编号 {e.entity_id}）"
        rows.append(
            HistoryRow(
                seq=e.seq,
                occurred_at=e.occurred_at,
                actor=e.actor_username,
                actor_role=_ACTOR_ROLES.get(e.actor_role, e.actor_role),
                action=e.action,
                action_label=action_label(e.action),
                subject=subject,
                member_name=name,
                household_id=e.household_id,
                changes=describe_changes(e.before, e.after, areas, e.entity_type),
            )
        )
    return rows
