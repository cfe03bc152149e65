"""How a context installs itself into an app, and the assembly of an app from contexts.

Each context describes what it brings (`Context`): its routers and the error style their
clients expect, state it keeps on the app, background work for the app's lifetime, health
reporters and readiness checks, and what a caller may do in it beyond their role's permissions
(shown by `GET /api/v1/auth/me`). `build_app` assembles any list of them; core knows no context
by name.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice import __version__
from backoffice.core.auth.service import Principal
from backoffice.core.envelope import ErrorStyle, install_error_handlers
from backoffice.core.openapi import install_openapi
from backoffice.core.routing import GuardedRoute

# Background work for the app's lifetime: entered at startup, exited at shutdown.
LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]
# A report of in-memory state for `/health` (e.g. a running import).
HealthReporter = Callable[[FastAPI], dict[str, Any]]
# A check for `/ready`: what it found, or `core.health.NotReady`.
ReadinessCheck = Callable[[FastAPI], Awaitable[str]]
# What the caller may do in a context beyond their role's permissions, for `/api/v1/auth/me`.
CapabilityReporter = Callable[[AsyncSession, Principal], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Routes:
    """A router and the error style its clients expect."""

    router: APIRouter
    errors: ErrorStyle = ErrorStyle.ENVELOPE


@dataclass(frozen=True)
class Context:
    """What a context brings to an app."""

    name: str
    routers: Sequence[APIRouter | Routes] = ()
    setup: Callable[[FastAPI], None] | None = None  # state it keeps in `app.state`
    lifespan: Sequence[LifespanHook] = ()
    health: Mapping[str, HealthReporter] = field(default_factory=dict)
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    capabilities: Mapping[str, CapabilityReporter] = field(default_factory=dict)


def install(app: FastAPI, context: Context) -> None:
    """Serve `context`'s routes in `app` and run its hooks with the app's."""
    for entry in context.routers:
        routes = entry if isinstance(entry, Routes) else Routes(entry)
        for route in routes.router.routes:
            if isinstance(route, APIRoute) and not isinstance(route, GuardedRoute):
                raise TypeError(f"{context.name}: declare {route.path} on a core.routing.ApiRouter")
            # Routes define __eq__ but no hash: keyed by identity. Errors are rendered for the
            # route a request reached (FastAPI keeps the declared route in `scope["route"]`).
            app.state.error_styles[id(route)] = routes.errors
        # A route's own `max_body_size=` wins over the app's (core.bodylimit).
        app.include_router(routes.router, max_body_size=app.state.max_body_size)
    if context.setup is not None:
        context.setup(app)
    app.state.lifespan_hooks.extend(context.lifespan)
    for name, report in context.health.items():
        app.state.health_reporters[name] = partial(report, app)
    for name, check in context.readiness.items():
        app.state.readiness_checks[name] = partial(check, app)
    app.state.capability_reporters.update(context.capabilities)


def build_app(
    contexts: Sequence[Context], *, max_body_size: int | None = None, **fastapi: Any
) -> FastAPI:
    """An app serving `contexts`, their hooks run by its lifespan (in order, undone in reverse).

    Every route takes bodies of at most `max_body_size` bytes unless it declares its own limit
    (`core.bodylimit`).

    A sub-app mounted into another gets no lifespan events of its own: the app that assembles
    it must run its hooks, which is why they are data here rather than a FastAPI lifespan.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for hook in app.state.lifespan_hooks:
                await stack.enter_async_context(hook(app))
            yield

    app = FastAPI(version=__version__, lifespan=lifespan, **fastapi)
    app.state.started_at = time.monotonic()
    app.state.error_styles = {}
    app.state.max_body_size = max_body_size
    app.state.health_reporters = {}
    app.state.readiness_checks = {}
    app.state.capability_reporters = {}
    app.state.lifespan_hooks = []
    install_error_handlers(app)
    for context in contexts:
        install(app, context)
    install_openapi(app)
    return app
