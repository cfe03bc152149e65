"""Reads of the projections and the plans, and the plans' one write: SQLAlchemy over asyncpg.

Every function takes a session; each runs one or two statements that stand alone (the
service passes an autocommit session). The event store (`store.py`) is the only other way
into this database, and the only writer of `accounts`, `ledger_entries`, `plan_changes` and
`processed_messages`.
A read up to an instant asks `settle` first (see there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, Text, Uuid, cast, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.savings.accounting.models import (
    BOOKING_LOCK,
    AccountView,
    LedgerEntry,
    Plan,
    PlanChange,
    processed_messages,
)
from backoffice.savings.accounting.rules import PlanTerms

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A plan as stored."""

    id: int
    name: str
    kind: str
    value: Decimal
    lock_in_days: int
    interest_rate: Decimal

    def as_dict(self) -> dict[str, Any]:
        """The plan's public shape: id, name, kind, value, lock_in_days, interest_rate."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "value": self.value,
            "lock_in_days": self.lock_in_days,
            "interest_rate": self.interest_rate,
        }


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A ledger entry as the projection holds it."""

    entry_id: UUID
    kind: str
    at: datetime
    amount: Decimal
    main: Decimal
    savings: Decimal
    main_balance: Decimal
    savings_balance: Decimal
    reverses: UUID | None
    reason: str | None
    period: str | None
    request_hash: str | None
    by: str | None  # who reversed: the operator's views only (`as_dict` leaves it out)

    def as_dict(self) -> dict[str, Any]:
        """The entry's public shape (a credit's also has its `credit_id`, as it always had)."""
        shown: dict[str, Any] = {
            "entry_id": self.entry_id,
            "kind": self.kind,
            "amount": self.amount,
            "main": self.main,
            "savings": self.savings,
            "main_balance": self.main_balance,
            "savings_balance": self.savings_balance,
            "at": self.at,
            "reverses": self.reverses,
            "reason": self.reason,
            "period": self.period,
        }
        if self.kind == "credit":
            shown["credit_id"] = self.entry_id
        return shown


def _entry(row: Any) -> EntryRecord:
    """An entry from a row of `_ENTRY_COLUMNS` (in that order), its ids as `uuid.UUID`.

    (asyncpg's own UUID type would reach the events, which the library cannot store.)
    """
    fields = list(row)
    fields[0] = UUID(str(fields[0]))  # entry_id
    fields[8] = None if fields[8] is None else UUID(str(fields[8]))  # reverses
    return EntryRecord(*fields)


_PLAN_COLUMNS = (Plan.id, Plan.name, Plan.kind, Plan.value, Plan.lock_in_days, Plan.interest_rate)
_ENTRY_COLUMNS = (
    LedgerEntry.entry_id,
    LedgerEntry.kind,
    LedgerEntry.at,
    LedgerEntry.amount,
    LedgerEntry.main,
    LedgerEntry.savings,
    LedgerEntry.main_balance,
    LedgerEntry.savings_balance,
    LedgerEntry.reverses,
    LedgerEntry.reason,
    LedgerEntry.period,
    LedgerEntry.request_hash,
    LedgerEntry.reversed_by,
)
_IN_ORDER = (LedgerEntry.at, LedgerEntry.seq)


