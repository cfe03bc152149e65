"""Peak RSS of both import commands on a file holding one 50 MB line, beside the same file without it.

    BACKOFFICE_HOME=.backoffice .venv/bin/python bench/ingest_long_line.py --line-mb 50

For each dataset (`backoffice merchants import FILE`, `backoffice transactions etl FILE`), a file
of `--rows` clean rows is written twice: as it is, and with one line of `--line-mb` MB in its
middle (a value without a line break: the reader must not hold it whole). Each file is imported
by the command in a child process into a freshly migrated scratch database; the child's peak
RSS (`wait4`) is the figure. The long line must be quarantined with its first 4 KiB and its
length, and the rest of the file loaded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from backoffice.core import migrations
from backoffice.core.config import Settings
from backoffice.core.embedded import ensure_database, resolve_database_url, with_database
from backoffice.ingest.pipeline import libpq_url

DATABASE = "bench_long_line"
MERCHANT_HEADER = (
    "event_id,merchant_id,event_timestamp,product,event_type,amount,status,channel,region,"
    "merchant_tier"
)


def merchant_line(i: int) -> str:
    event = uuid.UUID(int=i + 1)
    return f"{event},MRC-{i % 997:06d},2024-01-05T10:00:00,POS,TRANSFER,12.50,SUCCESS,APP,LAGOS,STARTER"


def transaction_line(i: int) -> str:
    return f"T{i},{i % 997 + 1},$12.50,2024-01-05"


def write(path: Path, header: str, line: object, rows: int, long_mb: int) -> None:
    """`rows` lines; with `long_mb`, one line of that many MB in the middle (written in parts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write(header + "\n")
        for i in range(rows):
            if long_mb and i == rows // 2:
                out.write(line(i))  # type: ignore[operator]
                for _ in range(long_mb):
                    out.write("x" * (1 << 20))
                out.write("\n")
                continue
            out.write(line(i) + "\n")  # type: ignore[operator]


def run(url: str, command: list[str], path: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit status) of `backoffice COMMAND PATH` in a child process."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "backoffice", *command, str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--line-mb", type=int, default=50)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/ingest-long-line"))
    args = parser.parse_args()

    admin = resolve_database_url(Settings())
    cases = (
        ("merchants import", ["merchants", "import"], "activities_20240105.csv", MERCHANT_HEADER,
         merchant_line),
        ("transactions etl", ["transactions", "etl"], "export_20240105.csv",
         "transaction_id,user_id,amount,transaction_date", transaction_line),
    )  # fmt: skip
    print("| command | file | size | peak RSS | time | rejected (reason) | exit |")
    print("|---|---|---|---|---|---|---|")
    for label, command, name, header, line in cases:
        for long_mb in (0, args.line_mb):
            path = args.folder / f"{long_mb}mb" / name
            write(path, header, line, args.rows, long_mb)
            ensure_database(admin, DATABASE, recreate=True)
            url = libpq_url(with_database(admin, DATABASE))
            migrations.upgrade(url)
            seconds, rss, status = run(url, command, path)
            with psycopg.connect(url) as conn:
                rejects = conn.execute(
                    "SELECT count(*), max(length(raw_line)), max(reason) FROM import_rejects"
                ).fetchone()
            assert rejects is not None
            count, kept, reason = rejects
            size = path.stat().st_size / 1e6
            what = f"{count} ({reason}; {kept} characters kept)" if count else "0"
            print(
                f"| `backoffice {label}` | {'one ' + str(long_mb) + ' MB line' if long_mb else 'no long line'}"
                f" | {size:,.1f} MB | {rss:,.0f} MB | {seconds:.1f} s | {what} | {status} |"
            )
            path.unlink()


if __name__ == "__main__":
    main()
