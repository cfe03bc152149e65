"""Sort a block of CSV lines into clean lines, repaired rows and rejects (vectorised, polars).

Lines that match every column's clean pattern (one regular expression per line) and the
dataset's parent/child pairs are kept as they are; the others (~0.1%) are split and checked
column by column in Python, then repaired (flagged) or quarantined. Keys repeated inside the
block are duplicates: the first occurrence in line order wins.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backoffice.ingest.reader import Block, Reject
from backoffice.ingest.spec import SEPARATOR, Dataset, Parts, fast_line_pattern

if TYPE_CHECKING:
    import polars as pl

KEY = "__key__"  # the key column of a block's frames (lower case for a UUID key)


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
    # With `Dataset.conflicts`: line number and raw text of each kept row (`fast_lines` in
    # `fast`'s order with the stored columns, `slow_lines` in `slow_rows`' order), and every
    # duplicate set aside so far as (line, raw text, stored values), to be compared with the
    # version the table keeps once the block is loaded.
    fast_lines: pl.DataFrame | None = None
    slow_lines: list[tuple[int, str]] | None = None
    duplicate_rows: list[tuple[int, str, list[str]]] | None = None


class Classifier:
    """Sorts the blocks of one file (header order) in the reader thread; no database."""

    def __init__(self, dataset: Dataset, header: list[str], *, with_parts: bool) -> None:
        self.dataset = dataset
        self.header = header
        by_name = {c.name: c for c in dataset.columns}
        file_columns = [by_name[h] for h in header]
        # One regex for a whole clean line, run by polars (Rust's regex engine: the patterns
        # are plain classes, alternations and counts, which it reads as Python's `re` does).
        self.fast_line = f"^(?:{fast_line_pattern(file_columns).pattern})$"
        self.lower_key = dataset.key_type == "uuid"
        self.pair_checks = [
            (c.parent, c.name, [f"{p}{SEPARATOR}{v}" for p, v in sorted(c.pairs)])
            for c in file_columns
            if c.parent
        ]
        self.parts = dataset.parts if with_parts else None
        self.reads = list(self.parts.reads) if self.parts else []
        # Columns whose stored text is not the raw text: clean lines are then COPYed as rows
        # built from the converted columns instead of as they are (none for the merchants).
        self.transforms = [(c.name, c.transform) for c in dataset.columns if c.transform]
        self.conflicts = dataset.conflicts is not None

    def classify(self, block: Block) -> Parsed:
        """Sort a block's records (runs in the reader thread).

        Vectorised (polars): the clean-line regex and the parent/child pairs over the whole
        block, then the columns' transforms (a value they cannot convert sends its line to the
        slow path), then the first occurrence of each key in line order. Only the lines that
        miss the clean-line regex (~0.1%) are split and checked one by one in Python.
        """
        import polars as pl

        lines = pl.Series("line", block.records, dtype=pl.String)
        fields = lines.str.split_exact(",", len(self.header) - 1).struct.rename_fields(self.header)
        columns = fields.struct.unnest()
        fast = lines.str.contains(self.fast_line)
        for parent, child, pairs in self.pair_checks:
            pair = columns[parent] + SEPARATOR + columns[child]
            fast = fast & pair.is_in(pairs).fill_null(False)
        if self.transforms:
            columns, fast = self._converted(columns, fast)
        key = columns[self.dataset.key]
        nulls = pl.Series(KEY, [None] * len(key), dtype=pl.String)
        keys = (key.str.to_lowercase() if self.lower_key else key).zip_with(fast, nulls)
        parsed = Parsed(pl.DataFrame(), [], [], list(block.rejects), 0, 0, block.bytes_read)
        parsed.read = len(block.rejects) + int((lines != "").sum())
        slow_at: list[int] = []
        slow = (~fast & (lines != "")).arg_true().to_list()
        outcomes = self._check_lines([(block.records[i], block.number(i)) for i in slow])
        for index, outcome in zip(slow, outcomes, strict=True):
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
        if self.conflicts:
            self._set_lines_aside(parsed, block, columns, fast, first, slow_at)
        if parsed.duplicates and slow_at:
            firsts = first.gather(slow_at).to_list()
            parsed.slow_rows = [r for r, ok in zip(parsed.slow_rows, firsts, strict=True) if ok]
            parsed.slow_keys = [k for k, ok in zip(parsed.slow_keys, firsts, strict=True) if ok]
        kept = fast & first
        chosen = pl.DataFrame([keys.alias(KEY), *(columns[n] for n in self.reads)])
        parsed.fast = chosen.filter(kept)
        if parsed.fast.height:
            rows = (
                joined_lines(columns.filter(kept), self.header)
                if self.transforms
                else lines.filter(kept)
            )
            if self.dataset.keeps_lines:  # each row's line, in the table's `ingest_line`
                numbers = pl.Series([block.number(i) for i in range(len(block.records))])
                line = numbers.filter(kept).cast(pl.String)
                rows = rows + "," + line
            parsed.fast_data = (rows.str.join("\n").item() + "\n").encode()
        parsed.keys = keys.filter(first)
        parsed.probe_keys = parsed.keys.str.join(SEPARATOR).item()
        if self.reads and self.parts is not None:
            parsed.parts = self.parts.summarise(rows_frame(parsed, self.dataset, self.parts))
        return parsed

    def _set_lines_aside(
        self,
        parsed: Parsed,
        block: Block,
        columns: pl.DataFrame,
        fast: pl.Series,
        first: pl.Series,
        slow_at: list[int],
    ) -> None:
        """For `Dataset.conflicts`: where each kept row came from, and the block's duplicates."""
        import polars as pl

        names = self.dataset.column_names
        numbers = pl.Series(
            "line", [block.number(i) for i in range(len(block.records))], dtype=pl.Int64
        )
        frame = columns.select(names).with_columns(
            numbers, pl.Series("raw", block.records, dtype=pl.String)
        )
        parsed.fast_lines = frame.filter(fast & first)
        duplicates: list[tuple[int, str, list[str]]] = [
            (row[-2], row[-1], list(row[:-2])) for row in frame.filter(fast & ~first).iter_rows()
        ]
        firsts = first.gather(slow_at).to_list() if slow_at else []
        parsed.slow_lines = []
        for index, row, ok in zip(slow_at, parsed.slow_rows, firsts, strict=True):
            where = (block.number(index), block.records[index])
            if ok:
                parsed.slow_lines.append(where)
            else:
                duplicates.append((*where, row[: len(names)]))
        parsed.duplicate_rows = duplicates

    def _converted(self, columns: pl.DataFrame, fast: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
        """The block's columns with the stored text of the transformed ones; which lines stay fast.

        A line stays on the fast path only if every transform converted its value (or the value
        is blank); the others get the slow path's problem codes there.
        """
        import polars as pl

        converted = columns.select(
            pl.when(pl.col(name) == "").then(pl.lit("")).otherwise(t.expr(pl.col(name))).alias(name)
            for name, t in self.transforms
        )
        for name in converted.columns:
            fast = fast & converted[name].is_not_null()
        return columns.with_columns(converted), fast

    def _check(self, text: str, number: int) -> list[str] | Reject:
        """One line of `_check_lines`."""
        return self._check_lines([(text, number)])[0]

    def _check_lines(self, lines: list[tuple[str, int]]) -> list[list[str] | Reject]:
        """Split and check lines column by column: stored values + flags, or a reject, each.

        The transforms run once over all the lines' values of their column (vectorised).
        """
        split = [self._split(text, number) for text, number in lines]
        raws = [raw for raw in split if not isinstance(raw, Reject)]
        converted = {name: iter(t.apply([r[name] for r in raws])) for name, t in self.transforms}
        outcomes: list[list[str] | Reject] = []
        for (text, number), raw in zip(lines, split, strict=True):
            if isinstance(raw, Reject):
                outcomes.append(raw)
                continue
            outcomes.append(
                self._checked(raw, text, number, {n: next(c) for n, c in converted.items()})
            )
        return outcomes

    def _split(self, text: str, number: int) -> dict[str, str] | Reject:
        """A line's raw values by column, or a reject when it has too few or too many."""
        if '"' in text:
            fields = next(csv.reader(io.StringIO(text, newline="")), [])
        else:
            fields = text.split(",")
        if len(fields) != len(self.header):
            return Reject(
                number, text, f"wrong field count: {len(fields)} (expected {len(self.header)})"
            )
        if self.dataset.trim:
            fields = [f.strip() for f in fields]
        return dict(zip(self.header, fields, strict=True))

    def _checked(
        self, raw: dict[str, str], text: str, number: int, converted: dict[str, str | None]
    ) -> list[str] | Reject:
        """A split line's stored values + flags, or a reject with every column's reason."""
        stored: list[str] = []
        reasons: list[str] = []
        flags: list[str] = []
        for column in self.dataset.columns:
            value, problem = column.validate(raw[column.name], raw, converted.get(column.name))
            if problem:
                (reasons if column.on_invalid == "reject" else flags).append(problem)
            stored.append(value)
        if reasons:
            return Reject(number, text, "; ".join(reasons))
        if self.dataset.flags_column is not None:
            stored.append("{" + ",".join(flags) + "}" if flags else "")
        return stored


def rows_frame(parsed: Parsed, dataset: Dataset, parts: Parts) -> pl.DataFrame:
    """The block's kept rows as text columns: what `parts` reads, and the key as `KEY`."""
    import polars as pl

    names = [KEY, *parts.reads]
    frames = [parsed.fast.select(names)]
    if parsed.slow_rows:
        canonical = dataset.column_names
        at = [canonical.index(n) for n in parts.reads]
        values = [
            [k, *(row[i] or None for i in at)]  # "" is NULL
            for k, row in zip(parsed.slow_keys, parsed.slow_rows, strict=True)
        ]
        schema = dict.fromkeys(names, pl.String)
        frames.append(pl.DataFrame(values, schema=schema, orient="row"))
    return pl.concat(frames, how="vertical")


def joined_lines(columns: pl.DataFrame, header: list[str]) -> pl.Series:
    """Each row's stored values as a CSV line in file order (none holds a comma or quote)."""
    import polars as pl

    return columns.select(pl.concat_str([pl.col(h) for h in header], separator=",")).to_series()
