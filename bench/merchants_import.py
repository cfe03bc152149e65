"""Import throughput and peak RSS vs a plain COPY of the same clean rows, in one run.

    BACKOFFICE_HOME=/tmp/merchants-home .venv/bin/python bench/merchants_import.py --rows 1000000

1. Generate (or reuse) N rows as daily files (bench/merchants_generate.py, seeded).
2. Recreate a scratch database `bench_merchants`, migrate it, run
   `backoffice merchants import DIR` as a child process: wall time and the child's peak RSS.
3. Baseline: the rows the import kept, exported as clean CSV, COPYed into a fresh typed table
   with the same columns and primary key (logged, like the real one), timed the same way.
The ratio is import rows/s (rows read, defects included) / baseline rows/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from backoffice.core import migrations
from backoffice.core.config import Settings
from backoffice.core.embedded import ensure_database, resolve_database_url, with_database
from backoffice.ingest.pipeline import libpq_url
from embedded_home import stop_at_exit

DATABASE = "bench_merchants"
COLUMNS = (
    "event_id, merchant_id, event_timestamp, product, event_type, amount, status, channel,"
    " region, merchant_tier"
)


def prepare(rows: int, per_day: int, seed: int) -> Path:
    directory = Path(f"/tmp/merchants-bench-{rows}-{per_day}-{seed}")
    done = directory / ".complete"
    if not done.exists():
        # In a child process: a fork of a big parent would count the parent's pages in the
        # importer's peak RSS (Linux keeps the high-water mark across exec).
        generator = Path(__file__).with_name("merchants_generate.py")
        command = [sys.executable, str(generator), str(directory), "--rows", str(rows)]
        subprocess.run([*command, "--per-day", str(per_day), "--seed", str(seed)], check=True)
        done.touch()
    return directory


def run_import(url: str, directory: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `backoffice merchants import DIR` in a child process."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "merchants", "import", str(directory)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"import failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def run_baseline(url: str, clean: Path) -> tuple[int, float]:
    """(rows, seconds) of COPY of the clean rows into a typed table with the same primary key."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS baseline_activities")
        conn.execute("CREATE TABLE baseline_activities (LIKE merchant_activities INCLUDING ALL)")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL timezone = 'UTC'")
            with (
                cursor.copy(
                    f"COPY baseline_activities ({COLUMNS}) FROM STDIN (FORMAT csv)"
                ) as copy,
                clean.open("rb") as stream,
            ):
                while block := stream.read(1 << 20):
                    copy.write(block)
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM baseline_activities").fetchone()
        conn.execute("DROP TABLE baseline_activities")
    return int(rows[0] if rows else 0), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=int, default=27_400)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-baseline", action="store_true", help="memory run: import only, then delete files"
    )
    args = parser.parse_args()

    directory = prepare(args.rows, args.per_day, args.seed)
    settings = Settings()
    stop_at_exit(settings.home)
    admin = resolve_database_url(settings)
    ensure_database(admin, DATABASE, recreate=True)
    url = libpq_url(with_database(admin, DATABASE))
    migrations.upgrade(url)

    seconds, rss = run_import(url, directory)
    with psycopg.connect(url) as conn:
        totals = conn.execute(
            "SELECT sum(rows_read), sum(inserted), sum(duplicates), sum(rejected), sum(flagged),"
            " sum(file_size) FROM import_runs WHERE status = 'succeeded'"
        ).fetchone()
    assert totals is not None
    read, inserted, duplicates, rejected, flagged, size = (int(v or 0) for v in totals)

    print(f"files: {directory} ({size / 1e6:,.0f} MB)")
    if args.no_baseline:
        print(
            f"import   : {seconds:8.1f} s  {read / seconds:10,.0f} rows/s  peak RSS {rss:,.0f} MB"
        )
        shutil.rmtree(directory)
        return
    clean = directory.with_name(directory.name + "-clean.csv")
    with psycopg.connect(url) as conn, conn.cursor() as cursor, clean.open("wb") as out:
        cursor.execute("SET timezone = 'UTC'")
        with cursor.copy(f"COPY merchant_activities ({COLUMNS}) TO STDOUT (FORMAT csv)") as copy:
            for data in copy:
                out.write(data)
    base_rows, base_seconds = run_baseline(url, clean)
    clean.unlink()

    ours, theirs = read / seconds, base_rows / base_seconds
    print(
        f"rows read {read:,}; inserted {inserted:,}; duplicate {duplicates:,};"
        f" rejected {rejected:,}; flagged {flagged:,}"
    )
    print(f"import   : {seconds:8.1f} s  {ours:10,.0f} rows/s  peak RSS {rss:,.0f} MB")
    print(
        f"baseline : {base_seconds:8.1f} s  {theirs:10,.0f} rows/s  (plain COPY, {base_rows:,} clean rows)"
    )
    print(f"ratio    : {ours / theirs:.2f}")
    print(
        f"| {args.rows:,} | {read:,} | {seconds:.1f} s | {ours:,.0f} | {base_seconds:.1f} s"
        f" | {theirs:,.0f} | {ours / theirs:.2f} | {rss:,.0f} MB |"
    )


if __name__ == "__main__":
    main()
