"""One lookup, as the page and the API both make it: count the attempt, search, log — in that order."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from fastapi import FastAPI, Request

from app.config import get_settings
from app.core.clock import today_in_china
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


class ConnectionSource(Protocol):
    """Where a lookup gets its connection: the application's ``ReadPool``; in tests, their own transaction."""

    def acquire(self) -> AbstractAsyncContextManager[asyncpg.Connection]: ...


def read_pool_of(app: FastAPI) -> ConnectionSource:
    pool: ConnectionSource | None = getattr(app.state, "read_pool", None)
    if pool is None:
        raise RuntimeError("the read pool starts with the application's lifespan")
    return pool


async def look_up(request: Request, id_text: str, name: str) -> Outcome:
    """A connection of the read pool is taken here, only for a lookup the limiter lets through (not as a request
    dependency: FastAPI's shielded clean-up of a yielding dependency cost as much as the query, and a refused
    client would hold a connection for nothing)."""
    client = request.client.host if request.client else "unknown"
    digest = service.lookup_digest(id_text)
    refusal = limiter_of(request.app).attempt(client, digest)
    status = None
    if refusal is None:
        async with read_pool_of(request.app).acquire() as conn:
            status = await service.find_status(conn, digest, name, today_in_china())
    if log.isEnabledFor(logging.INFO):
        log.info(
            "public lookup: id=%s client=%s result=%s",
            service.masked_for_log(id_text),
            client,
            f"limited:{refusal.which}" if refusal else ("found" if status else "not_found"),
        )
    return Outcome(status, refusal)
