"""Write N rows of realistic merchant activity (seeded) as daily activities_YYYYMMDD.csv files.

    .venv/bin/python bench/merchants_generate.py /tmp/activities --rows 10000000
    .venv/bin/python bench/merchants_generate.py /tmp/big --rows 19000000 --per-day 19000000

Defect kinds and rates: see `backoffice.merchants.synth` (measured on the files from the field).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from backoffice.merchants.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=int, default=27_400, help="rows per daily file")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.perf_counter()
    paths = generate(args.directory, args.rows, per_day=args.per_day, seed=args.seed)
    size = sum(p.stat().st_size for p in paths)
    seconds = time.perf_counter() - started
    print(
        f"{args.rows:,} rows in {len(paths)} files, {size / 1e6:,.0f} MB, {seconds:.1f} s"
        f" ({args.rows / seconds:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
