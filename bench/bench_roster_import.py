"""Importing a 10,000-row 户籍花名册 through the application vs. a bare COPY of the same rows, in the same run.

Run: ``uv run python -m bench.bench_roster_import [--rows 10000] [--baseline-rounds 3]``. Starts a throwaway
embedded PostgreSQL, migrates it, creates a county with ten villages and a caseworker over all ten, and writes
an XLSX roster of ``--rows`` rows (households of four: head, spouse, two children; ten villages, one group each)
with ``xlsx_table``.

Timed:

(a) the app, as the import job runs it: ``sheet.parse_roster`` (read every row, check each cell and ID number),
    then ``service.import_roster`` (load villages, households and members the rows name, check every rule, write
    the households and members — ID numbers sealed and hashed — and one audit row per household) and commit;
(b) the baseline (median of ``--baseline-rounds``): read the same file with openpyxl (read-only, values only) and
    COPY its rows as text into a bare table (no constraints, no indexes) in one transaction, then commit — what
    getting the file into the database costs at best, with no checking, no encryption and no audit.

Then the same file is imported again (timed for information): nothing may change. Prints seconds, the ratio, and
whether the issue's target (under 60 s for 10,000 rows) holds.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from datetime import date, timedelta
from io import BytesIO

import asyncpg
from openpyxl import load_workbook
from sqlalchemy import text

from app.areas import service as areas
from app.auth import service as auth
from app.auth.models import User
from app.auth.policy import SYSTEM, Principal
from app.config import get_settings
from app.core.idcard import make_id_number
from app.core.xlsx import xlsx_table
from app.db import create_app_engine, make_sessionmaker
from app.migrate import upgrade_to_head
from app.roster import rules, service, sheet
from bench._pensioners import asyncpg_dsn, maintenance
from bench._server import throwaway_postgres

COUNTY = "410727"
TOWNSHIP = "410727101"
VILLAGES = 10
TARGET_SECONDS = 60.0
BARE_TABLE = """
CREATE TABLE IF NOT EXISTS bare_roster (village text, grp text, register_no text, address text, name text,
                                        id_number text, relation text, phone text, registered_on text)
