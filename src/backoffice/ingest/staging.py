"""A staged run: the engine's read -> classify -> load chain cut in three steps, files between.

An Airflow DAG runs its tasks as separate processes, each retried on its own, so the chain the
command line runs in one process (`pipeline.import_files`) is cut at its two seams and each step
leaves its output on disk for the next (never in Airflow's XCom):

- `extract`: each new file is copied into the run (the bytes the load will hash and audit) and
  read block by block by the engine's reader (line numbers, quoted fields, BOM, CRLF, lines
  that are not UTF-8); each block becomes a pandas DataFrame of its records (`line`, `raw`, and
  `reason` for a line the reader refused) written as Parquet. A file seen before with the same
  sha256 is not staged: its skip is recorded in the audit.
- `transform`: each block's frame is classified exactly as in the chained path (vectorised
  checks and transforms, first occurrence in the block) into one Parquet frame of rows by kind:
  `fast` and `slow` rows to load (stored values), `duplicate` rows (kept for the conflict check)
  and `reject` lines.
- `load`: `import_files` with this run as the source of its blocks instead of the reader: the
  same key probe, COPY, quarantine, conflict check, one transaction per file and run audit.

Why the reader and not `pandas.read_csv`: the quarantine needs each refused line's number and raw
text, and `read_csv` gives neither (a record's line is lost once a quoted field spans lines) and
reads a short row (`T5,5`) as one with blank values. See docs/decisions.md.

The layout of a run's directory:

    manifest.json                      the files: name, size, sha256, header or error, blocks
    files/<name>                       the bytes extracted
    blocks/<name>/<n>.extract.parquet  a block's records
    blocks/<name>/<n>.rows.parquet     the same block, classified

A staged run needs a dataset whose rows carry their lines (`Dataset.conflicts`) and that has
neither rollups nor a flags column (the transactions); the merchants' import stays chained.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import psycopg

from backoffice.ingest.audit import RunOrigin, imported_files, record_success
from backoffice.ingest.classify import KEY, Classifier, Parsed, joined_lines
from backoffice.ingest.files import checked_header, max_line_bytes, order_files, sha256_of
from backoffice.ingest.pipeline import (
    Closed,
    FileGroup,
    Item,
    Opened,
    import_files,
)
from backoffice.ingest.reader import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    Block,
    CsvChunker,
    FileFormatError,
    NotARegularFile,
    Reject,
    open_regular,
)
from backoffice.ingest.results import Counts, FileResult
from backoffice.ingest.spec import SEPARATOR, Dataset

if TYPE_CHECKING:
    import polars as pl

MANIFEST = "manifest.json"
Kind = Literal["fast", "slow", "duplicate", "reject"]


class StagingError(Exception):
    """A step found the run's directory not as the step before leaves it (run that step again)."""


@dataclass(slots=True)
class StagedFile:
    """One file of a staged run, as extracted."""

    name: str
    size: int
    sha256: str
    header: list[str] = field(default_factory=list)  # normalised, in the file's order
    error: str | None = None  # why the file cannot be loaded at all (its header, say)
    blocks: list[int] = field(default_factory=list)  # bytes read at the end of each block
    transformed: bool = False


