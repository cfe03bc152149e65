"""Background import of new files in `DATA_DIR` at API startup, and its in-memory state."""

from __future__ import annotations

import asyncio
import contextlib
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


@asynccontextmanager
async def background_import(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: import `DATA_DIR` in a thread while the API serves; skip if it is absent."""
    data_dir: Path = app.state.settings.data_dir
    state: ImportState = app.state.merchant_import
    if not await asyncio.to_thread(data_dir.is_dir):
        log.info("merchant_import_skipped", data_dir=str(data_dir), reason="no such directory")
        yield
        return
    stop = threading.Event()
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()
    url = libpq_url(app.state.db.url)

    def work() -> None:
        try:
            run_import(url, data_dir, state, stop)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(ended.set)

    # A daemon thread of its own, not the loop's executor (which the loop joins at exit): a
    # database call that does not return (a lock wait, a server gone silent) must not hold
    # the process after SIGTERM.
    threading.Thread(target=work, name="merchant-import", daemon=True).start()
    try:
        yield
    finally:
        stop.set()  # the open group rolls back; it is imported again at the next start
        try:
            await asyncio.wait_for(ended.wait(), SHUTDOWN_WAIT_SECONDS)
        except TimeoutError:
            log.warning("merchant_import_abandoned", waited_seconds=SHUTDOWN_WAIT_SECONDS)
