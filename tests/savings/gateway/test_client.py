"""The gateway's wait for a new customer's account, against a stand-in for the bus."""

from __future__ import annotations

from typing import Any, cast

import pytest

from backoffice.core.messaging import Bus, RemoteError
from backoffice.savings.gateway.client import ACCOUNT_NOT_FOUND, SavingsClient


class SlowAccounting:
    """Answers "no account" `misses` times, then the data."""

    def __init__(self, misses: int, code: str = ACCOUNT_NOT_FOUND) -> None:
        self.misses = misses
        self.code = code
        self.asked = 0

    async def request(self, subject: str, payload: Any, *, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109 - the bus's signature
        self.asked += 1
        if self.asked <= self.misses:
            raise RemoteError(404, self.code, "Account not found")
        return {"ok": subject}


async def test_a_missing_account_is_asked_again_until_it_is_opened():
    bus = SlowAccounting(misses=3)
    client = SavingsClient(cast(Bus, bus), timeout=1, account_wait=5)
    assert await client.account("credit", {}) == {"ok": "credit"}
    assert bus.asked == 4


async def test_the_404_stands_once_the_wait_is_over():
    bus = SlowAccounting(misses=1_000)
    client = SavingsClient(cast(Bus, bus), timeout=1, account_wait=0.1)
    with pytest.raises(RemoteError) as error:
        await client.account("credit", {})
    assert error.value.code == ACCOUNT_NOT_FOUND
    assert 2 <= bus.asked < 10


async def test_other_errors_are_not_waited_for():
    bus = SlowAccounting(misses=1, code="account_closed")
    client = SavingsClient(cast(Bus, bus), timeout=1, account_wait=5)
    with pytest.raises(RemoteError):
        await client.account("credit", {})
    assert bus.asked == 1
