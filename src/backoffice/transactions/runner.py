"""Runs of the ETL that this process starts (the console's uploads), one at a time, in a thread.

An operator's upload lands in `TRANSACTIONS_INBOX` and is queued here; a worker thread runs the
ETL over it with `etl.run_etl`, the command line's own code path, and keeps how it is going in
memory for the console's status page (the outcome itself is in the run audit, `import_runs`).
Runs wait in turn (the engine's advisory lock would serialise them anyway), at most
`MAX_WAITING` of them: past that an upload is refused before it is read.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import structlog
from fastapi import FastAPI

from backoffice.ingest.audit import CLI
from backoffice.ingest.pipeline import ImportAborted, ImportCancelled, libpq_url
from backoffice.ingest.results import Counts, FileResult
from backoffice.transactions.etl import run_etl

log = structlog.get_logger("backoffice.transactions")

State = Literal["waiting", "running", "succeeded", "skipped", "failed", "cancelled"]
FINAL: frozenset[State] = frozenset({"succeeded", "skipped", "failed", "cancelled"})
MAX_WAITING = 5  # uploads queued behind the running one
KEPT = 100  # uploads remembered for their status pages (the oldest finished are forgotten)
STOP_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Upload:
    """An uploaded file and how its run is going (a snapshot: the runner keeps the live one)."""

    name: str
    size: int
    by: str
    received_at: datetime
    state: State = "waiting"
    bytes_done: int = 0
    counts: Counts = field(default_factory=Counts)
    error: str | None = None

    @property
    def done(self) -> bool:
        """Whether the run has ended (its outcome is in the audit, unless it was cancelled)."""
        return self.state in FINAL

    @property
    def percent(self) -> int:
        """How much of the file has been read, 0 to 100."""
        if self.done:
            return 100
        return min(100, self.bytes_done * 100 // self.size) if self.size else 0


class RunnerBusy(Exception):
    """Too many uploads are waiting for their run: try again once they are done."""


class EtlRunner:
    """A queue of uploaded files and the one thread that runs the ETL over each in turn."""

    def __init__(self, url: str, inbox: Path, *, max_waiting: int = MAX_WAITING) -> None:
        self.url = url  # libpq
        self.inbox = inbox
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def has_room(self) -> bool:
        """Whether another upload may wait for its run."""
        with self._lock:
            waiting = sum(1 for u in self._uploads.values() if u.state == "waiting")
        return waiting < self.max_waiting and not self._stop.is_set()

    def submit(self, name: str, size: int, by: str) -> Upload:
        """Queue the inbox's file `name` for a run (`RunnerBusy` if the queue is full)."""
        with self._lock:
            if self._stop.is_set():
                raise RunnerBusy("The server is stopping; the file stays in the inbox.")
            upload = Upload(name, size, by, datetime.now(UTC))
            self._uploads[name] = upload
            self._uploads.move_to_end(name)
            self._forget_old()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="transactions-etl", daemon=True
                )
                self._thread.start()
        self._queue.put(name)
        return upload

    def upload(self, name: str) -> Upload | None:
        """The upload of file `name` as it is now, or None (not uploaded since the start)."""
        with self._lock:
            return self._uploads.get(name)

    def pending(self) -> list[Upload]:
        """The uploads waiting for their run or running, oldest first."""
        with self._lock:
            return [u for u in self._uploads.values() if not u.done]

    def wait(self, name: str, timeout: float) -> Upload | None:
        """Wait until the run of `name` has ended (for tests and scripts); its last state."""
        deadline = datetime.now(UTC).timestamp() + timeout
        with self._idle:
            while (found := self._uploads.get(name)) is not None and not found.done:
                left = deadline - datetime.now(UTC).timestamp()
                if left <= 0:
                    break
                self._idle.wait(left)
            return found

    def stop(self) -> None:
        """Ask the running load to stop (its file is rolled back) and take no more."""
        self._stop.set()
        self._queue.put(None)

    def shutdown(self, timeout: float) -> None:
        """`stop`, then wait up to `timeout` seconds for the worker to end."""
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def _forget_old(self) -> None:
        while len(self._uploads) > KEPT:
            oldest = next((n for n, u in self._uploads.items() if u.done), None)
            if oldest is None:
                return
            del self._uploads[oldest]

    def _set(self, name: str, **changes: object) -> None:
        with self._idle:
            current = self._uploads.get(name)
            if current is not None:
                self._uploads[name] = replace(current, **changes)  # type: ignore[arg-type]
            self._idle.notify_all()

    def _work(self) -> None:
        while (name := self._queue.get()) is not None:
            if self._stop.is_set():
                self._set(name, state="cancelled", error="The server stopped before the run.")
                continue
            self._run(name)

    def _run(self, name: str) -> None:
        upload = self.upload(name)
        by = upload.by if upload is not None else "an operator"
        self._set(name, state="running")
        try:
            results = run_etl(
                self.url,
                [self.inbox / name],
                observer=_Progress(self, name),
                origin=CLI,
                should_stop=self._stop.is_set,
                started_by=f"{by} (console upload)",
                warn=lambda problem: log.warning("etl_event_not_recorded", problem=problem),
            )
        except ImportCancelled:
            self._set(name, state="cancelled", error="The server stopped during the run.")
            return
        except ImportAborted as exc:
            self._set(name, state="failed", error=str(exc))
            return
        except Exception as exc:  # the server keeps serving; the page says what happened
            log.exception("transactions_etl_failed", file=name)
            self._set(name, state="failed", error=f"{type(exc).__name__}: {exc}")
            return
        result = next((r for r in results if r.name == name), None)
        if result is None:
            self._set(name, state="failed", error="The file was not in the inbox any more.")
        else:
            self._finished(result)

    def _finished(self, result: FileResult) -> None:
        self._set(
            result.name,
            state=result.status,
            counts=result.counts,
            bytes_done=result.size,
            error=result.error,
        )


class _Progress:
    """Hears the engine's progress on one upload (`results.Observer`)."""

    def __init__(self, runner: EtlRunner, name: str) -> None:
        self.runner = runner
        self.name = name

    def file_started(self, name: str, size: int) -> None:
        return None

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        if name == self.name:
            self.runner._set(name, bytes_done=bytes_done, counts=replace(counts))

    def file_finished(self, result: FileResult) -> None:
        return None  # the runner records the outcome once `run_etl` has returned


def setup(app: FastAPI) -> None:
    """The app's runner, on its main database and the settings' inbox."""
    db = getattr(app.state, "db", None)
    if db is not None:
        app.state.transactions_etl = EtlRunner(
            libpq_url(db.url), app.state.settings.transactions_inbox
        )


@asynccontextmanager
async def stop_at_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan hook: at shutdown, the running load is asked to stop (and rolled back)."""
    yield
    runner: EtlRunner | None = getattr(app.state, "transactions_etl", None)
    if runner is not None:
        await asyncio.to_thread(runner.shutdown, STOP_WAIT_SECONDS)
