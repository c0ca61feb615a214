"""户籍花名册: the decisions of a roster import, without I/O.

The service loads what the file's rows refer to (villages and groups, households with the same 户口簿编号, members
with the same ID numbers) and hands it here; :func:`plan_import` says, row by row, what is wrong (every problem, in
Chinese, with the row and column the user sees) or, when nothing is, what to write: new households with their
members, members to add to or change in existing households, and the households that stay as they are. The rules
are the registry's own (app/households/service.py): one 户口簿编号 per household in a county, one registered head
per household, one person registered in at most one household.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from app.core.xlsx import RowError, safe_text

# The template's columns, in order; the optional ones may be left out of a file altogether.
VILLAGE = "村"
GROUP = "村民小组"
REGISTER_NO = "户口簿编号"
ADDRESS = "住址"
NAME = "姓名"
ID_NUMBER = "公民身份号码"
RELATION = "与户主关系"
PHONE = "联系电话"
REGISTERED_ON = "户籍迁入日期"
HEADERS: tuple[str, ...] = (
    VILLAGE,
    GROUP,
    REGISTER_NO,
    ADDRESS,
    NAME,
    ID_NUMBER,
    RELATION,
    PHONE,
    REGISTERED_ON,
)
OPTIONAL_HEADERS = frozenset({GROUP, PHONE, REGISTERED_ON})
COLUMN_ORDER: dict[str, int] = {h: i for i, h in enumerate(HEADERS)}

# 与户主关系 as people write it in a 户口簿 → the registry's relation codes (app/households/models.py RELATIONS).
RELATION_WORDS: dict[str, str] = {
    "户主": "head",
    "本人": "head",
    "配偶": "spouse",
    "妻": "spouse",
    "妻子": "spouse",
    "夫": "spouse",
    "丈夫": "spouse",
    "子女": "child",
    "子": "child",
    "女": "child",
    "儿子": "child",
    "女儿": "child",
    "长子": "child",
    "次子": "child",
    "长女": "child",
    "次女": "child",
    "儿媳/女婿": "child_in_law",
    "儿媳": "child_in_law",
    "女婿": "child_in_law",
    "孙子女/外孙子女": "grandchild",
    "孙子女": "grandchild",
    "外孙子女": "grandchild",
    "孙子": "grandchild",
    "孙女": "grandchild",
    "外孙子": "grandchild",
    "外孙女": "grandchild",
    "父母": "parent",
    "父亲": "parent",
    "母亲": "parent",
    "祖父母/外祖父母": "grandparent",
    "祖父母": "grandparent",
    "外祖父母": "grandparent",
    "祖父": "grandparent",
    "祖母": "grandparent",
    "外祖父": "grandparent",
    "外祖母": "grandparent",
    "兄弟姐妹": "sibling",
    "兄": "sibling",
    "弟": "sibling",
    "姐": "sibling",
    "妹": "sibling",
    "其他": "other",
}
_STATUS_WORDS = {"moved_out": "迁出", "deceased": "死亡"}


def relation_code(text: str) -> str | None:
    """The relation code of what was typed (``儿媳`` → ``child_in_law``), or None when it is not a known word."""
    key = "".join(unicodedata.normalize("NFKC", text).split()).replace("／", "/")
    return RELATION_WORDS.get(key)


def area_key(text: str) -> str:
    """A village or group as typed, for matching names: full-width forms and spaces forgiven."""
    return "".join(unicodedata.normalize("NFKC", text).split())


# ------------------------------------------------------------------------------------------------ the inputs


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One row of the file whose cells are each valid on their own."""

    row: int
    village: str  # as typed: the village's name or its area code
    group: str | None
    register_no: str
    address: str | None  # may be left empty on the household's later rows
    name: str
    id_number: str  # normalised, 18 digits
    relation: str  # a relation code
    phone: str | None
    registered_on: date | None


@dataclass(frozen=True, slots=True)
class AreaRef:
    id: int
    code: str
    name: str
    path: str
    level: str  # village | group
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class ExistingHousehold:
    id: int
    village_id: int
    group_id: int | None
    area_path: str
    register_no: str
    address: str
    version: int
    village_name: str
    heads: tuple[tuple[bytes, str], ...] = ()  # its registered heads: (keyed hash, name)


