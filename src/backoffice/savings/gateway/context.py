"""The gateway as a context: its routes, the public key it verifies customers with, its client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backoffice.core.broker import check_connected, connect
from backoffice.core.config import Settings
from backoffice.core.contexts import Context
from backoffice.savings.gateway.api import router
from backoffice.savings.gateway.client import SavingsClient
from backoffice.savings.keys import verifying_key
from backoffice.savings.tokens import TokenVerifier

NAME = "savings-gateway"


def context(settings: Settings) -> Context:
    """The savings API, calling the services over NATS (no database of its own)."""
    verifier = TokenVerifier(
        verifying_key(settings), max_lifetime=settings.savings_token_ttl_seconds
    )

    def setup(app: FastAPI) -> None:
        app.state.savings_tokens = verifier

    @asynccontextmanager
    async def client(app: FastAPI) -> AsyncIterator[None]:
        async with connect(app, NAME) as bus:
            app.state.savings_client = SavingsClient(
                bus,
                timeout=settings.savings_request_timeout_seconds,
                account_wait=settings.savings_account_wait_seconds,
            )
            try:
                yield
            finally:
                app.state.savings_client = None

    async def ready(app: FastAPI) -> str:
        check_connected(app, NAME)
        return "connected"

    return Context(
        NAME, routers=(router,), setup=setup, lifespan=(client,), readiness={NAME: ready}
    )
