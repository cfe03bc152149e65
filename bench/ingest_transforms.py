"""Sorting 1M transaction-like lines whose amounts and dates need converting: fast vs slow path.

    .venv/bin/python bench/ingest_transforms.py [--rows 1000000]

A toy dataset (an id, a `$` amount, a date in the four formats, a memo) sorted block by block
in process by the ingest classifier, twice over the same values: once as clean lines (the
column transforms convert whole blocks, vectorised) and once with the memo quoted, which sends
every line to the per-line Python path (the baseline: where these lines went without
transforms). No database; CPU seconds include polars' threads.
"""

from __future__ import annotations

import argparse
import random
import time

from backoffice.ingest.classify import Classifier
from backoffice.ingest.reader import Block
from backoffice.ingest.spec import (
    Dataset,
    date_column,
    pattern_column,
    signed_amount_column,
    text_column,
)

LEDGER = Dataset(
    name="ledger",
    table="ledger_entries",
    columns=(
        pattern_column("entry_id", "L-[0-9]{7}"),
        signed_amount_column("amount"),
        date_column("booked_on"),
        text_column("memo"),
    ),
    key="entry_id",
)
BLOCK = 25_000


def values(rows: int, seed: int = 1) -> list[tuple[str, str, str]]:
    pick = random.Random(seed)

    def amount() -> str:
        sign = pick.choice(["$", "-$", "+", ""])
        return f"{sign}{pick.randrange(10**6)}.{pick.randrange(100):02}"

    def day() -> str:
        y, m, d = pick.randrange(2000, 2030), pick.randrange(1, 13), pick.randrange(1, 29)
        return pick.choice([f"{y}-{m:02}-{d:02}", f"{y}/{m:02}/{d:02}", f"{m:02}/{d:02}/{y}",
                            f"{d:02}-{m:02}-{y}"])  # fmt: skip

    return [(f"L-{i:07}", amount(), day()) for i in range(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = values(parser.parse_args().rows)
    classifier = Classifier(LEDGER, LEDGER.column_names, with_parts=False)
    seconds = {}
    for memo, path in (("memo", "fast"), ('"memo"', "slow")):
        lines = [f"{i},{a},{d},{memo}" for i, a, d in rows]
        kept = 0
        clock = time.process_time()
        for start in range(0, len(lines), BLOCK):
            parsed = classifier.classify(Block(start + 2, lines[start : start + BLOCK]))
            kept += parsed.fast.height + len(parsed.slow_rows)
        seconds[path] = time.process_time() - clock
        print(f"{path} path: {seconds[path]:.2f} s CPU, {kept:,} rows kept of {len(lines):,}")
    print(f"ratio    : {seconds['slow'] / seconds['fast']:.1f}x less CPU on the fast path")


if __name__ == "__main__":
    main()
