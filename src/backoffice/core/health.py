"""Liveness (`/health`, never touches the database) and readiness (`/ready`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from backoffice import __version__
from backoffice.core.envelope import Envelope, error_response, ok
from backoffice.core.errors import ServiceUnavailable, error_responses
from backoffice.core.migrations import applied_revisions
from backoffice.core.routing import ApiRouter

router = ApiRouter(tags=["health"])

# Contexts add reporters of in-memory state (e.g. a running import) under a name.
HealthReporter = Callable[[], dict[str, Any]]


class HealthRead(BaseModel):
    """The process is up; what it is doing in the background."""

    status: str
    version: str
    uptime_seconds: float
    background: dict[str, dict[str, Any]]


class ReadyRead(BaseModel):
    """The process can serve: database reachable, schema at the expected revision."""

    status: str
    database: str
    migrations: str


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
async def ready(request: Request) -> Envelope[ReadyRead] | JSONResponse:
    """Readiness: the database answers and its migrations are at head; else 503."""
    engine = request.app.state.db.engine
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        applied = await applied_revisions(engine)
    except Exception:  # any failure to reach the database means "not ready"
        return error_response(request, 503, "database_unavailable", "Database unreachable")
    expected: set[str] = request.app.state.migration_heads
    if applied != expected:
        return error_response(
            request,
            503,
            "migrations_pending",
            f"Database at {sorted(applied) or 'no revision'}, expected {sorted(expected)}",
        )
    return ok(ReadyRead(status="ready", database="ok", migrations=",".join(sorted(applied))))
