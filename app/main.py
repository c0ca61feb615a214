"""The application factory. Nothing happens at import time: the lifespan reads settings and builds the engine."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from app.config import get_settings
from app.db import ReadPool, build_engine, make_sessionmaker, resolve_database_url, usable_app_role
from app.migrate import database_at_head
from app.web.middleware import RequestContextMiddleware

log = logging.getLogger(__name__)


def _install_docs(app: FastAPI) -> None:
    """API docs with Swagger UI served from the installed package: village offices have no internet."""
    import swagger_ui
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

    assets = Path(swagger_ui.__file__).parent / "static"
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="安置 Anzhi — API 文档",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


# Young collections only once 10,000 more container objects are alive than were (Python's default: 700). A request
# frees nearly everything it makes by reference counting, but the objects of the ~50 requests in flight cross 700
# over and over: 3,400 young collections in a run of the lookup benchmark, a third of a millisecond each, and
# the lookup 1,760 req/s, p99 48 ms; at 10,000, one collection, 2,260 req/s, p99 35 ms. Garbage in reference
# cycles still counts towards the threshold, so it is still collected.
GEN0_THRESHOLD = 10_000


def tune_gc_for_serving() -> None:
    """For a serving process. Moves everything alive after start-up (modules, routes, models, templates, pools:
    ~200,000 objects) out of the collector's reach: otherwise every full collection walks them all, ~110 ms on
    this machine, and the requests in flight wait for it (most of the lookup's slowest hundredth). Objects
    frozen are never collected, which a test run making many applications would feel: hence not by default."""
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def create_app(database_url: str | None = None, *, serving: bool = False) -> FastAPI:
    """``serving``: a process that serves requests (``anzhi serve``), not a test: :func:`tune_gc_for_serving`
    once the lifespan has started."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = get_settings()
        url = database_url or resolve_database_url(settings)
        role = await usable_app_role(settings, url)
        engine = build_engine(url, app_role=role)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_pool = await ReadPool.open(url, role, settings.db_read_pool_size)
        if serving:
            tune_gc_for_serving()
        try:
            yield
        finally:
            await app.state.read_pool.close()
            await engine.dispose()

    app = FastAPI(
        title="安置 Anzhi",
        summary="征地拆迁安置与被征地农民社会保障案件系统",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry here: off, so that no request asks for its providers (a few per cent of a lookup).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    app.add_middleware(RequestContextMiddleware)

    @app.get("/healthz", tags=["运维"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        """进程存活。"""
        return {"status": "ok"}

    @app.get("/readyz", tags=["运维"], responses={503: {"description": "数据库不可用或未迁移到最新"}})
    async def readyz(request: Request) -> JSONResponse:
        """数据库可连接且迁移已到最新版本。"""
        engine = getattr(request.app.state, "engine", None)
        try:
            if engine is None:
                raise RuntimeError("engine not started")
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            at_head = await database_at_head(engine)
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            return JSONResponse({"status": "unavailable", "detail": "数据库不可用"}, status_code=503)
        if not at_head:
            return JSONResponse(
                {"status": "unavailable", "detail": "数据库未迁移到最新版本"}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    # The public lookup first: Starlette tries routes in order, and this is the path residents hammer (a few
    # hundred staff routes before it cost more per request than its query, bench/bench_public_query.py).
    from app.public import api as public_api
    from app.public import views as public_views

    app.include_router(public_api.router)
    app.include_router(public_views.router, include_in_schema=False)
    from app.audit import api as audit_api
    from app.audit import views as audit_views
    from app.auth import api as auth_api
    from app.compensation import api as compensation_api
    from app.compensation import views as compensation_views
    from app.households import api as households_api
    from app.households import views as households_views
    from app.plans import api as plans_api
    from app.plans import views as plans_views
    from app.web import errors
    from app.web import views as web_views
    from app.web.templating import STATIC_DIR

    errors.install(app)
    for module in (auth_api, households_api, audit_api, compensation_api, plans_api):
        app.include_router(module.router)
    for module in (web_views, households_views, audit_views, compensation_views, plans_views):
        app.include_router(module.router, include_in_schema=False)
    from app.flats import api as flats_api
    from app.flats import views as flats_views

    app.include_router(flats_api.router)
    app.include_router(flats_views.router, include_in_schema=False)
    from app.agreements import api as agreements_api
    from app.agreements import views as agreements_views

    app.include_router(agreements_api.router)
    app.include_router(agreements_views.router, include_in_schema=False)
    from app.socialsecurity import api as socialsecurity_api
    from app.socialsecurity import views as socialsecurity_views

    app.include_router(socialsecurity_api.router)
    app.include_router(socialsecurity_views.router, include_in_schema=False)
    from app.ledger import api as ledger_api
    from app.payments import api as payments_api

    app.include_router(payments_api.router)
    app.include_router(ledger_api.router)
    from app.ledger import views as ledger_views
    from app.payments import views as payments_views

    app.include_router(payments_views.router, include_in_schema=False)
    app.include_router(ledger_views.router, include_in_schema=False)
    from app.dashboard import views as dashboard_views
    from app.roster import views as roster_views

    for module in (dashboard_views, roster_views):
        app.include_router(module.router, include_in_schema=False)
    _install_docs(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _ = get_settings  # settings are read in the lifespan, never at import
    return app
