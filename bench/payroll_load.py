"""Payroll at scale: COPY a million employees, then time analytics, breakdowns and throughput.

    .venv/bin/python bench/payroll_load.py                 # 1,000,000 employees
    .venv/bin/python bench/payroll_load.py --rows 100000   # a quicker run

Runs against its own embedded PostgreSQL under `bench/out/payroll-home` (or `--home`), never
the `make run` one, and serves the API with `backoffice serve` on its own port with rate
limiting off. Every figure is printed next to a baseline from the same run: plain COPY into a
table without indexes or triggers, the same figures computed by a full-scan SQL query, and
`GET /health` on the same server settings. Results go to `bench/out/payroll.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from backoffice.core import migrations  # noqa: E402
from backoffice.core.auth.service import Authenticator  # noqa: E402
from backoffice.core.config import Settings  # noqa: E402
from backoffice.core.db import Database  # noqa: E402
from backoffice.core.embedded import driver_url, resolve_database_url  # noqa: E402
from backoffice.demo import load_accounts  # noqa: E402
from backoffice.payroll.demo import load_countries  # noqa: E402
from embedded_home import stop_at_exit  # noqa: E402

FIRST = ["Asha", "Ravi", "Emily", "Marcus", "Oliver", "Sophie", "Lena", "Kenji", "Mia", "Noah"]
LAST = ["Rao", "Mehta", "Carter", "Lee", "Smith", "Turner", "Muller", "Sato", "Wong", "Khan"]
TITLES = [
    f"{grade}{role}"
    for role in (
        "Software Engineer",
        "Data Analyst",
        "Product Manager",
        "Designer",
        "Accountant",
        "Sales Executive",
        "Support Specialist",
        "HR Partner",
    )
    for grade in ("", "Senior ", "Lead ", "Principal ", "Junior ")
]
COUNTRIES = ["IN", "US", "GB", "DE", "FR", "CA", "AU", "JP", "SG", "AE", "BR"]
WEIGHTS = [30, 25, 10, 6, 5, 5, 4, 5, 4, 3, 3]
COLUMNS = "full_name, job_title, country_iso, salary"
AUTH = "Basic " + base64.b64encode(b"admin:adminpass").decode()


def generate(rows: int, seed: int = 42) -> bytes:
    """`rows` employees in COPY text format (name, title, country, salary)."""
    rng = random.Random(seed)
    names = [f"{f} {last}" for f in FIRST for last in LAST]
    name = rng.choices(names, k=rows)
    title = rng.choices(TITLES, k=rows)
    country = rng.choices(COUNTRIES, weights=WEIGHTS, k=rows)
    cents = [rng.randrange(1_000_000, 30_000_000) for _ in range(rows)]
    lines = [
        f"{n}\t{t}\t{c}\t{s // 100}.{s % 100:02d}"
        for n, t, c, s in zip(name, title, country, cents, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def copy_into(conn: psycopg.Connection[Any], table: str, data: bytes) -> float:
    """COPY `data` into `table` and commit; seconds taken."""
    started = time.perf_counter()
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
        view = memoryview(data)
        for i in range(0, len(view), 1 << 22):
            copy.write(view[i : i + (1 << 22)])
    conn.commit()
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "n": len(ordered),
    }


def time_sql(
    conn: psycopg.Connection[Any], sql: str, repeat: int, params: Callable[[], tuple[Any, ...]]
) -> dict[str, float]:
    """Client-side time of `sql` (forced to scan the table: no index paths)."""
    samples = []
    with conn.cursor() as cur:
        cur.execute("SET enable_indexscan = off")
        cur.execute("SET enable_indexonlyscan = off")
        cur.execute("SET enable_bitmapscan = off")
        for _ in range(repeat):
            started = time.perf_counter()
            cur.execute(sql, params())  # type: ignore[arg-type]
            cur.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
        cur.execute("RESET ALL")
    conn.rollback()
    return percentiles(samples)


def time_sql_indexed(
    conn: psycopg.Connection[Any], sql: str, repeat: int, params: Callable[[], tuple[Any, ...]]
) -> dict[str, float]:
    samples = []
    with conn.cursor() as cur:
        for _ in range(repeat):
            started = time.perf_counter()
            cur.execute(sql, params())  # type: ignore[arg-type]
            cur.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
    conn.rollback()
    return percentiles(samples)


def plan_scans_employees(conn: psycopg.Connection[Any], sql: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(f"EXPLAIN {sql}")  # type: ignore[arg-type]
        plan = "\n".join(row[0] for row in cur.fetchall())
    conn.rollback()
    return "Seq Scan on employees" in plan


def server_times(
    client: httpx.Client, path: Callable[[], str], repeat: int, warmup: int = 20
) -> dict[str, float]:
    """p50/p99 of the server's own time (`X-Process-Time`) over `repeat` requests."""
    samples = []
    for i in range(warmup + repeat):
        response = client.get(path(), headers={"Authorization": AUTH})
        response.raise_for_status()
        if i >= warmup:
            samples.append(float(response.headers["X-Process-Time"].removesuffix("ms")))
    return percentiles(samples)


