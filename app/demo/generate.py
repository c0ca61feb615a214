"""Synthetic demo data at the scale of the 封丘县 story (domain.md): pure and seeded, no I/O.

前方庄村 of 王村乡 has 309 households / 1,168 people; the four villages of the 城关乡 new district have 1,033
households / 4,516 people between them. Families are built generation by generation (head, spouse, the head's
parents, unmarried children, a married son with his wife and their children), so ages are consistent within a
household, and the mix of family shapes gives a rural age pyramid: many people aged 45–75, fewer young adults
(many have left to work in the cities), children, and a few over 80. Ages are as on ``REFERENCE_DATE``, the time of
the story; ID numbers carry the county's area code 410727, odd sequences for men, and are unique.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.core.idcard import make_id_number

SEED = 2023
REFERENCE_DATE = date(2023, 1, 1)
COUNTY_CODE = "410727"
COUNTY_NAME = "封丘县"
DEMO_PASSWORD = "Anzhi@2026"  # noqa: S105 - the published demo password (README), never for production
MAX_AGE = 95  # at the reference date, so nobody passes 100 while the demo is in use

_CN_DIGITS = "零一二三四五六七八九十"


@dataclass(frozen=True, slots=True)
class AreaSpec:
    code: str
    name: str
    level: str  # county / township / village / group
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class PersonSpec:
    name: str
    id_number: str
    relation: str  # app.households.models.RELATIONS
    phone: str | None = None

    @property
    def birth_date(self) -> date:
        n = self.id_number
        return date(int(n[6:10]), int(n[10:12]), int(n[12:14]))

    @property
    def sex(self) -> str:
        return "M" if int(self.id_number[16]) % 2 == 1 else "F"

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class HouseholdSpec:
    register_no: str  # 户口簿编号
    group_code: str
    address: str
    members: tuple[PersonSpec, ...]  # the head first

    @property
    def head(self) -> PersonSpec:
        return self.members[0]


@dataclass(frozen=True, slots=True)
class VillagePlan:
    code: str
    name: str
    township_code: str
    register_prefix: str
    households: int
    people: int
    groups: int
    clans: tuple[str, ...]  # the village's big families (a village is often named after one)
    size_weights: tuple[float, ...]  # P(household size = 1, 2, …)


@dataclass(frozen=True, slots=True)
class VillageData:
    plan: VillagePlan
    area: AreaSpec
    groups: tuple[AreaSpec, ...]
    households: tuple[HouseholdSpec, ...]

    @property
    def people(self) -> int:
        return sum(len(h.members) for h in self.households)


@dataclass(frozen=True, slots=True)
class UserSpec:
    username: str
    full_name: str
    role: str
    area_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """A 征收项目 with an approved plan (domain.md's demo parameters) for each of its villages, drafted by
    ``author`` and approved by ``reviewer`` (maker-checker)."""

    code: str
    name: str
    villages: tuple[tuple[str, str], ...]  # (village code, abbreviation for agreement numbers)
    signing_deadline: date
    author: str
    reviewer: str


@dataclass(frozen=True, slots=True)
class DemoData:
    county: AreaSpec
    townships: tuple[AreaSpec, ...]
    villages: tuple[VillageData, ...]
    users: tuple[UserSpec, ...]
    projects: tuple[ProjectSpec, ...] = ()

    def areas(self) -> list[AreaSpec]:
        """Every area, parents before children."""
        out = [self.county, *self.townships]
        for village in self.villages:
            out.append(village.area)
            out.extend(village.groups)
        return out


TOWNSHIPS = (
    AreaSpec("410727101", "王村乡", "township", COUNTY_CODE),
    AreaSpec("410727102", "城关乡", "township", COUNTY_CODE),
)

# Household sizes: the relocated village averages 3.78 people per household, the new district 4.37.
_VILLAGE_SIZES = (0.06, 0.16, 0.20, 0.27, 0.18, 0.09, 0.04)
_DISTRICT_SIZES = (0.03, 0.11, 0.15, 0.25, 0.22, 0.15, 0.06, 0.03)

VILLAGES = (
    VillagePlan("410727101201", "前方庄村", "410727101", "QFZ", 309, 1168, 6, ("方", "王"), _VILLAGE_SIZES),
    VillagePlan("410727102201", "东关村", "410727102", "DG", 312, 1371, 7, ("张", "刘"), _DISTRICT_SIZES),
    VillagePlan("410727102202", "西关村", "410727102", "XG", 276, 1198, 6, ("李", "赵"), _DISTRICT_SIZES),
    VillagePlan("410727102203", "孙庄村", "410727102", "SZ", 238, 1046, 5, ("孙", "陈"), _DISTRICT_SIZES),
    VillagePlan("410727102204", "李庄村", "410727102", "LZ", 207, 901, 4, ("李", "郭"), _DISTRICT_SIZES),
)

# The README's demo accounts table; all share DEMO_PASSWORD.
USERS = (
    UserSpec("caseworker", "王丽娟", "caseworker", ("410727101201",)),
    UserSpec(
        "caseworker2",
        "孙建伟",
        "caseworker",
        tuple(v.code for v in VILLAGES if v.township_code == "410727102"),
    ),
    UserSpec("reviewer", "李国栋", "reviewer", ("410727101",)),
    UserSpec("reviewer2", "周文斌", "reviewer", ("410727102",)),
    UserSpec("finance", "张静", "finance", (COUNTY_CODE,)),
    UserSpec("finance2", "陈立新", "finance", (COUNTY_CODE,)),
    UserSpec("auditor", "赵明轩", "auditor", (COUNTY_CODE,)),
    UserSpec("admin", "刘建华", "admin", (COUNTY_CODE,)),
)

PROJECTS = (
    ProjectSpec(
        "FQ-2022",
        "封丘县2022年前方庄村征收项目",
        (("410727101201", "QFZ"),),
        date(2022, 9, 30),
        author="admin",
        reviewer="reviewer",
    ),
    ProjectSpec(
        "FQ-2023",
        "封丘县新区征收项目",
        tuple((v.code, v.register_prefix) for v in VILLAGES if v.township_code == "410727102"),
        date(2023, 9, 30),
        author="admin",
        reviewer="reviewer2",
    ),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Common surnames, weighted roughly as in rural Henan (per mille of the population, rounded).
_SURNAMES: tuple[tuple[str, float], ...] = tuple(
    (entry[0], float(entry[1:]))
    for entry in _words(
        """
        王75 李70 张68 刘50 陈35 杨30 赵25 黄10 周18 吴12 徐12 孙18 马16 朱13 胡11 郭20 何8 高15 林4 罗6 郑10
        梁8 谢6 宋12 唐6 许10 韩10 冯9 邓5 曹9 彭4 曾2 肖5 田8 董8 袁6 潘3 于6 蒋4 蔡5 余4 杜6 叶3 程6 苏5 魏7
        吕6 丁6 任6 沈3 方4
        """
    )
)

# Given names by era of birth and sex; names follow the fashions of their decade.
_GIVEN: dict[tuple[str, str], tuple[str, ...]] = {
    ("old", "M"): _words(
        """
        建国 国庆 德胜 振华 保国 长富 天福 福生 金锁 铁柱 满仓 守业 文明 学文 志刚 永福 中华 卫东 红军 跃进
        老栓 根生 有才 广田 庆林 玉山 合意 长顺
        """
    ),
    ("old", "F"): _words(
        """
        秀英 桂兰 玉兰 秀兰 凤英 桂英 玉珍 淑珍 素芬 金花 翠花 春梅 秀芝 兰英 爱华 改英 焕英 荣花 巧云 月娥
        桂芝 玉梅 秀云 素梅 凤兰 花 英 兰
        """
    ),
    ("mid", "M"): _words(
        """
        建军 建华 国强 海涛 红伟 卫国 志强 建伟 军 伟 强 勇 刚 磊 涛 永强 新民 向阳 献军 国民 红旗 东升
        利民 建设 文军 海军 新伟 振东
        """
    ),
    ("mid", "F"): _words(
        """
        丽 红霞 丽娟 艳 霞 娟 丽丽 艳红 海霞 春燕 红梅 秀丽 彩霞 冬梅 玲 敏 静 俊霞 爱玲 红艳 素琴 晓燕
        丽华 亚丽 新华 小红 玉霞 慧
        """
    ),
    ("young", "M"): _words(
        """
        浩 浩然 子豪 宇航 俊杰 博文 鑫 帅 鹏 阳 晨阳 梓轩 一鸣 家豪 天宇 明轩 浩宇 睿 子涵 佳豪 锦程 嘉乐
        振宇 文博 昊天 奕辰 宇 亮
        """
    ),
    ("young", "F"): _words(
        """
        欣怡 梓涵 雨欣 佳怡 诗雨 婷 雪 梦瑶 思琪 可馨 一诺 紫涵 雅琪 晶晶 倩 琳 雨桐 梓萱 若曦 佳琪 心怡
        梦洁 欣然 静怡 语嫣 子琪 悦 璐
        """
    ),
}

_PHONE_PREFIXES = _words(
    "130 131 132 135 136 137 138 139 150 151 152 155 156 158 159 176 177 182 183 185 186 187 188 189 199"
)


def chinese_number(n: int) -> str:
    """1–99 in Chinese: 三, 十二, 二十 (group numbers in addresses and names)."""
    if not 0 < n < 100:
        raise ValueError("1–99 only")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    return f"{'' if tens == 1 else _CN_DIGITS[tens]}十{_CN_DIGITS[ones] if ones else ''}"


class _Picker:
    """Weighted choice from a fixed list, by bisecting the cumulative weights."""

    def __init__(self, items: Sequence[tuple[str, float]]) -> None:
        self.values = [v for v, _ in items]
        self.cumulative = list(itertools.accumulate(w for _, w in items))

    def pick(self, rng: random.Random, exclude: str | None = None) -> str:
        while True:
            value = self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]
            if value != exclude:
                return value


# ---------------------------------------------------------------- family shapes


@dataclass(frozen=True, slots=True)
class _Shape:
    spouse: bool
    parents: int  # the head's own parents living with them
    unmarried: int  # the head's unmarried children
    married_child: bool  # a married son (or, sometimes, a daughter with a live-in son-in-law 上门女婿)
    grandchildren: int

    @property
    def size(self) -> int:
        return 1 + self.spouse + self.parents + self.unmarried + 2 * self.married_child + self.grandchildren


_SPOUSE_W = {False: 0.25, True: 1.0}
_PARENTS_W = {0: 1.0, 1: 0.24, 2: 0.1}
_UNMARRIED_W = {0: 1.0, 1: 1.1, 2: 0.8, 3: 0.2, 4: 0.05}
_GRANDCHILDREN_W = {0: 0.2, 1: 1.0, 2: 1.3, 3: 0.45, 4: 0.1, 5: 0.02}


def _shape_weight(s: _Shape) -> float:
    w = _SPOUSE_W[s.spouse] * _PARENTS_W[s.parents] * _UNMARRIED_W[s.unmarried]
    if s.married_child:
        # Stem families (主干家庭: grandparents, a married son and his children) are common in the countryside.
        w *= 0.9 * _GRANDCHILDREN_W[s.grandchildren] * (0.35 if s.unmarried else 1.0)
        if s.parents:
            w *= 0.05  # four generations under one roof: rare
    return w


def _shapes_by_size() -> dict[int, tuple[list[_Shape], list[float]]]:
    table: dict[int, tuple[list[_Shape], list[float]]] = {}
    for spouse, parents, unmarried, married in itertools.product(
        (False, True), range(3), range(5), (False, True)
    ):
        for grandchildren in range(6) if married else (0,):
            shape = _Shape(spouse, parents, unmarried, married, grandchildren)
            shapes, weights = table.setdefault(shape.size, ([], []))
            shapes.append(shape)
            weights.append(_shape_weight(shape))
    return table


_SHAPES = _shapes_by_size()


@dataclass(slots=True)
class _Draft:
    relation: str
    sex: str
    age: int
    blood: bool  # carries the family surname (as opposed to having married in)


def _tri(rng: random.Random, low: float, high: float, mode: float) -> int:
    return round(rng.triangular(low, high, mode))


def _birth_gap(rng: random.Random) -> int:
    """Mother's age at a first birth in the countryside."""
    return _tri(rng, 20, 33, 23)


def _head_age(rng: random.Random, s: _Shape) -> int:
    if s.married_child:
        return _tri(rng, 46, 88, 60)
    if s.parents:
        return _tri(rng, 28, 68, 50)
    if s.unmarried:
        return _tri(rng, 26, 72, 46)
    if s.spouse:
        return _tri(rng, 26, 92, 70)
    return _tri(rng, 24, 96, 80)


def _children(rng: random.Random, mother_age: int, n: int) -> list[int]:
    ages = []
    age = mother_age - _birth_gap(rng)
    for _ in range(n):
        ages.append(age)
        age -= rng.randint(1, 5)
    return ages


def _draft_family(rng: random.Random, s: _Shape) -> list[_Draft] | None:
    """One attempt at ages for a family of this shape; None when the ages do not fit (the caller redraws)."""
    head_age = _head_age(rng, s)
    if head_age > MAX_AGE:
        return None
    # Widowed and single heads are often women; otherwise the husband is registered as the head.
    elderly_alone = not s.spouse and head_age >= 60
    head_sex = "F" if rng.random() < (0.55 if elderly_alone else 0.12 if not s.spouse else 0.08) else "M"
    # A woman heading a household with her own parents is of the family (her husband, if any, married in).
    head_blood = head_sex == "M" or s.parents > 0
    out = [_Draft("head", head_sex, head_age, head_blood)]
    mother_age = head_age if head_sex == "F" else head_age - rng.choice((0, 1, 2, 2, 3, 3, 4, 5))
    if s.spouse:
        spouse_age = mother_age if head_sex == "M" else head_age + rng.choice((0, 1, 2, 3, 4))
        out.append(_Draft("spouse", "F" if head_sex == "M" else "M", spouse_age, not head_blood))
    for i in range(s.parents):
        father = head_age + _tri(rng, 21, 36, 26)
        age = father if i == 0 and s.parents == 2 else father - rng.choice((0, 2, 3, 5, 6))
        sex = "M" if (i == 0 and s.parents == 2) else rng.choice("MFF")
        out.append(_Draft("parent", sex, age, sex == "M"))
    # The married child is the eldest; the unmarried ones are younger.
    kids = _children(rng, mother_age, s.unmarried + s.married_child)
    if s.married_child:
        son_age = kids.pop(0)
        daughter_stays = rng.random() < 0.1
        child_sex, in_law_sex = ("F", "M") if daughter_stays else ("M", "F")
        in_law_age = son_age + (rng.randint(-1, 3) if daughter_stays else -rng.randint(-1, 3))
        out.append(_Draft("child", child_sex, son_age, True))
        out.append(_Draft("child_in_law", in_law_sex, in_law_age, False))
        grand_mother = son_age if daughter_stays else in_law_age
        for age in _children(rng, grand_mother, s.grandchildren):
            out.append(_Draft("grandchild", rng.choice("MF"), age, True))
    for age in kids:
        out.append(_Draft("child", rng.choice("MMF"), age, True))
    if any(d.age < 0 or d.age > MAX_AGE for d in out):
        return None
    if s.married_child and any(d.relation in ("child", "child_in_law") and d.age < 19 for d in out[:4]):
        return None
    return out


def _family(rng: random.Random, size: int) -> list[_Draft]:
    shapes, weights = _SHAPES[size]
    while True:
        shape = rng.choices(shapes, weights)[0]
        for _ in range(20):
            drafts = _draft_family(rng, shape)
            if drafts is not None:
                return drafts


def _sizes(rng: random.Random, plan: VillagePlan) -> list[int]:
    """Household sizes summing exactly to the village's population."""
    weights = plan.size_weights
    sizes = rng.choices(range(1, len(weights) + 1), weights, k=plan.households)
    biggest = len(weights) + 1
    while (diff := plan.people - sum(sizes)) != 0:
        i = rng.randrange(len(sizes))
        if diff > 0 and sizes[i] < biggest:
            sizes[i] += 1
        elif diff < 0 and sizes[i] > 1:
            sizes[i] -= 1
    return sizes


# ---------------------------------------------------------------- people


class _Registry:
    """What must be unique across the whole demo: ID numbers and phone numbers."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.phones: set[str] = set()

    def id_number(self, rng: random.Random, born: date, sex: str) -> str:
        while True:
            sequence = rng.randrange(500) * 2 + (1 if sex == "M" else 0)
            number = make_id_number(COUNTY_CODE, born, sequence)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def phone(self, rng: random.Random) -> str:
        while True:
            number = rng.choice(_PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number


def _birth_date(rng: random.Random, age: int) -> date:
    """A birth date giving ``age`` full years on the reference date."""
    year = REFERENCE_DATE.year - 1 - age
    start = date(year, REFERENCE_DATE.month, REFERENCE_DATE.day)
    return start + timedelta(days=rng.randrange((date(year + 1, start.month, start.day) - start).days))


def _era(born: date) -> str:
    return "old" if born.year < 1962 else "mid" if born.year < 1990 else "young"


def _given_name(rng: random.Random, born: date, sex: str) -> str:
    return rng.choice(_GIVEN[(_era(born), sex)])


def _people(
    rng: random.Random, drafts: list[_Draft], family: str, surnames: _Picker, registry: _Registry
) -> tuple[PersonSpec, ...]:
    people: list[PersonSpec] = []
    names: set[str] = set()
    for d in drafts:
        born = _birth_date(rng, d.age)
        surname = family if d.blood else surnames.pick(rng, exclude=family)
        name = surname + _given_name(rng, born, d.sex)
        while name in names:
            name = surname + _given_name(rng, born, d.sex)
        names.add(name)
        # Most heads give a mobile number; some of the very old have none.
        phone = None
        if d.relation == "head" and (d.age < 80 or rng.random() < 0.5):
            phone = registry.phone(rng)
        people.append(PersonSpec(name, registry.id_number(rng, born, d.sex), d.relation, phone))
    return tuple(people)


def _group_counts(rng: random.Random, households: int, groups: int) -> list[int]:
    """Split households over the village's groups (村民小组), unevenly, summing exactly."""
    weights = [rng.uniform(0.7, 1.3) for _ in range(groups)]
    total = sum(weights)
    shares = [households * w / total for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(groups), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: households - sum(counts)]:
        counts[i] += 1
    return counts


def _village(plan: VillagePlan, township: AreaSpec, registry: _Registry) -> VillageData:
    rng = random.Random(f"anzhi-demo:{SEED}:{plan.code}")
    clan_weight = sum(w for _, w in _SURNAMES)
    boosted = dict(_SURNAMES)
    for rank, clan in enumerate(plan.clans):
        boosted[clan] = boosted.get(clan, 0) + clan_weight * (0.45 if rank == 0 else 0.2)
    family_names = _Picker(list(boosted.items()))
    married_in = _Picker(_SURNAMES)

    area = AreaSpec(plan.code, plan.name, "village", plan.township_code)
    groups = tuple(
        AreaSpec(f"{plan.code}-{i:02d}", f"第{chinese_number(i)}村民小组", "group", plan.code)
        for i in range(1, plan.groups + 1)
    )
    sizes = _sizes(rng, plan)
    households: list[HouseholdSpec] = []
    for g, count in enumerate(_group_counts(rng, plan.households, plan.groups), start=1):
        house_no = 0
        for _ in range(count):
            house_no += rng.choice((1, 1, 1, 1, 2))
            drafts = _family(rng, sizes[len(households)])
            members = _people(rng, drafts, family_names.pick(rng), married_in, registry)
            households.append(
                HouseholdSpec(
                    register_no=f"{plan.register_prefix}{len(households) + 1:04d}",
                    group_code=groups[g - 1].code,
                    address=f"{COUNTY_NAME}{township.name}{plan.name}{chinese_number(g)}组{house_no}号",
                    members=members,
                )
            )
    return VillageData(plan, area, groups, tuple(households))


def generate() -> DemoData:
    """The demo data set; the same on every call."""
    registry = _Registry()
    townships = {t.code: t for t in TOWNSHIPS}
    villages = tuple(_village(plan, townships[plan.township_code], registry) for plan in VILLAGES)
    return DemoData(
        county=AreaSpec(COUNTY_CODE, COUNTY_NAME, "county", None),
        townships=TOWNSHIPS,
        villages=villages,
        users=USERS,
        projects=PROJECTS,
    )
