"""HTTP API of transactions: the seed's per-user summary and the list.

`GET /transactions/{user_id}/summary` keeps its clients' unwrapped JSON and answers errors as
`{"detail", "code"}`; `GET /api/v1/transactions` speaks the envelope like the rest of the
platform.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from backoffice.core.auth.dependencies import CanRead
from backoffice.core.contexts import Context, Routes
from backoffice.core.db import DbSession, StatementPool
from backoffice.core.envelope import Envelope, ErrorStyle, ok
from backoffice.core.errors import AUTH_ERRORS, ValidationFailed, error_responses
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import Order, Pagination, sorting
from backoffice.core.routing import ApiRouter
from backoffice.core.types import Day, IdParam
from backoffice.ingest import history
from backoffice.ingest.errors import RunNotFound
from backoffice.ingest.results import Status
from backoffice.ingest.schemas import RejectRead, RunDetail, RunRead
from backoffice.transactions import runner, service
from backoffice.transactions.dataset import NAME
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
    openapi_extra=rules_beyond_schema("from must not be after to"),
)
async def list_transactions(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_transactions)],
    user_id: Annotated[IdParam | None, Query(description="Only this user's")] = None,
    date_from: Annotated[
        Day | None, Query(alias="from", description="YYYY-MM-DD, included")
    ] = None,
    date_to: Annotated[Day | None, Query(alias="to", description="YYYY-MM-DD, included")] = None,
) -> Envelope[list[TransactionRead]]:
    """Paginated; `from` after `to` is a 422."""
    rows, info = await service.list_transactions(
        session, page, order, user_id=user_id, date_from=date_from, date_to=date_to
    )
    return ok(rows, pagination=info)


@listing.get(
    "/runs",
    response_model=Envelope[list[RunRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="The ETL's runs (one per file), most recent first",
)
async def list_runs(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    status: Annotated[Status | None, Query(description="Only runs that ended so")] = None,
) -> Envelope[list[RunRead]]:
    """How each run was started (CLI or Airflow, DAG run, logical date), its counts and end."""
    runs, info = await history.list_runs(session, NAME, page, status=status)
    return ok([RunRead.model_validate(r) for r in runs], pagination=info)


@listing.get(
    "/runs/{run_id}",
    response_model=Envelope[RunDetail],
    responses=error_responses(*AUTH_ERRORS, RunNotFound, ValidationFailed),
    summary="One run of the ETL with its task events",
)
async def get_run(run_id: IdParam, session: DbSession, _: CanRead) -> Envelope[RunDetail]:
    """404 for an id that is not a transactions run."""
    return ok(await history.run_detail(session, NAME, run_id))


@listing.get(
    "/rejects",
    response_model=Envelope[list[RejectRead]],
    responses=error_responses(*AUTH_ERRORS, RunNotFound, ValidationFailed),
    summary="The quarantine: lines refused (and conflicting duplicates), in file order",
)
async def list_rejects(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    run_id: Annotated[IdParam | None, Query(description="Only this run's file")] = None,
) -> Envelope[list[RejectRead]]:
    """Each line with its file, line number, raw text and reason code."""
    rows, info = await history.list_rejects(session, NAME, page, run_id=run_id)
    return ok(rows, pagination=info)


context = Context(
    "transactions",
    routers=(Routes(summaries, ErrorStyle.DETAIL), listing),
    setup=runner.setup,
    lifespan=(runner.stop_at_shutdown,),
)
