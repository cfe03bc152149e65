"""The ASGI app: every context in one process, or one savings service alone.

`BACKOFFICE_SERVICE` (set by `backoffice serve SERVICE`) says which: `all` serves the platform
and the three savings services together; `savings-users`, `savings-accounting` and
`savings-gateway` each serve one, on its own database (the gateway has none).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from backoffice.console.context import context as console
from backoffice.core.auth import accounts_api, locks_api
from backoffice.core.auth import api as auth_api
from backoffice.core.auth.service import Authenticator
from backoffice.core.auth.throttle import LoginThrottle
from backoffice.core.bodylimit import BodyLimitMiddleware
from backoffice.core.broker import broker_context
from backoffice.core.config import Settings, get_settings
from backoffice.core.contexts import Context, build_app
from backoffice.core.databases import DatabaseSpec
from backoffice.core.db import Database
from backoffice.core.docs import install_docs
from backoffice.core.health import MAIN_CHECK, database_ready
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
from backoffice.savings.accounting import context as savings_accounting
from backoffice.savings.gateway import context as savings_gateway
from backoffice.savings.users import context as savings_users
from backoffice.services import (
    MAIN,
    NATS_USERS,
    SAVINGS_ACCOUNTING,
    SAVINGS_USERS,
    databases_for,
)
from backoffice.transactions.api import context as transactions

DESCRIPTION = "Payroll, expense approvals, merchant analytics, transactions ETL and savings."

# What each service needs of the databases (the gateway keeps no data).
SERVICE_DATABASES: dict[str, tuple[DatabaseSpec, ...]] = {
    "all": (MAIN, SAVINGS_USERS, SAVINGS_ACCOUNTING),
    "savings-users": (SAVINGS_USERS,),
    "savings-accounting": (SAVINGS_ACCOUNTING,),
    "savings-gateway": (),
}


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    *,
    database_urls: Mapping[str, str] | None = None,
) -> FastAPI:
    """Build the app of `settings.service`.

    Args:
        settings: defaults to the environment's.
        database_url: the main database (default: `DATABASE_URL` or the embedded server).
        database_urls: any service's database by service name, overriding its settings.
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    given = dict(database_urls or {})
    if database_url is not None:
        given[MAIN.service] = database_url
    specs = SERVICE_DATABASES[settings.service]
    urls = databases_for(settings, specs, given)
    contexts = [core_context(settings, urls.get(MAIN.service))]
    if settings.service == "all":
        contexts += [expenses, merchants, payroll, org, transactions]
    contexts.append(broker_context(settings, NATS_USERS[settings.service]))
    if SAVINGS_USERS in specs:
        pool = SAVINGS_USERS.pool(settings)
        contexts.append(savings_users.context(settings, urls[SAVINGS_USERS.service], pool=pool))
    if SAVINGS_ACCOUNTING in specs:
        url = urls[SAVINGS_ACCOUNTING.service]
        pool = SAVINGS_ACCOUNTING.pool(settings)
        contexts.append(savings_accounting.context(settings, url, pool=pool))
    if settings.service in ("all", "savings-gateway"):
        contexts.append(savings_gateway.context(settings))
    if settings.service == "all":
        contexts.append(console())  # last: its fallback 404 answers every other /console path
    return build_app(
        contexts,
        title="backoffice" if settings.service == "all" else f"backoffice {settings.service}",
        description=DESCRIPTION,
        docs_url=None,  # core.docs serves them, with no CDN
        redoc_url=None,
        max_body_size=settings.max_body_bytes,
    )


def core_context(settings: Settings, url: str | None) -> Context:
    """Settings, authentication, middleware, the docs, `/health`, `/ready`, `/api/v1/auth`.

    With the main database at `url`; without it (a savings service alone) platform accounts
    sign in with core bearer tokens only, verified with the secret key.
    """

    def setup(app: FastAPI) -> None:
        app.state.settings = settings
        app.state.auth = Authenticator(settings)
        app.state.login_throttle = LoginThrottle.from_settings(settings)
        app.state.auth_sessions = None
        # Refused as any account's new password: published with the demo data.
        app.state.published_passwords = frozenset(published_logins().values())
        if url is not None:
            app.state.db = Database(
                url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
            )
            app.state.auth_sessions = app.state.db.sessionmaker  # where a login is looked up
            app.state.migration_heads = head_revisions()
        _install_middleware(app, settings)
        install_docs(app)

    if url is None:
        return Context("core", routers=(health_router, locks_api.router), setup=setup)
    return Context(
        "core",
        routers=(health_router, auth_api.router, accounts_api.router, locks_api.router),
        setup=setup,
        lifespan=(_refuse_demo_logins_in_production, _close_database),
        readiness={MAIN_CHECK: _main_database_ready},
    )


async def _main_database_ready(app: FastAPI) -> str:
    return await database_ready(app.state.db.engine, app.state.migration_heads)


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
    app.add_middleware(BodyLimitMiddleware)  # innermost: a 429 or CORS headers come first
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
