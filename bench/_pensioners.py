"""A county of N pensioners built with set-based SQL, for the payment benchmarks (bench_pension_batch,
bench_bank_import).

What it writes, straight into the tables (every CHECK, UNIQUE and FOREIGN KEY of the migrations holds):

- one county (``410727``), ``ceil(villages / 25)`` townships and ``ceil(N / 2000)`` villages (paths as
  ``app.areas.service.create_area`` builds them: ``/county/township/village/``);
- two finance users (the preparer and the approver, created through ``app.auth.service.create_user``);
- one project with every village in it, one enrolled acquisition batch per village;
- ``ceil(N / 2)`` households of a head and a spouse, each member enrolled (N enrollments, ids 1..N, contiguous per
  village as an enrollment import would leave them);
- per enrollment: a passbook, a life certification two months before ``period`` and one month of history in the
  month register: ``pension_start_month`` is the month before ``period`` and that month is ``paid``. So the
  steady-state month is due: exactly one regular month per pensioner, found by the "after the last register month"
  path of ``DUE_SQL``;
- nothing in ``payment_lines`` / ``line_outcomes`` (the history month was paid before the system kept lines).

Personal data: with ``crypto=True`` the ID and account numbers are real (deterministic from the member number,
see :func:`id_number` and :func:`account_number`), sealed and hashed with the application's ciphers, so the bank
file can be exported through the app and a bank result file matched against it. With ``crypto=False`` the hashes
are SHA-256 of the member number and the ciphertexts are placeholders (enough to generate a batch; not to export).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import service as auth
from app.auth.policy import SYSTEM, Principal
from app.core.idcard import make_id_number, mask_id_number
from app.db import make_sessionmaker
from app.households.service import id_cipher
from app.socialsecurity import rules as ss_rules
from app.socialsecurity.service import account_cipher

COUNTY_CODE = "410727"
COUNTY_NAME = "封丘县"
PER_VILLAGE = 2000
VILLAGES_PER_TOWNSHIP = 25
MONTHLY_PENSION = 26_000  # fen; varied a little per person below
BANK_NAME = "中国邮政储蓄银行"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
_GIVEN_PAIRS = (
    "建国秀英桂兰德胜铁柱玉兰志强淑珍国庆凤英文华丽华永福春花金山翠兰学军秀兰长海素芬"
    "建华秀珍明亮桂英振东美兰保国爱华立新桂芳红旗玉珍富贵荣华海军彩霞卫东月娥广才银花"
)
GIVEN = [_GIVEN_PAIRS[i : i + 2] for i in range(0, len(_GIVEN_PAIRS), 2)]  # 40 two-character given names


@dataclass(frozen=True, slots=True)
class Pensioners:
    count: int
    period: date  # the first period due; the register holds the month before it
    county_id: int
    county_path: str
    villages: int
    preparer: Principal  # finance user who generates and exports
    approver: Principal  # the second finance user who approves


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def id_number(i: int) -> str:
    """Member ``i``'s ID number: born 1950-01-01 + i // 1000 days, sequence i % 1000 (odd: a man)."""
    return make_id_number(COUNTY_CODE, _birth(i), i % 1000)


def account_number(i: int) -> str:
    """Member ``i``'s passbook account: 19 digits."""
    return f"6217{i:015d}"


