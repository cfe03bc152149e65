"""Import CSV files into PostgreSQL: a group of files per transaction, a savepoint per file.

Files are imported in order in groups: consecutive files share one transaction until the text of
the rows they inserted reaches `ROLLUP_BYTES` (64 MiB) or the files run out (a dataset without
rollups, which groups would not save anything, commits each file on its own). Each file runs in a
savepoint of its own, so it stays all or nothing: a failing file is rolled back to its savepoint
and recorded as failed, the files before it commit, and the run goes on with the next group.

Per group: take the dataset's advisory lock (two importers never interleave) and create the
temporary table of parts. Per file: skip a file already imported with the same sha256 (same name,
other hash: refused), refuse a name the dataset does not take, note whether a file dated after
it was imported (then it is late: its ids displace the later file's, `late.py`), then stream the
file block by block. A reader thread sorts each block, vectorised
with polars: lines matching the dataset's clean-line regex (and its parent/child pairs) go to COPY
as they are (or converted, where a column declares a transform: `classify.py`); the others (~0.1%)
are checked column by column in Python and repaired (flagged) or quarantined; keys repeated inside
the block are duplicates. The reader thread also joins the clean lines into the bytes COPY reads
and, when the dataset has rollups, sums the block's kept rows up into parts (e.g. per merchant x
product x month). PostgreSQL says which keys the table already holds (an index probe, never a set
of ids in Python; see `KeyProbe`): the reader thread probes the committed rows on a second
connection, the main thread probes the group's own rows only for the keys the group's Bloom filter
may have seen. The main thread takes the parts of those duplicates away again, COPYs the rest into
the target table (a writer thread streams it, while the main thread adds the parts up: `load.py`)
and quarantines. The group's parts are added up in memory (a fraction of its rows) and COPYed into
the temporary table only when the group is rolled up (`rollups.py`): a few set-based SQL
statements, run once per group just before its commit (and every 64 MiB inside a big file), so the
rows are sent to PostgreSQL once and the per-merchant cost of a rollup is paid once per group. The
`import_runs` row of a file is written in its savepoint, so a killed import leaves nothing of its
open group behind and a rerun does that group again.

A database the import cannot use (not migrated, unreachable, gone before a group could start)
stops the run with `ImportAborted`: there is no file to blame, and trying again would fail the
same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, Union

import psycopg

from backoffice.ingest import late
from backoffice.ingest.audit import (
    CLI,
    RunOrigin,
    imported_files,
    record_failure,
    record_success,
)
from backoffice.ingest.classify import Classifier, Parsed
from backoffice.ingest.files import (
    checked_header,
    file_rank,
    max_line_bytes,
    newer_import,
    order_files,
    sha256_of,
)
from backoffice.ingest.key_probe import KeyProbe
from backoffice.ingest.load import FileLoader
from backoffice.ingest.prefetch import prefetch
from backoffice.ingest.reader import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    CsvChunker,
    FileFormatError,
    NotARegularFile,
    open_regular,
)
from backoffice.ingest.results import Counts, FileResult, NullObserver, Observer
from backoffice.ingest.rollups import Rollups
from backoffice.ingest.spec import Dataset


class ImportRefused(Exception):
    """The file must not be imported as it is (the operator has to resolve it)."""


class ImportCancelled(Exception):
    """The importer was asked to stop; the file's transaction is rolled back."""


class ImportAborted(Exception):
    """The database cannot take the import (not migrated, unreachable, gone); one-line reason."""


CONNECT_TIMEOUT_SECONDS = 10


def database_problem(exc: psycopg.Error) -> str:
    """What is wrong with the database, in one line an operator can act on."""
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return f"the database is not migrated ({first_line}): run `backoffice db upgrade` first"
    if isinstance(exc, psycopg.OperationalError):
        return f"lost the database connection: {first_line}"
    return f"the database refused the import: {type(exc).__name__}: {first_line}"


