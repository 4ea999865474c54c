"""create_app(settings) -> FastAPI: routers, lifespan, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pangeo_forge_orchestrator import __version__
from pangeo_forge_orchestrator.api import (
    bakeries,
    check_runs,
    deliveries,
    errors,
    feedstocks,
    health,
    metrics,
    recipe_runs,
    run_logs,
    stats,
)
from pangeo_forge_orchestrator.api.answer_cache import AnswerCache
from pangeo_forge_orchestrator.db.engine import Database, database_url_for
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.webhooks import bakery_callbacks, receive

OPENAPI_TAGS = [
    {"name": "public", "description": "Read-only routes the website and anyone may call."},
    {"name": "admin", "description": "Writes and operator views; need an `X-API-Key` header."},
    {"name": "github", "description": "GitHub webhooks and bakery status callbacks."},
]


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """Build the web app. Pass `database` to share an engine (tests, `pfo serve` with a worker)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            yield
            await check_runs.close_github_app(app)
            return
        with database_url_for(settings) as url:
            app.state.database = Database.from_url(url)
            try:
                yield
            finally:
                await check_runs.close_github_app(app)
                app.state.database.dispose()

    app = FastAPI(
        title="pangeo-forge-orchestrator",
        version=__version__,
        description="Recipe runs, feedstocks and bakeries of Pangeo Forge, and its GitHub App.",
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.answer_cache = AnswerCache()
    if database is not None:
        app.state.database = database
    errors.install(app)
    # First: routes are matched in order, and webhook ingest is the hot path (DESIGN §3).
    app.include_router(receive.router)
    app.include_router(bakery_callbacks.router)
    app.include_router(health.router)
    app.include_router(bakeries.router)
    app.include_router(feedstocks.router)
    app.include_router(recipe_runs.router)
    app.include_router(run_logs.router)
    app.include_router(stats.router)
    app.include_router(metrics.router)
    app.include_router(deliveries.admin)
    app.include_router(deliveries.public)
    app.include_router(check_runs.router)
    return app
