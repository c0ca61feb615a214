"""Test fixtures on a real PostgreSQL built by the migrations; each test runs in a transaction rolled back at its
end, with the same restricted role the application uses."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from tests import dbsetup

_DB: dbsetup.TestDatabase | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Start the database before collection: schemathesis builds its schema from the app at import time."""
    global _DB
    if hasattr(config, "workerinput") or _DB is not None:
        return
    os.environ.setdefault("SECRET_KEY", "test-secret-key-0123456789abcdef")
    os.environ.pop("DATABASE_URL", None)
    _DB = dbsetup.create()
    os.environ["DATABASE_URL"] = _DB.url
    os.environ["ANZHI_TEST_API_DATABASE_URL"] = _DB.api_url
    from app.config import get_settings

    get_settings.cache_clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _DB
    if _DB is not None:
        dbsetup.drop(_DB)
        _DB = None


@pytest.fixture(scope="session")
def database_url() -> str:
    assert _DB is not None
    return _DB.url


@pytest.fixture
def extra_database(request: pytest.FixtureRequest) -> Any:
    """``make(label)`` → the URL of a new database built by the migrations (dropped at the end of the test), for
    tests that run the application as a real server with real commits. Synchronous work: call it through
    ``asyncio.to_thread`` from an async test (Alembic runs its own event loop)."""
    assert _DB is not None
    made: list[str] = []

    def make(label: str) -> str:
        assert _DB is not None
        url = dbsetup.create_extra(_DB, label)
        made.append(url)
        return url

    yield make
    for url in made:
        dbsetup.drop_extra(_DB, url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from app.config import get_settings
    from app.db import create_app_engine

    eng = await create_app_engine(get_settings(), database_url)
    from tests.seed import seed_once

    await seed_once(eng)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
async def owner_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Connections as the login (migrating) role, for tests that must act outside the application role."""
    from app.db import build_engine

    eng = build_engine(database_url, app_role=None, pool_size=2)
    yield eng
    await eng.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            yield conn
        finally:
            await trans.rollback()


@pytest.fixture
async def db(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    session = AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )
    try:
        yield session
    finally:
        await session.close()


@pytest.fixture
def app(db: AsyncSession) -> FastAPI:
    """The application with its unit of work bound to the test's transaction."""
    from app.db import get_session
    from app.main import create_app

    application = create_app()

    async def _session() -> AsyncIterator[AsyncSession]:
        try:
            yield db
            await db.commit()
        except BaseException:
            await db.rollback()
            raise

    class _OwnConnection:
        """The public lookup reads through a bare asyncpg connection: here, the test's own (its transaction)."""

        @asynccontextmanager
        async def acquire(self) -> AsyncIterator[Any]:
            raw = await (await db.connection()).get_raw_connection()
            yield raw.driver_connection

    application.dependency_overrides[get_session] = _session
    application.state.read_pool = _OwnConnection()
    return application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def seed(engine: AsyncEngine) -> Any:
    from tests.seed import SEED

    return SEED


@pytest.fixture
def pinned_clock() -> Any:
    from app.core import clock

    def _pin(at: datetime) -> None:
        clock.set_clock(lambda: at)

    yield _pin
    clock.set_clock(None)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Any]:
    """Page clients as browsers: ``await browser("fin")`` is a client signed in as fin (closed at the end)."""
    from tests.web.pages import BROWSER_ACCEPT, login

    clients: list[httpx.AsyncClient] = []

    async def open_as(username: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Accept": BROWSER_ACCEPT},
        )
        clients.append(c)
        await login(c, username)
        return c

    yield open_as
    for c in clients:
        await c.aclose()
