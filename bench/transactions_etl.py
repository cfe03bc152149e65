"""Transactions ETL throughput and peak RSS vs a plain COPY of the same clean rows, in one run.

    BACKOFFICE_HOME=/tmp/perf-home-tx .venv/bin/python bench/transactions_etl.py --rows 1000000

1. Generate (or reuse) N transactions as CSV exports (bench/transactions_generate.py, seeded;
   default one file per export day of 27,400 rows, `--per-file` to change it).
2. Recreate a scratch database `bench_transactions`, migrate it, run
   `python -m backoffice transactions etl DIR` as a child process: wall time, the child's peak RSS
   and CPU (`os.wait4`), and the CPU of its PostgreSQL backends (sampled from /proc).
3. Baseline: the rows the ETL kept, exported as clean CSV, COPYed in one statement into a fresh
   logged table `LIKE transactions INCLUDING ALL` (same columns, serial, unique key and
   (user_id, transaction_date, id) index; LIKE copies no trigger, so the per-user summary is
   NOT kept), timed the same way, right after the ETL.
4. Where the ETL's time goes (skip with `--no-blocks`): the same clean rows COPYed into another
   such table in blocks of the size the ETL's blocks have (1 MiB of the file), one COPY
   statement each, in one transaction: without a trigger; with the summary's insert trigger
   (the migration's own function, pointed at a summary table of its own, whose rows are then
   checked equal to the ETL's summaries) and its table at the default fillfactor; and the same
   at fillfactor 50 (room on its pages for HOT updates), as migration 0011 sets it.
`--staged` runs the ETL as the Airflow DAG's four tasks instead (`backoffice.transactions.tasks`:
extract, transform, load, audit, each in a child process of its own with Parquet files between
them, as `@task.external_python` runs them; no Airflow scheduler): wall time is their sum, peak
RSS the largest. `--repeat K` runs steps 2-4 K times, alternating. The ratio is ETL rows/s (rows read, defects
included) / baseline rows/s (clean rows).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from backoffice.core import migrations
from backoffice.core.config import Settings
from backoffice.core.embedded import ensure_database, resolve_database_url, with_database
from backoffice.ingest.pipeline import libpq_url
from embedded_home import stop_at_exit

DATABASE = "bench_transactions"
COLUMNS = "transaction_id, user_id, amount, transaction_date"
TICKS = os.sysconf("SC_CLK_TCK")
MIGRATION = Path(migrations.__file__).parent.parent / "migrations/versions/0009_transactions.py"


def prepare(rows: int, per_file: int, seed: int) -> Path:
    directory = Path(f"/tmp/transactions-bench-{rows}-{per_file}-{seed}")
    done = directory / ".complete"
    if not done.exists():
        # In a child process: a fork of a big parent would count the parent's pages in the
        # ETL's peak RSS (Linux keeps the high-water mark across exec).
        generator = Path(__file__).with_name("transactions_generate.py")
        command = [sys.executable, str(generator), str(directory), "--rows", str(rows)]
        subprocess.run([*command, "--per-file", str(per_file), "--seed", str(seed)], check=True)
        done.touch()
    return directory


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (a PostgreSQL backend on this machine), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


class BackendCpu:
    """Samples the CPU of the backends of `application_name` while they live (they exit first)."""

    def __init__(self, url: str, applications: tuple[str, ...]) -> None:
        self.url, self.applications = url, list(applications)
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendCpu:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = ANY(%s)",
                    (self.applications,),
                ).fetchall()
                for (pid,) in pids:
                    cpu = cpu_seconds(pid)
                    if cpu is not None:
                        self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
                self.stop.wait(0.2)

    @property
    def total(self) -> float:
        return sum(self.seen.values())


def run_etl(url: str, directory: Path) -> dict[str, float]:
    """Wall time, peak RSS (MB) and CPU of `backoffice transactions etl DIR` in a child process."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    with BackendCpu(url, ("backoffice-ingest",)) as backends:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "backoffice", "transactions", "etl", str(directory)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the ETL failed with status {status}")
    return {
        "seconds": seconds,
        "rss_mb": usage.ru_maxrss / 1024,
        "python_cpu": usage.ru_utime + usage.ru_stime,
        "backend_cpu": backends.total,
    }


STAGED_TASK = """
import sys
from backoffice.transactions import tasks
name, run = sys.argv[1:3]
task = getattr(tasks, name)
task(run, "") if name in ("extract", "load") else task(run)
"""