def libpq_url(url: str) -> str:
    """`postgresql+driver://...` -> `postgresql://...` for psycopg."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def check_name(dataset: Dataset, name: str) -> None:
    """`ImportRefused` for a name the dataset does not take (it must carry a date)."""
    if dataset.dated_names and dataset.file_date(name) is None:
        raise ImportRefused(
            f"{name} is not named {dataset.file_name_hint} (YYYYMMDD a real day):"
            " rename it to the day it holds"
        )


def import_files(
    url: str,
    dataset: Dataset,
    paths: Sequence[Path],
    *,
    observer: Observer | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    origin: RunOrigin | None = None,
    source: BlockSource | None = None,
    max_line: int | None = None,
) -> list[FileResult]:
    """Import `paths` (files or directories) in order, in groups; a failed file stops nothing.

    A failed file closes its group (the files before it commit) and the run goes on with the
    next one: once fixed, the failed file comes in late and is applied as in date order
    (`late.py`), so no file can hold the others back. `origin` (how the run was started) goes into every
    run row, and with it the files skipped are recorded too. `source` gives the files' sorted
    blocks instead of the reader thread (a staged run: `staging.StagedSource`).

    Raises:
        ImportAborted: the database cannot take the import (not migrated, unreachable, or gone
            before a group could start); the groups before it stay committed.
        ImportCancelled: `should_stop` said so; the open group is rolled back.
    """
    watcher = observer or NullObserver()
    results: list[FileResult] = []
    files = order_files(dataset, paths)
    # Both connections plan each prepared statement once (the key probe would otherwise be
    # planned for each block with its thousands of keys as a constant).
    options = "-c plan_cache_mode=force_generic_plan"
    try:
        conn = _connect(url, options)
        committed = _connect(url, options)
    except psycopg.OperationalError as exc:
        first_line = (str(exc).strip().splitlines() or ["no answer"])[0]
        raise ImportAborted(f"cannot connect to the database: {first_line}") from exc
    with conn, committed:
        while files:
            if should_stop():
                raise ImportCancelled
            group = FileGroup(conn, committed, dataset, watcher, should_stop, chunk_bytes)
            group.max_line = max_line or max_line_bytes()
            group.origin = origin
            group.source = source
            done = group.run(files)
            results += done
            files = files[len(done) :]
    return results


def _connect(url: str, options: str) -> psycopg.Connection:
    return psycopg.connect(
        libpq_url(url),
        autocommit=True,
        options=options,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name="backoffice-ingest",
    )


class FileGroup:
    """Consecutive files imported in one transaction, each file in a savepoint of its own.

    The group closes when the text of the rows it inserted reaches `ROLLUP_BYTES` or the files
    run out: its rollups run once, over all of its files' rows, just before the one commit
    (the rollup statements cost per merchant touched, so once per group instead of once per
    small file). A file that fails is rolled back to its savepoint and recorded as failed; the
    files before it still commit with their rollups, and the group closes there (the run goes on).
    The observer hears `file_finished` only once the file's fate is committed.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        committed: psycopg.Connection,
        dataset: Dataset,
        observer: Observer,
        should_stop: Callable[[], bool],
        chunk_bytes: int,
    ) -> None:
        self.conn = conn
        self.dataset = dataset
        self.observer = observer
        self.should_stop = should_stop
        self.chunk_bytes = chunk_bytes
        self.rollups = Rollups(conn, dataset)
        self.keys = KeyProbe(conn, committed, dataset)
        self.items: Iterator[Item] = iter(())  # what the reader thread read, while `run` runs
        self.origin: RunOrigin | None = None  # recorded in the run rows (and skips with it)
        self.source: BlockSource | None = None  # where blocks come from, if not from the files
        self.max_line = DEFAULT_MAX_LINE_BYTES  # the longest header or line read whole

    def loader(self, header: list[str], name: str) -> FileLoader:
        """The loader of file `name`, whose rows come in `header`'s column order."""
        return FileLoader(self.conn, self.dataset, header, name, self.rollups, self.keys)

    def run(self, files: Sequence[Path]) -> list[FileResult]:
        """Import files from the start of `files` until the group closes; commit; report."""
        done: list[FileResult] = []
        try:
            with self.conn.transaction():
                # Two importers never interleave; timestamps without a zone are UTC.
                self.conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ingest:{self.dataset.name}",)
                )
                self.conn.execute("SET LOCAL timezone = 'UTC'")
                self.rollups.start()
                # The reader thread goes on from one file to the next (no wait for the first
                # block of each file); it may read a block or two past the group's end, which
                # the next group reads again.
                known = self._imported_names()
                with closing(prefetch(self._read_files(files, known))) as self.items:
                    for path in files:
                        if self.should_stop():
                            raise ImportCancelled
                        result = self._import_in_savepoint(path)
                        done.append(result)
                        # A group pays the rollups once for many small files; a dataset
                        # without rollups commits each file on its own.
                        grouped = self.rollups.active and not self.rollups.group_full
                        if result.status == "failed" or not grouped:
                            break
                self.rollups.flush()
        except psycopg.Error as exc:  # the commit (or the last rollup) failed: nothing is kept
            if not done:  # before the first file: no file to blame, the database is unusable
                raise ImportAborted(database_problem(exc)) from exc
            done = [_not_committed(r, exc) for r in done]
            for r in done:
                if r.status == "failed" and not self.conn.closed:
                    record_failure(self.conn, self.dataset, r, self.origin or CLI)
        for result in done:
            self.observer.file_finished(result)
        return done

    def _imported_names(self) -> set[str]:
        """Names of the files already imported (stable: the advisory lock is held)."""
        return set(imported_files(self.conn, self.dataset))

    def _read_files(self, files: Sequence[Path], known: set[str]) -> Iterator[Item]:
        """Runs in the reader thread: every file in turn, opened, block by block, closed.

        A file whose name was imported before (or repeats an earlier name) is left unread: the
        main thread's checks will skip or refuse it, never load it.
        """
        seen: set[str] = set()
        for path in files:
            refused = self.dataset.dated_names and self.dataset.file_date(path.name) is None
            if path.name in known or path.name in seen or refused:
                yield Opened(path, parsed=False)
                continue
            seen.add(path.name)
            yield from self.read_file(path)

    def read_file(self, path: Path) -> Iterator[Item]:
        """One file's items: `Opened` (header checked), its parsed blocks, `Closed` (sha256)."""
        if self.source is not None:
            yield from self.source.read(self, path)
            return
        try:
            with open_regular(path) as stream:
                chunker = CsvChunker(stream, self.chunk_bytes, self.max_line)
                header = checked_header(self.dataset, chunker.read_header())
                classifier = Classifier(self.dataset, header, with_parts=self.rollups.active)
                yield Opened(path, self.loader(header, path.name))
                for block in chunker.blocks():
                    parsed = classifier.classify(block)
                    self.keys.prepare(parsed)
                    yield parsed
                digest = chunker.sha256.hexdigest()
        except (FileFormatError, OSError) as exc:
            yield Closed(path, error=exc)  # in place of `Opened` if the header failed
            return
        yield Closed(path, digest)

    def _import_in_savepoint(self, path: Path) -> FileResult:
        """One file, all or nothing: a failure rolls back to the savepoint and is recorded."""
        try:
            size = path.stat().st_size  # a FIFO's stat does not wait for a writer
        except OSError:
            size = 0  # gone, or a dangling link: the reader says why
        started = datetime.now(UTC)
        clock = time.perf_counter()
        mark = self.rollups.mark()
        self.observer.file_started(path.name, size)
        try:
            with self.conn.transaction():  # a savepoint inside the group's transaction
                result = _import_file(self, path, size, started)
        except ImportCancelled:
            raise
        except (ImportRefused, FileFormatError, OSError, psycopg.Error) as exc:
            self.rollups.reset(mark)  # the savepoint took the file's rows back out
            result = FileResult(
                path.name, "failed", size=size, error=f"{type(exc).__name__}: {exc}"
            )
            result.started = started
            if not self.conn.closed:
                record_failure(self.conn, self.dataset, result, self.origin or CLI)
        result.seconds = time.perf_counter() - clock
        return result