"""
SURNAMES = "王李张刘陈杨赵黄周吴"
RELATIONS = ("户主", "配偶", "子女", "子女")


def village_code(v: int) -> str:
    return f"{TOWNSHIP}{201 + v:03d}"


def roster_rows(n: int) -> list[tuple[object, ...]]:
    """``n`` rows, four to a household; every ID number distinct and valid."""
    rows: list[tuple[object, ...]] = []
    for i in range(n):
        household, k = divmod(i, 4)
        v = household % VILLAGES
        born = date(1950, 1, 1) + timedelta(days=(i // 500) * 97 + k * 3650 % 20000)
        number = make_id_number(COUNTY, born, i % 500 * 2 + 1)
        first = k == 0
        rows.append(
            (
                f"村{v + 1:02d}",
                "第一村民小组" if first else None,
                f"BR-{household:05d}",
                f"村{v + 1:02d}幸福路{household}号" if first else None,
                f"{SURNAMES[household % 10]}{'甲乙丙丁'[k]}{household}",
                number,
                RELATIONS[k],
                f"138{household:08d}" if first else None,
                "2001-05-20" if k == 1 else None,
            )
        )
    return rows


def workbook(rows: list[tuple[object, ...]]) -> bytes:
    return xlsx_table(sheet.SHEET, rules.HEADERS, rows)


async def setup(url: str) -> None:
    engine = await create_app_engine(get_settings(), url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await areas.create_area(session, SYSTEM, code=COUNTY, name="封丘县", level="county")
        await areas.create_area(
            session, SYSTEM, code=TOWNSHIP, name="王村乡", level="township", parent_code=COUNTY
        )
        for v in range(VILLAGES):
            code = village_code(v)
            await areas.create_area(
                session, SYSTEM, code=code, name=f"村{v + 1:02d}", level="village", parent_code=TOWNSHIP
            )
            await areas.create_area(
                session, SYSTEM, code=f"{code}-01", name="第一村民小组", level="group", parent_code=code
            )
        await auth.create_user(
            session,
            SYSTEM,
            username="bench_cw",
            full_name="基准经办员",
            role="caseworker",
            password=secrets.token_urlsafe(16),
            area_codes=[village_code(v) for v in range(VILLAGES)],
        )
    await engine.dispose()


async def caseworker(url: str) -> Principal:
    engine = await create_app_engine(get_settings(), url)
    async with make_sessionmaker(engine)() as session:
        user = (await session.execute(text("SELECT id FROM users WHERE username = 'bench_cw'"))).scalar_one()
        found = await session.get(User, user)
        assert found is not None
        principal = await auth.principal_for(session, found)
    await engine.dispose()
    return principal


async def run_app(url: str, data: bytes, principal: Principal) -> tuple[float, float, rules.Outcome]:
    engine = await create_app_engine(get_settings(), url)
    start = time.perf_counter()
    parsed = await asyncio.to_thread(sheet.parse_roster, data)
    parsed_at = time.perf_counter()
    async with make_sessionmaker(engine)() as session:
        outcome = await service.import_roster(session, principal, parsed, source="bench.xlsx")
        await session.commit()
    done = time.perf_counter()
    await engine.dispose()
    return parsed_at - start, done - parsed_at, outcome


def read_values(data: bytes) -> list[tuple[object, ...]]:
    wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    try:
        ws = wb[sheet.SHEET]
        return [tuple(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    finally:
        wb.close()


async def run_baseline(url: str, data: bytes) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(BARE_TABLE)
        await conn.execute("TRUNCATE bare_roster")
        start = time.perf_counter()
        width = len(rules.HEADERS)  # a row's empty trailing cells are not in the file: pad them
        records = [
            tuple(None if v is None else str(v) for v in (*row, *(None,) * (width - len(row))))
            for row in read_values(data)
        ]
        async with conn.transaction():
            await conn.copy_records_to_table("bare_roster", records=records)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def measure(url: str, n: int, baseline_rounds: int) -> None:
    await setup(url)
    principal = await caseworker(url)
    started = time.perf_counter()
    data = workbook(roster_rows(n))
    print(
        f"roster: {n} rows, {n // 4} households, {len(data) / 1e6:.1f} MB XLSX (written in {time.perf_counter() - started:.1f} s)"
    )
    await maintenance(url, "CHECKPOINT")

    parse_s, write_s, outcome = await run_app(url, data, principal)
    app_s = parse_s + write_s
    print(
        f"app:      {app_s:7.2f} s  (parse and check cells {parse_s:.2f} s; plan, write, audit, commit {write_s:.2f} s)"
    )
    print(f"          {outcome.message}")
    assert outcome.new_households == n // 4 and outcome.new_members == n

    baselines = [await run_baseline(url, data) for _ in range(baseline_rounds)]
    base_s = statistics.median(baselines)
    print(f"baseline: {base_s:7.2f} s  (openpyxl read + COPY into a bare table; median of {baseline_rounds})")
    print(f"ratio:    {app_s / base_s:7.2f}")

    again_parse, again_write, again = await run_app(url, data, principal)
    print(f"again:    {again_parse + again_write:7.2f} s  {again.message}")
    assert again.new_households == 0 and again.new_members == 0 and again.unchanged_households == n // 4
    verdict = "met" if app_s < TARGET_SECONDS else "NOT met"
    print(f"target:   {n} rows under {TARGET_SECONDS:.0f} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    args = parser.parse_args()
    with throwaway_postgres() as url:
        upgrade_to_head(url)  # synchronous: Alembic runs its own event loop
        asyncio.run(measure(url, args.rows, args.baseline_rounds))


if __name__ == "__main__":
    main()
