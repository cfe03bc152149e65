"""A savings customer's monthly statements: pick a month, read it, take it away as CSV or PDF.

The page asks the gateway for a page of the month's statement (`service.statement`, as the
API's JSON); the downloads ask for the whole month (`service.whole_statement`) and render it
with the API's own renderers (`statement_csv`, `statement_pdf`), so a file from the console is
the same bytes as the API's for the same month. Months are UTC, as the API's.

The month picker lists the months since the account's first entry (the customer cannot ask
when their account opened; before its first entry a statement is all zeros), newest first, at
most `MAX_MONTHS` of them; without any entry, the last 12. A month is `YYYY-MM` between
`EARLIEST` and the current month: anything else is said next to the picker (the downloads
answer a 422 page), never sent on.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import SavingsCustomer
from backoffice.console.savings_account import (
    HOME,
    KIND_NAMES,
    STAMP,
    STATEMENTS,
    CustomerGone,
    asked,
    signed_out,
)
from backoffice.console.savings_forms import money, signed
from backoffice.console.web import PAGE_HEADERS, render, with_query
from backoffice.core.auth.websessions import Customer
from backoffice.core.db import DbSession
from backoffice.core.errors import ValidationFailed
from backoffice.core.routing import ApiRouter
from backoffice.core.types import MAX_INT
from backoffice.savings.gateway import service
from backoffice.savings.gateway.statements import (
    MONTH_NAMES,
    entry_note,
)

router = ApiRouter(include_in_schema=False)

PAGE_SIZE = 50
# The picker's months: at most this many; the last `RECENT` when the account has no entry.
MAX_MONTHS = 120
RECENT = 12
# The first month a statement may be asked for (the ledger has nothing older).
EARLIEST = (2000, 1)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
BAD_MONTH = "Choose a month from the list."


def month_of(text: str, today: date) -> str | None:
    """`text` if it is a month (`YYYY-MM`) from `EARLIEST` to `today`'s month, else None."""
    found = _MONTH.fullmatch(text)
    if found is None:
        return None
    year, number = int(found.group(1)), int(found.group(2))
    if not 1 <= number <= 12 or not EARLIEST <= (year, number) <= (today.year, today.month):
        return None
    return text


def months_back(first: date | None, today: date) -> list[str]:
    """The picker's months, newest first: from `first`'s month to `today`'s.

    Args:
        first: The day of the account's first entry (None: no entry yet).
        today: Today (UTC).

    Returns:
        `YYYY-MM` strings, at most `MAX_MONTHS`; the last `RECENT` when `first` is None.
    """
    count = RECENT
    if first is not None:
        start = max((first.year, first.month), EARLIEST)
        count = (today.year - start[0]) * 12 + today.month - start[1] + 1
    found: list[str] = []
    index = today.year * 12 + today.month - 1
    for back in range(max(min(count, MAX_MONTHS), 1)):
        year, month = divmod(index - back, 12)
        if (year, month + 1) < EARLIEST:
            break
        found.append(f"{year:04d}-{month + 1:02d}")
    return found


def month_name(month: str) -> str:
    """`2026-03` as people write it: "March 2026"."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {int(year)}"


def _today() -> date:
    return datetime.now(UTC).date()


async def _first_entry(request: Request, token: str) -> date | None:
    """The day of the customer's first entry (None: none yet)."""
    found, _ = await asked(service.transactions(request, token, limit=1, offset=0))
    return found[0].at.astimezone(UTC).date() if found else None


async def _page(request: Request, customer: Customer, month_text: str, offset: int) -> Response:
    today = _today()
    months = months_back(await _first_entry(request, customer.token), today)
    month = month_of(month_text, today) if month_text else months[0]
    if month is None:
        return render(
            request,
            "savings/statements.html",
            status_code=422,
            months=[(m, month_name(m)) for m in months],
            month="",
            errors={"month": BAD_MONTH},
            statement=None,
            home=HOME,
            action=STATEMENTS,
        )
    if month not in months:  # a month before the first entry, asked for by its address
        months = sorted({*months, month}, reverse=True)
    statement = await asked(
        service.statement(request, customer.token, month, limit=PAGE_SIZE, offset=offset)
    )
    page = {
        "offset": offset,
        "limit": PAGE_SIZE,
        "total": statement.total,
        "has_more": offset + len(statement.entries) < statement.total,
    }
    return render(
        request,
        "savings/statements.html",
        months=[(m, month_name(m)) for m in months],
        month=month,
        title=month_name(month),
        errors={},
        statement=statement,
        page=page,
        page_url=lambda o: with_query(STATEMENTS, {"month": month, "offset": o or None}),
        csv_url=f"{STATEMENTS}/{month}.csv",
        pdf_url=f"{STATEMENTS}/{month}.pdf",
        money=money,
        signed=signed,
        stamp=STAMP,
        kind_names=KIND_NAMES,
        note=entry_note,
        home=HOME,
        action=STATEMENTS,
    )


@router.get(STATEMENTS)
async def statements(
    request: Request,
    customer: SavingsCustomer,
    session: DbSession,
    month: Annotated[str, Query(max_length=20)] = "",
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> Response:
    """A month's statement (default: the current month), its entries a page at a time."""
    try:
        return await _page(request, customer, month, offset)
    except CustomerGone:
        return await signed_out(request, session)


def _download_month(month: str) -> str:
    checked = month_of(month, _today())
    if checked is None:
        raise ValidationFailed.field("month", f"{BAD_MONTH} (a month like 2026-03, not to come)")
    return checked


def _attachment(body: str | bytes, media_type: str, filename: str) -> Response:
    disposition = f'attachment; filename="{filename}"'
    headers = {**PAGE_HEADERS, "Content-Disposition": disposition}
    return Response(body, media_type=media_type, headers=headers)


@router.get(STATEMENTS + "/{month}.csv")
async def statement_csv_file(
    request: Request, customer: SavingsCustomer, session: DbSession, month: str
) -> Response:
    """The month's statement as CSV: the API's file (every entry; past 30,000, a 422 page)."""
    checked = _download_month(month)
    try:
        made = await asked(
            service.statement_document(request, customer.token, checked, service.CSV_TYPE)
        )
    except CustomerGone:
        return await signed_out(request, session)
    return _attachment(made, "text/csv; charset=utf-8", f"statement-{checked}.csv")


@router.get(STATEMENTS + "/{month}.pdf")
async def statement_pdf_file(
    request: Request, customer: SavingsCustomer, session: DbSession, month: str
) -> Response:
    """The month's statement as a PDF to file: the API's document."""
    checked = _download_month(month)
    try:
        made = await asked(
            service.statement_document(request, customer.token, checked, service.PDF_TYPE)
        )
    except CustomerGone:
        return await signed_out(request, session)
    return _attachment(made, "application/pdf", f"statement-{checked}.pdf")
