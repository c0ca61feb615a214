"""The demo data set (pure): the story's totals, valid unique ID numbers, a village's age pyramid, families whose
ages make sense, and the accounts the README lists."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

from app.config import PROJECT_ROOT
from app.core.idcard import parse_id_number
from app.demo.generate import (
    COUNTY_CODE,
    REFERENCE_DATE,
    DemoData,
    HouseholdSpec,
    PersonSpec,
    chinese_number,
    generate,
)
from app.households.models import RELATIONS

PHONE = re.compile(r"^1[3-9]\d{9}$")


@cache
def demo() -> DemoData:
    return generate()


def people() -> list[PersonSpec]:
    return [p for v in demo().villages for h in v.households for p in h.members]


def age(p: PersonSpec) -> int:
    return p.age_on(REFERENCE_DATE)


def test_totals_are_those_of_the_story() -> None:
    first, *district = demo().villages
    assert (first.plan.name, len(first.households), first.people) == ("前方庄村", 309, 1168)
    assert first.area.parent_code == "410727101"
    assert len(district) == 4
    assert {v.area.parent_code for v in district} == {"410727102"}
    assert sum(len(v.households) for v in district) == 1033
    assert sum(v.people for v in district) == 4516
    for village in demo().villages:
        assert len(village.households) == village.plan.households
        assert village.people == village.plan.people


def test_generation_is_deterministic() -> None:
    assert generate() == demo()


def test_id_numbers_are_valid_unique_and_of_the_county() -> None:
    everyone = people()
    numbers = [p.id_number for p in everyone]
    assert len(set(numbers)) == len(numbers) == 1168 + 4516
    for p in everyone:
        parsed = parse_id_number(p.id_number)
        assert parsed.number == p.id_number
        assert parsed.area_code == COUNTY_CODE
        assert (parsed.birth_date, parsed.sex) == (p.birth_date, p.sex)


def test_ages_are_spread_like_a_village() -> None:
    ages = [age(p) for p in people()]
    n = len(ages)
    assert 0.15 <= sum(a >= 60 for a in ages) / n <= 0.35
    assert 0.10 <= sum(a < 18 for a in ages) / n <= 0.30
    assert 0.25 <= sum(45 <= a < 75 for a in ages) / n <= 0.55  # the bulk of those who stayed
    assert sum(a >= 80 for a in ages) > 0
    assert min(ages) >= 0 and max(ages) <= 100
    sexes = Counter(p.sex for p in people())
    assert 0.45 <= sexes["M"] / n <= 0.55


def _check_family(h: HouseholdSpec) -> None:
    head = h.head
    assert head.relation == "head"
    assert [m.relation for m in h.members].count("head") == 1
    by_relation: dict[str, list[int]] = {}
    for m in h.members:
        assert m.relation in RELATIONS
        by_relation.setdefault(m.relation, []).append(age(m))
    couple = [age(head), *by_relation.get("spouse", [])]
    assert len(by_relation.get("spouse", [])) <= 1
    for spouse_age in by_relation.get("spouse", []):
        assert abs(spouse_age - age(head)) <= 10, h.register_no
    for child_age in by_relation.get("child", []):
        assert min(couple) - child_age >= 18, h.register_no
    for parent_age in by_relation.get("parent", []):
        assert parent_age - max(couple) >= 16, h.register_no
    for grandchild_age in by_relation.get("grandchild", []):
        assert by_relation.get("child_in_law"), h.register_no
        assert min(by_relation["child_in_law"]) - grandchild_age >= 16, h.register_no
        assert min(couple) - grandchild_age >= 36, h.register_no
    assert len({m.name for m in h.members}) == len(h.members)


def test_families_are_consistent() -> None:
    for village in demo().villages:
        for h in village.households:
            _check_family(h)


def test_households_registers_groups_and_addresses() -> None:
    register_nos = [h.register_no for v in demo().villages for h in v.households]
    assert len(set(register_nos)) == len(register_nos)
    townships = {t.code: t.name for t in demo().townships}
    for village in demo().villages:
        groups = {g.code: g for g in village.groups}
        assert 3 <= len(groups) <= 8
        for i, group in enumerate(village.groups, start=1):
            assert group.code == f"{village.area.code}-{i:02d}"
            assert group.name == f"第{chinese_number(i)}村民小组"
        used = Counter(h.group_code for h in village.households)
        assert set(used) == set(groups)
        for h in village.households:
            assert h.register_no.startswith(village.plan.register_prefix)
            assert re.fullmatch(rf"{village.plan.register_prefix}\d{{4}}", h.register_no)
            group_no = int(h.group_code[-2:])
            prefix = f"封丘县{townships[village.plan.township_code]}{village.area.name}"
            assert re.fullmatch(rf"{prefix}{chinese_number(group_no)}组\d+号", h.address)
    assert demo().villages[0].households[0].address.startswith("封丘县王村乡前方庄村")


def test_heads_have_phones_and_nobody_else_does() -> None:
    heads = [h.head for v in demo().villages for h in v.households]
    with_phone = [p.phone for p in heads if p.phone]
    assert len(with_phone) / len(heads) > 0.9
    assert all(PHONE.match(p) for p in with_phone)
    assert len(set(with_phone)) == len(with_phone)
    assert all(p.phone is None for p in people() if p.relation != "head")


def test_surnames_look_like_henan() -> None:
    surnames = Counter(p.name[0] for p in people())
    top = [s for s, _ in surnames.most_common(6)]
    assert "王" in top and "李" in top and "张" in top
    assert all(2 <= len(p.name) <= 3 for p in people())


def test_accounts_match_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = re.findall(
        r"^\| `([a-z0-9_]+)` \| [^|]*\b(caseworker|reviewer|finance|auditor|admin)\b", readme, re.M
    )
    assert {(u.username, u.role) for u in demo().users} == set(table)
    assert "`Anzhi@2026`" in readme
    scopes = {u.username: u.area_codes for u in demo().users}
    assert scopes["caseworker"] == ("410727101201",)
    assert scopes["caseworker2"] == tuple(v.area.code for v in demo().villages[1:])
    assert scopes["reviewer"] == ("410727101",)
    assert scopes["admin"] == scopes["finance"] == scopes["finance2"] == scopes["auditor"] == (COUNTY_CODE,)


def test_chinese_numbers() -> None:
    assert [chinese_number(n) for n in (1, 3, 10, 12, 20, 35)] == ["一", "三", "十", "十二", "二十", "三十五"]
