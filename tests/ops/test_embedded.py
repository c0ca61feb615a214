"""The embedded PostgreSQL (used when no DATABASE_URL is set) runs with the settings sized for batch work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from app import db

GB = 1024**3


def test_settings_follow_the_machines_memory() -> None:
    assert db.embedded_settings(24 * GB)["shared_buffers"] == "2048MB"  # capped
    assert db.embedded_settings(8 * GB)["shared_buffers"] == "1024MB"
    assert db.embedded_settings(512 * 1024**2)["shared_buffers"] == "128MB"  # never below the default
    assert db.embedded_settings(8 * GB)["max_wal_size"] == "4GB"


async def _shown(url: str) -> dict[str, str]:
    conn = await asyncpg.connect(db.to_asyncpg_url(url).replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch(
            "SELECT name, pg_size_bytes(current_setting(name))::text AS value FROM pg_settings"
            " WHERE name = ANY($1::text[]) AND unit IS NOT NULL AND unit <> 's'"
            " UNION ALL SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY($1::text[]) AND unit = 's'",
            list(db.embedded_settings()),
        )
        return {r["name"]: r["value"] for r in rows}
    finally:
        await conn.close()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_new_embedded_cluster_runs_with_them_and_keeps_them(tmp_path: Path) -> None:
    wanted = db.embedded_settings()
    url = db.start_embedded_postgres(tmp_path, "probe")  # stopped when the test process exits
    shown = asyncio.run(_shown(url))
    assert shown == {
        "shared_buffers": str(int(wanted["shared_buffers"].removesuffix("MB")) * 1024**2),
        "wal_buffers": str(64 * 1024**2),
        "max_wal_size": str(4 * GB),
        "checkpoint_timeout": "15min",
    }
    conf = (tmp_path / "pgdata" / db.EMBEDDED_CONF).read_text(encoding="utf-8")
    assert "wal_buffers = '64MB'" in conf
    main_conf = (tmp_path / "pgdata" / "postgresql.conf").read_text(encoding="utf-8")
    assert main_conf.count(f"include_if_exists = '{db.EMBEDDED_CONF}'") == 1
    # Started again on the same directory: nothing rewritten, the include not added twice, same URL.
    assert db.start_embedded_postgres(tmp_path, "probe") == url
    assert (tmp_path / "pgdata" / "postgresql.conf").read_text(encoding="utf-8") == main_conf
