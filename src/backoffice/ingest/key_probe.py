"""Which keys of a block the table already holds: PostgreSQL's index, and a Bloom filter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from backoffice.ingest.classify import Parsed
from backoffice.ingest.spec import SEPARATOR, Dataset

if TYPE_CHECKING:
    import polars as pl


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
