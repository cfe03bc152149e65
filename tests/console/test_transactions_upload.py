"""Uploading a day's export in the console: refusals leave nothing, a good file makes a run.

The app's ETL runner is replaced, for each test, by one on a temporary inbox and a scratch
database of its own: the run commits (as the command line's does), which the rolled-back test
transaction could not hold.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI

from backoffice.console import transactions_upload
from backoffice.core import migrations
from backoffice.core.auth.service import Role
from backoffice.ingest.pipeline import libpq_url
from backoffice.ingest.results import Counts
from backoffice.transactions import runner as runner_module
from backoffice.transactions.etl import run_etl
from backoffice.transactions.runner import EtlRunner
from tests.console.multipart import MULTIPART, multipart
from tests.live import scratch_database
from tests.transactions.test_runs_api import make_run

BASE = "/console/transactions"
HEADER = b"transaction_id,user_id,amount,transaction_date\n"
GOOD = HEADER + (
    b"TXN-UP-1,70001,12.50,2019-11-07\n"
    b"TXN-UP-2,70001,-2.25,2019/11/07\n"
    b"TXN-UP-3,70002,$7.00,11/07/2019\n"
    b"TXN-UP-4,not-a-user,1.00,2019-11-07\n"
)


@pytest.fixture(scope="module")
def etl_database(server_url: str) -> Iterator[str]:
    """A committed scratch database for the runs the uploads start (libpq URL)."""
    for url in scratch_database(server_url, "console_uploads"):
        migrations.upgrade(url)
        yield libpq_url(url)


@pytest.fixture
def runner(served_app: FastAPI, etl_database: str, tmp_path: Path) -> Iterator[EtlRunner]:
    """The app's runner, on an empty inbox of this test and the scratch database."""
    previous = served_app.state.transactions_etl
    fresh = EtlRunner(etl_database, tmp_path / "inbox")
    served_app.state.transactions_etl = fresh
    try:
        yield fresh
    finally:
        served_app.state.transactions_etl = previous
        fresh.shutdown(10)


def inbox_files(runner: EtlRunner) -> list[str]:
    """Everything in the inbox, hidden temporary files included."""
    return sorted(p.name for p in runner.inbox.iterdir()) if runner.inbox.exists() else []


def name(day: str = "20191107") -> str:
    return f"console_{uuid.uuid4().hex[:8]}_{day}.csv"


async def post_file(http, filename: str, content: bytes, **kw):
    return await http.post(
        f"{BASE}/upload",
        data={"csrf_token": http.csrf},
        files={"file": (filename, content, "text/csv")},
        **kw,
    )


async def test_a_good_file_lands_in_the_inbox_and_its_run_loads_it(console_as, runner):
    http = await console_as(Role.MANAGER)
    form = await http.get(f"{BASE}/upload")
    assert form.status_code == 200
    assert form.text.index('name="csrf_token"') < form.text.index('type="file"')
    filename = name()
    answer = await post_file(http, filename, GOOD)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{BASE}/uploads/{filename}"
    done = runner.wait(filename, timeout=60)
    assert done is not None and done.state == "succeeded", done
    assert (done.counts.rows_read, done.counts.inserted, done.counts.rejected) == (4, 3, 1)
    assert inbox_files(runner) == [filename]
    with psycopg.connect(runner.url) as conn:
        run = conn.execute(
            "SELECT status, rows_read, inserted, rejected, started_by FROM import_runs"
            " WHERE dataset = 'transactions' AND file_name = %s",
            (filename,),
        ).fetchall()
    assert run == [("succeeded", 4, 3, 1, "cli")]
    page = await http.get(f"{BASE}/uploads/{filename}")
    assert page.status_code == 200, page.text
    assert "data-done" in page.text and "data-refresh" not in page.text
    assert 'data-count="inserted">3<' in page.text and 'data-count="rejected">1<' in page.text
    block = await http.get(f"{BASE}/uploads/{filename}/status")
    assert block.text.lstrip().startswith("<section")
    assert "<html" not in block.text


