"""Run by ``test_crash.py`` in a subprocess: start generating a pension batch or importing a bank result file in
one transaction, and once part of the work is written (still uncommitted) report what this transaction sees in a
file and wait there to be killed.

Usage: ``python -m tests.payments._crash_worker '<json>'`` with ``mode`` (``generate`` or ``import``), ``url``,
``report`` (the file to write), ``hold_at`` (the progress step to stop at) and for ``generate``: ``period``,
``as_of``, ``scope_area_id``, ``chunk``; for ``import``: ``batch_id``, ``fmt``, ``file``, ``resolved_on``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db import create_app_engine, make_sessionmaker
from app.payments import service
from tests.agreements.helpers import principal

HOLD_SECONDS = 300  # far longer than the test waits: the parent kills us first


async def _seen(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def _generation_seen(session: AsyncSession, args: dict[str, Any]) -> dict[str, int]:
    period = date.fromisoformat(args["period"])
    batch = await _seen(
        session,
        "SELECT coalesce(max(id), 0) FROM payment_batches WHERE period = :p AND scope_area_id = :s",
        p=period,
        s=args["scope_area_id"],
    )
    return {
        "batch": batch,
        "lines": await _seen(session, "SELECT count(*) FROM payment_lines WHERE batch_id = :b", b=batch),
        "claimed": await _seen(
            session, "SELECT count(*) FROM pension_months WHERE period = :p AND status = 'claimed'", p=period
        ),
    }


async def _import_seen(session: AsyncSession, args: dict[str, Any]) -> dict[str, int]:
    batch = args["batch_id"]
    return {
        "staged": await _seen(session, "SELECT count(*) FROM result_stage"),
        "imports": await _seen(session, "SELECT count(*) FROM result_imports WHERE batch_id = :b", b=batch),
        "outcomes": await _seen(
            session,
            "SELECT count(*) FROM line_outcomes o JOIN payment_lines l ON l.id = o.line_id WHERE l.batch_id = :b",
            b=batch,
        ),
        "exceptions": await _seen(
            session, "SELECT count(*) FROM bank_exceptions WHERE batch_id = :b", b=batch
        ),
    }


def _write_report(path: Path, report: dict[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(report))
    partial.rename(path)  # the parent sees the whole report or none


async def main(args: dict[str, Any], content: bytes) -> None:
    engine = await create_app_engine(get_settings(), args["url"])
    try:
        async with make_sessionmaker(engine)() as session:
            backend = await _seen(session, "SELECT pg_backend_pid()")
            fin = await principal(session, "fin")

            async def hold(step: int, total: int) -> None:
                if step != args["hold_at"]:
                    return
                seen = await (_generation_seen if args["mode"] == "generate" else _import_seen)(session, args)
                _write_report(
                    Path(args["report"]), {"backend": backend, "step": step, "total": total, **seen}
                )
                await asyncio.sleep(HOLD_SECONDS)

            if args["mode"] == "generate":
                await service.generate_pension_batch(
                    session,
                    fin,
                    date.fromisoformat(args["period"]),
                    scope_area_id=args["scope_area_id"],
                    as_of=date.fromisoformat(args["as_of"]),
                    progress=hold,
                    chunk=args["chunk"],
                )
            else:
                await service.import_results(
                    session,
                    fin,
                    args["batch_id"],
                    fmt=args["fmt"],
                    filename=Path(args["file"]).name,
                    content=content,
                    resolved_on=date.fromisoformat(args["resolved_on"]),
                    progress=hold,
                )
            await session.commit()
    finally:
        await engine.dispose()
    print("finished without being killed", file=sys.stderr)  # the parent treats this as a failure


if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    asyncio.run(main(arguments, Path(arguments["file"]).read_bytes() if "file" in arguments else b""))
