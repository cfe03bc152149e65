"""HTTP API of transactions: the seed's per-user summary and the list.

`GET /transactions/{user_id}/summary` keeps its clients' unwrapped JSON and answers errors as
`{"detail", "code"}`; `GET /api/v1/transactions` speaks the envelope like the rest of the
platform.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from backoffice.core.auth.dependencies import CanRead
from backoffice.core.contexts import Context, Routes
from backoffice.core.db import DbSession, StatementPool
from backoffice.core.envelope import Envelope, ErrorStyle, ok
from backoffice.core.errors import AUTH_ERRORS, ValidationFailed, error_responses
from backoffice.core.pagination import Order, Pagination, sorting
from backoffice.core.routing import ApiRouter
from backoffice.core.types import IdParam
from backoffice.transactions import service
from backoffice.transactions.errors import UserHasNoTransactions
from backoffice.transactions.schemas import TransactionRead, UserSummaryRead

summaries = ApiRouter(prefix="/transactions", tags=["transactions"])
listing = ApiRouter(prefix="/api/v1/transactions", tags=["transactions"])

sort_transactions = sorting(service.TRANSACTION_SORT, default=service.DEFAULT_SORT)


@summaries.get(
    "/{user_id}/summary",
    response_model=UserSummaryRead,
    responses=error_responses(*AUTH_ERRORS, UserHasNoTransactions, ValidationFailed),
    summary="A user's transaction count, total and average amount",
)
async def user_summary(user_id: IdParam, _: CanRead, conn: StatementPool) -> UserSummaryRead:
    """From the summary the triggers keep: one index lookup whatever the table's size.

    404 for a user with no transactions; a user id that is not 1 .. 2^31-1 is a 422.
    """
    return await service.user_summary(conn, user_id)


@listing.get(
    "",
    response_model=Envelope[list[TransactionRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List transactions, newest first, by user and date range",
)
async def list_transactions(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_transactions)],
    user_id: Annotated[IdParam | None, Query(description="Only this user's")] = None,
    date_from: Annotated[
        date | None, Query(alias="from", description="YYYY-MM-DD, included")
    ] = None,
    date_to: Annotated[date | None, Query(alias="to", description="YYYY-MM-DD, included")] = None,
) -> Envelope[list[TransactionRead]]:
    """Paginated; `from` after `to` is a 422."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationFailed.field("from", "`from` must be on or before `to`")
    rows, info = await service.list_transactions(
        session, page, order, user_id=user_id, date_from=date_from, date_to=date_to
    )
    return ok(rows, pagination=info)


context = Context("transactions", routers=(Routes(summaries, ErrorStyle.DETAIL), listing))
