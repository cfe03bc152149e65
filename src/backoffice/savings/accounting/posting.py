"""Posting interest: every account due, a month at a time, batch by batch (what the CLI runs).

`post_interest(service, through)` settles, on every open account, each month whose last day is
on or before `through` and after the last month the account settled. A month's amount comes
from the ledger and the plan changes (`queries.interest_inputs`) through the pure rules
(`interest.month_days`, `interest.posted`); the write is `Movements.post_months`, one save for
a batch of accounts. Killed at any point and run again, it takes up where it stopped: a month is
settled once per account (the aggregate refuses a second one, and the ledger's unique index
would too), and settled months are never read again.

`through` must be a day that has ended (by the database's clock): the balances of its days, and
so its interest, may still change until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.errors import DomainError, ValidationFailed
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.interest import (
    last_day,
    month_days,
    month_of,
    months_due,
    next_month,
    posted,
)
from backoffice.savings.accounting.service import AccountingService

log = structlog.get_logger()

# Accounts read and saved together: one save of this many accounts' events.
BATCH = 500


@dataclass
class Posted:
    """What a posting run did."""

    accounts: int = 0  # accounts with a month settled
    months: int = 0  # months settled (with an entry or not)
    entries: int = 0  # interest entries (months that earned something)
    amount: Decimal = Decimal("0.00")  # interest paid in all
    failed: dict[UUID, str] = field(default_factory=dict)  # accounts skipped, and why


async def due_total(service: AccountingService, through: date) -> int:
    """How many accounts have a month due through `through` (the progress bar's total)."""
    month_end = _last_complete_month_end(through)
    total, after = 0, None
    async with service.database.autocommit_sessionmaker() as session:
        while batch := await queries.due_accounts(session, month_end, after=after, limit=10_000):
            total += len(batch)
            after = batch[-1][0]
    return total


# How long after a day's end its last saves have committed, at the latest.
SETTLED = timedelta(seconds=5)


async def yesterday(service: AccountingService) -> date:
    """The last day that has ended, by the database's clock (UTC)."""
    async with service.database.autocommit_sessionmaker() as session:
        return (await queries.clock(session)).astimezone(UTC).date() - timedelta(days=1)


async def post_interest(
    service: AccountingService,
    through: date,
    *,
    batch: int = BATCH,
    advance: Callable[[int], None] = lambda _: None,
) -> Posted:
    """Settle every open account's months due through `through`.

    Args:
        service: the accounting service (its database migrated).
        through: the last day to post through; a day that has ended.
        batch: accounts read and saved together.
        advance: told how many accounts each batch finished (a progress bar).

    Raises:
        ValidationFailed: `through` has not ended yet.
    """
    async with service.database.autocommit_sessionmaker() as session:
        now = await queries.clock(session)
    today = now.astimezone(UTC).date()
    if through >= today:
        raise ValidationFailed.field(
            "through", f"through must be a day that has ended (before {today.isoformat()}, UTC)"
        )
    # A save booked just before the day ended may still be committing: its account's balances
    # are read once it has (a save holds its booking lock for milliseconds, not seconds).
    ended = datetime.combine(through + timedelta(days=1), time.min, UTC)
    await asyncio.sleep(max(0.0, (ended + SETTLED - now).total_seconds()))
    result = Posted()
    month_end = _last_complete_month_end(through)
    after: UUID | None = None
    while True:
        async with service.database.autocommit_sessionmaker() as session:
            accounts = await queries.due_accounts(session, month_end, after=after, limit=batch)
            if not accounts:
                return result
            after = accounts[-1][0]
            due = await _amounts(session, accounts, through)

        def failed(user_id: UUID, error: DomainError) -> None:
            result.failed[user_id] = error.message
            log.error("interest not posted", account=str(user_id), error=error.message)

        # What was settled now: not what another run settled first, nor what failed.
        settled = await service.post_months(due, failed=failed)
        result.months += len(settled)
        result.accounts += len({user_id for user_id, _ in settled})
        paid = [amount for _, amount in settled if amount]
        result.entries += len(paid)
        result.amount += sum(paid, Decimal("0.00"))
        advance(len(accounts))


async def _amounts(
    session: AsyncSession, accounts: list[tuple[UUID, datetime, date | None]], through: date
) -> dict[UUID, list[tuple[int, int, Decimal]]]:
    """Each account's months due, with the interest each earned."""
    months: dict[tuple[int, int], list[UUID]] = {}
    opened: dict[UUID, date] = {}
    for user_id, opened_at, posted_through in accounts:
        opened[user_id] = opened_at.astimezone(UTC).date()
        last = month_of(posted_through) if posted_through is not None else None
        for year_month in months_due(opened[user_id], last, through):
            months.setdefault(year_month, []).append(user_id)
    due: dict[UUID, list[tuple[int, int, Decimal]]] = {user_id: [] for user_id, *_ in accounts}
    for year, month in sorted(months):
        starts = datetime(year, month, 1, tzinfo=UTC)
        ends = datetime(*next_month(year, month), 1, tzinfo=UTC)
        inputs = await queries.interest_inputs(session, months[year, month], starts, ends)
        for user_id, found in inputs.items():
            days = month_days(
                year,
                month,
                opened=opened[user_id],
                through=through,
                opening_savings=found.opening_savings,
                balances=found.balances,
                rates=found.rates,
            )
            due[user_id].append((year, month, posted(days)))
    return due


def _last_complete_month_end(through: date) -> date:
    """The last day of the last month that ends on or before `through`."""
    end = last_day(through.year, through.month)
    return end if end <= through else date(through.year, through.month, 1) - timedelta(days=1)
