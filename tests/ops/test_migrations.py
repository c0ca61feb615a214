"""The migrations: they go down and up again cleanly, and they build what the models describe (no drift)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import app
from app.db import Base
from app.migrate import alembic_config, upgrade_to_head

OPTIONAL_INDEX = "ix_members_name_trgm"


async def _admin(url: str, sql: str) -> None:
    engine = create_async_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture
def scratch_url(database_url: str) -> Iterator[str]:
    name = f"{make_url(database_url).database}_mig"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _import_all_models() -> None:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)


def _drift(url: str) -> list[Any]:
    def compare(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async def run() -> list[Any]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(compare)
        await engine.dispose()
        return diff

    return asyncio.run(run())


def _meaningful(diff: list[Any]) -> list[Any]:
    """Drop what is only naming: column comments, and unique constraints that the migrations left to PostgreSQL's
    default names (the same columns are removed and added under another name)."""
    flat: list[Any] = []
    for item in diff:
        flat.extend(item if isinstance(item, list) else [item])
    flat = [d for d in flat if d[0] != "modify_comment"]
    # The trigram index for name search exists only where the server offers pg_trgm (migration 0001); the models
    # do not declare it.
    flat = [d for d in flat if not (d[0] == "remove_index" and d[1].name == OPTIONAL_INDEX)]

    def uq_key(d: Any) -> tuple[str, tuple[str, ...]]:
        return d[1].table.name, tuple(c.name for c in d[1].columns)

    removed = {
        uq_key(d)
        for d in flat
        if d[0] == "remove_constraint" and d[1].__class__.__name__ == "UniqueConstraint"
    }
    added = {
        uq_key(d) for d in flat if d[0] == "add_constraint" and d[1].__class__.__name__ == "UniqueConstraint"
    }
    renamed = removed & added
    return [
        d
        for d in flat
        if not (
            d[0] in ("remove_constraint", "add_constraint")
            and d[1].__class__.__name__ == "UniqueConstraint"
            and uq_key(d) in renamed
        )
    ]


def test_down_to_nothing_and_up_again(scratch_url: str) -> None:
    upgrade_to_head(scratch_url)
    command.downgrade(alembic_config(scratch_url), "base")
    upgrade_to_head(scratch_url)


def test_models_match_the_migrations(scratch_url: str) -> None:
    _import_all_models()
    upgrade_to_head(scratch_url)
    assert _meaningful(_drift(scratch_url)) == []
