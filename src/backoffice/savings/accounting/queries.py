"""Reads of the projections and the plans, and the plans' one write: SQLAlchemy over asyncpg.

Every function takes a session; each runs one or two statements that stand alone (the
service passes an autocommit session). The event store (`store.py`) is the only other way
into this database, and the only writer of `accounts`, `credits` and `processed_messages`.
A read up to an instant asks `settle` first (see there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Text, Uuid, cast, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.savings.accounting.models import (
    BOOKING_LOCK,
    AccountView,
    CreditView,
    Plan,
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

    def as_dict(self) -> dict[str, Any]:
        """The plan's public shape: id, name, kind, value."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class CreditRecord:
    """A credit as the projection holds it."""

    credit_id: UUID
    at: datetime
    amount: Decimal
    main: Decimal
    savings: Decimal
    request_hash: str

    def as_dict(self) -> dict[str, Any]:
        """The credit's public shape: credit_id, amount, main, savings, at."""
        return {
            "credit_id": self.credit_id,
            "amount": self.amount,
            "main": self.main,
            "savings": self.savings,
            "at": self.at,
        }


_PLAN_COLUMNS = (Plan.id, Plan.name, Plan.kind, Plan.value)
_CREDIT_COLUMNS = (
    CreditView.credit_id,
    CreditView.at,
    CreditView.amount,
    CreditView.main,
    CreditView.savings,
    CreditView.request_hash,
)


async def insert_plan(session: AsyncSession, name: str, terms: PlanTerms) -> PlanRecord | None:
    """Create a plan; None if the name is taken (one statement, no race between check and write)."""
    statement = (
        insert(Plan)
        .values(name=name, kind=terms.kind.value, value=terms.value)
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


async def find_credit(
    session: AsyncSession, account_id: UUID, idempotency_key: str
) -> CreditRecord | None:
    """The credit made with this idempotency key, or None (a lookup by unique key)."""
    row = (
        await session.execute(
            select(*_CREDIT_COLUMNS).where(
                CreditView.account_id == account_id,
                CreditView.idempotency_key == idempotency_key,
            )
        )
    ).one_or_none()
    return None if row is None else CreditRecord(*row)


async def settle(session: AsyncSession, account_id: UUID) -> datetime:
    """The database's clock, read once none of the account's saves booked by then can commit.

    A save is booked at the database's clock while it holds its account's booking lock, which
    it keeps until it commits (`store._INSERT_EVENTS`). This statement waits for the save holding it,
    if any, and reads the clock while holding that lock shared: a save of this account booked
    at or before the instant returned committed before the statement got the lock, and any later
    one is booked after the statement ends. So in a statement run after this one, in autocommit
    (its own snapshot), the account's credits at or before the instant returned are all
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


def balance_statement(account_id: UUID, at: datetime) -> Any:
    """The balance-at-T statement: the account row joined to its last credit at or before `at`.

    The lateral subquery is one backward descent of `ix_credits_account_id`; the account row
    comes along in the same round trip, so a missing account and "no credits yet" differ.
    """
    last = (
        select(CreditView.main_balance, CreditView.savings_balance)
        .where(CreditView.account_id == AccountView.account_id, CreditView.at <= at)
        .order_by(CreditView.at.desc(), CreditView.originator_version.desc())
        .limit(1)
        .lateral("last_credit")
    )
    return (
        select(last.c.main_balance, last.c.savings_balance)
        .select_from(AccountView)
        .outerjoin(last, true())
        .where(AccountView.account_id == account_id)
    )


async def balance_at(
    session: AsyncSession, account_id: UUID, at: datetime
) -> tuple[Decimal, Decimal] | None:
    """(main, savings) right after the last credit at or before `at`; None: no such account.

    An account without credits by then (or opened later) has zeros.
    """
    row = (await session.execute(balance_statement(account_id, at))).one_or_none()
    if row is None:
        return None
    return (row.main_balance or ZERO, row.savings_balance or ZERO)


async def credits_between(
    session: AsyncSession,
    account_id: UUID,
    from_: datetime,
    to: datetime,
    *,
    limit: int,
    offset: int,
) -> tuple[list[CreditRecord], int]:
    """A page of the account's credits in [from_, to), oldest first, and how many there are."""
    in_range = (
        CreditView.account_id == account_id,
        CreditView.at >= from_,
        CreditView.at < to,
    )
    rows = await session.execute(
        select(*_CREDIT_COLUMNS)
        .where(*in_range)
        .order_by(CreditView.at, CreditView.originator_version)
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(CreditView).where(*in_range))
    return [CreditRecord(*row) for row in rows], int(total or 0)
