"""Load a sorted block: drop the keys the table holds, COPY the rest, quarantine, feed rollups.

The clean lines are COPYed by a writer thread (psycopg's `QueuedLibpqWriter`) while the main
thread adds the parts of the rollups up.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from itertools import compress

import psycopg
from psycopg.copy import QueuedLibpqWriter

from backoffice.ingest import late
from backoffice.ingest.audit import DUPLICATES, quarantine, quarantine_conflicts
from backoffice.ingest.classify import KEY, Parsed, rows_frame
from backoffice.ingest.key_probe import KeyProbe
from backoffice.ingest.results import Counts
from backoffice.ingest.rollups import Rollups, parts_taken, parts_without
from backoffice.ingest.spec import Dataset


class FileLoader:
    """Loads the sorted blocks of one file into the dataset's table, in the group's transaction."""

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
        self.file_name = file_name
        table = dataset.table
        file_list = ", ".join(f'"{h}"' for h in header)
        flags = [dataset.flags_column] if dataset.flags_column else []
        lines = ["ingest_line"] if dataset.keeps_lines else []
        stored_list = ", ".join(f'"{n}"' for n in [*dataset.column_names, *flags, *lines])
        file_list = ", ".join([file_list, *lines])
        self.copy_fast = f"COPY {table} ({file_list}) FROM STDIN (FORMAT csv)"
        self.copy_slow = f"COPY {table} ({stored_list}) FROM STDIN (FORMAT csv)"
        self.rollups = rollups
        # The file's date when a file dated after it was loaded before (`late.py`).
        self.late_date: date | None = None

    def load(self, parsed: Parsed) -> Counts:
        """Drop keys already in the table, COPY the rest, quarantine, feed the rollups."""
        existing = self.keys.existing(parsed)
        displaced: set[str] = set()
        parts = parsed.parts
        if existing and self.late_date is not None:
            with self.conn.cursor() as cursor:
                displaced, gone = late.displace(cursor, self.dataset, existing, self.late_date)
            existing -= displaced
            if gone and parts is not None and self.dataset.parts is not None:
                parts = parts_taken(parts, gone, self.dataset.parts)
        if existing:
            if parts is not None and self.dataset.parts is not None:
                rows = rows_frame(parsed, self.dataset, self.dataset.parts)
                parts = parts_without(parts, rows, existing, self.dataset.parts)
            _drop_existing(parsed, existing)
        slow_rows = parsed.slow_rows
        if self.dataset.keeps_lines and parsed.slow_lines is not None:
            at = [[str(line)] for line, _ in parsed.slow_lines]
            slow_data = _csv([r + a for r, a in zip(slow_rows, at, strict=True)])
        else:
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
                quarantine(cursor, self.dataset, self.file_name, parsed.rejects)
            if displaced:
                late.requarantine(cursor, self.dataset, displaced)
            conflicting = (
                quarantine_conflicts(cursor, self.dataset, self.file_name, parsed.duplicate_rows)
                if parsed.duplicate_rows
                else 0
            )
            if parsed.duplicate_rows and self.dataset.keeps_lines:
                late.record(cursor, self.dataset, self.file_name, DUPLICATES)
        if self.rollups.file_full:
            self.rollups.flush()  # a big file: roll up what the group has so far
        flagged = sum(1 for r in slow_rows if r[-1]) if self.dataset.flags_column else 0
        inserted = parsed.fast.height + len(slow_rows)
        return Counts(
            parsed.read, inserted, parsed.duplicates, len(parsed.rejects), flagged, conflicting
        )


def _drop_existing(parsed: Parsed, existing: set[str]) -> None:
    """Take the rows whose key the table already holds out of `parsed`: they are duplicates."""
    before = parsed.fast.height + len(parsed.slow_rows)
    new = ~parsed.fast[KEY].is_in(list(existing))
    if not new.all():
        lines = parsed.fast_data.split(b"\n")[:-1]
        kept = list(compress(lines, new.to_list()))
        parsed.fast_data = b"\n".join(kept) + b"\n" if kept else b""
        parsed.fast = parsed.fast.filter(new)
        if parsed.fast_lines is not None and parsed.duplicate_rows is not None:
            parsed.duplicate_rows += [
                (row[-2], row[-1], list(row[:-2]))
                for row in parsed.fast_lines.filter(~new).iter_rows()
            ]
            parsed.fast_lines = parsed.fast_lines.filter(new)
    known = [k in existing for k in parsed.slow_keys]
    if parsed.slow_lines is not None and parsed.duplicate_rows is not None:
        parsed.duplicate_rows += [
            (*where, row)
            for row, where, old in zip(parsed.slow_rows, parsed.slow_lines, known, strict=True)
            if old
        ]
        parsed.slow_lines = [w for w, old in zip(parsed.slow_lines, known, strict=True) if not old]
    slow = [
        (r, k)
        for r, k, old in zip(parsed.slow_rows, parsed.slow_keys, known, strict=True)
        if not old
    ]
    parsed.slow_rows = [r for r, _ in slow]
    parsed.slow_keys = [k for _, k in slow]
    parsed.duplicates += before - parsed.fast.height - len(parsed.slow_rows)


def _csv(rows: list[list[str]]) -> bytes:
    """Rows as CSV for COPY (blank is NULL)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()
