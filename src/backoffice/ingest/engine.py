"""Import CSV files into PostgreSQL: a group of files per transaction, a savepoint per file.

Files are imported in order in groups: consecutive files share one transaction until the text of
the rows they inserted reaches `ROLLUP_BYTES` (64 MiB) or the files run out. Each file runs in a
savepoint of its own, so it stays all or nothing: a failing file is rolled back to its savepoint
and recorded as failed, the files before it commit, and the run stops there.

Per group: take the dataset's advisory lock (two importers never interleave) and create the
temporary table of parts. Per file: skip a file already imported with the same sha256
(same name, other hash: refused), refuse a file older than one already imported (first
occurrence wins = earliest file), then stream the file block by block. A reader thread sorts
each block, vectorised with polars: lines matching the dataset's clean-line regex (and its
parent/child pairs) go to COPY as they are; the others (~0.1%) are checked column by column in
Python and repaired (flagged) or quarantined; keys repeated inside the block are duplicates. The
reader thread also joins the clean lines into the bytes COPY reads and, when the dataset has
rollups, sums the block's kept rows up into parts (e.g. per merchant x product x month). PostgreSQL
says which keys the table already holds (an index probe, never a set of ids in Python; see
`KeyProbe`): the reader thread probes the committed rows on a second connection, the main
thread probes the group's own rows only for the keys the group's Bloom filter may have seen. The
main thread takes the parts of those duplicates away again, COPYs the rest into the target table
(a writer thread streams it, while the main thread adds the parts up) and quarantines. The group's parts are added up in memory (a fraction of its rows) and COPYed
into the temporary table only when the group is rolled up: a few set-based SQL statements, run
once per group just before its commit (and every 64 MiB inside a big file), so the rows are
sent to PostgreSQL once and the per-merchant cost of a rollup is paid once per group.
The `import_runs` row of a file is written in its savepoint, so a killed import leaves nothing
of its open group behind and a rerun does that group again.

A database the import cannot use (not migrated, unreachable, gone before a group could start)
stops the run with `ImportAborted`: there is no file to blame, and trying again would fail the
same way.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, Union

import psycopg
from psycopg.copy import QueuedLibpqWriter

from backoffice.ingest.reader import DEFAULT_CHUNK_BYTES, Block, CsvChunker, FileFormatError, Reject
from backoffice.ingest.spec import PARTS, SEPARATOR, Dataset, Parts, fast_line_pattern

if TYPE_CHECKING:
    import polars as pl

Status = Literal["succeeded", "skipped", "failed"]
# A group of files closes once the text of the rows it inserted reaches this size, and a file
# bigger than this is rolled up in parts of this size: the temporary table of rows stays small
# whatever the sizes. The environment variable is a tuning and testing hook (a kill test uses a
# small value to get several groups out of small files).
ROLLUP_BYTES = int(os.environ.get("BACKOFFICE_INGEST_ROLLUP_BYTES", 64 << 20))
ROLLUP_WORK_MEM = "128MB"
KEY = "__key__"  # the key column of a block's frames (lower case for a UUID key)
T = TypeVar("T")


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


@dataclass(slots=True)
class Counts:
    """Rows of a file (or of several files) by what became of them."""

    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0

    def add(self, other: Counts) -> None:
        """Add `other` to these counts."""
        self.rows_read += other.rows_read
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.flagged += other.flagged


@dataclass(slots=True)
class FileResult:
    """How the import of one file ended."""

    name: str
    status: Status
    counts: Counts = field(default_factory=Counts)
    size: int = 0
    sha256: str | None = None
    seconds: float = 0.0
    error: str | None = None
    started: datetime | None = None


class Observer(Protocol):
    """Receives progress (the CLI's progress bar, the API's health state)."""

    def file_started(self, name: str, size: int) -> None: ...

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None: ...

    def file_finished(self, result: FileResult) -> None: ...


class NullObserver:
    """Ignores progress."""

    def file_started(self, name: str, size: int) -> None:
        return None

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        return None


def libpq_url(url: str) -> str:
    """`postgresql+driver://...` -> `postgresql://...` for psycopg."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def order_files(dataset: Dataset, paths: Iterable[Path]) -> list[Path]:
    """Files in import order (the dataset's file order, then name); directories expanded."""
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(p for p in path.glob(dataset.file_pattern) if p.is_file())
        else:
            files.add(path)
    return sorted(files, key=lambda p: (dataset.file_order(p.name), p.name))


