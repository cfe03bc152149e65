"""A database that is not migrated, or that goes away, stops an import at once with a clear
error: in the engine, in `/health` and at the server's shutdown (the CLI: tests/merchants/test_cli.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from backoffice.app import create_app
from backoffice.core import migrations
from backoffice.core.embedded import free_port
from backoffice.ingest import rollups
from backoffice.ingest.pipeline import ImportAborted, import_files, libpq_url
from backoffice.ingest.results import FileResult, NullObserver
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.merchants.conftest import FIXTURES


def _in_a_thread(work: Callable[[], Any], timeout: float = 30) -> BaseException | None:
    """Run `work` in a daemon thread: an import that never ends fails the test, not hangs it."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the import was still running after {timeout} s"
    return outcome.get("error")


def test_an_import_into_a_database_that_is_not_migrated_stops(empty_database_url):
    url = libpq_url(empty_database_url)
    error = _in_a_thread(lambda: import_files(url, MERCHANT_ACTIVITIES, [FIXTURES]))
    assert isinstance(error, ImportAborted), error
    assert "not migrated" in str(error)
    assert "backoffice db upgrade" in str(error)


def test_an_import_whose_database_goes_away_between_two_groups_stops(
    empty_database_url, monkeypatch
):
    migrations.upgrade(empty_database_url)
    url = libpq_url(empty_database_url)
    monkeypatch.setattr(rollups, "ROLLUP_BYTES", 1)  # each file is a group of its own

    class CutTheConnections(NullObserver):
        """Once the first group has committed, every other backend of the database goes."""

        def file_finished(self, result: FileResult) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )

    observer = CutTheConnections()
    error = _in_a_thread(
        lambda: import_files(url, MERCHANT_ACTIVITIES, [FIXTURES], observer=observer)
    )
    assert isinstance(error, ImportAborted), error
    assert "lost the database connection" in str(error)
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT file_name, status FROM import_runs ORDER BY id").fetchall()
    assert runs == [("activities_20240101.csv", "succeeded")]


async def test_health_reports_an_import_that_found_no_schema(
    settings, empty_database_url, tmp_path
):
    shutil.copytree(FIXTURES, tmp_path / "data")
    app = create_app(
        settings.model_copy(update={"data_dir": tmp_path / "data"}),
        database_url=empty_database_url,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        ):
            report: dict[str, Any] = {}
            for _ in range(500):
                body = (await http.get("/health")).json()
                report = body["data"]["background"]["merchant_import"]
                if report["state"] == "idle":
                    break
                await asyncio.sleep(0.02)
            assert report["state"] == "idle", report
            assert "not migrated" in report["last_error"]
            assert "backoffice db upgrade" in report["last_error"]
    finally:
        await app.state.db.dispose()


def _lock_waiters(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND NOT l.granted"
            " AND a.datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_sigterm_ends_the_server_while_its_import_waits_on_the_database(
    merchants_url, services_env, tmp_path
):
    port = free_port()
    env = {
        **os.environ,
        **services_env,
        "DATABASE_URL": merchants_url,
        "DATA_DIR": str(FIXTURES),
    }
    with psycopg.connect(merchants_url) as holder:
        # Another importer holds the dataset's lock: the server's import waits in PostgreSQL.
        holder.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", ("ingest:merchant_activities",)
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "backoffice", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server's import never waited on the lock"
                try:
                    up = httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                except httpx.HTTPError:
                    up = False
                if up and _lock_waiters(merchants_url):
                    break
                time.sleep(0.1)
            stopping = time.monotonic()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                raise AssertionError("SIGTERM did not end the server within 20 s") from None
            assert time.monotonic() - stopping < 10
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
