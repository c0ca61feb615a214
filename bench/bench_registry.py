"""Registry read paths through the whole application vs. the same answer from one hand-written SQL query.

Run: ``uv run python -m bench.bench_registry`` (starts a throwaway embedded PostgreSQL and loads the demo data).
Prints, per operation, the time per request through the app (HTTP in process, auth, scope, ORM, JSON) and the
ratio to a baseline measured in the same run: one raw asyncpg query returning the same rows. The ratio is the
figure to watch; absolute times drift with the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.db import create_app_engine, make_sessionmaker
from app.demo.load import load_demo
from app.main import create_app
from app.migrate import upgrade_to_head
from bench._server import throwaway_postgres

ROUNDS = 5
REQUESTS = 200

BASELINE_LIST = """
SELECT h.id, h.register_no, h.address, v.name AS village, g.name AS grp,
       (SELECT m.name FROM members m WHERE m.household_id = h.id AND m.relation = 'head'
          AND m.status = 'registered' LIMIT 1) AS head,
       (SELECT count(*) FROM members m WHERE m.household_id = h.id AND m.status = 'registered') AS n,
       count(*) OVER () AS total
FROM households h
JOIN areas v ON v.id = h.village_id
LEFT JOIN areas g ON g.id = h.group_id
WHERE h.village_id = $1 AND h.area_path LIKE $2
  AND h.id IN (SELECT household_id FROM members WHERE name LIKE $3)
ORDER BY h.register_no, h.id
LIMIT 20
"""

BASELINE_DETAIL = """
SELECT h.*, m.* FROM households h JOIN members m ON m.household_id = h.id
WHERE h.id = $1 AND h.area_path LIKE $2
"""


async def timed(work: Callable[[], Awaitable[object]], n: int) -> float:
    """Median over rounds of the mean seconds per call."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(n):
            await work()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def main() -> None:
    with throwaway_postgres() as url:
        upgrade_to_head(url)  # synchronous: Alembic runs its own event loop
        rows = asyncio.run(measure(url))
    print(f"{'operation':32} {'app ms/req':>11} {'raw SQL ms':>11} {'ratio':>7}")
    for name, a, b in rows:
        print(f"{name:32} {a * 1000:11.2f} {b * 1000:11.2f} {a / b:7.1f}")


async def measure(url: str) -> list[tuple[str, float, float]]:
    from app.config import get_settings

    if url:
        engine = await create_app_engine(get_settings(), url)
        async with make_sessionmaker(engine)() as session, session.begin():
            await load_demo(session)
        await engine.dispose()

        app = create_app(database_url=url)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                token = (
                    await client.post(
                        "/api/v1/auth/token", data={"username": "caseworker", "password": "Anzhi@2026"}
                    )
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                village = (await client.get("/api/v1/villages", headers=headers)).json()[0]
                first = (
                    await client.get(f"/api/v1/villages/{village['id']}/households", headers=headers)
                ).json()["items"][0]

                async def app_list() -> object:
                    r = await client.get(
                        f"/api/v1/villages/{village['id']}/households", params={"q": "王"}, headers=headers
                    )
                    assert r.status_code == 200
                    return r

                async def app_detail() -> object:
                    r = await client.get(f"/api/v1/households/{first['id']}", headers=headers)
                    assert r.status_code == 200
                    return r

                dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
                conn = await asyncpg.connect(dsn)
                path = await conn.fetchval("SELECT path FROM areas WHERE id = $1", village["id"])

                async def app_me() -> object:
                    r = await client.get("/api/v1/auth/me", headers=headers)
                    assert r.status_code == 200
                    return r

                async def raw_list() -> object:
                    return await conn.fetch(BASELINE_LIST, village["id"], f"{path}%", "%王%")

                async def raw_detail() -> object:
                    return await conn.fetch(BASELINE_DETAIL, first["id"], f"{path}%")

                rows = []
                for name, via_app, raw in (
                    ("household list, name search", app_list, raw_list),
                    ("household detail", app_detail, raw_detail),
                    ("who am I (auth only)", app_me, raw_detail),
                ):
                    a = await timed(via_app, REQUESTS)
                    b = await timed(raw, REQUESTS)
                    rows.append((name, a, b))
                await conn.close()
    return rows


if __name__ == "__main__":
    main()
