"""Import CSV files into PostgreSQL: one transaction per file, straight COPY into the table.

Per file: take the dataset's advisory lock (two importers never interleave), skip a file already
imported with the same sha256 (same name, other hash: refused), refuse a file older than one
already imported (first occurrence wins = earliest file), then stream the file block by block.
A reader thread sorts each block: lines matching the dataset's clean-line regex go to COPY as
they are; the others are checked column by column and repaired (flagged) or quarantined; keys
repeated inside the block are duplicates; the reader thread also joins the clean lines into the
bytes COPY reads. The main thread asks PostgreSQL which keys it already holds (earlier files and
blocks; an index probe, never a set of ids in Python), COPYs the rest into the target table and,
when the dataset has rollups, once more into a temporary text table of the file's rows, and
quarantines. The rollups are a few set-based SQL statements over that temporary table, run before
the commit (every 64 MiB for a big file): no per-row Python for the rollups.
The `import_runs` row is written in the same transaction, so a killed import leaves nothing
behind and a rerun does it again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import psycopg

from backoffice.ingest.reader import DEFAULT_CHUNK_BYTES, Block, CsvChunker, FileFormatError, Reject
from backoffice.ingest.spec import FILE_ROWS, SEPARATOR, Dataset, fast_line_pattern

Status = Literal["succeeded", "skipped", "failed"]
# A file bigger than this (the text of the rows it inserted) is rolled up in parts of this size:
# the temporary table of its rows stays small whatever the file's size.
ROLLUP_BYTES = 64 << 20
T = TypeVar("T")


class ImportRefused(Exception):
    """The file must not be imported as it is (the operator has to resolve it)."""


class ImportCancelled(Exception):
    """The importer was asked to stop; the file's transaction is rolled back."""


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
    """Import `paths` (files or directories) in order; stop at the first failed file.

    A failure stops the run because a later file imported before an earlier one is fixed
    would break "first occurrence wins".
    """
    watcher = observer or NullObserver()
    results: list[FileResult] = []
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for path in order_files(dataset, paths):
            if should_stop():
                raise ImportCancelled
            result = import_file(
                conn,
                dataset,
                path,
                observer=watcher,
                should_stop=should_stop,
                chunk_bytes=chunk_bytes,
            )
            results.append(result)
            if result.status == "failed":
                break
    return results


