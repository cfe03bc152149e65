"""Server time of the console's pages at the benchmark sizes, beside `/health` and the API.

    .venv/bin/python bench/console_pages.py            # 1M employees, 10M merchant rows, 10M transactions
    .venv/bin/python bench/console_pages.py --reuse    # measure again on the data already built
    .venv/bin/python bench/console_pages.py --employees 20000 --merchant-rows 200000 \\
        --transactions 200000                          # a quick run

Builds (unless `--reuse`) the database `bench_console` on BACKOFFICE_HOME's embedded PostgreSQL
(or DATABASE_URL's server): migrated, the demo loaded, N employees COPYed (bench/payroll_load.py's
generator), M merchant rows imported and T transactions loaded by the ETL (their benches'
generators, and the real `backoffice merchants import` / `backoffice transactions etl`).

Then, in process (httpx ASGI transport), it signs in to the console through the sign-in form
as the demo admin and GETs every page `--requests` times after 20 warm-up requests; the server
time is the app's `X-Process-Time`. Beside each page: the API endpoint that answers the same
question, with a bearer token, and `/health`, the no-op floor. The savings pages are not here:
they wait on the savings services over NATS, measured by bench/savings_*.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg

import merchants_import
import payroll_load
import transactions_etl
from backoffice.app import create_app
from backoffice.core import migrations
from backoffice.core.auth.service import Authenticator
from backoffice.core.config import Settings
from backoffice.core.db import Database
from backoffice.core.embedded import ensure_database, resolve_database_url, with_database
from backoffice.demo import DEMO_ACCOUNTS, load_demo
from backoffice.ingest.pipeline import libpq_url
from embedded_home import stop_at_exit
from endpoint_timing import percentile

DATABASE = "bench_console"
OUT = Path(__file__).resolve().parent / "out" / "console_pages.json"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build(url: str, employees: int, merchant_rows: int, transactions: int) -> dict[str, float]:
    """Migrate, load the demo and the three data sets; seconds each step took."""
    took: dict[str, float] = {}
    started = time.perf_counter()
    migrations.upgrade(url)
    asyncio.run(_load_demo(url))
    took["migrate_and_demo_s"] = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        took["employees_copy_s"] = payroll_load.copy_into(
            conn, "employees", payroll_load.generate(employees)
        )
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE employees")
    directory = merchants_import.prepare(merchant_rows, 27_400, 42)
    took["merchants_import_s"], _ = merchants_import.run_import(url, directory)
    directory = transactions_etl.prepare(transactions, 27_400, 42)
    took["transactions_etl_s"] = transactions_etl.run_etl(url, directory)["seconds"]
    for step, seconds in took.items():
        print(f"{step}: {seconds:,.1f}")
    return took


async def _load_demo(url: str) -> None:
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            await load_demo(session, Authenticator(Settings(DATABASE_URL=url)))
    finally:
        await database.dispose()


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> None:
    page = await http.get("/console/sign-in")
    token = CSRF.search(page.text)
    assert token is not None, page.text
    answer = await http.post(
        "/console/sign-in",
        data={"csrf_token": token.group(1), "username": username, "password": password},
    )
    assert answer.status_code == 303, answer.text


async def samples(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """Ids the detail pages need, read from the API (the largest country, a run, a user)."""
    found: dict[str, str] = {}
    employees = (await http.get("/api/v1/employees/list?limit=1", headers=headers)).json()
    found["employee"] = str(employees["data"][0]["id"])
    runs = (await http.get("/api/v1/merchants/imports?limit=1", headers=headers)).json()
    found["merchant_run"] = str(runs["data"][0]["id"])
    runs = (await http.get("/api/v1/transactions/runs?limit=1", headers=headers)).json()
    found["transactions_run"] = str(runs["data"][0]["id"])
    return found


# (console page, the API endpoint answering the same question or None). `{name}` is a sample.
PAGES: list[tuple[str, str | None]] = [
    ("/console/", None),
    ("/console/approvals/", None),  # the demo admin is no employee: no inbox
    ("/console/payroll/employees", "/api/v1/employees/list"),
    (
        "/console/payroll/employees?country=GB&sort=-salary",
        "/api/v1/employees/list?country_iso=GB&sort=-salary",
    ),
    ("/console/payroll/employees?name=smith", "/api/v1/employees/list?name=smith"),
    ("/console/payroll/employees/{employee}", "/api/v1/employees/salary-breakdown/{employee}"),
    ("/console/payroll/countries", "/api/v1/countries/list"),
    ("/console/payroll/countries/IN", "/api/v1/countries/IN/policies"),
    ("/console/payroll/analytics", "/api/v1/analytics/salary/by-country"),
    ("/console/merchants/", "/analytics/monthly-active-merchants"),
    ("/console/merchants/imports", "/api/v1/merchants/imports"),
    ("/console/merchants/imports/{merchant_run}", None),
    ("/console/merchants/upload", None),
    ("/console/transactions/", "/api/v1/transactions/runs"),
    (
        "/console/transactions/runs/{transactions_run}",
        "/api/v1/transactions/runs/{transactions_run}",
    ),
    (
        "/console/transactions/runs/{transactions_run}/rejects",
        "/api/v1/transactions/rejects?run_id={transactions_run}",
    ),
    (
        "/console/transactions/users?user_id=14557&from=2024-01-01&to=2024-12-31",
        "/transactions/14557/summary",
    ),
    ("/console/accounts/", "/api/v1/auth/accounts"),
    ("/console/accounts/locks", "/api/v1/auth/locks"),
]


async def time_pages(
    url: str, requests: int, only: str = ""
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Server time of every page, its API twin and `/health` (p50, p95 in ms); the ids used."""
    settings = Settings(
        DATABASE_URL=url, BACKOFFICE_ENV="test", rate_limit_per_minute=0, log_level="WARNING"
    )
    app = create_app(settings, database_url=url)
    principal = await app.state.auth.authenticate(
        app.state.db.sessionmaker, "admin", DEMO_ACCOUNTS["admin"]
    )
    bearer = {"Authorization": f"Bearer {app.state.auth.issue_token(principal)[0]}"}
    results: dict[str, dict[str, float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        await sign_in(http, "admin", DEMO_ACCOUNTS["admin"])
        ids = await samples(http, bearer)
        targets = [("/health", {}), *_pairs(ids, bearer, only)]
        for path, headers in targets:
            times = []
            for number in range(20 + requests):
                answer = await http.get(path, headers=headers)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
                if number >= 20:
                    times.append(float(answer.headers["X-Process-Time"].removesuffix("ms")))
            results[path] = {
                "p50": statistics.median(times),
                "p95": percentile(times, 0.95),
                "max": max(times),
            }
            print(f"{path}: p50 {results[path]['p50']:.2f} ms, p95 {results[path]['p95']:.2f} ms")
    await app.state.db.dispose()
    return results, ids


def _pairs(
    ids: dict[str, str], bearer: dict[str, str], only: str
) -> list[tuple[str, dict[str, str]]]:
    pairs: list[tuple[str, dict[str, str]]] = []
    for page, api in PAGES:
        if only not in page:
            continue
        pairs.append((page.format(**ids), {}))
        if api is not None:
            pairs.append((api.format(**ids), bearer))
    return pairs


def table(results: dict[str, dict[str, float]], ids: dict[str, str]) -> None:
    print("\n| page | p50 ms | p95 ms | API twin | p50 ms | p95 ms |")
    print("|---|---:|---:|---|---:|---:|")
    floor = results["/health"]
    print(f"| `/health` (no-op floor) | {floor['p50']:.2f} | {floor['p95']:.2f} | | | |")
    for page, api in PAGES:
        path = page.format(**ids)
        if path not in results:
            continue
        figures = results[path]
        line = f"| `{path}` | {figures['p50']:.2f} | {figures['p95']:.2f} |"
        twin = api.format(**ids) if api is not None else None
        if twin is not None and twin in results:
            line += f" `{twin}` | {results[twin]['p50']:.2f} | {results[twin]['p95']:.2f} |"
        else:
            line += " | | |"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=1_000_000)
    parser.add_argument("--merchant-rows", type=int, default=10_000_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests a page")
    parser.add_argument("--reuse", action="store_true", help="measure the data built before")
    parser.add_argument("--only", default="", help="only the pages whose path holds this")
    args = parser.parse_args()
    settings = Settings()
    stop_at_exit(settings.home)
    server = resolve_database_url(settings)
    url = libpq_url(with_database(server, DATABASE))
    built: dict[str, float] = {}
    if not args.reuse:
        with psycopg.connect(libpq_url(server), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        ensure_database(server, DATABASE)
        built = build(url, args.employees, args.merchant_rows, args.transactions)
    else:
        migrations.upgrade(url)
    results, ids = asyncio.run(time_pages(url, args.requests, args.only))
    table(results, ids)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"built": built, "pages": results, "args": vars(args)}, indent=2))
    slow = [p for p, f in results.items() if p.startswith("/console") and f["p95"] >= 50]
    if slow:
        sys.exit(f"over 50 ms p95: {slow}")


if __name__ == "__main__":
    main()