@dataclass(slots=True)
class Manifest:
    """What `extract` staged (and `transform` marked done)."""

    dataset: str
    files: list[StagedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # seen before, same sha256: not staged

    def save(self, directory: Path) -> None:
        """Write it atomically (a rename), so a killed step never leaves half a manifest."""
        temporary = directory / f"{MANIFEST}.tmp"
        temporary.write_text(json.dumps(asdict(self), indent=1))
        temporary.replace(directory / MANIFEST)

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        """The run's manifest; `StagingError` when extract has not written one."""
        try:
            data = json.loads((directory / MANIFEST).read_text())
        except FileNotFoundError:
            raise StagingError(f"{directory} holds no {MANIFEST}: run extract first") from None
        files = [StagedFile(**f) for f in data.pop("files")]
        return cls(**data, files=files)

    @property
    def paths(self) -> list[str]:
        """The staged files' names, in load order."""
        return [f.name for f in self.files]


def check_stageable(dataset: Dataset) -> None:
    """Raise `ValueError` for a dataset a staged run cannot carry (see the module's docstring)."""
    if dataset.conflicts is None or dataset.rollups or dataset.flags_column is not None:
        raise ValueError(
            f"dataset {dataset.name}: a staged run needs `conflicts`, no rollups and no flags"
        )


def block_path(directory: Path, name: str, index: int, step: str) -> Path:
    """Where block `index` of file `name` is kept after `step` (`extract` or `rows`)."""
    return directory / "blocks" / name / f"{index:06d}.{step}.parquet"


# --- extract -----------------------------------------------------------------------------------


class _Tee:
    """A binary stream that copies what is read from it into another one."""

    def __init__(self, source: BinaryIO, copy: BinaryIO) -> None:
        self.source = source
        self.copy = copy

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.copy.write(data)
        return data


def extract_file(
    path: Path,
    directory: Path,
    dataset: Dataset,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line: int = DEFAULT_MAX_LINE_BYTES,
) -> StagedFile:
    """Copy `path` into the run and write its blocks as pandas frames; one read of the file.

    A path that is not a regular file (a directory, a FIFO) is staged as an empty copy with
    its error, never opened for reading; the load records it as failed.
    """
    import pandas as pd

    (directory / "files").mkdir(parents=True, exist_ok=True)
    (directory / "blocks" / path.name).mkdir(parents=True, exist_ok=True)
    staged = StagedFile(path.name, 0, "")
    try:
        opened = open_regular(path)
    except (NotARegularFile, OSError) as exc:
        (directory / "files" / path.name).write_bytes(b"")
        staged.error = f"FileFormatError: {exc}"
        staged.sha256 = sha256_of(directory / "files" / path.name)
        return staged
    with opened as source, (directory / "files" / path.name).open("wb") as copy:
        tee = _Tee(source, copy)
        chunker = CsvChunker(tee, chunk_bytes, max_line)  # type: ignore[arg-type]  # read() only
        try:
            staged.header = checked_header(dataset, chunker.read_header())
            for index, block in enumerate(chunker.blocks()):
                frame = pd.DataFrame(
                    {
                        "line": [block.number(i) for i in range(len(block.records))]
                        + [r.line for r in block.rejects],
                        "raw": block.records + [r.raw for r in block.rejects],
                        "reason": [None] * len(block.records) + [r.reason for r in block.rejects],
                    }
                ).astype({"line": "int64", "raw": "str", "reason": "str"})
                frame.to_parquet(block_path(directory, path.name, index, "extract"), index=False)
                staged.blocks.append(block.bytes_read)
        except FileFormatError as exc:
            staged.error, staged.blocks = f"FileFormatError: {exc}", []
            shutil.copyfileobj(source, copy)  # the rest of the bytes, for the audit
    if staged.error is None:
        staged.sha256 = chunker.sha256.hexdigest()
    else:
        staged.sha256 = sha256_of(directory / "files" / path.name)
    staged.size = (directory / "files" / path.name).stat().st_size
    return staged


# --- transform ---------------------------------------------------------------------------------


def transform_file(directory: Path, dataset: Dataset, staged: StagedFile) -> None:
    """Classify each extracted block of `staged` into its frame of rows by kind."""
    if staged.error is not None or staged.transformed:
        return
    classifier = Classifier(dataset, staged.header, with_parts=False)
    for index in range(len(staged.blocks)):
        parsed = classifier.classify(
            _read_block(block_path(directory, staged.name, index, "extract"))
        )
        _rows_frame(parsed, dataset).write_parquet(
            block_path(directory, staged.name, index, "rows")
        )
    staged.transformed = True


def _read_block(path: Path) -> Block:
    """An extracted block back as the reader made it."""
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except FileNotFoundError:
        raise StagingError(f"{path} is missing: run extract again") from None
    records = frame.filter(pl.col("reason").is_null())
    refused = frame.filter(pl.col("reason").is_not_null())
    numbers = records["line"].to_list()
    return Block(
        first_line=numbers[0] if numbers else 0,
        records=records["raw"].to_list(),
        numbers=numbers,
        rejects=[Reject(*row) for row in refused.select("line", "raw", "reason").iter_rows()],
    )


def _rows_frame(parsed: Parsed, dataset: Dataset) -> pl.DataFrame:
    """A classified block as one frame: `kind`, `line`, `raw`, `reason` and the stored values."""
    import polars as pl

    names = dataset.column_names
    schema: dict[str, pl.DataType] = {"kind": pl.String(), "line": pl.Int64(), "raw": pl.String()}
    schema |= dict.fromkeys(["reason", *names], pl.String())

    def rows(
        kind: Kind, items: Sequence[tuple[int, str, str | None, Sequence[str | None]]]
    ) -> pl.DataFrame:
        data = [(kind, line, raw, reason, *values) for line, raw, reason, values in items]
        return pl.DataFrame(data, schema=schema, orient="row")

    assert parsed.fast_lines is not None and parsed.slow_lines is not None
    fast = parsed.fast_lines.select(
        pl.lit("fast").alias("kind"), "line", "raw", pl.lit(None, pl.String).alias("reason"), *names
    )
    slow = [
        (line, raw, None, row)
        for (line, raw), row in zip(parsed.slow_lines, parsed.slow_rows, strict=True)
    ]
    duplicates = [(line, raw, None, values) for line, raw, values in parsed.duplicate_rows or []]
    rejects = [(r.line, r.raw, r.reason, [None] * len(names)) for r in parsed.rejects]
    return pl.concat(
        [
            fast.cast(pl.Schema(schema)),
            rows("slow", slow),
            rows("duplicate", duplicates),
            rows("reject", rejects),
        ]
    )


# --- load --------------------------------------------------------------------------------------


class StagedSource:
    """Feeds `import_files` the transformed blocks of a run instead of reading the files."""

    def __init__(self, directory: Path, manifest: Manifest) -> None:
        self.directory = directory
        self.files = {f.name: f for f in manifest.files}

    def paths(self) -> list[Path]:
        """The staged copies, which the engine names, sizes and (when seen before) hashes."""
        return [self.directory / "files" / name for name in self.files]

    def read(self, group: FileGroup, path: Path) -> Iterator[Item]:
        """One file's items: `Opened`, its blocks as `Parsed`, `Closed` with the staged sha256."""
        staged = self.files[path.name]
        if staged.error is not None:
            yield Closed(
                path, error=FileFormatError(staged.error.removeprefix("FileFormatError: "))
            )
            return
        if not staged.transformed:
            raise StagingError(f"{path.name} was not transformed: run transform first")
        yield Opened(path, group.loader(group.dataset.column_names, path.name))
        for index, bytes_read in enumerate(staged.blocks):
            parsed = parsed_block(
                block_path(self.directory, path.name, index, "rows"), group.dataset, bytes_read
            )
            group.keys.prepare(parsed)
            yield parsed
        yield Closed(path, staged.sha256)


def parsed_block(path: Path, dataset: Dataset, bytes_read: int) -> Parsed:
    """A transformed block back as `Classifier.classify` made it (columns in dataset order)."""
    import polars as pl

    names = dataset.column_names
    try:
        frame = pl.read_parquet(path)
    except FileNotFoundError:
        raise StagingError(f"{path} is missing: run transform again") from None
    by_kind = {
        kind: frame.filter(pl.col("kind") == kind)
        for kind in ("fast", "slow", "duplicate", "reject")
    }
    fast, slow = by_kind["fast"], by_kind["slow"]
    keys = pl.concat([fast[dataset.key], slow[dataset.key]]).alias(KEY)
    parsed = Parsed(
        fast=pl.DataFrame([fast[dataset.key].alias(KEY)]),
        slow_rows=[list(row) for row in slow.select(names).iter_rows()],
        slow_keys=slow[dataset.key].to_list(),
        rejects=[
            Reject(*row) for row in by_kind["reject"].select("line", "raw", "reason").iter_rows()
        ],
        read=frame.height,
        duplicates=by_kind["duplicate"].height,
        bytes_read=bytes_read,
    )
    if fast.height:
        lines = joined_lines(fast, names)
        if dataset.keeps_lines:  # each row's line, in the table's `ingest_line`
            lines = lines + "," + fast["line"].cast(pl.String)
        parsed.fast_data = (lines.str.join("\n").item() + "\n").encode()
    parsed.keys = keys
    parsed.probe_keys = keys.str.join(SEPARATOR).item()
    parsed.fast_lines = fast.select(*names, "line", "raw")
    parsed.slow_lines = list(slow.select("line", "raw").iter_rows())
    parsed.duplicate_rows = [
        (line, raw, list(values))
        for line, raw, *values in by_kind["duplicate"].select("line", "raw", *names).iter_rows()
    ]
    return parsed


# --- the three steps over a run's directory ----------------------------------------------------


def extract_run(
    conn: psycopg.Connection,
    dataset: Dataset,
    paths: Sequence[Path],
    directory: Path,
    origin: RunOrigin,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Manifest:
    """Stage the files of `paths` (files or directories) not imported before into `directory`.

    The directory is emptied first, so a retried extract starts over. A file imported before
    with the same sha256 is not staged, and its skip is recorded (`origin` says by whom); one
    with the same name and other content is staged, and the load refuses it as the chained
    path does.
    """
    check_stageable(dataset)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    imported = imported_files(conn, dataset)
    manifest = Manifest(dataset.name)
    max_line = max_line_bytes()
    for path in order_files(dataset, paths):
        prior = imported.get(path.name)
        if prior is not None and prior == _digest(path):
            started = datetime.now(UTC)
            size = path.stat().st_size
            record_success(
                conn, dataset, path.name, size, prior, Counts(), started, origin, "skipped"
            )
            manifest.skipped.append(path.name)
            continue
        manifest.files.append(extract_file(path, directory, dataset, chunk_bytes, max_line))
    manifest.save(directory)
    return manifest


def _digest(path: Path) -> str | None:
    """`path`'s sha256, or None when it cannot be read (extract stages it with the reason)."""
    try:
        return sha256_of(path)
    except (NotARegularFile, OSError):
        return None


def transform_run(dataset: Dataset, directory: Path) -> Manifest:
    """Classify every extracted block of the run (a file done is marked, so a rerun goes on)."""
    check_stageable(dataset)
    manifest = Manifest.load(directory)
    for staged in manifest.files:
        if not staged.transformed:
            transform_file(directory, dataset, staged)
            manifest.save(directory)
    return manifest


def load_run(
    url: str, dataset: Dataset, directory: Path, origin: RunOrigin
) -> tuple[Manifest, list[FileResult]]:
    """Load the transformed blocks: `import_files` with the run as its source of blocks.

    Files already loaded (by an earlier attempt of this step, say) are skipped by the engine.
    """
    check_stageable(dataset)
    manifest = Manifest.load(directory)
    source = StagedSource(directory, manifest)
    return manifest, import_files(url, dataset, source.paths(), origin=origin, source=source)
