"""A burst of withdrawals while the accounting service is killed (SIGKILL) and restarted.

The machinery is `test_faults.py`'s (accounting in a process of its own, the users service and
the gateway here): customers with money in main withdraw in a stream, each withdrawal with an
Idempotency-Key, retried with the same key while accounting is away, as a client of this API
must. A withdrawal whose answer was lost in the kill is retried and gets its first entry back.
Nothing may be lost or applied twice: each customer ends with exactly their withdrawals, and
the same keys sent again after the restart change nothing.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx

from tests.savings.gateway.conftest import Customer, sign_up
from tests.savings.gateway.test_faults import (  # noqa: F401 - fixtures used by name
    AccountingProcess,
    credit_until_done,
    fault_nats,
    fault_urls,
    gateway,
)

WITHDRAWALS = 30
DEPOSIT = Decimal("1000.00")


async def withdraw_until_done(
    api: httpx.AsyncClient, customer: Customer, amount: Decimal, key: str
) -> dict[str, object]:
    """Withdraw, retrying with the same key while the accounting service is away."""
    headers = {**customer.headers, "Idempotency-Key": key}
    deadline = time.monotonic() + 60
    while True:
        response = await api.post("/withdrawals", json={"amount": str(amount)}, headers=headers)
        if response.status_code == 201:
            data: dict[str, object] = response.json()["data"]
            return data
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "the withdrawal never went through"
        await asyncio.sleep(0.1)


async def test_withdrawals_through_a_kill_and_restart_apply_exactly_once(
    gateway,  # noqa: F811
    fault_urls,  # noqa: F811
    fault_nats,  # noqa: F811
):
    accounting = AccountingProcess(fault_urls["savings-accounting"], fault_nats)
    accounting.start()
    try:
        customers = [await sign_up(gateway) for _ in range(4)]
        for customer in customers:  # no plan: all of it to main
            await credit_until_done(gateway, customer, DEPOSIT, "deposit")
        amounts = [Decimal(n) + Decimal("0.01") for n in range(1, WITHDRAWALS + 1)]
        landed = 0
        mid_stream = asyncio.Event()

        async def stream(customer: Customer) -> list[dict[str, object]]:
            nonlocal landed
            made = []
            for n, amount in enumerate(amounts):
                made.append(await withdraw_until_done(gateway, customer, amount, f"w{n}"))
                landed += 1
                if landed == 20:
                    mid_stream.set()
            return made

        streams = asyncio.gather(*(stream(c) for c in customers))
        await mid_stream.wait()
        accounting.kill()
        killed_at = landed
        await asyncio.sleep(0.3)
        accounting.start()
        results = await streams
        assert killed_at < len(customers) * WITHDRAWALS, "the kill came after the burst ended"

        for customer, made in zip(customers, results, strict=True):
            assert len({m["entry_id"] for m in made}) == WITHDRAWALS
            assert [Decimal(str(m["amount"])) for m in made] == amounts
            # The same keys again, after the restart: the first entries, nothing new.
            for n in (0, 19, WITHDRAWALS - 1):
                again = await withdraw_until_done(gateway, customer, amounts[n], f"w{n}")
                assert again["entry_id"] == made[n]["entry_id"]
            balance = (await gateway.get("/balance", headers=customer.headers)).json()["data"]
            assert Decimal(str(balance["main"])) == DEPOSIT - sum(amounts)
            listed = await gateway.get(
                "/transactions", params={"kind": "withdrawal"}, headers=customer.headers
            )
            assert listed.json()["pagination"]["total"] == WITHDRAWALS
    finally:
        accounting.stop()
