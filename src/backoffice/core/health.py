"""Liveness (`/health`, never touches the database) and readiness (`/ready`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backoffice import __version__
from backoffice.core.envelope import Envelope, error_response, ok
from backoffice.core.errors import ServiceUnavailable, error_responses
from backoffice.core.migrations import applied_revisions
from backoffice.core.routing import ApiRouter

router = ApiRouter(tags=["health"])

# Contexts add reporters of in-memory state (e.g. a running import) under a name.
HealthReporter = Callable[[], dict[str, Any]]
# And readiness checks: what they found, or `NotReady`.
ReadinessCheck = Callable[[], Awaitable[str]]
# The main database's check, whose findings `/ready` also reports as `database` and `migrations`.
MAIN_CHECK = "database"


class HealthRead(BaseModel):
    """The process is up; what it is doing in the background."""

    status: str
    version: str
    uptime_seconds: float
    background: dict[str, dict[str, Any]]


class ReadyRead(BaseModel):
    """The process can serve: each database reachable and at its head, the broker connected."""

    status: str
    database: str | None = None  # the main database, when the app has one
    migrations: str | None = None
    checks: dict[str, str]  # every check by name: what it found


class NotReady(Exception):
    """A readiness check failed: `/ready` answers 503 with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


async def database_ready(engine: AsyncEngine, expected: set[str]) -> str:
    """The database answers and its migrations are `expected`; returns them, comma-separated.

    Raises:
        NotReady: unreachable (`database_unavailable`) or not at head (`migrations_pending`).
    """
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        applied = await applied_revisions(engine)
    except Exception:  # any failure to reach the database means "not ready"
        raise NotReady("database_unavailable", "Database unreachable") from None
    if applied != expected:
        raise NotReady(
            "migrations_pending",
            f"Database at {sorted(applied) or 'no revision'}, expected {sorted(expected)}",
        )
    return ",".join(sorted(applied))


@router.get("/health", response_model=Envelope[HealthRead])
async def health(request: Request) -> Envelope[HealthRead]:
    """Liveness: answers without touching the database."""
    reporters: dict[str, HealthReporter] = request.app.state.health_reporters
    return ok(
        HealthRead(
            status="ok",
            version=__version__,
            uptime_seconds=round(time.monotonic() - request.app.state.started_at, 3),
            background={name: report() for name, report in reporters.items()},
        )
    )


@router.get(
    "/ready", response_model=Envelope[ReadyRead], responses=error_responses(ServiceUnavailable)
)
async def ready(request: Request) -> Envelope[ReadyRead] | Response:
    """Readiness: every check of the app's services passes (databases at head, broker up); else 503."""
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    found: dict[str, str] = {}
    for name, check in checks.items():
        try:
            found[name] = await check()
        except NotReady as failure:
            return error_response(request, 503, failure.code, f"{name}: {failure.message}")
    main = found.get(MAIN_CHECK)
    return ok(
        ReadyRead(
            status="ready",
            database="ok" if main is not None else None,
            migrations=main,
            checks=found,
        )
    )