def _not_committed(result: FileResult, exc: psycopg.Error) -> FileResult:
    """A file of a group whose commit failed: imported nothing, whatever it did before."""
    if result.status == "skipped":
        return result
    error = result.error or f"the group's commit failed: {type(exc).__name__}: {exc}"
    failed = FileResult(
        result.name, "failed", size=result.size, seconds=result.seconds, error=error
    )
    failed.started = result.started
    return failed


def _import_file(group: FileGroup, path: Path, size: int, started: datetime) -> FileResult:
    """Check, read and load one file inside the group's transaction (in its savepoint)."""
    conn, dataset = group.conn, group.dataset
    items: Iterator[Item] = group.items
    opened = _file_head(items, path)
    # Every file already imported, with its hash: this file's twin, and any newer file.
    imported = imported_files(conn, dataset)
    prior = imported.get(path.name)
    if prior is not None:
        try:
            digest = sha256_of(path)
        except (NotARegularFile, OSError):
            _skip_file(items, opened)
            raise
        if prior == digest:
            _skip_file(items, opened)
            if group.origin is not None:
                record_success(
                    conn,
                    dataset,
                    path.name,
                    size,
                    digest,
                    Counts(),
                    started,
                    group.origin,
                    "skipped",
                )
            return FileResult(path.name, "skipped", size=size, sha256=digest)
        raise ImportRefused(
            f"{path.name} was already imported with sha256 {prior}; this file has {digest}."
            " Rename it or resolve the difference by hand"
        )
    try:
        check_name(dataset, path.name)
    except ImportRefused:
        _skip_file(items, opened)
        raise
    newer = None if dataset.late_files else newer_import(dataset, path.name, imported)
    if newer is not None:
        raise ImportRefused(
            f"{path.name} is older than the already imported {newer}: importing it now could"
            " let a later file's row win over an earlier one"
        )
    if isinstance(opened, Opened) and not opened.parsed:
        # left unread (its run row was there when the group started, and is gone): read it now
        items = group.read_file(path)
        opened = _file_head(items, path)
    if isinstance(opened, Closed):
        raise opened.error or FileFormatError("unreadable file")
    file_date = datetime.strptime(file_rank(dataset, path.name), "%Y%m%d").date()
    run_id = None
    if dataset.late_files and opened.loader is not None:
        run_id, later = late.start_file(conn, dataset, file_date)
        opened.loader.late_date = file_date if later else None
    counts, digest = _load_file(group, items, opened)
    record_success(
        conn,
        dataset,
        path.name,
        size,
        digest,
        counts,
        started,
        group.origin or CLI,
        run_id=run_id,
        file_date=file_date,
    )
    result = FileResult(path.name, "succeeded", counts, size=size, sha256=digest)
    result.started = started
    return result