def run_staged(url: str, directory: Path) -> dict[str, float]:
    """The same, as the DAG's four tasks in four child processes, one after the other."""
    staging = directory.with_name(directory.name + "-staging")
    shutil.rmtree(staging, ignore_errors=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "TRANSACTIONS_INBOX": str(directory),
        "TRANSACTIONS_STAGING": str(staging),
    }
    out = {"seconds": 0.0, "rss_mb": 0.0, "python_cpu": 0.0, "backend_cpu": 0.0}
    for name in ("extract", "transform", "load", "audit"):
        with BackendCpu(url, ("backoffice-ingest", "backoffice-etl")) as backends:
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, "-c", STAGED_TASK, name, "bench"],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"the {name} task failed with status {status}")
        print(f"    {name:9}: {seconds:6.1f} s, peak RSS {usage.ru_maxrss / 1024:,.0f} MB")
        out["seconds"] += seconds
        out["rss_mb"] = max(out["rss_mb"], usage.ru_maxrss / 1024)
        out["python_cpu"] += usage.ru_utime + usage.ru_stime
        out["backend_cpu"] += backends.total
    return out


def copy_file(cursor: psycopg.Cursor, table: str, clean: Path) -> None:
    with (
        cursor.copy(f"COPY {table} ({COLUMNS}) FROM STDIN (FORMAT csv)") as copy,
        clean.open("rb") as stream,
    ):
        while block := stream.read(1 << 20):
            copy.write(block)


