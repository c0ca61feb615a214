"""One lookup, as the page and the API both make it: count the attempt, search, log — in that order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, Request

from app.config import get_settings
from app.core.clock import today_in_china
from app.db import ReadPool
from app.public import service
from app.public.limiter import LookupLimiter, Refusal

log = logging.getLogger("app.public")


def limiter_of(app: FastAPI) -> LookupLimiter:
    """The application's limiter, made on first use from the settings (read at run time, not at import)."""
    limiter: LookupLimiter | None = getattr(app.state, "public_limiter", None)
    if limiter is None:
        limiter = LookupLimiter.from_settings(get_settings())
        app.state.public_limiter = limiter
    return limiter


@dataclass(frozen=True, slots=True)
class Outcome:
    status: service.Status | None
    refusal: Refusal | None


async def read_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the application's read pool (``app.db.ReadPool``) for one lookup. Tests, which
    run the application without its lifespan and bind it to their own transaction, override this dependency."""
    pool: ReadPool | None = getattr(request.app.state, "read_pool", None)
    if pool is None:
        raise RuntimeError("the read pool starts with the application's lifespan")
    async with pool.acquire() as conn:
        yield conn


ReadConnection = Annotated[asyncpg.Connection, Depends(read_connection)]


async def look_up(request: Request, conn: asyncpg.Connection, id_text: str, name: str) -> Outcome:
    client = request.client.host if request.client else "unknown"
    digest = service.lookup_digest(id_text)
    refusal = limiter_of(request.app).attempt(client, digest)
    status = None if refusal else await service.find_status(conn, digest, name, today_in_china())
    if log.isEnabledFor(logging.INFO):
        log.info(
            "public lookup: id=%s client=%s result=%s",
            service.masked_for_log(id_text),
            client,
            f"limited:{refusal.which}" if refusal else ("found" if status else "not_found"),
        )
    return Outcome(status, refusal)
