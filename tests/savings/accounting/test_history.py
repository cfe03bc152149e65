"""History never changes: a balance or a list of credits up to an instant, once answered, stays.

Issue 18, section 3: credits in flight while balances and transactions are read. Every answer is
recorded with its instant; once the writers are done, every instant is asked again: no answer
may differ. Readers ask "now" (the service's own clock), the test's own clock, and the exact
instants of credits already answered (an inclusive boundary), as a client would.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from backoffice.savings.accounting.models import BOOKING_LOCK
from backoffice.savings.accounting.service import AccountingService

ACCOUNTS = 4
WRITERS_PER_ACCOUNT = 3
READERS = 6
READS = 1200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answered question: what was asked, at which instant, and what came back."""

    kind: str  # "balance" or "transactions"
    user: uuid.UUID
    at: datetime
    answer: Any


async def ask(
    service: AccountingService, kind: str, user: uuid.UUID, at: datetime | None
) -> Answer:
    """Ask; a balance "now" (`at` None) is recorded with the instant the service answers for."""
    if kind == "balance":
        found = await service.balance(user, at)
        return Answer(kind, user, found["at"], (found["main"], found["savings"]))
    assert at is not None
    items, total = await service.transactions(user, EPOCH, at, limit=1000, offset=0)
    return Answer(kind, user, at, (total, tuple(item["credit_id"] for item in items)))


async def test_an_answer_up_to_an_instant_never_changes(service: AccountingService) -> None:
    users = [uuid.uuid4() for _ in range(ACCOUNTS)]
    for user in users:
        assert await service.open_account(user, f"{user}@example.com", "Ann")
    rng = random.Random(18)
    done = asyncio.Event()
    stamps: list[tuple[uuid.UUID, datetime]] = []
    answers: list[Answer] = []

    async def write(user: uuid.UUID) -> None:
        while not done.is_set():
            amount = Decimal(rng.randint(1, 10_000)) / 100
            made = await service.credit(
                user, amount, idempotency_key=uuid.uuid4().hex, request_hash="h"
            )
            stamps.append((user, made["at"]))

    async def read() -> None:
        while len(answers) < READS:
            kind = rng.choice(["balance", "transactions"])
            at: datetime | None
            if stamps and rng.random() < 0.25:
                user, at = rng.choice(stamps)  # a credit's own instant: included
            else:
                user = rng.choice(users)
                now = kind == "balance" and rng.random() < 0.5
                at = None if now else datetime.now(UTC)
            answers.append(await ask(service, kind, user, at))
        done.set()

    await asyncio.gather(
        *(write(user) for user in users for _ in range(WRITERS_PER_ACCOUNT)),
        *(read() for _ in range(READERS)),
    )
    assert len(answers) >= READS and len(stamps) > 50

    differ = [
        (first, again)
        for first in answers
        if (again := await ask(service, first.kind, first.user, first.at)).answer != first.answer
    ]
    assert not differ, f"{len(differ)} of {len(answers)} answers changed, e.g. {differ[:3]}"


async def test_a_read_waits_for_its_accounts_save_in_flight_only(
    service: AccountingService, plain_url: str
) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    for each in (user, other):
        assert await service.open_account(each, f"{each}@example.com", "Ann")
    with psycopg.connect(plain_url) as conn:
        # What a save of `user` holds from its booking instant to its commit.
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s::uuid::text))", (BOOKING_LOCK, user)
        )
        reading = asyncio.create_task(service.balance(user))
        listing = asyncio.create_task(service.transactions(user, EPOCH, limit=10, offset=0))
        assert (await asyncio.wait_for(service.balance(other), 10))["total"] == 0
        await asyncio.sleep(0.3)
        assert not reading.done() and not listing.done()
        released = conn.execute("SELECT clock_timestamp()").fetchone()
        conn.commit()
    found = await asyncio.wait_for(reading, 10)
    assert released is not None and found["at"] > released[0]
    assert await asyncio.wait_for(listing, 10) == ([], 0)
