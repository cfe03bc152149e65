"""The transactions section: the ETL's runs, a run with its events and rejects, a user's page.

Every figure comes from the functions the API's endpoints call (`ingest.history` for the runs
and the quarantine, `transactions.service` for a user's summary and list), with the API's
validation: a user id is an `IdParam`, a date a `Day`, and `from` after `to` is the service's
own `ValidationFailed`. Lists paginate on the server and export as CSV with the same filters
(at most `EXPORT_ROWS` rows from the page shown on). The upload of a day's export is in
`transactions_upload.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console import import_runs
from backoffice.console.access import Access, Reader, may_open, signed_in
from backoffice.console.web import csv_response, render, with_query
from backoffice.core.db import DbSession, StatementPool
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import ValidationFailed
from backoffice.core.pagination import PageParams
from backoffice.core.routing import ApiRouter
from backoffice.core.types import CountParam, Day, IdParam
from backoffice.ingest import history
from backoffice.ingest.results import Status
from backoffice.ingest.schemas import RunRead
from backoffice.transactions import service
from backoffice.transactions.dataset import NAME
from backoffice.transactions.errors import UserHasNoTransactions
from backoffice.transactions.schemas import TransactionRead, UserSummaryRead

router = ApiRouter(include_in_schema=False)

BASE = "/console/transactions"
PAGE_ROWS = 50
EXPORT_ROWS = 10_000
STATUSES: tuple[str, ...] = get_args(Status)
# The runs' columns: a transactions file has no flagged rows; a run is the CLI's or Airflow's.
RUN_COLUMNS = import_runs.run_columns(leave_out={"flagged"}, headings={"inserted": "Loaded"})
_ID = TypeAdapter(IdParam)
_DAY = TypeAdapter(Day)
_OFFSET = TypeAdapter(CountParam)
MAX_OFFSET = 1_000_000
_ORDER = [
    service.TRANSACTION_SORT["transaction_date"].desc(),
    service.TRANSACTION_SORT["id"].desc(),
]


def page(request: Request, template: str, **values: Any) -> Response:
    """A page of the section: `render`, with whether the visitor may upload (the tabs say so)."""
    may_upload = may_open(signed_in(request), Access.CREATE)
    return render(request, template, may_upload=may_upload, **values)


def offset_of(request: Request) -> int:
    """The `offset` of the page asked for (0 when absent or not a count: it comes from links)."""
    try:
        offset = _OFFSET.validate_python(request.query_params.get("offset", "0"))
    except ValidationError:
        return 0
    return min(offset, MAX_OFFSET)  # deeper than any person pages: a bounded scan


def pages(path: str, params: dict[str, Any]) -> Callable[[int], str]:
    """The URL of the page at an offset, with the list's filters."""
    return lambda offset: with_query(path, {**params, "offset": offset or None})


@router.get(f"{BASE}/")
async def runs_page(request: Request, session: DbSession, _: Reader) -> Response:
    """The ETL's runs, most recent first, optionally of one status."""
    status, errors = _status_of(request)
    runs, info = await history.list_runs(
        session, NAME, PageParams(PAGE_ROWS, offset_of(request)), status=status
    )
    return page(
        request,
        "transactions/runs.html",
        status_code=422 if errors else 200,
        runs=[RunRead.model_validate(r) for r in runs],
        columns=RUN_COLUMNS,
        page=info,
        url=pages(f"{BASE}/", {"status": status}),
        csv_url=with_query(f"{BASE}/runs.csv", {"status": status, "offset": info.offset or None}),
        status=status or "",
        status_options=[("", "Any"), *((s, s) for s in STATUSES)],
        errors=errors,
        pending=request.app.state.transactions_etl.pending(),
    )


@router.get(f"{BASE}/runs.csv")
async def runs_csv(request: Request, session: DbSession, _: Reader) -> Response:
    """The runs as CSV (the list's filter; up to `EXPORT_ROWS` from its offset)."""
    status, _errors = _status_of(request)
    runs, _info = await history.list_runs(
        session, NAME, PageParams(EXPORT_ROWS, offset_of(request)), status=status
    )
    rows = (RunRead.model_validate(r) for r in runs)
    return import_runs.runs_csv("transactions-runs.csv", RUN_COLUMNS, rows)


def _status_of(request: Request) -> tuple[Status | None, dict[str, str]]:
    value = request.query_params.get("status", "")
    if not value:
        return None, {}
    if value not in STATUSES:
        return None, {"status": f"Choose one of: {', '.join(STATUSES)}."}
    return value, {}  # type: ignore[return-value]


@router.get(f"{BASE}/runs/{{run_id}}")
async def run_page(request: Request, run_id: IdParam, session: DbSession, _: Reader) -> Response:
    """One run: how it started and ended, its counts, its task events."""
    run = await history.run_detail(session, NAME, run_id)
    return page(request, "transactions/run.html", run=run)


