"""Keyword factories for transactions tests (real rows, inside the test's transaction)."""

from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.transactions.models import Transaction

# User ids of one test, far from other tests' (a REAL_POOL test's rows stay in its database).
_users = random.Random()


def new_user_id() -> int:
    """A user id no other test uses."""
    return _users.randint(1_000_000, 2**31 - 1)


async def make_transaction(session: AsyncSession, **fields: Any) -> Transaction:
    """A transaction; defaults to 10.00 on 2024-01-01 for a fresh user."""
    data: dict[str, Any] = {
        "transaction_id": f"TXN-{uuid.uuid4().hex[:12]}",
        "user_id": new_user_id(),
        "amount": Decimal("10.00"),
        "transaction_date": date(2024, 1, 1),
    } | fields
    row = Transaction(**data)
    session.add(row)
    await session.flush()
    return row


async def stored_summaries(session: AsyncSession) -> dict[int, tuple[int, Decimal]]:
    """The trigger-kept summary, per user."""
    rows = await session.execute(
        text("SELECT user_id, transaction_count, amount_total FROM transaction_user_summaries")
    )
    return {r[0]: (r[1], r[2]) for r in rows.all()}


async def recomputed_summaries(session: AsyncSession) -> dict[int, tuple[int, Decimal]]:
    """The same figures from a full scan of `transactions`."""
    rows = await session.execute(
        text("SELECT user_id, count(*), sum(amount) FROM transactions GROUP BY user_id")
    )
    return {r[0]: (r[1], r[2]) for r in rows.all()}