def import_file(
    conn: psycopg.Connection,
    dataset: Dataset,
    path: Path,
    *,
    observer: Observer | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> FileResult:
    """Import one file in one transaction (`conn` must be in autocommit mode)."""
    watcher = observer or NullObserver()
    size = path.stat().st_size
    started = datetime.now(UTC)
    clock = time.perf_counter()
    watcher.file_started(path.name, size)
    try:
        with conn.transaction():
            result = _import_in_transaction(
                conn, dataset, path, size, started, watcher, should_stop, chunk_bytes
            )
    except ImportCancelled:
        raise
    except (ImportRefused, FileFormatError, OSError, psycopg.Error) as exc:
        result = FileResult(path.name, "failed", size=size, error=f"{type(exc).__name__}: {exc}")
        if not conn.closed:
            _record_failure(conn, dataset, path.name, size, started, result.error or "")
    result.seconds = time.perf_counter() - clock
    watcher.file_finished(result)
    return result


def _import_in_transaction(
    conn: psycopg.Connection,
    dataset: Dataset,
    path: Path,
    size: int,
    started: datetime,
    observer: Observer,
    should_stop: Callable[[], bool],
    chunk_bytes: int,
) -> FileResult:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ingest:{dataset.name}",))
    prior = conn.execute(
        "SELECT sha256 FROM import_runs WHERE dataset = %s AND file_name = %s"
        " AND status = 'succeeded'",
        (dataset.name, path.name),
    ).fetchone()
    if prior is not None:
        digest = sha256_of(path)
        if prior[0] == digest:
            return FileResult(path.name, "skipped", size=size, sha256=digest)
        raise ImportRefused(
            f"{path.name} was already imported with sha256 {prior[0]}; this file has {digest}."
            " Rename it or resolve the difference by hand"
        )
    _refuse_older_file(conn, dataset, path.name)
    conn.execute("SET LOCAL timezone = 'UTC'")  # timestamps without a zone are UTC
    counts = Counts()
    with path.open("rb") as stream:
        chunker = CsvChunker(stream, chunk_bytes)
        header = _checked_header(dataset, chunker.read_header())
        if header:
            loader = FileLoader(conn, dataset, header, path.name)
            loader.start()
            for parsed in _prefetch(loader.classify(b) for b in chunker.blocks()):
                if should_stop():
                    raise ImportCancelled
                counts.add(loader.load(parsed))
                observer.progressed(path.name, parsed.bytes_read, counts)
            loader.finish()
        digest = chunker.sha256.hexdigest()
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
    return FileResult(path.name, "succeeded", counts, size=size, sha256=digest)


@dataclass(slots=True)
class Parsed:
    """A block sorted into clean lines (copied as they are), repaired rows and rejects."""

    fast_lines: list[str]
    fast_keys: list[str]
    slow_rows: list[list[str]]
    slow_keys: list[str]
    rejects: list[Reject]
    read: int
    duplicates: int
    bytes_read: int
    fast_data: bytes = b""  # the clean lines as COPY reads them, built in the reader thread
    probe_keys: str = ""  # every key, joined for the probe


class FileLoader:
    """Sorts the blocks of one file and loads them: probe keys, COPY, quarantine, rollups."""

    def __init__(
        self, conn: psycopg.Connection, dataset: Dataset, header: list[str], file_name: str
    ) -> None:
        self.conn = conn
        self.dataset = dataset
        self.header = header
        self.file_name = file_name
        by_name = {c.name: c for c in dataset.columns}
        file_columns = [by_name[h] for h in header]
        self.match = fast_line_pattern(file_columns).fullmatch
        canonical = dataset.column_names
        self.reorder = None if header == canonical else [header.index(n) for n in canonical]
        self.key_at = header.index(dataset.key)
        self.lower_key = dataset.key_type == "uuid"
        self.pair_checks = [
            (header.index(c.parent), header.index(c.name), c.pairs)
            for c in file_columns
            if c.parent
        ]
        table = dataset.table
        file_list = ", ".join(f'"{h}"' for h in header)
        stored_list = ", ".join(f'"{n}"' for n in [*canonical, dataset.flags_column])
        self.copy_fast = f"COPY {table} ({file_list}) FROM STDIN (FORMAT csv)"
        self.copy_slow = f"COPY {table} ({stored_list}) FROM STDIN (FORMAT csv)"
        # The rows the file inserts, once more as text, for the set-based rollups at the end.
        self.rollups = dataset.rollups
        self.create_file_rows = (
            f"CREATE TEMPORARY TABLE {FILE_ROWS} ("
            + ", ".join(f'"{n}" text COLLATE "C"' for n in [*canonical, dataset.flags_column])
            + ") ON COMMIT DROP"
        )
        self.copy_fast_rows = f"COPY {FILE_ROWS} ({file_list}) FROM STDIN (FORMAT csv)"
        self.copy_slow_rows = f"COPY {FILE_ROWS} ({stored_list}) FROM STDIN (FORMAT csv)"
        self.pending_bytes = 0  # copied into FILE_ROWS since the last rollup
        # Identifiers come from the dataset description, never from a file; keys are a parameter.
        self.probe = (
            f'SELECT "{dataset.key}"::text FROM {table}'  # noqa: S608
            f' WHERE "{dataset.key}" = ANY(string_to_array(%s, chr(31))::{dataset.key_type}[])'
        )

    def classify(self, block: Block) -> Parsed:
        """Sort a block's records (pure Python, runs in the reader thread)."""
        match, key_at, lower, pair_checks = (
            self.match,
            self.key_at,
            self.lower_key,
            self.pair_checks,
        )
        parsed = Parsed(
            [], [], [], [], list(block.rejects), len(block.rejects), 0, block.bytes_read
        )
        seen: set[str] = set()
        fast_lines, fast_keys = parsed.fast_lines, parsed.fast_keys
        for index, text in enumerate(block.records):
            if not text:
                continue  # a blank line is not a row
            parsed.read += 1
            found = match(text)
            if found is not None:
                groups = found.groups()
                if all((groups[p], groups[c]) in ok for p, c, ok in pair_checks):
                    key = groups[key_at].lower() if lower else groups[key_at]
                    if key in seen:
                        parsed.duplicates += 1
                        continue
                    seen.add(key)
                    fast_lines.append(text)
                    fast_keys.append(key)
                    continue
            outcome = self._check(text, block.number(index))
            if isinstance(outcome, Reject):
                parsed.rejects.append(outcome)
                continue
            key = outcome[self.dataset.column_names.index(self.dataset.key)]
            key = key.lower() if lower else key
            if key in seen:
                parsed.duplicates += 1
                continue
            seen.add(key)
            parsed.slow_rows.append(outcome)
            parsed.slow_keys.append(key)
        if fast_lines:
            parsed.fast_data = ("\n".join(fast_lines) + "\n").encode()
        parsed.probe_keys = SEPARATOR.join(fast_keys + parsed.slow_keys)
        return parsed

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
        duplicates = parsed.duplicates
        existing: set[str] = set()
        if parsed.probe_keys:
            existing = {row[0] for row in self.conn.execute(self.probe, (parsed.probe_keys,))}
        fast_lines, slow_rows, fast_data = parsed.fast_lines, parsed.slow_rows, parsed.fast_data
        if existing:
            keys = len(parsed.fast_keys) + len(parsed.slow_keys)
            fast_lines = [
                line
                for line, k in zip(fast_lines, parsed.fast_keys, strict=True)
                if k not in existing
            ]
            slow_rows = [
                r for r, k in zip(slow_rows, parsed.slow_keys, strict=True) if k not in existing
            ]
            duplicates += keys - len(fast_lines) - len(slow_rows)
            if len(fast_lines) < len(parsed.fast_lines):
                fast_data = ("\n".join(fast_lines) + "\n").encode() if fast_lines else b""
        with self.conn.cursor() as cursor:
            if fast_data:
                with cursor.copy(self.copy_fast) as copy:
                    copy.write(fast_data)
                if self.rollups:
                    with cursor.copy(self.copy_fast_rows) as copy:
                        copy.write(fast_data)
                    self.pending_bytes += len(fast_data)
            if slow_rows:
                buffer = io.StringIO()
                csv.writer(buffer, lineterminator="\n").writerows(slow_rows)
                data = buffer.getvalue().encode()
                with cursor.copy(self.copy_slow) as copy:
                    copy.write(data)
                if self.rollups:
                    with cursor.copy(self.copy_slow_rows) as copy:
                        copy.write(data)
                    self.pending_bytes += len(data)
            if parsed.rejects:
                with cursor.copy(
                    "COPY import_rejects (dataset, file_name, line_number, raw_line, reason)"
                    " FROM STDIN"
                ) as copy:
                    for r in parsed.rejects:
                        copy.write_row((self.dataset.name, self.file_name, r.line, r.raw, r.reason))
        if self.pending_bytes >= ROLLUP_BYTES:
            self.finish()  # a big file: roll up what it has so far, keep the temp table small
        flagged = sum(1 for r in slow_rows if r[-1])
        inserted = len(fast_lines) + len(slow_rows)
        return Counts(parsed.read, inserted, duplicates, len(parsed.rejects), flagged)

    def start(self) -> None:
        """Create the temporary table of the file's inserted rows (when it has rollups)."""
        if self.rollups:
            self.conn.execute(self.create_file_rows)

    def finish(self) -> None:
        """Write the rollups of the rows inserted since the last call (same transaction).

        Rollups add up, so a big file rolled up in parts gives the same tables as in one go.
        """
        if self.rollups:
            with self.conn.cursor() as cursor:
                for statement in self.rollups:
                    cursor.execute(statement)
                cursor.execute(f"TRUNCATE {FILE_ROWS}")
            self.pending_bytes = 0


def _refuse_older_file(conn: psycopg.Connection, dataset: Dataset, name: str) -> None:
    rows = conn.execute(
        "SELECT file_name FROM import_runs WHERE dataset = %s AND status = 'succeeded'",
        (dataset.name,),
    ).fetchall()
    key = dataset.file_order(name)
    newer = sorted(r[0] for r in rows if dataset.file_order(r[0]) > key)
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


def _record_failure(
    conn: psycopg.Connection,
    dataset: Dataset,
    name: str,
    size: int,
    started: datetime,
    error: str,
) -> None:
    try:
        conn.execute(
            "INSERT INTO import_runs (dataset, file_name, file_size, started_at, finished_at,"
            " status, error) VALUES (%s, %s, %s, %s, clock_timestamp(), 'failed', %s)",
            (dataset.name, name, size, started, error[:2000]),
        )
    except psycopg.Error:  # the database itself is gone; the caller still gets the result
        return


_DONE = object()


def _prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produce `items` in a thread, at most `depth` ahead (parse while PostgreSQL works)."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
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
