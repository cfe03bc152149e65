"""The console's payroll pages at scale: server time of each page on a million employees.

    .venv/bin/python bench/console_payroll.py                 # 1,000,000 employees
    .venv/bin/python bench/console_payroll.py --rows 100000   # a quicker run
    .venv/bin/python bench/console_payroll.py --reuse         # keep the rows already loaded
    .venv/bin/python bench/console_payroll.py --reuse --only named   # the name searches alone

Shares its embedded PostgreSQL with `bench/payroll_load.py` (`bench/out/payroll-home`, or
`--home`) and loads the employees the same way when they are not there yet. Serves the app
with `backoffice serve` on its own port, signs in through the console's form as the demo staff
account, and reads each page's `X-Process-Time` over `--repeat` requests after a warm-up.
Results go to `bench/out/console_payroll.json` (or `--out`).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from backoffice.core import migrations  # noqa: E402
from backoffice.core.config import Settings  # noqa: E402
from backoffice.core.embedded import resolve_database_url  # noqa: E402
from backoffice.demo import DEMO_ACCOUNTS  # noqa: E402
from embedded_home import stop_at_exit  # noqa: E402
from payroll_load import prepare  # noqa: E402

API = {
    "GET /health": "/health",
    "employees list (first page)": "/api/v1/employees/list",
    "employees list in GB by -salary": "/api/v1/employees/list?country_iso=GB&sort=-salary",
    "employees list named like 'smith'": "/api/v1/employees/list?name=smith",
    "employees list named like 'kenji sato'": "/api/v1/employees/list?name=kenji+sato",
    "salary by country": "/api/v1/analytics/salary/by-country",
    "salary by job title": "/api/v1/analytics/salary/by-job-title",
    "country GB": "/api/v1/countries/GB",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 2)

    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "n": len(ordered),
    }


def sign_in(client: httpx.Client) -> None:
    """Sign in through the console's form as the demo staff account (cookies kept)."""
    page = client.get("/console/sign-in")
    token = CSRF.search(page.text)
    assert token is not None, page.text[:500]
    answer = client.post(
        "/console/sign-in",
        data={
            "csrf_token": token.group(1),
            "username": "staff",
            "password": DEMO_ACCOUNTS["staff"],
        },
    )
    assert answer.status_code == 303, answer.text[:500]


def page_times(
    client: httpx.Client,
    path: Callable[[], str],
    repeat: int,
    warmup: int = 10,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """p50/p95/p99 of the server's own time (`X-Process-Time`) for a page."""
    samples = []
    for i in range(warmup + repeat):
        response = client.get(path(), headers=headers)
        assert response.status_code == 200, (response.status_code, response.text[:300])
        if i >= warmup:
            samples.append(float(response.headers["X-Process-Time"].removesuffix("ms")))
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, default=ROOT / "bench/out/payroll-home")
    parser.add_argument("--port", type=int, default=8711)
    parser.add_argument("--repeat", type=int, default=200, help="requests per page")
    parser.add_argument("--reuse", action="store_true", help="keep employees already loaded")
    parser.add_argument("--only", default="", help="only the pages and API reads named so")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/console_payroll.json")
    args = parser.parse_args()

    env = os.environ | {
        "BACKOFFICE_HOME": str(args.home),
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
        "BACKOFFICE_ENV": "development",
    }
    env.pop("DATABASE_URL", None)
    (ROOT / "bench/out").mkdir(parents=True, exist_ok=True)
    stop_at_exit(args.home)
    settings = Settings(BACKOFFICE_HOME=args.home, DATABASE_URL=None)
    url = resolve_database_url(settings)
    migrations.upgrade(url)
    results: dict[str, Any] = {
        "rows": args.rows,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    results |= prepare(url, settings, args.rows, reuse=args.reuse)

    rng = random.Random(3)
    pages: dict[str, Callable[[], str]] = {
        "baseline: the console's home (no query of its own)": lambda: "/console/",
        "employees (first page, by id)": lambda: "/console/payroll/employees",
        "employees, page 200": lambda: "/console/payroll/employees?offset=10000",
        "employees in GB, highest salary first": lambda: (
            "/console/payroll/employees?country=GB&sort=-salary"
        ),
        "employees titled Data Analyst": lambda: (
            "/console/payroll/employees?job_title=Data+Analyst"
        ),
        # One surname in ten (100,000 matches), one full name in a hundred (10,000), no
        # match, and two letters (too short for a trigram: the planner scans).
        "employees named like 'smith'": lambda: "/console/payroll/employees?name=smith",
        "employees named like 'smith', page 20": lambda: (
            "/console/payroll/employees?name=smith&offset=1000"
        ),
        "employees named like 'Kenji Sato'": lambda: "/console/payroll/employees?name=Kenji+Sato",
        "employees named like 'zhang' (none)": lambda: "/console/payroll/employees?name=zhang",
        "employees named like 'sm' (two letters)": lambda: "/console/payroll/employees?name=sm",
        "an employee (today)": lambda: f"/console/payroll/employees/{rng.randint(1, args.rows)}",
        "an employee as of 2023-01-01": lambda: (
            f"/console/payroll/employees/{rng.randint(1, args.rows)}?as_of=2023-01-01"
        ),
        "countries": lambda: "/console/payroll/countries",
        "a country's policy history (GB)": lambda: "/console/payroll/countries/GB",
        "salary analytics": lambda: "/console/payroll/analytics",
        "salary analytics in IN, averages": lambda: (
            "/console/payroll/analytics?country=IN&metric=avg&sort=-avg"
        ),
    }
    base = f"http://127.0.0.1:{args.port}"
    command = [sys.executable, "-m", "backoffice", "serve", "--port", str(args.port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
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
                sign_in(client)
                results["server_time"] = {}
                for name, path in pages.items():
                    if args.only not in name:
                        continue
                    results["server_time"][name] = page_times(client, path, args.repeat)
                    print(f"{name}: {results['server_time'][name]}")
                # The API's figures for the same reads, in the same run (the machine is shared).
                basic = (
                    "Basic " + base64.b64encode(f"staff:{DEMO_ACCOUNTS['staff']}".encode()).decode()
                )
                results["api_server_time"] = {}
                for name, path in API.items():
                    if args.only not in name:
                        continue
                    times = page_times(
                        client, lambda p=path: p, args.repeat, headers={"Authorization": basic}
                    )
                    results["api_server_time"][name] = times
                    print(f"API {name}: {times}")
                if not args.only:
                    started = time.perf_counter()
                    export = client.get("/console/payroll/employees.csv?country=IN")
                    results["csv_export_10000_rows"] = {
                        "server_ms": float(export.headers["X-Process-Time"].removesuffix("ms")),
                        "client_s": round(time.perf_counter() - started, 2),
                        "bytes": len(export.content),
                    }
        finally:
            server.terminate()
            server.wait(timeout=30)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = args.out.resolve()
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