def run_baseline(url: str, clean: Path) -> dict[str, float]:
    """One COPY of the clean rows into a typed table like `transactions` (no trigger)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS baseline_transactions")
        conn.execute("CREATE TABLE baseline_transactions (LIKE transactions INCLUDING ALL)")
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert backend is not None
        cpu = cpu_seconds(backend[0]) or 0.0
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            copy_file(cursor, "baseline_transactions", clean)
        seconds = time.perf_counter() - started
        cpu = (cpu_seconds(backend[0]) or 0.0) - cpu
        rows = conn.execute("SELECT count(*) FROM baseline_transactions").fetchone()
        conn.execute("DROP TABLE baseline_transactions")
    return {"seconds": seconds, "rows": int(rows[0] if rows else 0), "backend_cpu": cpu}


def summary_trigger_sql() -> tuple[str, str]:
    """The migration's insert trigger function, pointed at `baseline_summaries`."""
    spec = importlib.util.spec_from_file_location("migration_0009", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function = module.TRIGGER_FUNCTION.format(
        name="baseline_summary_insert", rows=module.ADDED, cleanup=""
    ).replace("transaction_user_summaries", "baseline_summaries")
    trigger = (
        "CREATE TRIGGER baseline_summary_insert AFTER INSERT ON trigger_transactions"
        " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION baseline_summary_insert()"
    )
    return function, trigger


BLOCK_VARIANTS = {
    "no trigger": (False, 100),
    "summary trigger, summary fillfactor 100 (before 0011)": (True, 100),
    "summary trigger, summary fillfactor 50 (as migrated)": (True, 50),
}


def run_blocks(
    url: str, clean: Path, block_rows: int, trigger: bool, fillfactor: int
) -> dict[str, float]:
    """The clean rows COPYed in `block_rows` blocks, one statement each, in one transaction."""
    function, create_trigger = summary_trigger_sql()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS trigger_transactions")
        conn.execute("DROP TABLE IF EXISTS baseline_summaries")
        conn.execute("DROP FUNCTION IF EXISTS baseline_summary_insert()")
        conn.execute("CREATE TABLE trigger_transactions (LIKE transactions INCLUDING ALL)")
        conn.execute(
            "CREATE TABLE baseline_summaries (LIKE transaction_user_summaries INCLUDING ALL)"
            f" WITH (fillfactor = {fillfactor})"
        )
        if trigger:
            conn.execute(function)
            conn.execute(create_trigger)
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert backend is not None
        cpu = cpu_seconds(backend[0]) or 0.0
        started = time.perf_counter()
        statements = 0
        with conn.transaction(), conn.cursor() as cursor, clean.open("rb") as stream:
            while True:
                lines = [line for _, line in zip(range(block_rows), stream, strict=False)]
                if not lines:
                    break
                with cursor.copy(
                    f"COPY trigger_transactions ({COLUMNS}) FROM STDIN (FORMAT csv)"
                ) as copy:
                    copy.write(b"".join(lines))
                statements += 1
        seconds = time.perf_counter() - started
        cpu = (cpu_seconds(backend[0]) or 0.0) - cpu
        mismatches = conn.execute(
            "SELECT count(*) FROM transaction_user_summaries s"
            " FULL JOIN baseline_summaries b USING (user_id)"
            " WHERE (s.transaction_count, s.amount_total)"
            " IS DISTINCT FROM (b.transaction_count, b.amount_total)"
        ).fetchone()
        conn.execute("DROP TABLE trigger_transactions")
        conn.execute("DROP TABLE baseline_summaries")
        conn.execute("DROP FUNCTION IF EXISTS baseline_summary_insert()")
    if trigger:
        assert mismatches == (0,), f"summaries differ for {mismatches} users"
    return {"seconds": seconds, "statements": statements, "backend_cpu": cpu}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=27_400)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1, help="ETL/baseline pairs, alternating")
    parser.add_argument(
        "--no-blocks", action="store_true", help="skip step 4 (COPY in blocks, trigger on)"
    )
    parser.add_argument("--staged", action="store_true", help="the DAG's four tasks instead")
    parser.add_argument(
        "--no-baseline", action="store_true", help="memory run: the ETL only, then delete files"
    )
    args = parser.parse_args()

    directory = prepare(args.rows, args.per_file, args.seed)
    size = sum(p.stat().st_size for p in directory.glob("*.csv"))
    files = len(list(directory.glob("*.csv")))
    settings = Settings()
    stop_at_exit(settings.home)
    admin = resolve_database_url(settings)
    url = libpq_url(with_database(admin, DATABASE))
    print(f"files: {directory} ({files} files, {size / 1e6:,.0f} MB), {os.cpu_count()} cores")
    table = []
    for round_ in range(1, args.repeat + 1):
        ensure_database(admin, DATABASE, recreate=True)
        migrations.upgrade(url)
        load = os.getloadavg()[0]
        started_at = now()
        etl = run_staged(url, directory) if args.staged else run_etl(url, directory)
        with psycopg.connect(url) as conn:
            totals = conn.execute(
                "SELECT sum(rows_read), sum(inserted), sum(duplicates), sum(conflicting),"
                " sum(rejected) FROM import_runs WHERE dataset = 'transactions'"
                " AND status = 'succeeded'"
            ).fetchone()
            blocks = conn.execute("SELECT count(*) FROM import_runs").fetchone()
        assert totals is not None and blocks is not None
        read, inserted, duplicates, conflicting, rejected = (int(v or 0) for v in totals)
        print(
            f"[{round_}] {started_at}, load {load:.2f}: read {read:,}; loaded {inserted:,};"
            f" duplicates {duplicates:,} (conflicting {conflicting:,}); rejected {rejected:,}"
        )
        print(
            f"[{round_}] {'staged' if args.staged else 'ETL':9}: {etl['seconds']:8.1f} s  {read / etl['seconds']:10,.0f} rows/s"
            f"  peak RSS {etl['rss_mb']:,.0f} MB  CPU: ETL process {etl['python_cpu']:.1f} s,"
            f" its backends {etl['backend_cpu']:.1f} s"
        )
        if args.no_baseline:
            continue
        clean = directory.with_name(directory.name + "-clean.csv")
        export = f"COPY transactions ({COLUMNS}) TO STDOUT (FORMAT csv)"
        with (
            psycopg.connect(url) as conn,
            conn.cursor() as cursor,
            clean.open("wb") as out,
            cursor.copy(export) as copy,
        ):
            for data in copy:
                out.write(data)
        base = run_baseline(url, clean)
        assert base["rows"] == inserted, (base["rows"], inserted)
        ours, theirs = read / etl["seconds"], base["rows"] / base["seconds"]
        print(
            f"[{round_}] baseline : {base['seconds']:8.1f} s  {theirs:10,.0f} rows/s"
            f"  (one COPY of the {base['rows']:,} clean rows, no trigger;"
            f" backend CPU {base['backend_cpu']:.1f} s)"
        )
        print(f"[{round_}] ratio    : {ours / theirs:.2f}")
        row = (
            f"| {round_} | {read:,} | {etl['seconds']:.1f} s | {ours:,.0f} | {base['seconds']:.1f} s"
            f" | {theirs:,.0f} | **{ours / theirs:.2f}** | {etl['rss_mb']:,.0f} MB"
            f" | {etl['python_cpu']:.1f} s | {etl['backend_cpu']:.1f} s | {base['backend_cpu']:.1f} s"
        )
        if not args.no_blocks:
            block_rows = max(1, round(inserted / max(1, read) * 1_048_576 / (size / read)))
            for name, (trigger, fillfactor) in BLOCK_VARIANTS.items():
                run = run_blocks(url, clean, block_rows, trigger, fillfactor)
                print(
                    f"[{round_}] blocks   : {run['seconds']:8.1f} s  ({run['statements']:,} COPY"
                    f" statements of {block_rows:,} clean rows, {name}; backend CPU"
                    f" {run['backend_cpu']:.1f} s)"
                )
                row += f" | {run['seconds']:.1f} s"
        clean.unlink()
        table.append(row + " |")
    if args.no_baseline:
        shutil.rmtree(directory)
        return
    print(
        "| run | rows read | ETL | ETL rows/s | plain COPY | COPY rows/s | ratio | ETL peak RSS"
        " | ETL process CPU | ETL backends CPU | COPY backend CPU |"
        + ("" if args.no_blocks else "".join(f" blocks: {name} |" for name in BLOCK_VARIANTS))
    )
    print(
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        + ("" if args.no_blocks else "---:|" * len(BLOCK_VARIANTS))
    )
    print("\n".join(table))


if __name__ == "__main__":
    main()
