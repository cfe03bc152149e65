"""An operator uploads a day's export of transactions and watches its run.

The file is streamed into `TRANSACTIONS_INBOX` by the console's one upload reader
(`console.uploads`, which the merchants' page uses too: CSRF checked before any of the file is
read, chunks written in a worker thread to a temporary file there, the file bounded by
`MAX_FILE_BYTES` and the body by the route's own limit), checked as the loader would
(`ingest.inbox.Landing`: its name rules and its header, an empty file refused), linked into
place without replacing any file of that name, and queued for a run of
the ETL (`transactions.runner`, which runs `etl.run_etl`: the command line's code path). The
status page follows the run (a block the page refreshes; without JavaScript, a reload), then
shows its counts from the run audit, with links to the run and its rejects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Reader, Writer, signed_in
from backoffice.console.transactions import page
from backoffice.console.uploads import FORM_BYTES, REFUSALS, refusal_errors, upload_to_inbox
from backoffice.console.web import CsrfFailed, redirect, render
from backoffice.core.db import DbSession
from backoffice.core.errors import NotFound
from backoffice.core.routing import ApiRouter
from backoffice.ingest import history
from backoffice.ingest.files import refused_name
from backoffice.ingest.schemas import RunRead
from backoffice.transactions.dataset import NAME, TRANSACTIONS
from backoffice.transactions.runner import EtlRunner, RunnerBusy, Upload

router = ApiRouter(include_in_schema=False)

BASE = "/console/transactions"
# A day's export, at ~45 bytes a line: millions of lines. Larger files go through the command
# line on the server. The body adds the form's token and the multipart framing.
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_BODY_BYTES = MAX_FILE_BYTES + FORM_BYTES


def runner_of(request: Request) -> EtlRunner:
    """The app's ETL runner (`transactions.runner.setup`)."""
    runner: EtlRunner = request.app.state.transactions_etl
    return runner


def status_url(name: str) -> str:
    """The page that follows the run of the uploaded file `name`."""
    return f"{BASE}/uploads/{quote(name, safe='')}"


def _form(
    request: Request, *, status_code: int = 200, errors: dict[str, str] | None = None
) -> Response:
    return page(
        request,
        "transactions/upload.html",
        status_code=status_code,
        errors=errors or {},
        max_bytes=MAX_FILE_BYTES,
        hint=TRANSACTIONS.file_name_hint,
        columns=TRANSACTIONS.column_names,
    )


@router.get(f"{BASE}/upload")
async def upload_form(request: Request, _: Writer) -> Response:
    """The form: a file, sent with the session's CSRF token first."""
    return _form(request)


@router.post(f"{BASE}/upload", max_body_size=MAX_BODY_BYTES)
async def upload(request: Request, principal: Writer, session: DbSession) -> Response:
    """Stream the file to the inbox, check it, and start its run (see the module)."""
    visitor = signed_in(request)
    if visitor is None:  # pragma: no cover - `Writer` found the visitor
        raise CsrfFailed()
    # The visitor is known: end the request's transaction before the body streams in, so a slow
    # upload does not hold a pooled connection idle in a transaction (nothing below reads it).
    await session.commit()
    runner = runner_of(request)
    if not runner.has_room():
        busy = "Several runs are waiting already: try again once they are done."
        return _form(request, status_code=503, errors={"form": busy})
    try:
        landed = await upload_to_inbox(
            request,
            visitor.csrf_token,
            dataset=TRANSACTIONS,
            inbox=runner.inbox,
            max_bytes=MAX_FILE_BYTES,
        )
    except REFUSALS as problem:
        return _form(request, status_code=problem.status_code, errors=refusal_errors(problem))
    try:
        runner.submit(landed.name, landed.size, principal.username)
    except RunnerBusy:  # the server began stopping meanwhile: the next run takes the file
        stopping = (
            f"{landed.name} is in the inbox; the server is stopping, so the next run will load it."
        )
        return _form(request, status_code=503, errors={"form": stopping})
    return redirect(
        status_url(landed.name),
        notice="The file is in the inbox; its run has started.",
    )


async def _status(request: Request, session: DbSession, name: str) -> dict[str, Any]:
    """What the status page shows of the upload `name`: its run so far, or its run's row."""
    if refused_name(TRANSACTIONS, name) is not None:
        raise NotFound(f"No file of the inbox is named {name[:100]}.")
    upload: Upload | None = runner_of(request).upload(name)
    run = None
    if upload is None or upload.done:
        found = await history.last_run_of_file(session, NAME, name)
        # An earlier run of a file of that name is not this upload's (same clock: this process).
        if found is not None and (upload is None or found.started_at >= upload.received_at):
            run = RunRead.model_validate(found)
    if upload is None and run is None:
        raise NotFound(f"Nothing was uploaded or loaded under the name {name}.")
    done = upload is None or upload.done
    return {
        "name": name,
        "upload": upload,
        "run": run,
        "done": done,
        "refresh": f"{status_url(name)}/status",
        "page_url": status_url(name),
    }


@router.get(f"{BASE}/uploads/{{name}}")
async def upload_status(request: Request, name: str, session: DbSession, _: Reader) -> Response:
    """The run of an uploaded file: live while it runs, then its counts and links."""
    values = await _status(request, session, name)
    return page(request, "transactions/upload_status.html", **values)


@router.get(f"{BASE}/uploads/{{name}}/status")
async def upload_status_block(
    request: Request, name: str, session: DbSession, _: Reader
) -> Response:
    """The status block alone (what the page's script fetches every second or two)."""
    values = await _status(request, session, name)
    return render(
        request, "transactions/upload_status.html", block="status", may_upload=False, **values
    )
