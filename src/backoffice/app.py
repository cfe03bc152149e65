"""The one ASGI app that serves every context."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from backoffice import __version__
from backoffice.core.auth import api as auth_api
from backoffice.core.auth.service import Authenticator
from backoffice.core.config import Settings, get_settings
from backoffice.core.db import Database
from backoffice.core.docs import install_docs
from backoffice.core.embedded import resolve_database_url
from backoffice.core.envelope import install_error_handlers
from backoffice.core.health import router as health_router
from backoffice.core.logging import configure_logging
from backoffice.core.middleware import RequestContextMiddleware
from backoffice.core.migrations import head_revisions
from backoffice.core.ratelimit import Limiter, MemoryLimiter, RateLimitMiddleware, RedisLimiter
from backoffice.core.startup import refuse_published_logins
from backoffice.demo import published_logins
from backoffice.expenses import api as expenses_api
from backoffice.merchants import api as merchants_api
from backoffice.org import api as org_api
from backoffice.payroll import api as payroll_api

# Background work a context runs while the app serves (entered at startup, exited at shutdown).
LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app; `database_url` defaults to `DATABASE_URL` or the embedded server."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    url = database_url or resolve_database_url(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.is_production:
            await refuse_published_logins(app.state.db, app.state.auth, published_logins())
        async with AsyncExitStack() as stack:
            for hook in app.state.lifespan_hooks:
                await stack.enter_async_context(hook(app))
            yield
        await app.state.db.dispose()

    app = FastAPI(
        title="backoffice",
        version=__version__,
        description="Payroll, expense approvals, merchant analytics, transactions ETL and savings.",
        lifespan=lifespan,
        docs_url=None,  # core.docs serves them, with no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = Database(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    app.state.auth = Authenticator(settings)
    app.state.migration_heads = head_revisions()
    app.state.started_at = time.monotonic()
    app.state.health_reporters = {}
    app.state.lifespan_hooks = []

    install_error_handlers(app)
    _install_middleware(app, settings)
    app.include_router(health_router)
    install_docs(app)
    app.include_router(auth_api.router)
    auth_api.document_security(app)
    app.include_router(expenses_api.router)
    merchants_api.install(app)  # /analytics/*, /api/v1/merchants, /health, DATA_DIR import
    payroll_api.install(app)
    for router in org_api.routers:
        app.include_router(router)
    return app


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