def wrk(url: str, seconds: int, connections: int, script: str | None) -> float:
    """Requests per second that `wrk` measures (socket timeouts are reported, not fatal)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: {AUTH}"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    for line in out.splitlines():
        if "Socket errors" in line:
            print(f"  {url}: {line.strip()}")
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1])


async def _lean_client(url: str, seconds: float, connections: int, paths: list[str]) -> float:
    """A minimal keep-alive HTTP/1.1 load client, used when `wrk` is not installed."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        rng = random.Random()
        while time.perf_counter() < deadline:
            path = rng.choice(paths)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {AUTH}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            done += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done / (time.perf_counter() - started)


def throughput(
    base: str, path_or_script: tuple[str, str | None], seconds: int, conns: int
) -> float:
    path, script = path_or_script
    if shutil.which("wrk"):
        return wrk(base + path, seconds, conns, script)
    paths = [path] if script is None else [path.replace("{id}", str(i)) for i in range(1, 1000)]
    return asyncio.run(_lean_client(base, seconds, conns, paths))


def load(conn: psycopg.Connection[Any], rows: int) -> dict[str, Any]:
    """Generate `rows` employees and COPY them: into a bare table, then into `employees`."""
    results: dict[str, Any] = {}
    started = time.perf_counter()
    data = generate(rows)
    results["generate_s"] = round(time.perf_counter() - started, 2)
    print(f"generated {rows:,} rows in {results['generate_s']} s ({len(data) / 1e6:.0f} MB)")
    conn.execute("TRUNCATE employees RESTART IDENTITY CASCADE")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_plain_employees (full_name text, job_title text, "
        "country_iso text, salary numeric(14, 2))"
    )
    conn.execute("TRUNCATE bench_plain_employees")
    conn.commit()
    results["copy_plain_s"] = round(copy_into(conn, "bench_plain_employees", data), 2)
    conn.execute("DROP TABLE bench_plain_employees")
    # The same load without the aggregate triggers, to show what they cost.
    for name in ("insert", "update", "delete"):
        conn.execute(f"ALTER TABLE employees DISABLE TRIGGER payroll_salary_stats_{name}")
    results["copy_employees_no_aggregates_s"] = round(copy_into(conn, "employees", data), 2)
    for name in ("insert", "update", "delete"):
        conn.execute(f"ALTER TABLE employees ENABLE TRIGGER payroll_salary_stats_{name}")
    conn.execute("TRUNCATE employees RESTART IDENTITY CASCADE")
    conn.commit()
    results["copy_employees_s"] = round(copy_into(conn, "employees", data), 2)
    print(
        f"COPY: plain table {results['copy_plain_s']} s, employees without aggregate "
        f"triggers {results['copy_employees_no_aggregates_s']} s, employees (indexes, "
        f"foreign keys, aggregate triggers) {results['copy_employees_s']} s"
    )
    return results


