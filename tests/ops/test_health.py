"""Liveness and readiness, with the application started through its real lifespan."""

from __future__ import annotations

import asyncio
import gc

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.main import GEN0_THRESHOLD, create_app


def test_healthz_and_readyz_on_a_migrated_database(database_url: str) -> None:
    with TestClient(create_app(database_url=database_url)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}


def test_a_serving_app_freezes_what_start_up_made_and_collects_young_objects_less_often(
    database_url: str,
) -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app(database_url=database_url, serving=True)) as client:
            assert gc.get_freeze_count() > 50_000  # modules, routes, models: all out of the collector's walk
            assert gc.get_threshold() == (GEN0_THRESHOLD, before[1], before[2])
            assert client.get("/readyz").json() == {"status": "ok"}
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_test_app_leaves_the_collector_alone(database_url: str) -> None:
    before = gc.get_threshold()
    with TestClient(create_app(database_url=database_url)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_readyz_reports_a_database_behind_the_migrations(database_url: str) -> None:
    async def make_stale_copy() -> str:
        from sqlalchemy.engine import make_url

        base = make_url(database_url)
        stale = f"{base.database}_stale"
        admin = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{stale}"'))
            await conn.execute(text(f'CREATE DATABASE "{stale}"'))
        await admin.dispose()
        return base.set(database=stale).render_as_string(hide_password=False)

    async def drop(url: str) -> None:
        from sqlalchemy.engine import make_url

        admin = create_async_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        await admin.dispose()

    stale_url = asyncio.run(make_stale_copy())
    try:
        with TestClient(create_app(database_url=stale_url)) as client:
            r = client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["detail"] == "数据库未迁移到最新版本"
            assert client.get("/healthz").status_code == 200
    finally:
        asyncio.run(drop(stale_url))