@dataclass(slots=True)
class Opened:
    """The reader thread opened a file and checked its header (no loader: nothing to load).

    `parsed` is False for a file it left unread (its name was imported before).
    """

    path: Path
    loader: FileLoader | None = None
    parsed: bool = True


@dataclass(slots=True)
class Closed:
    """The reader thread finished a file: its sha256, or the error that stopped the reading."""

    path: Path
    digest: str = ""
    error: Exception | None = None


Item = Union["Opened", "Parsed", "Closed"]


class BlockSource(Protocol):
    """Gives a file's items (`Opened`, its `Parsed` blocks, `Closed`) in the reader thread."""

    def read(self, group: FileGroup, path: Path) -> Iterator[Item]: ...


def _file_head(items: Iterator[Item], path: Path) -> Opened | Closed:
    """The reader's first item for `path`: `Opened`, or `Closed` with the header's error."""
    item = next(items)
    if isinstance(item, Parsed) or item.path != path:  # pragma: no cover - same list of files
        raise RuntimeError(f"the reader is not at the start of {path.name}")
    return item


def _load_file(group: FileGroup, items: Iterator[Item], opened: Opened) -> tuple[Counts, str]:
    """Load a file's parsed blocks up to its `Closed`: (counts, sha256)."""
    counts = Counts()
    for item in items:
        if isinstance(item, Closed):
            if item.error is not None:
                raise item.error
            return counts, item.digest
        if not isinstance(item, Parsed) or opened.loader is None:  # pragma: no cover
            raise RuntimeError(f"unexpected item in {opened.path.name}: {type(item).__name__}")
        if group.should_stop():
            raise ImportCancelled
        counts.add(opened.loader.load(item))
        group.observer.progressed(opened.path.name, item.bytes_read, counts)
    raise RuntimeError(f"the reader stopped inside {opened.path.name}")  # pragma: no cover


def _skip_file(items: Iterator[Item], opened: Opened | Closed) -> None:
    """Pass over what the reader thread read of a file that is not to be loaded."""
    if isinstance(opened, Opened) and opened.parsed:
        for item in items:
            if isinstance(item, Closed):
                return
