"""Which keys of a block the table already holds: committed rows on one connection, the group's
own rows on the other, asked only for the keys the group's Bloom filter may have seen."""

from __future__ import annotations

import uuid
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.ingest.classify import Parsed
from backoffice.ingest.key_probe import KeyProbe
from backoffice.ingest.spec import SEPARATOR
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES

POOL = [str(uuid.UUID(int=n * 7919 + 1, version=4)) for n in range(40)]


class Table:
    """A connection that answers the probe from a set of keys, and remembers what it was asked."""

    def __init__(self, rows: set[str]) -> None:
        self.rows = rows
        self.asked: list[str] = []

    def execute(self, query: str, params: tuple[str], prepare: bool = False) -> Any:
        keys = params[0].split(SEPARATOR)
        self.asked += keys
        return [(k,) for k in keys if k in self.rows]


def _block(probe: KeyProbe, keys: list[str]) -> Parsed:
    parsed = Parsed(pl.DataFrame(), [], [], [], len(keys), 0, 0)
    parsed.keys = pl.Series(keys, dtype=pl.String)
    parsed.probe_keys = SEPARATOR.join(keys)
    probe.prepare(parsed)
    if probe.full:  # nothing to prepare: every key goes to the group's connection
        assert parsed.positions is None and parsed.committed is None
    else:
        assert parsed.positions is not None
        assert parsed.positions.len() == KeyProbe.HASHES * len(keys)
    return parsed


blocks = st.lists(st.lists(st.sampled_from(POOL), unique=True, max_size=15), max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    blocks=blocks,
    committed=st.sets(st.sampled_from(POOL)),
    capacity=st.sampled_from([0, 20, 10**6]),
)
def test_every_key_the_table_holds_is_found(blocks, committed, capacity):
    group_rows: set[str] = set()
    visible = set(committed)  # the group's connection sees the committed rows and its own
    group, before = Table(visible), Table(committed)
    probe = KeyProbe(group, before, MERCHANT_ACTIVITIES)  # type: ignore[arg-type]
    probe.CAPACITY = capacity
    earlier: set[str] = set()
    for keys in blocks:
        group.asked.clear()
        filtered = not probe.full
        found = probe.existing(_block(probe, keys))
        assert found == set(keys) & (committed | group_rows)
        if filtered:
            # asked only about keys of its earlier blocks (40 keys in 16M bits: a false positive
            # is ~1e-25 likely); past the capacity, about every key
            assert set(group.asked) <= earlier
        else:
            assert sorted(group.asked) == sorted(keys)
        group_rows |= set(keys) - found  # what the COPY inserts
        visible |= group_rows
        earlier |= set(keys)