@dataclass(frozen=True, slots=True)
class ExistingMember:
    id: int
    household_id: int
    digest: bytes
    name: str
    relation: str
    status: str
    phone: str | None
    registered_on: date | None
    version: int
    household_register_no: str
    household_area_path: str
    village_name: str


# ------------------------------------------------------------------------------------------------ the plan


@dataclass(frozen=True, slots=True)
class MemberChange:
    member: ExistingMember
    row: RosterRow

    @property
    def becomes_head(self) -> bool:
        return self.row.relation == "head" and self.member.relation != "head"


@dataclass
class HouseholdPlan:
    village: AreaRef
    group: AreaRef | None
    register_no: str
    address: str
    rows: list[RosterRow]
    existing: ExistingHousehold | None = None
    new_members: list[RosterRow] = field(default_factory=list)
    changed_members: list[MemberChange] = field(default_factory=list)

    @property
    def area_path(self) -> str:
        return (self.group or self.village).path

    @property
    def first_row(self) -> int:
        return self.rows[0].row

    @property
    def household_changed(self) -> bool:
        """An existing household whose 住址 or 村民小组 differs from the file (an empty group keeps the old one)."""
        h = self.existing
        if h is None:
            return False
        return h.address != self.address or (self.group is not None and self.group.id != h.group_id)

    @property
    def unchanged(self) -> bool:
        return (
            self.existing is not None
            and not self.household_changed
            and not self.new_members
            and not self.changed_members
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    new_households: int
    new_members: int  # people added, to new and to existing households
    updated_households: int
    changed_members: int
    unchanged_households: int

    @property
    def message(self) -> str:
        text = f"已导入：新增 {self.new_households} 户、{self.new_members} 人；未变 {self.unchanged_households} 户"
        if self.updated_households:
            text += f"；更新 {self.updated_households} 户（修改成员 {self.changed_members} 人）"
        return text


def outcome_of(plans: Sequence[HouseholdPlan]) -> Outcome:
    fresh = [p for p in plans if p.existing is None]
    updated = [p for p in plans if p.existing is not None and not p.unchanged]
    return Outcome(
        new_households=len(fresh),
        new_members=sum(len(p.new_members) for p in plans),
        updated_households=len(updated),
        changed_members=sum(len(p.changed_members) for p in plans),
        unchanged_households=sum(1 for p in plans if p.unchanged),
    )


def member_differs(member: ExistingMember, row: RosterRow) -> bool:
    """Whether the file changes a registered member. An empty 联系电话 or 户籍迁入日期 keeps what is recorded:
    leaving a cell empty never erases."""
    return (
        member.name != row.name
        or member.relation != row.relation
        or (row.phone is not None and row.phone != member.phone)
        or (row.registered_on is not None and row.registered_on != member.registered_on)
    )


# ------------------------------------------------------------------------------------------------ planning


@dataclass
class _Areas:
    villages: list[AreaRef]
    groups_of: dict[int, list[AreaRef]]
    covers: Callable[[str], bool]
    _found: dict[str, AreaRef | str] = field(default_factory=dict)

    def village(self, typed: str) -> AreaRef | str:
        """The village typed (by area code or by name), or a message saying why it cannot be used."""
        if typed not in self._found:
            self._found[typed] = self._village(typed)
        return self._found[typed]

    def _village(self, typed: str) -> AreaRef | str:
        key = area_key(typed)
        by_code = [v for v in self.villages if v.code == key]
        matches = by_code or [v for v in self.villages if area_key(v.name) == key]
        inside = [v for v in matches if self.covers(v.path) or self._any_group_covered(v)]
        if len(inside) == 1:
            return inside[0]
        if len(inside) > 1:
            return f"您负责的区域内有 {len(inside)} 个村叫“{safe_text(typed)}”，请改填村的区划代码（12 位）"
        if matches:
            return f"“{safe_text(typed)}”不在您负责的区域内，不能导入"
        return f"找不到村“{safe_text(typed)}”：请填写您负责区域内的村名或村的区划代码"

    def _any_group_covered(self, village: AreaRef) -> bool:
        return any(self.covers(g.path) for g in self.groups_of.get(village.id, []))

    def group(self, village: AreaRef, typed: str) -> AreaRef | str:
        key = area_key(typed)
        groups = self.groups_of.get(village.id, [])
        found = next((g for g in groups if g.code == key), None) or next(
            (g for g in groups if area_key(g.name) == key), None
        )
        if found is None:
            return f"{village.name}没有村民小组“{safe_text(typed)}”"
        return found


def plan_import(
    rows: Sequence[RosterRow],
    *,
    villages: Sequence[AreaRef],
    groups: Sequence[AreaRef],
    covers: Callable[[str], bool],
    households: Mapping[str, ExistingHousehold],
    members: Mapping[bytes, Sequence[ExistingMember]],
    digests: Mapping[str, bytes],
    incomplete: Collection[tuple[str, str]] = (),
) -> tuple[list[HouseholdPlan], list[RowError]]:
    """What to write for ``rows`` (each valid on its own, ID numbers unique in the file), or every error.

    ``households``: the county's households whose 户口簿编号 appear in the file; ``members``: every member record
    (any household, any status) of the file's ID numbers, by keyed hash; ``digests``: ID number → keyed hash;
    ``covers``: whether an area path lies in the caller's areas; ``incomplete``: (村 as typed, 户口簿编号) of rows
    refused on their own, whose households are not said to lack a head (the head may be the refused row)."""
    groups_of: dict[int, list[AreaRef]] = {}
    for g in groups:
        if g.parent_id is not None:
            groups_of.setdefault(g.parent_id, []).append(g)
    areas = _Areas(list(villages), groups_of, covers)
    errors: list[RowError] = []
    plans: dict[tuple[int, str], HouseholdPlan] = {}
    village_of_no: dict[str, tuple[AreaRef, int]] = {}  # 户口簿编号 → the village it was first used with, row

    for r in rows:
        village = areas.village(r.village)
        if isinstance(village, str):
            errors.append(RowError(r.row, VILLAGE, village))
            continue
        first = village_of_no.setdefault(r.register_no, (village, r.row))
        if first[0].id != village.id:
            errors.append(
                RowError(
                    r.row,
                    REGISTER_NO,
                    f"户口簿编号 {safe_text(r.register_no)} 已在第 {first[1]} 行用于{first[0].name}；"
                    "户口簿编号在全县唯一，请核对",
                )
            )
            continue
        plan = plans.get((village.id, r.register_no))
        if plan is None:
            plans[(village.id, r.register_no)] = _start(r, village, areas, errors)
        else:
            _join(plan, r, areas, errors)

    for plan in plans.values():
        _check_place(plan, households.get(plan.register_no), covers, errors)
    for plan in plans.values():
        _sort_members(plan, members, digests, covers, errors)
        key = (area_key(plan.rows[0].village), plan.register_no)
        _check_head(plan, digests, errors, complete=key not in incomplete)
    errors.sort(key=lambda e: (e.row, COLUMN_ORDER.get(e.column, len(COLUMN_ORDER)), e.message))
    return (list(plans.values()) if not errors else []), errors


def _start(r: RosterRow, village: AreaRef, areas: _Areas, errors: list[RowError]) -> HouseholdPlan:
    group = None
    if r.group is not None:
        found = areas.group(village, r.group)
        if isinstance(found, str):
            errors.append(RowError(r.row, GROUP, found))
        else:
            group = found
    if r.address is None:
        errors.append(RowError(r.row, ADDRESS, "必填：每户第一行须填写住址（同户其他行可以留空）"))
    plan = HouseholdPlan(village, group, r.register_no, r.address or "", [r])
    if group is not None and not areas.covers(group.path) and not areas.covers(village.path):
        errors.append(RowError(r.row, GROUP, f"{group.name}不在您负责的区域内，不能导入"))
    elif group is None and not areas.covers(village.path):
        errors.append(RowError(r.row, GROUP, f"您只负责{village.name}的部分村民小组：请填写村民小组"))
    return plan


def _join(plan: HouseholdPlan, r: RosterRow, areas: _Areas, errors: list[RowError]) -> None:
    """A later row of the same household: its 住址 and 村民小组, when filled in, must agree with the first."""
    plan.rows.append(r)
    same = f"与第 {plan.first_row} 行同属户口簿编号 {safe_text(plan.register_no)} 的户"
    if r.address is not None and r.address != plan.address:
        errors.append(RowError(r.row, ADDRESS, f"{same}，住址应相同（或留空）"))
    if r.group is not None:
        found = areas.group(plan.village, r.group)
        if isinstance(found, str):
            errors.append(RowError(r.row, GROUP, found))
        elif plan.group is None or found.id != plan.group.id:
            errors.append(RowError(r.row, GROUP, f"{same}，村民小组应相同（或留空）"))


def _check_place(
    plan: HouseholdPlan,
    existing: ExistingHousehold | None,
    covers: Callable[[str], bool],
    errors: list[RowError],
) -> None:
    """An existing 户口簿编号 names the household to update: it must be in the same village and in the caller's
    areas (the number is unique in the county)."""
    if existing is None:
        return
    if existing.village_id != plan.village.id:
        where = existing.village_name if covers(existing.area_path) else "其他村（不在您负责的区域内）"
        errors.append(
            RowError(
                plan.first_row,
                REGISTER_NO,
                f"户口簿编号 {safe_text(plan.register_no)} 已被{where}的户使用；户口簿编号在全县唯一，请核对",
            )
        )
        return
    if not covers(existing.area_path):
        errors.append(
            RowError(
                plan.first_row,
                REGISTER_NO,
                f"户口簿编号 {safe_text(plan.register_no)} 的户不在您负责的区域内，不能导入",
            )
        )
        return
    plan.existing = existing


def _sort_members(
    plan: HouseholdPlan,
    members: Mapping[bytes, Sequence[ExistingMember]],
    digests: Mapping[str, bytes],
    covers: Callable[[str], bool],
    errors: list[RowError],
) -> None:
    """Each row is a member of this household already (unchanged or changed), or a new member — who must not be
    registered in any other household (same rule as ``households.service._person_is_free``)."""
    household_id = plan.existing.id if plan.existing is not None else None
    for r in plan.rows:
        records = members.get(digests[r.id_number], ())
        here = [m for m in records if m.household_id == household_id]
        registered_here = next((m for m in here if m.status == "registered"), None)
        elsewhere = next(
            (m for m in records if m.status == "registered" and m.household_id != household_id), None
        )
        if elsewhere is not None:
            errors.append(RowError(r.row, ID_NUMBER, _taken(elsewhere, covers)))
        elif registered_here is not None:
            if member_differs(registered_here, r):
                plan.changed_members.append(MemberChange(registered_here, r))
        elif here:
            status = _STATUS_WORDS.get(here[0].status, here[0].status)
            errors.append(
                RowError(
                    r.row,
                    ID_NUMBER,
                    f"此人在本户的户籍状态为{status}（{here[0].name}），花名册导入不改变户籍状态；请在户详情页核实办理",
                )
            )
        else:
            plan.new_members.append(r)


def _taken(member: ExistingMember, covers: Callable[[str], bool]) -> str:
    if covers(member.household_area_path):
        return (
            f"此身份证号已登记为{member.village_name}户口簿编号 {member.household_register_no} 的在册成员"
            f"（{member.name}），同一人不能同时在两户在册；如需变更，请在该户页面使用“迁移成员”"
        )
    return "此身份证号已是另一户（不在您负责的区域内）的在册成员，同一人不能同时在两户在册；请与该户所在地的经办员核实"


def _check_head(
    plan: HouseholdPlan, digests: Mapping[str, bytes], errors: list[RowError], *, complete: bool
) -> None:
    """One registered head per household: a new household names exactly one; in an existing one, a head named
    by the file and a registered head the file does not mention (or keeps as head) may not both stay."""
    heads = [r for r in plan.rows if r.relation == "head"]
    for extra in heads[1:]:
        errors.append(
            RowError(
                extra.row,
                RELATION,
                f"与第 {heads[0].row} 行重复：户口簿编号 {safe_text(plan.register_no)} 的户只能有一位户主",
            )
        )
    if plan.existing is None:
        if not heads and complete:
            errors.append(
                RowError(
                    plan.first_row,
                    RELATION,
                    f"户口簿编号 {safe_text(plan.register_no)} 的户没有户主：须有一行的与户主关系为“户主”",
                )
            )
        return
    if not heads:
        return
    in_file = {digests[r.id_number] for r in plan.rows}
    kept = [name for digest, name in plan.existing.heads if digest not in in_file]
    if kept:
        errors.append(
            RowError(
                heads[0].row,
                RELATION,
                f"该户已有在册户主（{kept[0]}），一户只能有一位户主；"
                "如需更换户主，请先在户详情页修改原户主的与户主关系",
            )
        )
