"""Background import of new files in `DATA_DIR` at API startup, and its in-memory state."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI

from backoffice.ingest.pipeline import ImportAborted, ImportCancelled, import_files, libpq_url
from backoffice.ingest.results import Counts, FileResult
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES

log = structlog.get_logger("backoffice.merchants")

# At shutdown the import is asked to stop (it does so between two blocks) and given this long;
# past it, the server exits anyway and PostgreSQL rolls the open group back with the connection.
SHUTDOWN_WAIT_SECONDS = 5.0


@dataclass
class ImportState:
    """What this process's importer has done since it started (read by `/health`).

    Files are committed in groups: `files_done` and the totals count the files whose group has
    committed; the files of the open group (the running one included) add their progress so far
    to the row counts until their group commits, or drop out when it rolls back.
    """

    state: str = "idle"
    files_done: int = 0
    current_file: str | None = None
    last_error: str | None = None
    totals: Counts = field(default_factory=Counts)
    _open: dict[str, Counts] = field(default_factory=dict)  # the open group's files
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def file_started(self, name: str, size: int) -> None:
        with self._lock:
            self.current_file = name
            self._open[name] = Counts()

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        with self._lock:
            self._open[name] = Counts(**asdict(counts))

    def file_finished(self, result: FileResult) -> None:
        """The file's group has committed (or the file failed): its result is final."""
        with self._lock:
            self._open.pop(result.name, None)
            if self.current_file == result.name:
                self.current_file = None
            if result.status == "succeeded":
                self.files_done += 1
                self.totals.add(result.counts)
            elif result.status == "failed":
                self.last_error = f"{result.name}: {result.error}"

    def run_ended(self) -> None:
        """The run is over: an open group left uncommitted (cancelled) counts for nothing."""
        with self._lock:
            self._open.clear()
            self.current_file = None
            self.state = "idle"

    def report(self) -> dict[str, Any]:
        """Counts so far (the open group's uncommitted progress included)."""
        with self._lock:
            now = Counts.total([self.totals, *self._open.values()])
            return {
                "state": self.state,
                "files_done": self.files_done,
                "current_file": self.current_file,
                "rows_read": now.rows_read,
                "inserted": now.inserted,
                "duplicates": now.duplicates,
                "rejected": now.rejected,
                "flagged": now.flagged,
                "last_error": self.last_error,
            }


def run_import(url: str, data_dir: Path, state: ImportState, stop: threading.Event) -> None:
    """Import every new file of `data_dir` (blocking; run in a thread)."""
    state.state = "running"
    try:
        import_files(url, MERCHANT_ACTIVITIES, [data_dir], observer=state, should_stop=stop.is_set)
    except ImportCancelled:
        log.info("merchant_import_cancelled")
    except ImportAborted as exc:  # the database cannot take it: say why, no traceback
        state.last_error = str(exc)
        log.error("merchant_import_aborted", error=str(exc))
    except Exception as exc:  # the API keeps serving; the error is visible in /health
        state.last_error = f"{type(exc).__name__}: {exc}"
        log.exception("merchant_import_failed")
    finally:
        state.run_ended()


class Importer:
    """Imports the inbox in a daemon thread of its own, one run at a time, reporting to `state`.

    Asked again while it runs (a file uploaded meanwhile), it runs once more after: the
    running import listed its files when it started. A daemon thread of its own, not the
    loop's executor (which the loop joins at exit): a database call that does not return (a
    lock wait, a server gone silent) must not hold the process after SIGTERM.
    """

    def __init__(self, state: ImportState) -> None:
        self.state = state
        self.stop = threading.Event()  # set at shutdown: the open group rolls back
        self._lock = threading.Lock()
        self._wanted: tuple[str, Path] | None = None
        self._thread: threading.Thread | None = None

    def request(self, url: str, data_dir: Path) -> None:
        """Import `data_dir`'s new files now, or right after the run in progress."""
        with self._lock:
            self._wanted = (url, data_dir)
            self.state.state = "running"  # seen by the next page view, before the thread starts
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="merchant-import", daemon=True
                )
                self._thread.start()

    def busy(self) -> bool:
        """Whether an import runs or is about to."""
        with self._lock:
            return self._thread is not None

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the runs to end; whether they did."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy()

    def _work(self) -> None:
        while True:
            with self._lock:
                wanted, self._wanted = self._wanted, None
                if wanted is None or self.stop.is_set():
                    self._thread = None
                    if wanted is not None:
                        self.state.run_ended()
                    return
            url, data_dir = wanted
            run_import(url, data_dir, self.state, self.stop)


@asynccontextmanager
async def background_import(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: import `DATA_DIR` in a thread while the API serves; skip if it is absent.

    At shutdown, any import (this one, or one an upload started) is asked to stop.
    """
    data_dir: Path = app.state.settings.data_dir
    importer: Importer = app.state.merchant_importer
    if await asyncio.to_thread(data_dir.is_dir):
        importer.request(libpq_url(app.state.db.url), data_dir)
    else:
        log.info("merchant_import_skipped", data_dir=str(data_dir), reason="no such directory")
    try:
        yield
    finally:
        importer.stop.set()  # the open group rolls back; it is imported again at the next start
        if not await asyncio.to_thread(importer.wait, SHUTDOWN_WAIT_SECONDS):
            log.warning("merchant_import_abandoned", waited_seconds=SHUTDOWN_WAIT_SECONDS)
