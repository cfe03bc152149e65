"""The gateway's calls to the services: NATS request-reply, with a bounded wait for new accounts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from backoffice.core.messaging import Bus, RemoteError

# What accounting answers for a customer whose account it has not opened (yet).
ACCOUNT_NOT_FOUND = "account_not_found"


class SavingsClient:
    """Requests to the users and accounting services."""

    def __init__(self, bus: Bus, *, timeout: float, account_wait: float) -> None:
        """Build a client.

        Args:
            bus: the process's NATS connection.
            timeout: seconds to wait for one reply.
            account_wait: seconds to wait, at most, for accounting to open a new customer's
                account (it does so from the users service's event, asynchronously).
        """
        self._bus = bus
        self._timeout = timeout
        self._account_wait = account_wait

    async def ask(self, subject: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A command or query of either service that names no account: one request."""
        return await self._bus.request(subject, payload, timeout=self._timeout)

    async def account(self, subject: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A command or query on a customer's account, waiting for the account to be opened.

        A client may credit right after signup returns, before accounting has consumed the
        `created` event: a missing account is asked again, backing off, until `account_wait`
        has passed; then the 404 stands.
        """
        deadline = time.monotonic() + self._account_wait
        pause = 0.02
        while True:
            try:
                return await self.ask(subject, payload)
            except RemoteError as error:
                if error.code != ACCOUNT_NOT_FOUND or time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
