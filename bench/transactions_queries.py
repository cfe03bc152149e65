"""How the transactions queries behave at ten million rows: plans and timings, in one run.

    BACKOFFICE_HOME=/tmp/perf-home-tx .venv/bin/python bench/transactions_queries.py | tee /tmp/q

Runs against `bench_transactions`, which bench/transactions_etl.py fills (e.g. `--rows 10000000
--no-blocks`). Section by section (`--only` picks some), it prints EXPLAIN (ANALYZE, BUFFERS) of
each variant on a warm cache and the median of `--repeat` timed runs (client side, psycopg over
the same socket as the app): docs/query-optimization.md quotes it.

Variant indexes are built inside a transaction that is rolled back (the table's own index is
dropped in it when a variant must stand alone), and the partitioned copy and the load tables are
dropped, so the database ends as it began. Sections:
  summary    the per-user summary: full scan, (user_id) index, INCLUDE index-only, the table's
             (user_id, transaction_date, id) index, the maintained summary; then the endpoint's
             p50 (in-process, X-Process-Time) beside /health, the no-op floor
  list       a user's page; every user's page and count in a date range: no date index, B-tree,
             BRIN
  partition  the same queries on a copy partitioned by month
  load       COPY vs executemany INSERT vs multi-row INSERT, same rows, same table shape
  audit      the runs list, a DAG run's runs, a run's rejects and task events
  pooling    connect per query vs one kept connection
  vacuum     a fresh bulk load before and after ANALYZE and VACUUM
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import psycopg

from backoffice.core.config import Settings
from backoffice.core.embedded import resolve_database_url, with_database
from backoffice.ingest.pipeline import libpq_url
from embedded_home import stop_at_exit
from endpoint_timing import percentile, time_endpoints

DATABASE = "bench_transactions"
SUMMARY_SQL = "SELECT count(*), sum(amount) FROM transactions WHERE user_id = %(user)s"
KEPT_SQL = "SELECT transaction_count, amount_total FROM transaction_user_summaries WHERE user_id = %(user)s"
NO_INDEXES = (
    "SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;"
    " SET LOCAL enable_indexonlyscan = off"
)
DATE_INDEX = "ix_transactions_transaction_date_id"
# The summary's index variants, each alone on the table: (title, index name, columns).
SUMMARY_INDEXES = (
    ("a (user_id) index alone", "bench_user", "(user_id)"),
    ("(user_id) INCLUDE (amount), index-only", "bench_user_amount", "(user_id) INCLUDE (amount)"),
)
USER_PAGE_SQL = (
    "SELECT * FROM transactions WHERE user_id = %(user)s"
    " ORDER BY transaction_date DESC, id DESC LIMIT 50"
)
RANGE_PAGE_SQL = (
    "SELECT * FROM transactions WHERE transaction_date BETWEEN %(start)s AND %(end)s"
    " ORDER BY transaction_date DESC, id DESC LIMIT 50"
)
RANGE_COUNT_SQL = (
    "SELECT count(*), sum(amount) FROM transactions"
    " WHERE transaction_date BETWEEN %(start)s AND %(end)s"
)


def heading(title: str) -> None:
    print(f"\n{'=' * 100}\n{title}\n{'=' * 100}")


def explain(conn: psycopg.Connection, sql: str, params: dict[str, Any], repeat: int) -> float:
    """Print the plan (warm) and return the median ms of `repeat` runs of `sql`."""
    conn.execute(sql, params).fetchall()  # warm the cache and the plan
    plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params).fetchall()
    print("\n".join(f"    {line}" for (line,) in plan))
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    print(f"    -> median {median:.3f} ms over {repeat} runs")
    return median


@contextmanager
def rolled_back(conn: psycopg.Connection, *setup: str) -> Iterator[None]:
    """Run `setup` (indexes, settings) in a transaction that is rolled back afterwards."""
    with conn.transaction(force_rollback=True):
        for statement in setup:
            started = time.perf_counter()
            conn.execute(statement)
            seconds = time.perf_counter() - started
            if seconds > 0.5:
                print(f"  ({statement}: {seconds:.1f} s)")
        yield


def index_size(conn: psycopg.Connection, name: str) -> str:
    row = conn.execute("SELECT pg_size_pretty(pg_relation_size(%s::regclass))", (name,)).fetchone()
    return str(row[0]) if row else "?"


def users(conn: psycopg.Connection) -> dict[str, int]:
    """The busiest user and a median one, by their number of transactions."""
    busiest = conn.execute(
        "SELECT user_id, transaction_count FROM transaction_user_summaries"
        " ORDER BY transaction_count DESC LIMIT 1"
    ).fetchone()
    median = conn.execute(
        "SELECT user_id, transaction_count FROM transaction_user_summaries WHERE"
        " transaction_count = (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY"
        " transaction_count) FROM transaction_user_summaries) LIMIT 1"
    ).fetchone()
    assert busiest and median, "no transactions: run bench/transactions_etl.py first"
    print(f"busiest user {busiest[0]} ({busiest[1]:,} rows), median {median[0]} ({median[1]:,})")
    return {"busiest": busiest[0], "median": median[0]}


def date_ranges(conn: psycopg.Connection) -> dict[str, dict[str, date]]:
    first, last = conn.execute(
        "SELECT min(transaction_date), max(transaction_date) FROM transactions"
    ).fetchone() or (None, None)
    assert first and last
    middle = first + (last - first) / 2
    week = {"start": middle, "end": middle + timedelta(days=6)}
    month_start = middle.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    print(
        f"dates {first} .. {last}; a week {week['start']} .. {week['end']}; a month {month_start}"
    )
    return {"week": week, "month": {"start": month_start, "end": month_end}}


def summary(conn: psycopg.Connection, url: str, who: dict[str, int], args: Any) -> None:
    heading("summary: count and sum of one user's transactions")
    scans: dict[str, float] = {}
    for label, user in who.items():
        params = {"user": user}
        print(f"\n-- {label} user {user}: full scan (index scans disabled)")
        with rolled_back(conn, NO_INDEXES):
            scans[label] = explain(conn, SUMMARY_SQL, params, max(3, args.repeat // 10))
        print(f"\n-- {label}: the table's (user_id, transaction_date, id) index")
        explain(conn, SUMMARY_SQL, params, args.repeat)
        for title, index, columns in SUMMARY_INDEXES:
            print(f"\n-- {label}: {title}")
            with rolled_back(
                conn,
                "DROP INDEX ix_transactions_user_id_date",
                f"CREATE INDEX {index} ON transactions {columns}",
            ):
                print(f"  (size {index_size(conn, index)})")
                explain(conn, SUMMARY_SQL, params, args.repeat)
        print(f"\n-- {label}: the maintained summary (transaction_user_summaries)")
        explain(conn, KEPT_SQL, params, args.repeat)
    print(f"\n-- the endpoint, in-process, {args.requests} requests each (server time)")
    paths = ["/health", *(f"/transactions/{user}/summary" for user in who.values())]
    times = asyncio.run(time_endpoints(url, paths, args.requests))
    print("| endpoint | p50 ms | p99 ms | full scan ms | full scan / p50 |")
    print("|---|---:|---:|---:|---:|")
    for path, values in times.items():
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        label = next((k for k, u in who.items() if f"/{u}/" in path), None)
        if label is None:
            print(f"| `{path}` (no-op floor) | {p50:.2f} | {p99:.2f} | | |")
        else:
            scan = scans[label]
            print(
                f"| `{path}` ({label}) | {p50:.2f} | {p99:.2f} | {scan:,.0f} | {scan / p50:,.0f}x |"
            )


def listing(conn: psycopg.Connection, who: dict[str, int], ranges: Any, args: Any) -> None:
    heading("list: a user's newest page; every user's newest page and count in a date range")
    print("\n-- the busiest user's first page, newest first (the table's index, read backwards)")
    explain(conn, USER_PAGE_SQL, {"user": who["busiest"]}, args.repeat)
    correlation = conn.execute(
        "SELECT correlation FROM pg_stats WHERE tablename = 'transactions'"
        " AND attname = 'transaction_date'"
    ).fetchone()
    print(f"\n(pg_stats correlation of transaction_date with the physical order: {correlation})")
    variants = {
        "no index on transaction_date": (),
        "B-tree (transaction_date, id)": (
            "CREATE INDEX bench_date ON transactions (transaction_date, id)",
        ),
        "BRIN (transaction_date)": (
            "CREATE INDEX bench_date ON transactions USING brin (transaction_date)",
        ),
    }
    for name, setup in variants.items():
        # Each variant alone: without the table's own B-tree (migration 0012), rolled back.
        with rolled_back(conn, f"DROP INDEX IF EXISTS {DATE_INDEX}", *setup):
            if setup:
                print(f"\n## {name}: size {index_size(conn, 'bench_date')}")
            else:
                print(f"\n## {name}")
            for span, params in ranges.items():
                print(f"\n-- {name}: first page of a {span}, newest first")
                explain(conn, RANGE_PAGE_SQL, params, max(3, args.repeat // 10))
                print(f"\n-- {name}: count and sum of a {span} (what a full page also counts)")
                explain(conn, RANGE_COUNT_SQL, params, max(3, args.repeat // 10))


def partitioning(conn: psycopg.Connection, who: dict[str, int], ranges: Any, args: Any) -> None:
    heading("partition: the same queries on a copy partitioned by month")
    conn.execute("DROP TABLE IF EXISTS bench_by_month")
    conn.execute(
        "CREATE TABLE bench_by_month (LIKE transactions INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (transaction_date)"
    )
    first, last = conn.execute(
        "SELECT date_trunc('month', min(transaction_date))::date, max(transaction_date)"
        " FROM transactions"
    ).fetchone() or (None, None)
    assert first and last
    month, partitions = first, 0
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        conn.execute(
            f"CREATE TABLE bench_by_month_{month:%Y%m} PARTITION OF bench_by_month"
            f" FOR VALUES FROM ('{month}') TO ('{following}')"
        )
        month, partitions = following, partitions + 1
    started = time.perf_counter()
    conn.execute("INSERT INTO bench_by_month SELECT * FROM transactions")
    conn.execute(
        "CREATE INDEX ON bench_by_month (user_id, transaction_date, id)",
    )
    conn.execute("VACUUM ANALYZE bench_by_month")
    print(
        f"{partitions} monthly partitions, copied and indexed in {time.perf_counter() - started:.0f} s"
    )
    try:
        conn.execute("ALTER TABLE bench_by_month ADD UNIQUE (transaction_id)")
    except psycopg.errors.FeatureNotSupported as exc:
        print(f"unique transaction_id across partitions: {exc.diag.message_primary}")
    table = {"FROM transactions": "FROM bench_by_month"}
    for span, params in ranges.items():
        print(f"\n-- partitioned: count and sum of a {span} (pruned to its partitions)")
        explain(conn, _on(RANGE_COUNT_SQL, table), params, max(3, args.repeat // 10))
        print(f"\n-- partitioned: first page of a {span}, newest first")
        explain(conn, _on(RANGE_PAGE_SQL, table), params, max(3, args.repeat // 10))
    print("\n-- partitioned: the busiest user's count and sum (one index probe per partition)")
    explain(conn, _on(SUMMARY_SQL, table), {"user": who["busiest"]}, args.repeat)
    print("\n-- partitioned: the busiest user's first page, newest first")
    explain(conn, _on(USER_PAGE_SQL, table), {"user": who["busiest"]}, args.repeat)
    conn.execute("DROP TABLE bench_by_month")


def _on(sql: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        sql = sql.replace(old, new)
    return sql


def load(conn: psycopg.Connection, args: Any) -> None:
    heading(f"load: {args.load_rows:,} rows, COPY vs INSERT, into a table shaped like transactions")
    rows = conn.execute(
        "SELECT transaction_id, user_id, amount, transaction_date FROM transactions"
        " ORDER BY id LIMIT %s",
        (args.load_rows,),
    ).fetchall()
    columns = "transaction_id, user_id, amount, transaction_date"
    text = io.StringIO()
    for row in rows:
        text.write(",".join(str(v) for v in row) + "\n")
    payload = text.getvalue().encode()

    def copy(cur: psycopg.Cursor) -> None:
        with cur.copy(f"COPY bench_load ({columns}) FROM STDIN (FORMAT csv)") as stream:
            for start in range(0, len(payload), 1 << 20):
                stream.write(payload[start : start + (1 << 20)])

    def executemany(cur: psycopg.Cursor) -> None:
        cur.executemany(f"INSERT INTO bench_load ({columns}) VALUES (%s, %s, %s, %s)", rows)

    def multirow(cur: psycopg.Cursor) -> None:
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(batch))
            flat = [v for row in batch for v in row]
            cur.execute(f"INSERT INTO bench_load ({columns}) VALUES {values}", flat)

    methods = {
        "COPY (CSV, 1 MiB writes)": copy,
        "executemany INSERT (psycopg pipeline)": executemany,
        "INSERT ... VALUES, 1,000 rows a statement": multirow,
    }
    results: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.load_rounds):
        for name, method in methods.items():
            conn.execute("DROP TABLE IF EXISTS bench_load")
            conn.execute("CREATE TABLE bench_load (LIKE transactions INCLUDING ALL)")
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                method(cur)
            results[name].append(time.perf_counter() - started)
    conn.execute("DROP TABLE bench_load")
    copy_seconds = statistics.median(results[next(iter(methods))])
    print("| method | median s | rows/s | vs COPY |")
    print("|---|---:|---:|---:|")
    for name, seconds in results.items():
        median = statistics.median(seconds)
        speed = args.load_rows / median
        print(f"| {name} | {median:.2f} | {speed:,.0f} | {copy_seconds / median:.2f}x |")


def audit(conn: psycopg.Connection, args: Any) -> None:
    heading("audit: what the runs and rejects endpoints ask")
    run = conn.execute(
        "SELECT id, file_name, dag_run_id FROM import_runs WHERE dataset = 'transactions'"
        " AND rejected > 0 ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert run is not None
    queries = {
        "runs, newest first": (
            "SELECT * FROM import_runs WHERE dataset = 'transactions' ORDER BY id DESC LIMIT 50",
            {},
        ),
        "runs, count for the page info": (
            "SELECT count(*) FROM import_runs WHERE dataset = 'transactions'",
            {},
        ),
        "a run's task events": (
            "SELECT * FROM import_task_events WHERE dataset = 'transactions'"
            " AND (import_run_id = %(run)s OR dag_run_id = %(dag)s)"
            " ORDER BY created_at, id",
            {"run": run[0], "dag": run[2]},
        ),
        "a run's rejects, first page": (
            "SELECT * FROM import_rejects WHERE dataset = 'transactions' AND file_name = %(file)s"
            " ORDER BY file_name, line_number LIMIT 50",
            {"file": run[1]},
        ),
        "the whole quarantine, count for the page info": (
            "SELECT count(*) FROM import_rejects WHERE dataset = 'transactions'",
            {},
        ),
    }
    for name, (sql, params) in queries.items():
        print(f"\n-- {name}")
        explain(conn, sql, params, args.repeat)


def pooling(url: str, who: dict[str, int], args: Any) -> None:
    heading("pooling: the summary query on a new connection each time vs one kept connection")
    params = {"user": who["median"]}
    fresh = []
    for _ in range(args.connects):
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            conn.execute(KEPT_SQL, params).fetchall()
        fresh.append((time.perf_counter() - started) * 1000)
    kept = []
    with psycopg.connect(url) as conn:
        for _ in range(args.connects):
            started = time.perf_counter()
            conn.execute(KEPT_SQL, params).fetchall()
            kept.append((time.perf_counter() - started) * 1000)
    new, same = statistics.median(fresh), statistics.median(kept)
    where = "a unix socket" if "host=/" in url or "@/" in url else "TCP"
    print(f"over {where}: connect + query + close {new:.2f} ms, query on a kept connection")
    print(
        f"{same:.3f} ms (median of {args.connects}): a connection costs {new / same:.0f}x the query"
    )


def vacuum(conn: psycopg.Connection, args: Any) -> None:
    heading(f"vacuum: {args.load_rows:,} rows just loaded, then ANALYZE, then VACUUM")
    conn.execute("DROP TABLE IF EXISTS bench_fresh")
    conn.execute(
        "CREATE TABLE bench_fresh (LIKE transactions INCLUDING ALL)"
        " WITH (autovacuum_enabled = off)"  # the state before autovacuum's next pass
    )
    conn.execute("CREATE INDEX bench_fresh_user_amount ON bench_fresh (user_id) INCLUDE (amount)")
    conn.execute(
        "INSERT INTO bench_fresh SELECT * FROM transactions ORDER BY id LIMIT %s",
        (args.load_rows,),
    )
    user = conn.execute(
        "SELECT user_id FROM bench_fresh GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    assert user is not None
    sql = "SELECT count(*), sum(amount) FROM bench_fresh WHERE user_id = %(user)s"
    params = {"user": user[0]}
    print("\n-- right after the load (no statistics, no visibility map)")
    explain(conn, sql, params, args.repeat)
    conn.execute("ANALYZE bench_fresh")
    print("\n-- after ANALYZE")
    explain(conn, sql, params, args.repeat)
    conn.execute("VACUUM bench_fresh")
    print("\n-- after VACUUM (the visibility map lets the index-only scan skip the heap)")
    explain(conn, sql, params, args.repeat)
    conn.execute("DROP TABLE bench_fresh")


SECTIONS = ("summary", "list", "partition", "load", "audit", "pooling", "vacuum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--repeat", type=int, default=50, help="timed runs of each query")
    parser.add_argument("--requests", type=int, default=500, help="endpoint requests per path")
    parser.add_argument("--load-rows", type=int, default=200_000)
    parser.add_argument("--load-rounds", type=int, default=3)
    parser.add_argument("--connects", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    stop_at_exit(settings.home)
    url = libpq_url(with_database(resolve_database_url(settings), DATABASE))
    with psycopg.connect(url, autocommit=True) as conn:
        total = conn.execute("SELECT count(*) FROM transactions").fetchone()
        version = conn.execute("SHOW server_version").fetchone()
        print(f"transactions: {total[0] if total else 0:,} rows; PostgreSQL {version}")
        conn.execute("VACUUM ANALYZE transactions")  # settled: autovacuum has passed
        who = users(conn)
        ranges = date_ranges(conn)
        if "summary" in args.only:
            summary(conn, url, who, args)
        if "list" in args.only:
            listing(conn, who, ranges, args)
        if "partition" in args.only:
            partitioning(conn, who, ranges, args)
        if "load" in args.only:
            load(conn, args)
        if "audit" in args.only:
            audit(conn, args)
        if "pooling" in args.only:
            pooling(url, who, args)
        if "vacuum" in args.only:
            vacuum(conn, args)


if __name__ == "__main__":
    main()