def prepare(url: str, settings: Settings, rows: int, *, reuse: bool) -> dict[str, Any]:
    """The demo logins and countries, then `rows` employees, vacuumed and analyzed.

    Employees already there are kept when `reuse` finds them all. Returns the load's figures
    when it loaded. bench/console_payroll.py prepares its data the same way.
    """
    results: dict[str, Any] = {}

    async def seed() -> None:
        database = Database(url)
        try:
            async with database.unit_of_work() as session:
                await load_accounts(session, Authenticator(settings))
                await load_countries(session)
        finally:
            await database.dispose()

    asyncio.run(seed())
    with psycopg.connect(driver_url(url, None)) as conn:
        loaded = conn.execute("SELECT count(*) FROM employees").fetchone()
        conn.rollback()
        if reuse and loaded == (rows,):
            print(f"reusing the {rows:,} employees already loaded")
        else:
            results |= load(conn, rows)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE employees")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, default=ROOT / "bench/out/payroll-home")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--repeat", type=int, default=500, help="requests per latency figure")
    parser.add_argument("--scan-repeat", type=int, default=15, help="runs per full-scan figure")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each rps run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rps rounds")
    parser.add_argument("--reuse", action="store_true", help="keep employees already loaded")
    parser.add_argument(
        "--auth-cache-ttl",
        type=int,
        default=600,
        help="seconds a verified password is remembered (the default 30 s expires mid-run, and "
        "every connection then re-hashes at once)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    args = parser.parse_args()

    env = os.environ | {
        "BACKOFFICE_HOME": str(args.home),
        "AUTH_CACHE_TTL_SECONDS": str(args.auth_cache_ttl),
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
        "BACKOFFICE_ENV": "development",
    }
    env.pop("DATABASE_URL", None)
    (ROOT / "bench/out").mkdir(parents=True, exist_ok=True)  # the results and wrk's script
    stop_at_exit(args.home)
    settings = Settings(BACKOFFICE_HOME=args.home, DATABASE_URL=None)
    url = resolve_database_url(settings)
    migrations.upgrade(url)
    results: dict[str, Any] = {
        "rows": args.rows,
        "workers": args.workers,
        "auth_cache_ttl_seconds": args.auth_cache_ttl,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    results |= prepare(url, settings, args.rows, reuse=args.reuse)

    with psycopg.connect(driver_url(url, None)) as conn:
        mismatches = conn.execute(
            "SELECT count(*) FROM (SELECT country_iso, count(*) AS n, sum(salary) AS t "
            "FROM employees GROUP BY 1) f FULL JOIN salary_stats_by_country s USING (country_iso) "
            "WHERE f.n IS DISTINCT FROM s.employee_count OR f.t IS DISTINCT FROM s.salary_total"
        ).fetchone()
        results["aggregates_match_recomputation"] = mismatches == (0,)
        conn.rollback()

        rng = random.Random(1)
        scans = {
            "by-country/IN": (
                "SELECT count(*), min(salary), max(salary), avg(salary) FROM employees "
                "WHERE country_iso = 'IN'"
            ),
            "by-country": (
                "SELECT country_iso, count(*), min(salary), max(salary), avg(salary) "
                "FROM employees GROUP BY 1"
            ),
            "by-job-title": (
                "SELECT job_title, count(*), min(salary), max(salary), avg(salary) "
                "FROM employees GROUP BY 1"
            ),
            "by-job-title?country_iso=IN": (
                "SELECT job_title, count(*), min(salary), max(salary), avg(salary) "
                "FROM employees WHERE country_iso = 'IN' GROUP BY 1"
            ),
        }
        results["full_scan_sql"] = {
            name: time_sql(conn, sql, args.scan_repeat, tuple) for name, sql in scans.items()
        }
        results["breakdown_direct_sql"] = time_sql_indexed(
            conn,
            "SELECT e.salary, c.currency, v.version, v.flat_rate, s.* FROM employees e "
            "JOIN countries c ON c.iso_code = e.country_iso "
            "JOIN LATERAL (SELECT * FROM tax_policy_versions v WHERE v.country_iso = e.country_iso "
            "AND v.effective_from <= current_date ORDER BY effective_from DESC, version DESC "
            "LIMIT 1) v ON true LEFT JOIN tax_slabs s ON s.version_id = v.id WHERE e.id = %s",
            args.repeat,
            lambda: (rng.randint(1, args.rows),),
        )
        results["api_sql_scans_employees"] = {
            "min/max per country": plan_scans_employees(
                conn,
                "SELECT s.country_iso, (SELECT min(salary) FROM employees e "
                "WHERE e.country_iso = s.country_iso), (SELECT max(salary) FROM employees e "
                "WHERE e.country_iso = s.country_iso) FROM salary_stats_by_country s",
            ),
            "min/max per job title": plan_scans_employees(
                conn,
                "SELECT s.job_title, (SELECT min(salary) FROM employees e "
                "WHERE e.job_title = s.job_title) FROM salary_stats_by_job_title s",
            ),
        }

    base = f"http://127.0.0.1:{args.port}"
    command = [sys.executable, "-m", "backoffice", "serve", "--port", str(args.port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [*command, "--workers", str(args.workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            results |= measure_server(args, base, log, scans)
        finally:
            server.terminate()
            server.wait(timeout=30)

    out = ROOT / "bench/out/payroll.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")


def measure_server(
    args: argparse.Namespace, base: str, log: Any, scans: dict[str, str]
) -> dict[str, Any]:
    """Server-side latency of each endpoint, then requests per second against /health."""
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(300):
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            log.seek(0)
            raise RuntimeError(f"server did not start:\n{log.read().decode()}")
        rng = random.Random(2)
        endpoints: dict[str, Callable[[], str]] = {
            name: (lambda name=name: f"/api/v1/analytics/salary/{name}") for name in scans
        }
        endpoints["salary-breakdown/{id}"] = lambda: (
            f"/api/v1/employees/salary-breakdown/{rng.randint(1, args.rows)}"
        )
        results["server_time"] = {
            name: server_times(client, path, args.repeat) for name, path in endpoints.items()
        }

    script = ROOT / "bench/out/payroll_breakdown.lua"
    script.write_text(
        f"math.randomseed(7)\nrequest = function()\n  return wrk.format(nil, "
        f'"/api/v1/employees/salary-breakdown/" .. math.random(1, {args.rows}))\nend\n'
    )
    # Interleaved rounds: on a shared machine load drifts, so each ratio compares runs taken
    # side by side, and the median round is reported.
    rounds = []
    for _ in range(args.rounds):
        load = [round(x, 2) for x in os.getloadavg()]
        health = throughput(base, ("/health", None), args.seconds, args.connections)
        httpx.get(base + "/api/v1/auth/me", headers={"Authorization": AUTH})  # warm the auth cache
        floor = throughput(base, ("/api/v1/auth/me", None), args.seconds, args.connections)
        httpx.get(base + "/api/v1/auth/me", headers={"Authorization": AUTH})
        breakdown = throughput(
            base,
            ("/api/v1/employees/salary-breakdown/{id}", str(script)),
            args.seconds,
            args.connections,
        )
        rounds.append(
            {
                "load_average": load,
                "health": round(health),
                "auth_me": round(floor),
                "salary_breakdown": round(breakdown),
                "ratio": round(breakdown / health, 3),
                "auth_me_ratio": round(floor / health, 3),
            }
        )
        print(rounds[-1])
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    results["rps"] = {
        "client": "wrk" if shutil.which("wrk") else "asyncio",
        "connections": args.connections,
        "seconds": args.seconds,
        "median_round": median,
        "rounds": rounds,
    }
    return results


if __name__ == "__main__":
    main()
