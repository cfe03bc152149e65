"""Merchants: an operator uploads an activity file to the inbox, then watches its import live.

The upload streams to the inbox (`DATA_DIR`, where the app's background import reads): parsed
as it arrives (`console.uploads`), the CSRF token checked before a byte of the file is taken,
written to a temporary file there, checked as the import checks a file (`ingest.inbox`), and
named only then. The request is bounded by the route's own `max_body_size` (`core.bodylimit`:
a declared length over it is refused before anything is read) and the file by the same size.
Then the same background import the app runs at startup imports the inbox
(`merchants.tasks.Importer`, reported in `/health`).

The progress is one block of the page (`block="progress"`), which refreshes itself where scripts
run (`data-refresh` in console.js) and is brought up to date by reloading the page otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Access, Reader, Writer, may_open, signed_in
from backoffice.console.merchants import DATASET, PAGES
from backoffice.console.uploads import receive_file
from backoffice.console.web import FieldProblem, redirect, render, with_query
from backoffice.core.db import DbSession
from backoffice.core.routing import ApiRouter
from backoffice.ingest import history
from backoffice.ingest.inbox import FileRefused, FileTooLarge, Landing
from backoffice.ingest.pipeline import libpq_url
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.tasks import Importer, ImportState

router = ApiRouter(include_in_schema=False)

MAX_UPLOAD_BYTES = 512 << 20  # the request (core.bodylimit refuses a longer declared length)
MAX_FILE_BYTES = MAX_UPLOAD_BYTES  # the file itself, counted as it is written
FILE_FIELD = "file"
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


@router.post(PAGE, max_body_size=MAX_UPLOAD_BYTES)
async def upload(request: Request, principal: Writer, session: DbSession) -> Response:
    """Receive an activity file into the inbox, then start its import (see the module)."""
    visitor = signed_in(request)
    assert visitor is not None  # the access check found them
    inbox: Path = request.app.state.settings.data_dir
    # The visitor is known: end the request's transaction before the body streams in, so a
    # slow upload does not hold a pooled connection idle in a transaction for minutes. Nothing
    # below reads the database (a refusal re-renders the page without following a file).
    await session.commit()

    def landing(name: str) -> Landing:
        return Landing(MERCHANT_ACTIVITIES, inbox, name, MAX_FILE_BYTES)

    try:
        received = await receive_file(request, visitor.csrf_token, FILE_FIELD, landing)
        await anyio.to_thread.run_sync(received.finish)
    except (FieldProblem, FileRefused, FileTooLarge) as problem:
        values = await _page(request, session, None)
        return render(
            request,
            "merchants/upload.html",
            status_code=problem.status_code,
            **{**values, "errors": {FILE_FIELD: problem.message}},
        )
    importer: Importer = request.app.state.merchant_importer
    importer.request(libpq_url(request.app.state.db.url), inbox)
    return redirect(
        with_query(PAGE, {"file": received.name}),
        notice=f"{received.name} ({received.size:,} bytes) is in the inbox; its import has started.",
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
