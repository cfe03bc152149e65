"""The rollups of a group of files: the parts of the rows it inserted, and the SQL that reads them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import psycopg

from backoffice.ingest.classify import KEY
from backoffice.ingest.spec import PARTS, Dataset, Parts

if TYPE_CHECKING:
    import polars as pl

# A group of files closes once the text of the rows it inserted reaches this size, and a file
# bigger than this is rolled up in parts of this size: the temporary table of rows stays small
# whatever the sizes. The environment variable is a tuning and testing hook (a kill test uses a
# small value to get several groups out of small files).
ROLLUP_BYTES = int(os.environ.get("BACKOFFICE_INGEST_ROLLUP_BYTES", 64 << 20))
ROLLUP_WORK_MEM = "128MB"


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
    def group_full(self) -> bool:
        """The group inserted `ROLLUP_BYTES` of rows: it closes after the running file."""
        return self.group_bytes >= ROLLUP_BYTES

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
            import polars as pl

            parts = self._combine(self.frames)
            # rows all taken away again (a late file's displaced rows leave other sums behind)
            parts = parts.filter(pl.any_horizontal(pl.col(self.parts.sums) != 0))
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


def parts_without(
    parts: pl.DataFrame, rows: pl.DataFrame, existing: set[str], spec: Parts
) -> pl.DataFrame:
    """`parts` less the parts of the rows whose key the table already held (duplicates)."""
    import polars as pl

    found = rows.filter(pl.col(KEY).is_in(list(existing)))
    if found.is_empty():
        return parts
    taken = spec.summarise(found.drop(KEY)).with_columns(-pl.col(spec.sums))
    return pl.concat([parts, taken], how="vertical")


def parts_taken(
    parts: pl.DataFrame, gone: list[tuple[str | None, ...]], spec: Parts
) -> pl.DataFrame:
    """`parts` less the parts of rows deleted (a late file's displaced ones: key, then reads)."""
    import polars as pl

    rows = pl.DataFrame(gone, schema=dict.fromkeys([KEY, *spec.reads], pl.String), orient="row")
    taken = spec.summarise(rows.drop(KEY)).with_columns(-pl.col(spec.sums))
    return pl.concat([parts, taken.cast(parts.schema)], how="vertical")
