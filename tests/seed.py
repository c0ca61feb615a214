"""Base data committed once per test run: two counties, their townships, villages and groups, one user per role
(and a few more for scope tests), and a few households. Tests add to it inside rolled-back transactions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.areas import service as areas
from app.auth import service as auth
from app.auth.models import User
from app.auth.policy import SYSTEM
from app.core.idcard import make_id_number
from app.db import make_sessionmaker
from app.households import service as households
from app.households.schemas import HouseholdIn, MemberIn

PASSWORD = "test-password-1"


@dataclass
class Seed:
    areas: dict[str, int] = field(default_factory=dict)  # code -> id
    paths: dict[str, str] = field(default_factory=dict)
    households: dict[str, int] = field(default_factory=dict)  # label -> id
    members: dict[str, int] = field(default_factory=dict)
    id_numbers: dict[str, str] = field(default_factory=dict)  # member label -> clear number
    users: dict[str, str] = field(default_factory=dict)  # label -> username


SEED = Seed()

AREAS = [
    ("410727", "封丘县", "county", None),
    ("410727101", "王村乡", "township", "410727"),
    ("410727101201", "前方庄村", "village", "410727101"),
    ("410727101201-01", "第一村民小组", "group", "410727101201"),
    ("410727101202", "后方庄村", "village", "410727101"),
    ("410727102", "城关乡", "township", "410727"),
    ("410727102201", "东关村", "village", "410727102"),
    ("410726", "延津县", "county", None),
    ("410726100", "城关镇", "township", "410726"),
    ("410726100201", "西街村", "village", "410726100"),
]

USERS = [
    ("caseworker", "cw_a", "410727101201"),
    ("caseworker", "cw_b", "410727102201"),
    ("reviewer", "rv_a", "410727101"),
    ("reviewer", "rv_b", "410727102"),
    ("finance", "fin", "410727"),
    ("finance", "fin2", "410727"),
    ("auditor", "aud", "410727"),
    ("admin", "adm", "410727"),
    ("admin", "adm_y", "410726"),
    ("caseworker", "cw_y", "410726100201"),
]

# label, village code, group code, register no, [(member label, name, relation, birth, seq)]
HOUSEHOLDS = [
    (
        "h1",
        "410727101201",
        "410727101201-01",
        "QFZ-0001",
        [
            ("h1_head", "王建国", "head", date(1960, 3, 15), 123),
            ("h1_spouse", "李秀英", "spouse", date(1962, 7, 2), 244),
            ("h1_child", "王小明", "child", date(1990, 1, 20), 311),
        ],
    ),
    ("h2", "410727101202", None, "HFZ-0001", [("h2_head", "张德胜", "head", date(1955, 11, 30), 155)]),
    ("h3", "410727102201", None, "DG-0001", [("h3_head", "刘桂兰", "head", date(1970, 5, 5), 422)]),
    ("h4", "410726100201", None, "XJ-0001", [("h4_head", "赵铁柱", "head", date(1975, 8, 8), 517)]),
]


async def seed_once(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        if await session.scalar(select(User.id).where(User.username == "cw_a")) is None:
            for code, name, level, parent in AREAS:
                await areas.create_area(
                    session, SYSTEM, code=code, name=name, level=level, parent_code=parent
                )
            for role, username, area in USERS:
                await auth.create_user(
                    session,
                    SYSTEM,
                    username=username,
                    full_name=username,
                    role=role,
                    password=PASSWORD,
                    area_codes=[area],
                )
            for _label, village, group, register_no, people in HOUSEHOLDS:
                village_area = await areas.area_by_code(session, village)
                group_area = await areas.area_by_code(session, group) if group else None
                assert village_area is not None
                (_head_label, head_name, _, head_birth, head_seq), *others = people
                head_id = make_id_number(village[:6], head_birth, head_seq)
                h = await households.create_household(
                    session,
                    SYSTEM,
                    HouseholdIn(
                        village_id=village_area.id,
                        group_id=group_area.id if group_area else None,
                        register_no=register_no,
                        address=f"{village_area.name}{register_no}号",
                        head_name=head_name,
                        head_id_number=head_id,
                    ),
                )
                for _m_label, m_name, relation, birth, seq in others:
                    await households.add_member(
                        session,
                        SYSTEM,
                        h.id,
                        MemberIn(
                            name=m_name, id_number=make_id_number(village[:6], birth, seq), relation=relation
                        ),
                    )
    async with maker() as session:
        for code, *_ in AREAS:
            found = await areas.area_by_code(session, code)
            assert found is not None
            SEED.areas[code], SEED.paths[code] = found.id, found.path
        for _role, username, _area in USERS:
            SEED.users[username] = username
        from app.households.models import Household, Member

        for label, village, _group, register_no, people in HOUSEHOLDS:
            household = await session.scalar(select(Household).where(Household.register_no == register_no))
            assert household is not None
            SEED.households[label] = household.id
            for m_label, m_name, _relation, birth, seq in people:
                number = make_id_number(village[:6], birth, seq)
                digest = households.id_cipher().lookup_hash(number)
                m = await session.scalar(select(Member).where(Member.id_number_hash == digest))
                assert m is not None and m.name == m_name
                SEED.members[m_label], SEED.id_numbers[m_label] = m.id, number
