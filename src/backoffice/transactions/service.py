"""Reads of the transactions context: the per-user summary and the list.

The summary is one primary-key lookup of the trigger-kept `transaction_user_summaries` row,
run on the statement pool (a read that stands alone); the list goes through the ORM session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.db import Driver, Sql
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import ValidationFailed
from backoffice.core.money import to_cents
from backoffice.core.pagination import PageParams, in_range, paginate
from backoffice.transactions.errors import UserHasNoTransactions
from backoffice.transactions.models import Transaction, TransactionUserSummary
from backoffice.transactions.schemas import TransactionRead, UserSummaryRead

# Newest first; `id` breaks ties between transactions of one day (later load first).
TRANSACTION_SORT: dict[str, Any] = {
    "transaction_date": Transaction.transaction_date,
    "id": Transaction.id,
    "amount": Transaction.amount,
}
DEFAULT_SORT = "-transaction_date,-id"


@cache
def _summary_sql() -> Sql:
    summary = TransactionUserSummary
    return Sql(
        select(summary.transaction_count, summary.amount_total).where(
            summary.user_id == bindparam("user_id")
        )
    )


async def user_summary(conn: Driver, user_id: int) -> UserSummaryRead:
    """Count, total and average of a user's transactions; 404 when they have none."""
    row = await _summary_sql().fetchrow(conn, user_id=user_id)
    if row is None:
        raise UserHasNoTransactions(f"No transactions for user {user_id}")
    count, total = row
    return UserSummaryRead(
        user_id=user_id,
        total_transactions=count,
        total_amount=total,
        average_transaction_amount=to_cents(total / count),
    )


def check_range(date_from: date | None, date_to: date | None) -> None:
    """`ValidationFailed` (field `from`) when the range ends before it starts."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed.field("from", "`from` must be on or before `to`")


async def list_transactions(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    user_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tuple[list[TransactionRead], PageInfo]:
    """One page of transactions, filtered by user and by date (both bounds included).

    `date_from` after `date_to` is a `ValidationFailed` on field `from`.
    """
    check_range(date_from, date_to)
    conditions = in_range(Transaction.transaction_date, date_from, date_to)
    if user_id is not None:
        conditions.append(Transaction.user_id == user_id)
    statement = select(Transaction).where(*conditions)
    counted = None
    if user_id is not None and date_from is None and date_to is None:
        # A user's whole list: the summary knows its length (one lookup, not a count).
        counted = select(
            func.coalesce(
                select(TransactionUserSummary.transaction_count)
                .where(TransactionUserSummary.user_id == user_id)
                .scalar_subquery(),
                0,
            )
        )
    rows, info = await paginate(session, statement, page, order_by, counted=counted)
    return [TransactionRead.model_validate(row) for row in rows], info
