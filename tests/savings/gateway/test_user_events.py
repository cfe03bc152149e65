"""What accounting does with each of the users service's events, as they arrive on the stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from backoffice.core.embedded import EmbeddedNats, driver_url
from backoffice.core.messaging import Bus
from backoffice.savings import subjects
from tests.savings.gateway.conftest import sign_up


@pytest.fixture
async def publisher(stack, stack_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    """A connection of the test's own, publishing as the users service would."""
    login = stack_nats.login("savings-users")
    bus = await Bus.connect(stack_nats.url, name="test-publisher", login=login)
    yield bus
    await bus.close()


async def account_row(url: str, user_id: str) -> tuple[str, str, datetime | None] | None:
    engine = create_async_engine(driver_url(url, "asyncpg"))
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT email, full_name, closed_at FROM accounts WHERE account_id = :id"),
                    {"id": uuid.UUID(user_id)},
                )
            ).one_or_none()
    finally:
        await engine.dispose()
    return None if row is None else (row[0], row[1], row[2])


async def eventually(check, within: float = 10.0):
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def event(user_id: str, **fields: str) -> dict[str, str]:
    return {"user_id": user_id, "at": datetime.now(UTC).isoformat(), **fields}


async def test_updated_and_deleted_events_update_and_close_the_account(api, publisher, stack_urls):
    url = stack_urls["savings-accounting"]
    customer = await sign_up(api)
    await publisher.publish(
        subjects.USER_UPDATED,
        event(customer.user_id, email="new@example.com", full_name="New Name"),
        msg_id=str(uuid.uuid4()),
    )

    async def renamed():
        row = await account_row(url, customer.user_id)
        return row is not None and row[:2] == ("new@example.com", "New Name")

    assert await eventually(renamed)
    await publisher.publish(
        subjects.USER_DELETED, event(customer.user_id), msg_id=str(uuid.uuid4())
    )

    async def closed():
        row = await account_row(url, customer.user_id)
        return row is not None and row[2] is not None

    assert await eventually(closed)
    refused = await api.post(
        "/credits",
        json={"amount": "1"},
        headers={**customer.headers, "Idempotency-Key": "after-delete"},
    )
    # The customer is gone: their token no longer works (tests/savings/gateway/test_tokens.py).
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "unauthorized"


async def test_malformed_and_unknown_events_are_passed_over_and_the_next_ones_still_apply(
    api, publisher, stack_urls
):
    await publisher.publish(subjects.USER_CREATED, {"no": "user id"}, msg_id=str(uuid.uuid4()))
    # An event of a later version of the users service: this one knows nothing to do with it.
    await publisher.publish(
        "savings.users.v1.suspended", event(str(uuid.uuid4())), msg_id=str(uuid.uuid4())
    )
    user_id = str(uuid.uuid4())
    await publisher.publish(
        subjects.USER_CREATED,
        event(user_id, email="late@example.com", full_name="Late"),
        msg_id=str(uuid.uuid4()),
    )

    async def opened():
        return await account_row(stack_urls["savings-accounting"], user_id)

    assert await eventually(opened) == ("late@example.com", "Late", None)
