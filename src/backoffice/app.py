"""The one ASGI app that serves every context: core first, then each context's hook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from backoffice.core.auth import api as auth_api
from backoffice.core.auth.service import Authenticator
from backoffice.core.config import Settings, get_settings
from backoffice.core.contexts import Context, build_app
from backoffice.core.db import Database
from backoffice.core.docs import install_docs
from backoffice.core.embedded import resolve_database_url
from backoffice.core.health import router as health_router
from backoffice.core.logging import configure_logging
from backoffice.core.middleware import RequestContextMiddleware
from backoffice.core.migrations import head_revisions
from backoffice.core.ratelimit import Limiter, MemoryLimiter, RateLimitMiddleware, RedisLimiter
from backoffice.core.startup import refuse_published_logins
from backoffice.demo import published_logins
from backoffice.expenses.api import context as expenses
from backoffice.merchants.api import context as merchants
from backoffice.org.api import context as org
from backoffice.payroll.api import context as payroll
from backoffice.transactions.api import context as transactions

DESCRIPTION = "Payroll, expense approvals, merchant analytics, transactions ETL and savings."


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app; `database_url` defaults to `DATABASE_URL` or the embedded server."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    url = database_url or resolve_database_url(settings)
    contexts = [core_context(settings, url), expenses, merchants, payroll, org, transactions]
    return build_app(
        contexts,
        title="backoffice",
        description=DESCRIPTION,
        docs_url=None,  # core.docs serves them, with no CDN
        redoc_url=None,
    )


def core_context(settings: Settings, url: str) -> Context:
    """Settings, the database, authentication, middleware, the docs, `/health`, `/ready`, `/api/v1/auth`."""

    def setup(app: FastAPI) -> None:
        app.state.settings = settings
        app.state.db = Database(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        app.state.auth = Authenticator(settings)
        app.state.auth_sessions = app.state.db.sessionmaker  # where a login is looked up
        app.state.migration_heads = head_revisions()
        _install_middleware(app, settings)
        install_docs(app)

    return Context(
        "core",
        routers=(health_router, auth_api.router),
        setup=setup,
        lifespan=(_refuse_demo_logins_in_production, _close_database),
    )


@asynccontextmanager
async def _refuse_demo_logins_in_production(app: FastAPI) -> AsyncIterator[None]:
    if app.state.settings.is_production:
        await refuse_published_logins(app.state.db, app.state.auth, published_logins())
    yield


@asynccontextmanager
async def _close_database(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await app.state.db.dispose()


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    limiter: Limiter = RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()
    app.add_middleware(RateLimitMiddleware, limit=settings.rate_limit_per_minute, limiter=limiter)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "X-Process-Time"],
        )
    app.add_middleware(RequestContextMiddleware)  # outermost: sees every response, even a 429