def import_files(
    url: str,
    dataset: Dataset,
    paths: Sequence[Path],
    *,
    observer: Observer | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> list[FileResult]:
    """Import `paths` (files or directories) in order, in groups; stop at the first failed file.

    A failure stops the run because a later file imported before an earlier one is fixed
    would break "first occurrence wins".

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
        while files and not (results and results[-1].status == "failed"):
            if should_stop():
                raise ImportCancelled
            group = FileGroup(conn, committed, dataset, watcher, should_stop, chunk_bytes)
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
    files before it still commit with their rollups, and the group (and the run) stops there.
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
                with closing(_prefetch(self._read_files(files, known))) as self.items:
                    for path in files:
                        if self.should_stop():
                            raise ImportCancelled
                        result = self._import_in_savepoint(path)
                        done.append(result)
                        if result.status == "failed" or self.rollups.group_bytes >= ROLLUP_BYTES:
                            break
                self.rollups.flush()
        except psycopg.Error as exc:  # the commit (or the last rollup) failed: nothing is kept
            if not done:  # before the first file: no file to blame, the database is unusable
                raise ImportAborted(database_problem(exc)) from exc
            done = [_not_committed(r, exc) for r in done]
            for r in done:
                if r.status == "failed" and not self.conn.closed:
                    _record_failure(self.conn, self.dataset, r)
        for result in done:
            self.observer.file_finished(result)
        return done

    def _imported_names(self) -> set[str]:
        """Names of the files already imported (stable: the advisory lock is held)."""
        rows = self.conn.execute(
            "SELECT file_name FROM import_runs WHERE dataset = %s AND status = 'succeeded'",
            (self.dataset.name,),
        ).fetchall()
        return {r[0] for r in rows}

    def _read_files(self, files: Sequence[Path], known: set[str]) -> Iterator[Item]:
        """Runs in the reader thread: every file in turn, opened, block by block, closed.

        A file whose name was imported before (or repeats an earlier name) is left unread: the
        main thread's checks will skip or refuse it, never load it.
        """
        seen: set[str] = set()
        for path in files:
            if path.name in known or path.name in seen:
                yield Opened(path, parsed=False)
                continue
            seen.add(path.name)
            yield from self.read_file(path)

    def read_file(self, path: Path) -> Iterator[Item]:
        """One file's items: `Opened` (header checked), its parsed blocks, `Closed` (sha256)."""
        try:
            with path.open("rb") as stream:
                chunker = CsvChunker(stream, self.chunk_bytes)
                header = _checked_header(self.dataset, chunker.read_header())
                loader = (
                    FileLoader(self.conn, self.dataset, header, path.name, self.rollups, self.keys)
                    if header
                    else None
                )
                yield Opened(path, loader)
                if loader is not None:
                    for block in chunker.blocks():
                        parsed = loader.classify(block)
                        self.keys.prepare(parsed)
                        yield parsed
                digest = chunker.sha256.hexdigest()
        except (FileFormatError, OSError) as exc:
            yield Closed(path, error=exc)  # in place of `Opened` if the header failed
            return
        yield Closed(path, digest)

    def _import_in_savepoint(self, path: Path) -> FileResult:
        """One file, all or nothing: a failure rolls back to the savepoint and is recorded."""
        size = path.stat().st_size
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
                _record_failure(self.conn, self.dataset, result)
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
    imported: dict[str, str] = dict(
        conn.execute(
            "SELECT file_name, sha256 FROM import_runs WHERE dataset = %s AND status = 'succeeded'",
            (dataset.name,),
        ).fetchall()
    )
    prior = imported.get(path.name)
    if prior is not None:
        digest = sha256_of(path)
        if prior == digest:
            _skip_file(items, opened)
            return FileResult(path.name, "skipped", size=size, sha256=digest)
        raise ImportRefused(
            f"{path.name} was already imported with sha256 {prior}; this file has {digest}."
            " Rename it or resolve the difference by hand"
        )
    _refuse_older_file(dataset, path.name, imported)
    if isinstance(opened, Opened) and not opened.parsed:
        # left unread (its run row was there when the group started, and is gone): read it now
        items = group.read_file(path)
        opened = _file_head(items, path)
    if isinstance(opened, Closed):
        raise opened.error or FileFormatError("unreadable file")
    counts, digest = _load_file(group, items, opened)
    conn.execute(
        "INSERT INTO import_runs (dataset, file_name, file_size, sha256, rows_read, inserted,"
        " duplicates, rejected, flagged, started_at, finished_at, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), 'succeeded')",
        (
            dataset.name,
            path.name,
            size,
            digest,
            counts.rows_read,
            counts.inserted,
            counts.duplicates,
            counts.rejected,
            counts.flagged,
            started,
        ),
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


class Rollups:
    """The parts of the rows a group inserted, and the rollup statements that read them.

    Parts are polars frames, one per block, added up in memory every `COMBINE_EVERY` blocks
    (so they take at most about one group's distinct parts) and COPYed into the temporary table
    `PARTS` only when the group is rolled up. The running file's frames are kept apart from the
    earlier files' (`frames[file_start:]`): its savepoint may still roll back.
    """

    COMBINE_EVERY = 16

    def __init__(self, conn: psycopg.Connection, dataset: Dataset) -> None:
        self.conn = conn
        self.statements = dataset.rollups
        self.parts = dataset.parts
        if self.statements and self.parts is None:
            raise ValueError(f"dataset {dataset.name} has rollups but no parts")
        self.group_bytes = 0  # text of the rows the group inserted (closes the group)
        self.file_bytes = 0  # of which the running file's since the last rollup
        self.frames: list[pl.DataFrame] = []  # parts not rolled up yet
        self.file_start = 0  # frames[file_start:] are the running file's
        self.marked: list[pl.DataFrame] = []  # the earlier files' frames when the file started
        if self.parts is not None:
            names = ", ".join(f'"{n}"' for n, _ in self.parts.columns)
            typed = ", ".join(f'"{n}" {t}' for n, t in self.parts.columns)
            self.create = f"CREATE TEMPORARY TABLE {PARTS} ({typed}) ON COMMIT DROP"
            self.copy = f"COPY {PARTS} ({names}) FROM STDIN (FORMAT csv)"

    @property
    def active(self) -> bool:
        """The dataset has rollups (so blocks are summed up into parts)."""
        return bool(self.statements)

    def start(self) -> None:
        """Create the temporary table (in the group's transaction, outside any savepoint)."""
        if self.statements:
            self.conn.execute(self.create)
            # The rollups join and aggregate up to a group's parts: with PostgreSQL's default
            # 4 MB they sort on disk; this much keeps them as in-memory hash aggregates.
            self.conn.execute(f"SET LOCAL work_mem = '{ROLLUP_WORK_MEM}'")

    def added(self, data_bytes: int, parts: pl.DataFrame | None = None) -> None:
        """`data_bytes` of row text were inserted; `parts` are theirs (when rolled up)."""
        self.group_bytes += data_bytes
        self.file_bytes += data_bytes
        if parts is not None and self.statements:
            self.frames.append(parts)

    def tidy(self) -> None:
        """Add frames up once `COMBINE_EVERY` pile up on either side of the file's start.

        This bounds their memory; the loader calls it while PostgreSQL runs a COPY.
        """
        if len(self.frames) - self.file_start >= self.COMBINE_EVERY:
            self.frames[self.file_start :] = [self._combine(self.frames[self.file_start :])]
        if self.file_start >= self.COMBINE_EVERY:
            self.frames[: self.file_start] = [self._combine(self.frames[: self.file_start])]
            self.file_start = 1
            self.marked = self.frames[:1]  # the same sums (the earlier files are done)

    @property
    def file_full(self) -> bool:
        """The running file alone inserted `ROLLUP_BYTES` of rows: time to roll up its part.

        Only a big file is rolled up in parts (a small file that closes its group is rolled up
        with it once), so the parts in memory stay bounded whatever the file sizes.
        """
        return self.file_bytes >= ROLLUP_BYTES

    def mark(self) -> int:
        """A file starts (its savepoint): the previous file's frames join the earlier ones."""
        self.file_start = len(self.frames)
        self.marked = self.frames[:]
        self.file_bytes = 0
        return self.group_bytes

    def reset(self, mark: int) -> None:
        """The running file's savepoint was rolled back (with any rollup it ran): forget it."""
        self.group_bytes = mark
        self.frames = self.marked[:]
        self.file_start = len(self.frames)
        self.file_bytes = 0

    def flush(self) -> None:
        """Roll up the parts added since the last flush (same transaction), then forget them.

        Rollups add up, so rows rolled up in parts give the same tables as in one go.
        """
        if self.statements and self.frames and self.parts is not None:
            parts = self._combine(self.frames)
            parts = parts.filter(parts[self.parts.count] != 0)  # rows all taken away again
            with self.conn.cursor() as cursor:
                with cursor.copy(self.copy) as copy:
                    copy.write(parts.write_csv(include_header=False))
                for statement in self.statements:
                    cursor.execute(statement)
                cursor.execute(f"TRUNCATE {PARTS}")
        self.frames, self.file_start = [], 0
        self.file_bytes = 0

    def _combine(self, frames: list[pl.DataFrame]) -> pl.DataFrame:
        """Parts added up: one row per key."""
        import polars as pl

        assert self.parts is not None
        names = [n for n, _ in self.parts.columns]
        combined = pl.concat(frames, how="vertical", rechunk=False).group_by(self.parts.keys)
        return combined.agg(pl.col(self.parts.sums).sum()).select(names)


class KeyProbe:
    """Which of a block's keys the table already holds: PostgreSQL's index, on two connections.

    The rows committed before the group are probed on a connection of their own by the reader
    thread, as it sorts the block, while the group's connection COPYs the block before it: that
    index probe, a quarter of the backend's work, runs on the other core. The rows the group
    itself inserted are visible only to the group's connection, so the group keeps a Bloom filter
    of its keys (2 MB, never the keys themselves) and probes there only the keys the filter may
    have seen: a block's duplicates of earlier blocks, and a few false positives. Past `CAPACITY`
    keys (a file of millions of rows) the filter would answer "maybe" too often: from then on
    every key is probed on the group's connection, as with one connection.
    """

    BITS = 1 << 24
    HASHES = 7  # at CAPACITY keys, ~0.05% false positives
    CAPACITY = 1_000_000

    def __init__(
        self, conn: psycopg.Connection, committed: psycopg.Connection, dataset: Dataset
    ) -> None:
        self.conn = conn
        self.committed_conn = committed
        # Identifiers come from the dataset description, never from a file; keys are a parameter.
        self.probe = (
            f'SELECT "{dataset.key}"::text FROM {dataset.table}'  # noqa: S608
            f' WHERE "{dataset.key}" = ANY(string_to_array(%s, chr(31))::{dataset.key_type}[])'
        )
        self.bits: pl.Series | None = None  # the filter, made with the group's first block
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= self.CAPACITY

    def prepare(self, parsed: Parsed) -> None:
        """Reader thread: the block's bits in the filter, and the keys committed rows hold.

        Neither once the filter is full: the group's connection will probe every key.
        """
        if self.full or parsed.keys is None:
            return
        import polars as pl

        hashed = parsed.keys.hash(seed=0)
        low, high = hashed % (1 << 32), hashed // (1 << 32)
        runs = [(low + i * high) % self.BITS for i in range(self.HASHES)]
        parsed.positions = pl.concat(runs).cast(pl.UInt32)
        keys = parsed.probe_keys
        parsed.committed = self._probe(self.committed_conn, keys) if keys else set()

    def existing(self, parsed: Parsed) -> set[str]:
        """The keys of `parsed` that the table holds, committed or inserted by the group."""
        keys, positions, found = parsed.keys, parsed.positions, parsed.committed
        if found is None or keys is None or positions is None or self.full:
            return self._probe(self.conn, parsed.probe_keys) if parsed.probe_keys else set()
        import polars as pl

        if self.bits is None:
            self.bits = pl.zeros(self.BITS, dtype=pl.Boolean, eager=True)
        hits = self.bits.gather(positions)
        n = keys.len()
        maybe = hits.slice(0, n)
        for i in range(1, self.HASHES):
            maybe = maybe & hits.slice(i * n, n)
        if maybe.any():
            candidates = SEPARATOR.join(keys.filter(maybe).to_list())
            found = found | self._probe(self.conn, candidates)
        self.bits.scatter(positions, True)
        self.count += n
        return found

    def _probe(self, conn: psycopg.Connection, keys: str) -> set[str]:
        # Prepared, with a generic plan (see `import_files`).
        return {row[0] for row in conn.execute(self.probe, (keys,), prepare=True)}


@dataclass(slots=True)
class Parsed:
    """A block sorted into clean lines (copied as they are), repaired rows and rejects.

    `fast` holds the key (`KEY`) of each clean line kept (in `fast_data`'s order) and, when the
    dataset has rollups, the columns its parts read (text, as in the file).
    """

    fast: pl.DataFrame
    slow_rows: list[list[str]]
    slow_keys: list[str]
    rejects: list[Reject]
    read: int
    duplicates: int
    bytes_read: int
    fast_data: bytes = b""  # the clean lines as COPY reads them, built in the reader thread
    keys: pl.Series | None = None  # every key kept
    probe_keys: str = ""  # the keys, joined for the probe
    positions: pl.Series | None = None  # their bits in the group's filter (`KeyProbe.prepare`)
    committed: set[str] | None = None  # the keys that rows committed before the group hold
    parts: pl.DataFrame | None = None  # the parts of the kept rows, before the probe (rollups)


class FileLoader:
    """Sorts the blocks of one file and loads them: probe keys, COPY, quarantine, rollups."""

    def __init__(
        self,
        conn: psycopg.Connection,
        dataset: Dataset,
        header: list[str],
        file_name: str,
        rollups: Rollups,
        keys: KeyProbe,
    ) -> None:
        self.conn = conn
        self.keys = keys
        self.dataset = dataset
        self.header = header
        self.file_name = file_name
        by_name = {c.name: c for c in dataset.columns}
        file_columns = [by_name[h] for h in header]
        # One regex for a whole clean line, run by polars (Rust's regex engine: the patterns
        # are plain classes, alternations and counts, which it reads as Python's `re` does).
        self.fast_line = f"^(?:{fast_line_pattern(file_columns).pattern})$"
        canonical = dataset.column_names
        self.lower_key = dataset.key_type == "uuid"
        self.pair_checks = [
            (c.parent, c.name, [f"{p}{SEPARATOR}{v}" for p, v in sorted(c.pairs)])
            for c in file_columns
            if c.parent
        ]
        parts = dataset.parts if rollups.active else None
        self.reads = list(parts.reads) if parts else []
        table = dataset.table
        file_list = ", ".join(f'"{h}"' for h in header)
        stored_list = ", ".join(f'"{n}"' for n in [*canonical, dataset.flags_column])
        self.copy_fast = f"COPY {table} ({file_list}) FROM STDIN (FORMAT csv)"
        self.copy_slow = f"COPY {table} ({stored_list}) FROM STDIN (FORMAT csv)"
        self.rollups = rollups

    def classify(self, block: Block) -> Parsed:
        """Sort a block's records (runs in the reader thread).

        Vectorised (polars): the clean-line regex and the parent/child pairs over the whole
        block, then the first occurrence of each key in line order. Only the lines that miss
        the clean-line regex (~0.1%) are split and checked one by one in Python.
        """
        import polars as pl

        lines = pl.Series("line", block.records, dtype=pl.String)
        fields = lines.str.split_exact(",", len(self.header) - 1).struct.rename_fields(self.header)
        columns = fields.struct.unnest()
        fast = lines.str.contains(self.fast_line)
        for parent, child, pairs in self.pair_checks:
            pair = columns[parent] + SEPARATOR + columns[child]
            fast = fast & pair.is_in(pairs).fill_null(False)
        key = columns[self.dataset.key]
        nulls = pl.Series(KEY, [None] * len(key), dtype=pl.String)
        keys = (key.str.to_lowercase() if self.lower_key else key).zip_with(fast, nulls)
        parsed = Parsed(pl.DataFrame(), [], [], list(block.rejects), 0, 0, block.bytes_read)
        parsed.read = len(block.rejects) + int((lines != "").sum())
        slow_at: list[int] = []
        for index in (~fast & (lines != "")).arg_true().to_list():
            outcome = self._check(block.records[index], block.number(index))
            if isinstance(outcome, Reject):
                parsed.rejects.append(outcome)
                continue
            slow_key = outcome[self.dataset.column_names.index(self.dataset.key)]
            slow_at.append(index)
            parsed.slow_rows.append(outcome)
            parsed.slow_keys.append(slow_key.lower() if self.lower_key else slow_key)
        if slow_at:
            keys = keys.scatter(slow_at, parsed.slow_keys)
        first = keys.is_first_distinct() & keys.is_not_null()
        parsed.duplicates = int(keys.is_not_null().sum()) - int(first.sum())
        if parsed.duplicates and slow_at:
            firsts = first.gather(slow_at).to_list()
            parsed.slow_rows = [r for r, ok in zip(parsed.slow_rows, firsts, strict=True) if ok]
            parsed.slow_keys = [k for k, ok in zip(parsed.slow_keys, firsts, strict=True) if ok]
        kept = fast & first
        chosen = pl.DataFrame([keys.alias(KEY), *(columns[n] for n in self.reads)])
        parsed.fast = chosen.filter(kept)
        if parsed.fast.height:
            parsed.fast_data = (lines.filter(kept).str.join("\n").item() + "\n").encode()
        parsed.keys = keys.filter(first)
        parsed.probe_keys = parsed.keys.str.join(SEPARATOR).item()
        if self.reads and self.dataset.parts is not None:
            parsed.parts = self.dataset.parts.summarise(self.rows_frame(parsed, self.dataset.parts))
        return parsed

    def rows_frame(self, parsed: Parsed, parts: Parts) -> pl.DataFrame:
        """The block's kept rows as text columns: what `parts` reads, and the key as `KEY`."""
        import polars as pl

        names = [KEY, *parts.reads]
        frames = [parsed.fast.select(names)]
        if parsed.slow_rows:
            canonical = self.dataset.column_names
            at = [canonical.index(n) for n in parts.reads]
            values = [
                [k, *(row[i] or None for i in at)]  # "" is NULL
                for k, row in zip(parsed.slow_keys, parsed.slow_rows, strict=True)
            ]
            schema = dict.fromkeys(names, pl.String)
            frames.append(pl.DataFrame(values, schema=schema, orient="row"))
        return pl.concat(frames, how="vertical")

    def _check(self, text: str, number: int) -> list[str] | Reject:
        """Split and check a line column by column: stored values + flags, or a reject."""
        if '"' in text:
            fields = next(csv.reader(io.StringIO(text, newline="")), [])
        else:
            fields = text.split(",")
        if len(fields) != len(self.header):
            return Reject(
                number, text, f"wrong field count: {len(fields)} (expected {len(self.header)})"
            )
        raw = dict(zip(self.header, fields, strict=True))
        stored: list[str] = []
        reasons: list[str] = []
        flags: list[str] = []
        for column in self.dataset.columns:
            value, problem = column.validate(raw[column.name], raw)
            if problem:
                (reasons if column.on_invalid == "reject" else flags).append(problem)
            stored.append(value)
        if reasons:
            return Reject(number, text, "; ".join(reasons))
        stored.append("{" + ",".join(flags) + "}" if flags else "")
        return stored

    def load(self, parsed: Parsed) -> Counts:
        """Drop keys already in the table, COPY the rest, quarantine, feed the rollups."""
        existing = self.keys.existing(parsed)
        parts = parsed.parts
        if existing:
            if parts is not None and self.dataset.parts is not None:
                rows = self.rows_frame(parsed, self.dataset.parts)
                parts = _without(parts, rows, existing, self.dataset.parts)
            _drop_existing(parsed, existing)
        slow_rows = parsed.slow_rows
        slow_data = _csv(slow_rows) if slow_rows else b""
        self.rollups.added(len(parsed.fast_data) + len(slow_data), parts)
        with self.conn.cursor() as cursor:
            if parsed.fast_data:
                # A writer thread streams the rows: the parts are added up meanwhile.
                with cursor.copy(self.copy_fast, writer=QueuedLibpqWriter(cursor)) as copy:
                    copy.write(parsed.fast_data)
                    self.rollups.tidy()
            else:
                self.rollups.tidy()
            if slow_rows:
                with cursor.copy(self.copy_slow) as copy:
                    copy.write(slow_data)
            if parsed.rejects:
                with cursor.copy(
                    "COPY import_rejects (dataset, file_name, line_number, raw_line, reason)"
                    " FROM STDIN"
                ) as copy:
                    for r in parsed.rejects:
                        copy.write_row((self.dataset.name, self.file_name, r.line, r.raw, r.reason))
        if self.rollups.file_full:
            self.rollups.flush()  # a big file: roll up what the group has so far
        flagged = sum(1 for r in slow_rows if r[-1])
        inserted = parsed.fast.height + len(slow_rows)
        return Counts(parsed.read, inserted, parsed.duplicates, len(parsed.rejects), flagged)


def _without(
    parts: pl.DataFrame, rows: pl.DataFrame, existing: set[str], spec: Parts
) -> pl.DataFrame:
    """`parts` less the parts of the rows whose key the table already held (duplicates)."""
    import polars as pl

    found = rows.filter(pl.col(KEY).is_in(list(existing)))
    if found.is_empty():
        return parts
    taken = spec.summarise(found.drop(KEY)).with_columns(-pl.col(spec.sums))
    return pl.concat([parts, taken], how="vertical")


def _drop_existing(parsed: Parsed, existing: set[str]) -> None:
    """Take the rows whose key the table already holds out of `parsed`: they are duplicates."""
    before = parsed.fast.height + len(parsed.slow_rows)
    new = ~parsed.fast[KEY].is_in(list(existing))
    if not new.all():
        lines = parsed.fast_data.split(b"\n")[:-1]
        kept = list(compress(lines, new.to_list()))
        parsed.fast_data = b"\n".join(kept) + b"\n" if kept else b""
        parsed.fast = parsed.fast.filter(new)
    slow = [
        (r, k) for r, k in zip(parsed.slow_rows, parsed.slow_keys, strict=True) if k not in existing
    ]
    parsed.slow_rows = [r for r, _ in slow]
    parsed.slow_keys = [k for _, k in slow]
    parsed.duplicates += before - parsed.fast.height - len(parsed.slow_rows)


def _csv(rows: list[list[str]]) -> bytes:
    """Rows as CSV for COPY (blank is NULL)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def _refuse_older_file(dataset: Dataset, name: str, imported: Iterable[str]) -> None:
    key = dataset.file_order(name)
    newer = sorted(n for n in imported if dataset.file_order(n) > key)
    if newer:
        raise ImportRefused(
            f"{name} is older than the already imported {newer[-1]}: importing it now could"
            " let a later file's row win over an earlier one"
        )


def _checked_header(dataset: Dataset, header: list[str]) -> list[str]:
    if not header:
        return header
    expected = set(dataset.column_names)
    if len(set(header)) != len(header):
        raise FileFormatError(f"the header repeats a column: {header}")
    missing, unknown = expected - set(header), set(header) - expected
    if missing or unknown:
        raise FileFormatError(
            f"the header does not match: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return header


def _record_failure(conn: psycopg.Connection, dataset: Dataset, result: FileResult) -> None:
    """A `failed` run row: in its own transaction, or in a savepoint of the group's."""
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO import_runs (dataset, file_name, file_size, started_at, finished_at,"
                " status, error) VALUES (%s, %s, %s, %s, clock_timestamp(), 'failed', %s)",
                (
                    dataset.name,
                    result.name,
                    result.size,
                    result.started or datetime.now(UTC),
                    (result.error or "")[:2000],
                ),
            )
    except psycopg.Error:  # the database itself is gone; the caller still gets the result
        return


_DONE = object()
READER_NICENESS = 10


def _yield_to_the_database() -> None:
    """Lower the calling thread's CPU priority (Linux: niceness is per thread).

    The reader thread (and polars' worker threads, which it starts and which inherit it) has
    slack, while the PostgreSQL backend bounds the import: on a machine with as many busy threads
    as cores, the scheduler should run the backend first. Measured on two cores: the in-process
    import of 1M rows took ~5% less time. A no-op where the OS refuses or lacks it.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), READER_NICENESS)
    except (AttributeError, OSError):  # pragma: no cover - other platforms
        return


def _prefetch(items: Iterator[T], depth: int = 3) -> Generator[T]:
    """Produce `items` in a thread, at most `depth` ahead (parse while PostgreSQL works)."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        _yield_to_the_database()
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    worker = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(0.05)
