"""After a bulk load the CLI analyzes the database (app.db.refresh_statistics), so the planner does not plan the
first minutes' queries for empty tables."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import refresh_statistics, to_asyncpg_url

TABLES = ("households", "members", "surveys", "agreements", "payment_lines")


async def _reltuples(url: str) -> dict[str, float]:
    engine = create_async_engine(to_asyncpg_url(url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:t) AND relkind = 'r'"),
                {"t": list(TABLES)},
            )
            return {name: float(n) for name, n in rows.all()}
    finally:
        await engine.dispose()


async def test_refresh_statistics_analyzes_tables_never_analyzed(
    extra_database: Callable[[str], str],
) -> None:
    url = await asyncio.to_thread(extra_database, "stats")
    before = await _reltuples(url)
    assert set(before) == set(TABLES)
    assert all(n == -1 for n in before.values()), before  # built by the migrations, never analyzed
    await refresh_statistics(url)
    after = await _reltuples(url)
    assert all(n >= 0 for n in after.values()), after