async def insert_plan(
    session: AsyncSession, name: str, terms: PlanTerms, *, lock_in_days: int, interest_rate: Decimal
) -> PlanRecord | None:
    """Create a plan; None if the name is taken (one statement, no race between check and write)."""
    statement = (
        insert(Plan)
        .values(
            name=name,
            kind=terms.kind.value,
            value=terms.value,
            lock_in_days=lock_in_days,
            interest_rate=interest_rate,
        )
        .on_conflict_do_nothing(index_elements=[Plan.name])
        .returning(*_PLAN_COLUMNS)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else PlanRecord(*row)


async def get_plan(session: AsyncSession, plan_id: int) -> PlanRecord | None:
    """The plan with this id, or None."""
    row = (await session.execute(select(*_PLAN_COLUMNS).where(Plan.id == plan_id))).one_or_none()
    return None if row is None else PlanRecord(*row)


async def list_plans(session: AsyncSession) -> list[PlanRecord]:
    """Every plan, oldest first."""
    rows = await session.execute(select(*_PLAN_COLUMNS).order_by(Plan.id))
    return [PlanRecord(*row) for row in rows]


def customers_on_plan_statement(plan_id: int) -> Any:
    """The open accounts on a plan, by email: a walk of `ix_accounts_plan_id_email` in order.

    The index is partial (open accounts only), so a closed account costs the walk nothing.
    """
    return (
        select(AccountView.account_id, AccountView.email, AccountView.full_name)
        .where(AccountView.plan_id == plan_id, AccountView.closed_at.is_(None))
        .order_by(AccountView.email, AccountView.account_id)
    )


async def customers_on_plan(
    session: AsyncSession, plan_id: int, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the open accounts on a plan, by email, and how many there are."""
    listed = customers_on_plan_statement(plan_id)
    rows = await session.execute(listed.limit(limit).offset(offset))
    total = await session.scalar(select(func.count()).select_from(listed.order_by(None).subquery()))
    items = [{"user_id": row[0], "email": row[1], "full_name": row[2]} for row in rows]
    return items, int(total or 0)


async def account_exists(session: AsyncSession, account_id: UUID) -> bool:
    """Whether the account was ever opened (closed ones included)."""
    found = await session.scalar(select(literal(1)).where(AccountView.account_id == account_id))
    return found is not None


async def account_standing(session: AsyncSession, account_id: UUID) -> tuple[int, bool] | None:
    """The account's oldest good token version and whether it is closed; None: never opened."""
    row = (
        await session.execute(
            select(AccountView.token_version, AccountView.closed_at.is_not(None)).where(
                AccountView.account_id == account_id
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def plan_of(session: AsyncSession, account_id: UUID) -> int | None:
    """The plan in force on the account (None: no plan, or no such account)."""
    found: int | None = await session.scalar(
        select(AccountView.plan_id).where(AccountView.account_id == account_id)
    )
    return found


async def is_processed(session: AsyncSession, consumer: str, msg_id: str) -> bool:
    """Whether `consumer` has already handled the message `msg_id`."""
    found = await session.scalar(
        select(literal(1)).where(
            processed_messages.c.consumer == consumer, processed_messages.c.msg_id == msg_id
        )
    )
    return found is not None


async def find_entry(
    session: AsyncSession, account_id: UUID, idempotency_key: str
) -> EntryRecord | None:
    """The entry made with this idempotency key, or None (a lookup by unique key)."""
    row = (
        await session.execute(
            select(*_ENTRY_COLUMNS).where(
                LedgerEntry.account_id == account_id,
                LedgerEntry.idempotency_key == idempotency_key,
            )
        )
    ).one_or_none()
    return None if row is None else _entry(row)


async def get_entry(session: AsyncSession, entry_id: UUID) -> tuple[UUID, EntryRecord] | None:
    """The entry with this id and its account, or None."""
    row = (
        await session.execute(
            select(LedgerEntry.account_id, *_ENTRY_COLUMNS).where(LedgerEntry.entry_id == entry_id)
        )
    ).one_or_none()
    return None if row is None else (row[0], _entry(row[1:]))


async def reversal_of(session: AsyncSession, entry_id: UUID) -> EntryRecord | None:
    """The entry that reversed this one, or None (a lookup by unique key)."""
    row = (
        await session.execute(select(*_ENTRY_COLUMNS).where(LedgerEntry.reverses == entry_id))
    ).one_or_none()
    return None if row is None else _entry(row)


async def locked_savings(
    session: AsyncSession, account_id: UUID
) -> tuple[int, list[tuple[datetime, Decimal]], list[tuple[datetime, int]], datetime] | None:
    """What a transfer out of savings must know; None: no such account.

    The account's last entry number (`Account.entries`: whether it moved since), the sums that
    came into savings within the longest lock-in any of its plans had (oldest first: one range
    of `ix_ledger_entries_account_id`), its plan changes as (instant, lock-in days), and the
    database's clock they were read at.
    """
    last = (  # the last in time is the last in number: one step back along the index
        select(LedgerEntry.seq)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.at.desc(), LedgerEntry.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    head = (
        await session.execute(
            select(func.coalesce(last, 0), func.clock_timestamp()).where(
                AccountView.account_id == account_id
            )
        )
    ).one_or_none()
    if head is None:
        return None
    seq, now = int(head[0]), head[1]
    changes = [
        (row[0], int(row[1]))
        for row in await session.execute(
            select(PlanChange.at, PlanChange.lock_in_days)
            .where(PlanChange.account_id == account_id)
            .order_by(PlanChange.at, PlanChange.originator_version)
        )
    ]
    longest = max((days for _, days in changes), default=0)
    if longest == 0:
        return seq, [], changes, now
    rows = await session.execute(
        select(LedgerEntry.at, LedgerEntry.savings)
        .where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.at > now - timedelta(days=longest),
            LedgerEntry.savings > 0,
        )
        .order_by(*_IN_ORDER)
    )
    return seq, [(row[0], row[1]) for row in rows], changes, now


async def settle(session: AsyncSession, account_id: UUID) -> datetime:
    """The database's clock, read once none of the account's saves booked by then can commit.

    A save is booked at the database's clock while it holds its account's booking lock, which
    it keeps until it commits (`store._INSERT_EVENTS`). This statement waits for the save holding it,
    if any, and reads the clock while holding that lock shared: a save of this account booked
    at or before the instant returned committed before the statement got the lock, and any later
    one is booked after the statement ends. So in a statement run after this one, in autocommit
    (its own snapshot), the account's entries at or before the instant returned are all
    visible, now and forever.

    The lock lasts this statement only (microseconds of server time, no round trip): a save of
    the same account waits at most that long.
    """
    held = select(
        func.pg_advisory_xact_lock_shared(
            BOOKING_LOCK, func.hashtext(cast(literal(account_id, Uuid), Text))
        )
    ).cte("held")
    now: datetime | None = await session.scalar(
        select(func.clock_timestamp()).select_from(held.prefix_with("MATERIALIZED"))
    )
    assert now is not None
    return now


async def clock(session: AsyncSession) -> datetime:
    """The database's clock (the one every booking instant is read from)."""
    now: datetime | None = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    return now


def balance_statement(account_id: UUID, at: datetime, *, before: bool = False) -> Any:
    """The balance-at-T statement: the account row joined to its last entry at or before `at`.

    The lateral subquery is one backward descent of `ix_ledger_entries_account_id`; the account
    row comes along in the same round trip, so a missing account and "no entries yet" differ.
    With `before`, the last entry strictly before `at` (a statement's opening balances).
    """
    by_then = LedgerEntry.at < at if before else LedgerEntry.at <= at
    last = (
        select(LedgerEntry.main_balance, LedgerEntry.savings_balance)
        .where(LedgerEntry.account_id == AccountView.account_id, by_then)
        .order_by(LedgerEntry.at.desc(), LedgerEntry.seq.desc())
        .limit(1)
        .lateral("last_entry")
    )
    return (
        select(last.c.main_balance, last.c.savings_balance)
        .select_from(AccountView)
        .outerjoin(last, true())
        .where(AccountView.account_id == account_id)
    )


async def balance_at(
    session: AsyncSession, account_id: UUID, at: datetime, *, before: bool = False
) -> tuple[Decimal, Decimal] | None:
    """(main, savings) right after the last entry at (or, with `before`, before) `at`.

    None: no such account. An account without entries by then (or opened later) has zeros.
    """
    row = (await session.execute(balance_statement(account_id, at, before=before))).one_or_none()
    if row is None:
        return None
    return (row.main_balance or ZERO, row.savings_balance or ZERO)


async def entries_between(
    session: AsyncSession,
    account_id: UUID,
    from_: datetime,
    to: datetime,
    *,
    kind: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[EntryRecord], int]:
    """A page of the account's entries in [from_, to), oldest first, and how many there are.

    `kind`: only entries of this kind (a walk of `ix_ledger_entries_account_id_kind` for every
    kind but credits, which are most entries: the main index, filtered).
    """
    in_range = [
        LedgerEntry.account_id == account_id,
        LedgerEntry.at >= from_,
        LedgerEntry.at < to,
    ]
    if kind is not None:
        in_range.append(LedgerEntry.kind == kind)
        if kind != "credit":  # the partial index's own condition, so the planner may use it
            in_range.append(LedgerEntry.kind != "credit")
    rows = await session.execute(
        select(*_ENTRY_COLUMNS).where(*in_range).order_by(*_IN_ORDER).limit(limit).offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(LedgerEntry).where(*in_range))
    return [_entry(row) for row in rows], int(total or 0)


async def interest_between(
    session: AsyncSession, account_id: UUID, from_: datetime, to: datetime
) -> Decimal:
    """The interest entries' sum in [from_, to) (interest reversed is not netted here)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.kind == "interest",
            LedgerEntry.at >= from_,
            LedgerEntry.at < to,
        )
    )
    return Decimal(total or ZERO)


async def account_summary(session: AsyncSession, account_id: UUID) -> dict[str, Any] | None:
    """An account's profile, plan, state and interest posted through; None: never opened."""
    row = (
        await session.execute(
            select(
                AccountView.email,
                AccountView.full_name,
                AccountView.plan_id,
                AccountView.opened_at,
                AccountView.closed_at,
                AccountView.interest_through,
            ).where(AccountView.account_id == account_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return {
        "user_id": account_id,
        "email": row.email,
        "full_name": row.full_name,
        "plan_id": row.plan_id,
        "opened_at": row.opened_at,
        "closed_at": row.closed_at,
        "status": "open" if row.closed_at is None else "closed",
        "interest_through": row.interest_through,
    }


async def due_accounts(
    session: AsyncSession, month_end: date, *, after: UUID | None, limit: int
) -> list[tuple[UUID, datetime, date | None]]:
    """A batch of the open accounts with interest to post through `month_end`, by id.

    Opened by then, and whose interest is posted through an earlier day (or none): (account
    id, opened at, interest posted through). `after`: the last id of the previous batch.
    """
    statement = (
        select(AccountView.account_id, AccountView.opened_at, AccountView.interest_through)
        .where(
            AccountView.closed_at.is_(None),
            AccountView.opened_at < datetime.combine(month_end, time.min, UTC) + timedelta(days=1),
            or_(AccountView.interest_through.is_(None), AccountView.interest_through < month_end),
        )
        .order_by(AccountView.account_id)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(AccountView.account_id > after)
    return [(row[0], row[1], row[2]) for row in await session.execute(statement)]


@dataclass(frozen=True, slots=True)
class InterestInputs:
    """What a month's interest of one account is computed from (see `interest.month_days`)."""

    opening_savings: Decimal
    balances: list[tuple[datetime, Decimal]]
    rates: list[tuple[datetime, Decimal]]


async def interest_inputs(
    session: AsyncSession, account_ids: Sequence[UUID], starts: datetime, ends: datetime
) -> dict[UUID, InterestInputs]:
    """For each account, its savings before `starts`, its entries in [starts, ends), its rates.

    Three statements for the whole batch: the opening balances (one backward descent of the
    ledger's index per account), the month's entries (one range each), and every plan change
    before `ends` (few: a change is a customer choosing a plan).
    """
    ids = list(account_ids)
    wanted = func.unnest(cast(ids, ARRAY(Uuid))).table_valued("id").render_derived("wanted")
    opening = (
        select(LedgerEntry.savings_balance)
        .where(LedgerEntry.account_id == wanted.c.id, LedgerEntry.at < starts)
        .order_by(LedgerEntry.at.desc(), LedgerEntry.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = {
        row[0]: InterestInputs(row[1] if row[1] is not None else ZERO, [], [])
        for row in await session.execute(select(wanted.c.id, opening))
    }
    entries = await session.execute(
        select(LedgerEntry.account_id, LedgerEntry.at, LedgerEntry.savings_balance)
        .where(
            LedgerEntry.account_id == func.any(cast(ids, ARRAY(Uuid))),
            LedgerEntry.at >= starts,
            LedgerEntry.at < ends,
        )
        .order_by(LedgerEntry.account_id, *_IN_ORDER)
    )
    for account_id, at, savings in entries:
        found[account_id].balances.append((at, savings))
    rates = await session.execute(
        select(PlanChange.account_id, PlanChange.at, PlanChange.interest_rate)
        .where(PlanChange.account_id == func.any(cast(ids, ARRAY(Uuid))), PlanChange.at < ends)
        .order_by(PlanChange.account_id, PlanChange.at, PlanChange.originator_version)
    )
    for account_id, at, rate in rates:
        found[account_id].rates.append((at, rate))
    return found
