"""Merchants: an operator uploads an activity file to the inbox, then watches its import live.

The upload streams to the inbox (`DATA_DIR`, where the app's background import reads): parsed
as it arrives by the console's one upload reader (`console.uploads`, which the transactions'
page uses too): the CSRF token checked before a byte of the file is taken, written to a
temporary file there, checked as the import checks a file (`ingest.inbox.Landing`), and named
only then. The request is bounded by the route's own `max_body_size` (`core.bodylimit`: a
declared length over it is refused before anything is read) and the file by `MAX_FILE_BYTES`.
Then the same background import the app runs at startup imports the inbox
(`merchants.tasks.Importer`, reported in `/health`).

The progress is one block of the page (`block="progress"`), which refreshes itself where scripts
run (`data-refresh` in console.js) and is brought up to date by reloading the page otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Access, Reader, Writer, may_open, signed_in
from backoffice.console.merchants import DATASET, PAGES
from backoffice.console.uploads import FORM_BYTES, REFUSALS, refusal_errors, upload_to_inbox
from backoffice.console.web import redirect, render, with_query
from backoffice.core.db import DbSession
from backoffice.core.routing import ApiRouter
from backoffice.ingest import history
from backoffice.ingest.pipeline import libpq_url
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.tasks import Importer, ImportState

router = ApiRouter(include_in_schema=False)

MAX_FILE_BYTES = 512 << 20  # the file itself, counted as it arrives
# The request (core.bodylimit refuses a longer declared length, or a body that runs past it).
MAX_BODY_BYTES = MAX_FILE_BYTES + FORM_BYTES
PAGE = "/console/merchants/upload"
# `?file=` names the file whose import the page follows (bounded; a name the import takes).
FileName = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get(PAGE)
async def upload_page(
    request: Request, principal: Reader, session: DbSession, file: FileName = None
) -> Response:
    """The upload form (for those who may create) and the import's progress."""
    return render(request, "merchants/upload.html", **await _page(request, session, file))


@router.get("/console/merchants/progress")
async def progress(
    request: Request, principal: Reader, session: DbSession, file: FileName = None
) -> Response:
    """The progress block alone, for the page's live update."""
    values = await _page(request, session, file)
    return render(request, "merchants/upload.html", block="progress", **values)


@router.post(PAGE, max_body_size=MAX_BODY_BYTES)
async def upload(request: Request, principal: Writer, session: DbSession) -> Response:
    """Receive an activity file into the inbox, then start its import (see the module)."""
    visitor = signed_in(request)
    assert visitor is not None  # the access check found them
    inbox: Path = request.app.state.settings.data_dir
    # The visitor is known: end the request's transaction before the body streams in, so a
    # slow upload does not hold a pooled connection idle in a transaction for minutes. Nothing
    # below reads the database (a refusal re-renders the page without following a file).
    await session.commit()
    try:
        landed = await upload_to_inbox(
            request,
            visitor.csrf_token,
            dataset=MERCHANT_ACTIVITIES,
            inbox=inbox,
            max_bytes=MAX_FILE_BYTES,
        )
    except REFUSALS as problem:
        values = await _page(request, session, None)
        return render(
            request,
            "merchants/upload.html",
            status_code=problem.status_code,
            **{**values, "errors": refusal_errors(problem)},
        )
    importer: Importer = request.app.state.merchant_importer
    importer.request(libpq_url(request.app.state.db.url), inbox)
    return redirect(
        with_query(PAGE, {"file": landed.name}),
        notice=f"{landed.name} ({landed.size:,} bytes) is in the inbox; its import has started.",
    )


async def _page(request: Request, session: AsyncSession, file: str | None) -> dict[str, Any]:
    state: ImportState = request.app.state.merchant_import
    importer: Importer = request.app.state.merchant_importer
    busy = importer.busy()
    run = await history.last_run_of_file(session, DATASET, file) if file else None
    return {
        "pages": PAGES,
        "errors": {},
        "may_upload": may_open(signed_in(request), Access.CREATE),
        "hint": MERCHANT_ACTIVITIES.file_name_hint,
        "max_mib": MAX_FILE_BYTES >> 20,
        "file": file or "",
        "busy": busy,
        "report": state.report(),
        "run": None if busy else run,
        "progress_url": with_query("/console/merchants/progress", {"file": file}),
        "reload_url": with_query(PAGE, {"file": file}),
        "action": PAGE,
    }