def _birth(i: int) -> date:
    return date(1950, 1, 1) + timedelta(days=i // 1000)


Log = Callable[[str], None]


async def build(
    engine: AsyncEngine, url: str, n: int, period: date, *, crypto: bool, log: Log = print
) -> Pensioners:
    """Write the county (see the module docstring); ``url`` is the login URL (fixture SQL bypasses the app role)."""
    period = ss_rules.month_of(period)
    history = ss_rules.add_months(period, -1)
    villages = max(1, -(-n // PER_VILLAGE))
    townships = -(-villages // VILLAGES_PER_TOWNSHIP)
    if townships > 89 or villages > 8999 or n > 9_999_999:
        raise ValueError("at most 9,999,999 pensioners (7-digit line numbers in a batch)")
    households = -(-n // 2)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    started = time.perf_counter()

    def step(what: str) -> None:
        log(f"  fixture: {what:<44} {time.perf_counter() - started:7.1f} s")

    try:
        # Areas: ids 1 (county), 11..10+T (townships), 1001..1000+V (villages): ids of one width per level, so
        # the order of the paths is the order of the ids, and enrollment ids (contiguous per village) run in
        # (area_path, id) order, the order a batch numbers its lines in.
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO areas (id, code, name, level, parent_id, county_code, path)
                VALUES (1, $1, $2, 'county', NULL, $1, '/1/')
                """,
                COUNTY_CODE,
                COUNTY_NAME,
            )
            await conn.execute(
                """
                INSERT INTO areas (id, code, name, level, parent_id, county_code, path)
                SELECT 10 + t, $1 || (100 + t)::text, '第' || t || '乡', 'township', 1, $1, '/1/' || (10 + t) || '/'
                FROM generate_series(1, $2::int) t
                """,
                COUNTY_CODE,
                townships,
            )
            await conn.execute(
                """
                INSERT INTO areas (id, code, name, level, parent_id, county_code, path)
                SELECT 1000 + v, $1 || (100 + tw)::text || (1000 + v)::text, '第' || v || '村', 'village',
                       10 + tw, $1, '/1/' || (10 + tw) || '/' || (1000 + v) || '/'
                FROM generate_series(1, $2::int) v, LATERAL (SELECT (v - 1) / $3::int + 1 AS tw) x
                """,
                COUNTY_CODE,
                villages,
                VILLAGES_PER_TOWNSHIP,
            )
            await _advance_identity(conn, "areas")
        step("areas")

        maker = make_sessionmaker(engine)
        async with maker() as session, session.begin():
            users = [
                await auth.create_user(
                    session,
                    SYSTEM,
                    username=name,
                    full_name=full,
                    role="finance",
                    password=secrets.token_urlsafe(16),  # nobody logs in as them
                    area_codes=[COUNTY_CODE],
                )
                for name, full in (("bench_fin", "编制人"), ("bench_fin2", "审核人"))
            ]
            preparer, approver = [await auth.principal_for(session, u) for u in users]
        step("users")

        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO projects (id, county_code, code, name, area_path)
                VALUES (1, $1, 'BENCH-PEN', '养老金基准测试征收项目', '/1/')
                """,
                COUNTY_CODE,
            )
            await _advance_identity(conn, "projects")
            await conn.execute(
                """
                INSERT INTO project_villages (project_id, village_id, abbr, area_path)
                SELECT 1, a.id, 'V' || a.id, a.path FROM areas a WHERE a.level = 'village'
                """
            )
            await conn.execute(
                """
                INSERT INTO acquisition_batches (id, county_code, area_path, project_id, village_id, code, name,
                    announcement_date, approved_on, per_capita_land_threshold_mu, min_age, pension_age,
                    fee_standard, monthly_pension, status, notice_start, notice_end, enrolled_at)
                SELECT a.id, $1, a.path, 1, a.id, 'ZD-' || a.code, a.name || '征地', $2::date, $2::date, 0.3, 16, 60,
                       3000000, $3::bigint, 'enrolled', $2::date, $2::date + 7, now()
                FROM areas a WHERE a.level = 'village'
                """,
                COUNTY_CODE,
                ss_rules.add_months(history, -3),
                MONTHLY_PENSION,
            )
            await _advance_identity(conn, "acquisition_batches")
        step("project, acquisition batches")

        # Personal data of member i (1..n), keyed by i, in a session table the inserts below read in order.
        await conn.execute(
            "CREATE TEMP TABLE bench_keys (i integer PRIMARY KEY, id_enc bytea, id_hash bytea, id_masked text, "
            "acct_enc bytea, acct_hash bytea)"
        )
        if crypto:
            ids, accounts = id_cipher(), account_cipher()
            id_hash, acct_hash = ids.lookup_hasher(), accounts.lookup_hasher()
            records = []
            for i in range(1, n + 1):
                number, account = id_number(i), account_number(i)
                records.append(
                    (
                        i,
                        ids.encrypt(number),
                        id_hash(number),
                        mask_id_number(number),
                        accounts.encrypt(account),
                        acct_hash(account),
                    )
                )
            step("sealed and hashed ID / account numbers")
            await conn.copy_records_to_table("bench_keys", records=records)
            del records
        else:
            await conn.execute(
                """
                INSERT INTO bench_keys
                SELECT i, '\\x01'::bytea, sha256(('id' || i)::bytea), $2 || '********' || lpad((i % 10000)::text, 4, '0'),
                       '\\x01'::bytea, sha256(('acct' || i)::bytea)
                FROM generate_series(1, $1::int) i
                """,
                n,
                COUNTY_CODE,
            )
        await conn.execute("ANALYZE bench_keys")
        step("keys")

        async with conn.transaction():
            # Household h (1..H) is in village (h - 1) * V / H; its members are 2h - 1 (head) and 2h (spouse).
            await conn.execute(
                """
                INSERT INTO households (id, county_code, village_id, area_path, register_no, address)
                SELECT h, $1, v.id, v.path, 'BH' || lpad(h::text, 8, '0'), v.name || h || '号'
                FROM generate_series(1, $2::int) h
                JOIN areas v ON v.id = 1001 + ((h - 1)::bigint * $3::int / $2::int)
                """,
                COUNTY_CODE,
                households,
                villages,
            )
            await _advance_identity(conn, "households")
            step("households")
            await conn.execute(
                """
                INSERT INTO members (id, household_id, county_code, name, id_number_enc, id_number_hash,
                                     id_number_masked, birth_date, sex, relation, status)
                SELECT k.i, (k.i + 1) / 2, $1, ($2::text[])[k.i % 30 + 1] || ($3::text[])[(k.i / 30) % 40 + 1],
                       k.id_enc, k.id_hash, k.id_masked,
                       DATE '1950-01-01' + k.i / 1000, CASE WHEN k.i % 2 = 1 THEN 'M' ELSE 'F' END,
                       CASE WHEN k.i % 2 = 1 THEN 'head' ELSE 'spouse' END, 'registered'
                FROM bench_keys k ORDER BY k.i
                """,
                COUNTY_CODE,
                list(SURNAMES),
                GIVEN,
            )
            await _advance_identity(conn, "members")
            step("members")
            await conn.execute(
                """
                INSERT INTO enrollments (id, county_code, area_path, batch_id, member_id, household_id, person_hash,
                    name, id_number_masked, birth_date, enrolled_on, fee_standard, old_lump_sum, account_credit,
                    monthly_pension, pension_start_month, status)
                SELECT m.id, m.county_code, h.area_path, h.village_id, m.id, m.household_id, m.id_number_hash,
                       m.name, m.id_number_masked, m.birth_date, $1::date - 20, f.fee, 0, f.fee,
                       $2::bigint + (m.id % 5) * 500, $1::date, 'active'
                FROM members m JOIN households h ON h.id = m.household_id
                CROSS JOIN LATERAL (SELECT ($2::bigint * (m.id % 240)) AS fee) f
                ORDER BY m.id
                """,
                history,
                MONTHLY_PENSION,
            )
            await _advance_identity(conn, "enrollments")
            step("enrollments")
            await conn.execute(
                """
                INSERT INTO passbooks (enrollment_id, bank_name, account_enc, account_hash, account_masked,
                                       opened_on)
                SELECT k.i, $1, k.acct_enc, k.acct_hash,
                       '6217 **** **** ' || lpad((k.i % 10000)::text, 4, '0'), $2::date - 20  -- mask_account
                FROM bench_keys k ORDER BY k.i
                """,
                BANK_NAME,
                history,
            )
            step("passbooks")
            await conn.execute(
                """
                INSERT INTO life_certifications (enrollment_id, certified_on, method, certified_by)
                SELECT i, $1::date + i % 28, 'data_match', '民政部门数据比对'
                FROM generate_series(1, $2::int) i
                """,
                ss_rules.add_months(period, -2),
                n,
            )
            step("life certifications")
            await conn.execute(
                """
                INSERT INTO pension_months (county_code, area_path, person_hash, month, enrollment_id, start_month,
                                            status, kind, period, amount, paid_on)
                SELECT e.county_code, e.area_path, e.person_hash, e.pension_start_month, e.id,
                       e.pension_start_month, 'paid', 'regular', e.pension_start_month, e.monthly_pension,
                       e.pension_start_month + 14
                FROM enrollments e ORDER BY e.id
                """
            )
            step("month register (one paid month each)")
        await conn.execute("DROP TABLE bench_keys")
        await conn.execute(
            "VACUUM (ANALYZE) areas, households, members, enrollments, passbooks, life_certifications, "
            "pension_months"
        )
        step("vacuum analyze")
    finally:
        await conn.close()
    return Pensioners(n, period, 1, "/1/", villages, preparer, approver)


async def _advance_identity(conn: asyncpg.Connection, table: str) -> None:
    """Rows were written with explicit ids: move the identity past them so the app's own inserts do not clash."""
    await conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
    )


async def maintenance(url: str, sql: str) -> None:
    """Run a statement outside any transaction as the login user (VACUUM, CHECKPOINT)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