async def test_the_runs_event_says_who_uploaded_the_file(console_as, runner):
    http = await console_as(Role.ADMIN)
    filename = name("20191108")
    assert (await post_file(http, filename, GOOD.replace(b"UP-", b"UP8-"))).status_code == 303
    done = runner.wait(filename, timeout=60)
    assert done is not None and done.state == "succeeded", done
    with psycopg.connect(runner.url) as conn:
        messages = [m for (m,) in conn.execute("SELECT message FROM import_task_events")]
    mine = [m for m in messages if "started by admin-" in m and m.endswith("(console upload)")]
    assert mine and "1 files: read 4, loaded 3" in mine[0], messages


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("notes.txt", GOOD, "The inbox only takes files named"),
        (".hidden_20191107.csv", GOOD, "does not start with a dot"),
        ("x" * 300 + ".csv", GOOD, "1 to 255 bytes long"),
        ("empty_20191107.csv", b"", "The file is empty (0 bytes)"),
        ("header_20191107.csv", b"id,user,amount,day\n1,2,3,2019-11-07\n", "header does not match"),
        ("blank_20191107.csv", b"\n\nTXN-1,1,1.00,2019-11-07\n", "not a transactions export"),
    ],
)
async def test_a_refused_file_leaves_nothing_in_the_inbox(
    console_as, runner, filename, content, message
):
    http = await console_as(Role.MANAGER)
    answer = await post_file(http, filename, content)
    assert answer.status_code == 422, answer.text
    error = answer.text.split('id="f-file-error">', 1)[1]
    assert message in error.split("</p>", 1)[0]
    assert inbox_files(runner) == []
    assert runner.upload(filename) is None


async def test_a_file_over_the_limit_is_refused_and_removed(console_as, runner, monkeypatch):
    monkeypatch.setattr(transactions_upload, "MAX_FILE_BYTES", 1000)
    http = await console_as(Role.MANAGER)
    big = HEADER + b"TXN-BIG,1,1.00,2019-11-07\n" * 100
    answer = await post_file(http, name(), big)
    assert answer.status_code == 413, answer.text
    assert "larger than 1,000 bytes" in answer.text
    assert inbox_files(runner) == []


async def test_a_body_declared_over_the_routes_limit_is_refused_unread(console_as, runner):
    http = await console_as(Role.MANAGER)
    declared = str(transactions_upload.MAX_BODY_BYTES + 1)
    answer = await http.post(
        f"{BASE}/upload",
        content=b"--x\r\n",
        headers={"content-type": "multipart/form-data; boundary=x", "content-length": declared},
    )
    assert answer.status_code == 413
    assert inbox_files(runner) == []


async def test_a_name_already_in_the_inbox_is_not_replaced(console_as, runner):
    http = await console_as(Role.MANAGER)
    filename = name()
    runner.inbox.mkdir(parents=True)
    (runner.inbox / filename).write_bytes(b"the file that was there")
    answer = await post_file(http, filename, GOOD)
    assert answer.status_code == 422
    assert "already in the inbox" in answer.text
    assert inbox_files(runner) == [filename]
    assert (runner.inbox / filename).read_bytes() == b"the file that was there"


