"""p50/p99 of the five analytics endpoints next to the full-scan SQL for the same question.

    BACKOFFICE_HOME=/tmp/merchants-home .venv/bin/python bench/merchants_endpoints.py

Runs against the `bench_merchants` database that bench/merchants_import.py filled (run that
first, e.g. with --rows 10000000). Endpoints are called in-process (httpx ASGI transport, auth
by bearer token); the server time is the X-Process-Time header set by the core middleware.
`/health` is the no-op floor. Full scans are timed over psycopg, `--scans` times each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import psycopg

from backoffice.core.config import Settings
from backoffice.core.embedded import resolve_database_url, with_database
from backoffice.ingest.pipeline import libpq_url
from backoffice.merchants.reference import FULL_SCAN_SQL
from embedded_home import stop_at_exit
from endpoint_timing import percentile, time_endpoints

DATABASE = "bench_merchants"


def time_full_scans(url: str, scans: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM merchant_activities").fetchone()
        print(f"merchant_activities: {rows[0] if rows else 0:,} rows")
        for question, sql in FULL_SCAN_SQL.items():
            times = []
            for _ in range(scans):
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            out[f"/analytics/{question}"] = times
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--scans", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    stop_at_exit(settings.home)
    url = libpq_url(with_database(resolve_database_url(settings), DATABASE))
    paths = ["/health", *(f"/analytics/{q}" for q in FULL_SCAN_SQL)]
    endpoints = asyncio.run(time_endpoints(url, paths, args.requests))
    scans = time_full_scans(url, args.scans)
    print("| endpoint | p50 ms | p99 ms | full-scan SQL p50 ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for path, times in endpoints.items():
        p50, p99 = statistics.median(times), percentile(times, 0.99)
        if path in scans:
            scan = statistics.median(scans[path])
            print(f"| `{path}` | {p50:.2f} | {p99:.2f} | {scan:,.0f} | {scan / p50:,.0f}x |")
        else:
            print(f"| `{path}` (no-op floor) | {p50:.2f} | {p99:.2f} | | |")


if __name__ == "__main__":
    main()