@router.get(f"{BASE}/runs/{{run_id}}/rejects")
async def rejects_page(
    request: Request, run_id: IdParam, session: DbSession, _: Reader
) -> Response:
    """The lines the run's file had refused, in file order, each with its reason."""
    run = await history.get_run(session, NAME, run_id)
    wanted = PageParams(PAGE_ROWS, offset_of(request))
    rejects, info = await history.list_rejects(session, NAME, wanted, run_id=run_id)
    path = f"{BASE}/runs/{run_id}/rejects"
    return page(
        request,
        "transactions/rejects.html",
        run=RunRead.model_validate(run),
        rejects=rejects,
        page=info,
        url=pages(path, {}),
        csv_url=with_query(f"{path}.csv", {"offset": info.offset or None}),
    )


@router.get(f"{BASE}/runs/{{run_id}}/rejects.csv")
async def rejects_csv(request: Request, run_id: IdParam, session: DbSession, _: Reader) -> Response:
    """The run's rejects as CSV (up to `EXPORT_ROWS` from the offset)."""
    wanted = PageParams(EXPORT_ROWS, offset_of(request))
    rejects, _info = await history.list_rejects(session, NAME, wanted, run_id=run_id)
    return import_runs.rejects_csv(f"transactions-run-{run_id}-rejects.csv", rejects)


class UserQuery:
    """The user page's form, read with the API's types; each problem by field."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.text = {name: params.get(name, "").strip()[:40] for name in ("user_id", "from", "to")}
        self.errors: dict[str, str] = {}
        self.user_id: int | None = None
        self.date_from: date | None = None
        self.date_to: date | None = None
        if self.text["user_id"]:
            try:
                self.user_id = _ID.validate_python(self.text["user_id"])
            except ValidationError:
                self.errors["user_id"] = "A user id is a whole number from 1 to 2147483647."
        for name in ("from", "to"):
            if self.text[name]:
                try:
                    setattr(self, f"date_{name}", _DAY.validate_python(self.text[name]))
                except ValidationError:
                    self.errors[name] = "Write the date as YYYY-MM-DD, e.g. 2024-06-18."
        if not self.errors:
            try:
                service.check_range(self.date_from, self.date_to)
            except ValidationFailed:
                self.errors["from"] = "The start must be on or before the end."

    @property
    def ready(self) -> bool:
        """Whether there is a user to show."""
        return self.user_id is not None and not self.errors

    def params(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "from": self.date_from, "to": self.date_to}


async def _transactions(
    session: DbSession, query: UserQuery, page: PageParams
) -> tuple[list[TransactionRead], PageInfo]:
    return await service.list_transactions(
        session,
        page,
        _ORDER,
        user_id=query.user_id,
        date_from=query.date_from,
        date_to=query.date_to,
    )


@router.get(f"{BASE}/users")
async def user_page(
    request: Request, session: DbSession, conn: StatementPool, _: Reader
) -> Response:
    """A user's summary (all their transactions) and their transactions by date range."""
    query = UserQuery(request)
    summary: UserSummaryRead | None = None
    rows: list[TransactionRead] = []
    info: PageInfo | None = None
    missing = ""
    if query.ready:
        assert query.user_id is not None
        try:
            summary = await service.user_summary(conn, query.user_id)
        except UserHasNoTransactions:
            missing = f"User {query.user_id} has no transactions."
        else:
            rows, info = await _transactions(
                session, query, PageParams(PAGE_ROWS, offset_of(request))
            )
    params = query.params()
    return page(
        request,
        "transactions/user.html",
        status_code=422 if query.errors else 200,
        query=query,
        errors=query.errors,
        summary=summary,
        missing=missing,
        transactions=rows,
        page=info,
        url=pages(f"{BASE}/users", params),
        csv_url=with_query(
            f"{BASE}/users.csv", {**params, "offset": info.offset if info else None}
        ),
    )


@router.get(f"{BASE}/users.csv")
async def user_csv(request: Request, session: DbSession, _: Reader) -> Response:
    """The user's transactions in the range as CSV (up to `EXPORT_ROWS` from the offset)."""
    query = UserQuery(request)
    if not query.ready:
        raise ValidationFailed("; ".join(query.errors.values()) or "Choose a user first (user_id).")
    rows, _info = await _transactions(session, query, PageParams(EXPORT_ROWS, offset_of(request)))
    header = ("id", "transaction_id", "user_id", "amount", "transaction_date")
    lines = ([getattr(t, column) for column in header] for t in rows)
    return csv_response(f"transactions-user-{query.user_id}.csv", header, lines)