async def test_a_forged_form_is_a_403_and_starts_no_run(console_as, runner):
    """How the page wires the reader's CSRF check (every refusal: tests/console/test_uploads.py)."""
    http = await console_as(Role.MANAGER)
    filename = name()
    forged = multipart(("csrf_token", None, b"forged"), ("file", filename, GOOD))
    answer = await http.post(f"{BASE}/upload", content=forged, headers=MULTIPART)
    assert answer.status_code == 403
    assert "came from another site" in answer.text
    good = multipart(("csrf_token", None, http.csrf.encode()), ("file", filename, GOOD))
    other_site = await http.post(
        f"{BASE}/upload", content=good, headers={**MULTIPART, "origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    assert inbox_files(runner) == []
    assert runner.upload(filename) is None


async def test_a_body_that_is_no_file_upload_is_refused(console_as, runner):
    http = await console_as(Role.MANAGER)
    plain = await http.form(f"{BASE}/upload", {"file": "x.csv"})
    assert plain.status_code == 422
    assert "Choose a file" in plain.text
    no_file = multipart(("csrf_token", None, http.csrf.encode()))
    answer = await http.post(f"{BASE}/upload", content=no_file, headers=MULTIPART)
    assert answer.status_code == 422
    assert inbox_files(runner) == []


async def test_staff_cannot_upload(console_as, runner):
    http = await console_as(Role.STAFF)
    assert (await http.get(f"{BASE}/upload")).status_code == 403
    answer = await post_file(http, name(), GOOD)
    assert answer.status_code == 403
    assert "may not open this page" in answer.text
    assert inbox_files(runner) == []
    runs = await http.get(f"{BASE}/")
    assert "Upload a day" not in runs.text


async def test_a_busy_runner_refuses_more_uploads_before_reading_them(console_as, runner):
    runner.max_waiting = 0
    http = await console_as(Role.MANAGER)
    answer = await post_file(http, name(), GOOD)
    assert answer.status_code == 503
    assert "Several runs are waiting already" in answer.text
    assert inbox_files(runner) == []


async def test_the_status_of_an_unknown_file_is_a_404(console_as, runner):
    http = await console_as(Role.STAFF)
    assert (await http.get(f"{BASE}/uploads/nothing_20000101.csv")).status_code == 404
    assert (await http.get(f"{BASE}/uploads/..")).status_code == 404


async def test_a_run_that_fails_says_why_on_its_status_page(console_as, runner):
    http = await console_as(Role.MANAGER)
    filename = name("20191109")
    first = GOOD.replace(b"UP-", b"UP9-")
    assert (await post_file(http, filename, first)).status_code == 303
    loaded = runner.wait(filename, timeout=60)
    assert loaded is not None and loaded.state == "succeeded", loaded
    (runner.inbox / filename).unlink()  # tidied away; then another file of that name comes
    assert (
        await post_file(http, filename, first + b"TXN-UP9-5,1,1.00,2019-11-09\n")
    ).status_code == 303
    done = runner.wait(filename, timeout=60)
    assert done is not None and done.state == "failed", done
    assert done.error is not None and "was already imported with sha256" in done.error
    page = await http.get(f"{BASE}/uploads/{filename}")
    assert "failed" in page.text and "was already imported with sha256" in page.text


async def test_an_inbox_that_cannot_take_files_is_a_message(console_as, runner):
    runner.inbox.parent.mkdir(parents=True, exist_ok=True)
    runner.inbox.write_bytes(b"a file where the inbox folder should be")
    http = await console_as(Role.MANAGER)
    answer = await post_file(http, name(), GOOD)
    assert answer.status_code == 503
    assert "The inbox cannot take the file now" in answer.text
    assert runner.inbox.read_bytes() == b"a file where the inbox folder should be"


async def test_a_stopping_server_takes_no_more_runs(console_as, runner):
    runner.stop()
    http = await console_as(Role.MANAGER)
    answer = await post_file(http, name(), GOOD)
    assert answer.status_code == 503
    assert inbox_files(runner) == []


async def test_a_run_in_progress_is_followed_live(console_as, runner, monkeypatch):
    """While the run goes on, its block asks to be refreshed; the runs page lists it."""
    release = threading.Event()
    real = run_etl

    def slow_run(url, paths, *, observer, **kw):
        observer.progressed(paths[0].name, 40, Counts(rows_read=1, inserted=1))
        release.wait(30)
        return real(url, paths, observer=observer, **kw)

    monkeypatch.setattr(runner_module, "run_etl", slow_run)
    http = await console_as(Role.MANAGER)
    filename = name("20191110")
    assert (await post_file(http, filename, GOOD.replace(b"UP-", b"UP10-"))).status_code == 303
    try:
        deadline = time.monotonic() + 10
        while getattr(runner.upload(filename), "state", None) != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        block = await http.get(f"{BASE}/uploads/{filename}/status")
        assert f'data-refresh="{BASE}/uploads/{filename}/status"' in block.text
        assert "data-done" not in block.text
        assert '<progress id="tx-progress" max="100" value="' in block.text
        assert 'data-count="rows_read">1<' in block.text
        runs = await http.get(f"{BASE}/")
        assert f'href="{BASE}/uploads/{filename}">{filename}</a>: running' in runs.text
    finally:
        release.set()
    done = runner.wait(filename, timeout=60)
    assert done is not None and done.state == "succeeded", done
    assert filename not in (await http.get(f"{BASE}/")).text


async def test_the_status_page_shows_this_uploads_run_not_an_earlier_ones(
    console_as, runner, session
):
    filename = name("20191111")
    earlier = await make_run(session, file_name=filename, status="failed", error="old trouble")
    http = await console_as(Role.MANAGER)
    before = await http.get(f"{BASE}/uploads/{filename}")  # nothing uploaded since the start
    assert before.status_code == 200 and f"Run #{earlier.id}" in before.text
    assert (await post_file(http, filename, GOOD.replace(b"UP-", b"UP11-"))).status_code == 303
    done = runner.wait(filename, timeout=60)
    assert done is not None and done.state == "succeeded", done
    page = await http.get(f"{BASE}/uploads/{filename}")
    assert f"Run #{earlier.id}" not in page.text and "old trouble" not in page.text
    assert 'data-count="inserted">3<' in page.text
