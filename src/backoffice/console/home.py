"""The console's home: what needs the signed-in person now.

My pending approvals and my expenses in flight (when the login is an employee), the last
merchant import and the last ETL run with their status, and what the loaders did since
yesterday. Each part is a context's own read; a part the login has no use for says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Staff
from backoffice.console.web import render
from backoffice.core.auth.roles import Permission
from backoffice.core.db import DbSession, StatementPool
from backoffice.core.errors import DomainError
from backoffice.core.pagination import PageParams
from backoffice.core.routing import ApiRouter
from backoffice.expenses import identity, listing, views
from backoffice.expenses.rules import ExpenseStatus
from backoffice.ingest import history
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.transactions.dataset import NAME as TRANSACTIONS

router = ApiRouter(include_in_schema=False)
FIRST_FEW = PageParams(limit=5)
LAST_ONE = PageParams(limit=1)


@router.get("/console/")
async def home(
    request: Request, principal: Staff, session: DbSession, conn: StatementPool
) -> Response:
    """My pending approvals, my expenses in flight, the last import and ETL run."""
    page: dict[str, Any] = {"inbox": None, "in_flight": None}
    try:  # a login that is no employee has no inbox and no expenses of its own
        page["inbox"] = await views.inbox(conn, principal, FIRST_FEW)
        actor = await identity.session_actor(session, principal)
        # Only the login's own claims: for an actor with no employee of its own the listing
        # would not filter by submitter (an admin's view of everyone's).
        if actor.employee is not None:
            page["in_flight"] = await listing.list_expenses(
                session, actor, FIRST_FEW, status=ExpenseStatus.PENDING
            )
    except DomainError as error:
        page["no_expenses"] = error.message
    if principal.can(Permission.READ):
        page |= await _loaders(session)
    return render(request, "home.html", **page)


async def _loaders(session: DbSession) -> dict[str, Any]:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    found: dict[str, Any] = {}
    for key, dataset in (("merchants", MERCHANT_ACTIVITIES.name), ("transactions", TRANSACTIONS)):
        runs, _ = await history.list_runs(session, dataset, LAST_ONE)
        found[key] = {
            "last": runs[0] if runs else None,
            "since": await history.totals_since(session, dataset, yesterday),
        }
    return found
