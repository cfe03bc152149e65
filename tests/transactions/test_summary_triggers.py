"""The per-user summary the triggers keep always equals a full recomputation."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from backoffice.core.db import driver_of
from tests.transactions.factories import make_transaction, recomputed_summaries, stored_summaries

USERS = [11, 12, 13, 14]


def money(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(-500_000, 500_000)) / 100


def day(rng: random.Random) -> date:
    return date(2024, 1, 1) + timedelta(days=rng.randrange(400))


def record(rng: random.Random) -> tuple[str, int, Decimal, date]:
    return (f"T-{uuid.uuid4().hex[:10]}", rng.choice(USERS), money(rng), day(rng))


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_summary_equals_a_full_recomputation_after_random_writes(session, seed):
    rng = random.Random(seed)
    conn: Any = await driver_of(session)
    for _ in range(120):
        op = rng.choice(["insert", "insert", "copy", "update", "update", "delete", "bulk"])
        if op == "insert":
            tid, user, amount, when = record(rng)
            await make_transaction(
                session, transaction_id=tid, user_id=user, amount=amount, transaction_date=when
            )
        elif op == "copy":
            records = [record(rng) for _ in range(rng.randint(1, 40))]
            await conn.copy_records_to_table(
                "transactions",
                records=records,
                columns=["transaction_id", "user_id", "amount", "transaction_date"],
            )
        elif op == "update":
            change = rng.choice(
                [
                    f"amount = {money(rng)}",
                    f"user_id = {rng.choice(USERS)}",
                    f"user_id = {rng.choice(USERS)}, amount = amount * -1",
                    "transaction_date = transaction_date + 1",
                    "transaction_id = transaction_id || 'x'",
                ]
            )
            await session.execute(
                text(f"UPDATE transactions SET {change} WHERE id % :m = :r"),
                {"m": rng.randint(2, 7), "r": rng.randint(0, 1)},
            )
        elif op == "delete":
            await session.execute(
                text("DELETE FROM transactions WHERE id % :m = 0"), {"m": rng.randint(3, 11)}
            )
        else:  # one statement moving every row of a user to another
            src, dst = rng.sample(USERS, 2)
            await session.execute(
                text("UPDATE transactions SET user_id = :dst WHERE user_id = :src"),
                {"src": src, "dst": dst},
            )
        if rng.random() < 0.1:
            assert await stored_summaries(session) == await recomputed_summaries(session)
    await session.execute(
        text(
            "INSERT INTO transactions (transaction_id, user_id, amount, "
            "transaction_date) VALUES ('last', 15, 0.00, '2024-01-01')"
        )
    )
    final = await stored_summaries(session)
    assert final == await recomputed_summaries(session)
    assert len(final) >= 2  # the workload left something to compare


async def test_a_user_vanishes_from_the_summary_with_their_last_transaction(session):
    row = await make_transaction(session, user_id=21, amount=Decimal("5.00"))
    assert (await stored_summaries(session))[21] == (1, Decimal("5.00"))
    await session.execute(text("DELETE FROM transactions WHERE id = :id"), {"id": row.id})
    assert 21 not in await stored_summaries(session)


async def test_zero_amounts_still_count(session):
    await make_transaction(session, user_id=22, amount=Decimal("0.00"))
    await make_transaction(session, user_id=22, amount=Decimal("-3.50"))
    await make_transaction(session, user_id=22, amount=Decimal("3.50"))
    assert (await stored_summaries(session))[22] == (3, Decimal("0.00"))


async def test_truncate_empties_the_summary(session):
    await make_transaction(session, user_id=23)
    await session.execute(text("TRUNCATE transactions"))
    assert await stored_summaries(session) == {}
