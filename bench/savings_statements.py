"""A month's statement for an account of 10,000 entries that month: server time, by format.

    .venv/bin/python bench/savings_statements.py
    .venv/bin/python bench/savings_statements.py --quick      # 20 requests of each, not 100

The three services run as deployed (bench/savings_stack.py: each `backoffice serve <service>`
in a process of its own, on migrated scratch databases, embedded PostgreSQL and NATS unless
DATABASE_URL / NATS_URL are set). One customer signs up (bench/savings_credits.py's `sign_up`),
then `--entries` entries are appended to their account straight through the event store
(credits, withdrawals and transfers both ways in turn, 500 a save: the events and the ledger
rows the real recorder writes) and moved back, in `seq` order, into last month with SQL (the
database's clock books everything at now; the statement reads only the ledger projection).

Timed, `--requests` times each, one after the other (no concurrency: a statement's own cost):
`GET /statements/{last month}` as JSON (the first page, the default limit), as CSV and as PDF
(every entry), and the baseline, `GET /balance` (the cheapest authenticated read through the
same gateway, NATS and accounting). Server time is the gateway's `X-Process-Time` (the whole
body made: the statement's Response is built before it starts); client time is the round
trip. Target (issue 20): p95 server time under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

from backoffice.core.embedded import driver_url
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from backoffice.services import SAVINGS_ACCOUNTING
from savings_credits import sign_up
from savings_stack import nats, p50, percentile, postgres, savings_services, scratch_databases

SAVE = 500  # events a save


def last_month() -> datetime:
    """The first instant of last month (UTC)."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


def fill(url: str, user_id: uuid.UUID, entries: int) -> str:
    """Append `entries` entries to the account and move its ledger into last month: `YYYY-MM`."""
    store = AccountingStore(env=eventsourcing_env(url, pool_size=1))
    started = time.perf_counter()
    try:
        made = 0
        while made < entries:
            account = store.get_account(user_id)
            for number in range(made, min(entries, made + SAVE)):
                key = uuid.uuid4().hex
                step = number % 4
                if step == 0:
                    account.credit(
                        uuid.uuid4(), Decimal("100.00"), idempotency_key=key, request_hash=key
                    )
                elif step == 1:
                    account.transfer(
                        uuid.uuid4(),
                        Decimal("40.00"),
                        "main",
                        idempotency_key=key,
                        request_hash=key,
                    )
                elif step == 2:
                    account.withdraw(
                        uuid.uuid4(), Decimal("25.50"), idempotency_key=key, request_hash=key
                    )
                else:
                    account.transfer(
                        uuid.uuid4(),
                        Decimal("10.25"),
                        "savings",
                        idempotency_key=key,
                        request_hash=key,
                    )
            store.save_account(account)
            made = min(entries, made + SAVE)
    finally:
        store.close()
    month = last_month()
    # Every entry of the account, the signup's first credit too, a few minutes apart in order.
    span = timedelta(days=27) / (entries + 1)
    with psycopg.connect(driver_url(url, None), autocommit=True) as conn:
        conn.execute(
            "UPDATE ledger_entries SET at = %s + (seq - 1) * %s WHERE account_id = %s",
            (month, span, user_id),
        )
        conn.execute("VACUUM ANALYZE ledger_entries")
        row = conn.execute(
            "SELECT count(*) FROM ledger_entries WHERE account_id = %s AND at >= %s AND at < %s",
            (user_id, month, (month + timedelta(days=32)).replace(day=1)),
        ).fetchone()
    assert row is not None and row[0] == entries + 1, row
    print(
        f"{entries:,} entries appended and moved into {month:%Y-%m} in {time.perf_counter() - started:.1f} s"
    )
    return f"{month:%Y-%m}"


async def timed(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], count: int
) -> tuple[list[float], list[float], int]:
    """`count` GETs one after the other: (server ms, client ms, bytes of the last body)."""
    server, client, size = [], [], 0
    for _ in range(count + 2):  # two not counted: the first request's connections and caches
        started = time.perf_counter()
        response = await http.get(path, headers=headers)
        took = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text[:500]
        server.append(float(response.headers["X-Process-Time"].removesuffix("ms")))
        client.append(took)
        size = len(response.content)
    return server[2:], client[2:], size


async def measure(gateway: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    async with httpx.AsyncClient(base_url=f"{gateway}/api/v1/savings", timeout=120) as http:
        (headers,) = await sign_up(http, 1)
        user_id = subject(headers)
        month = await asyncio.to_thread(fill, url, user_id, args.entries)
        rows = []
        for name, path, accept, count in (
            ("balance (baseline)", "/balance", "application/json", args.requests),
            (
                "statement JSON, first page",
                f"/statements/{month}",
                "application/json",
                args.requests,
            ),
            ("statement CSV", f"/statements/{month}", "text/csv", args.requests),
            ("statement PDF", f"/statements/{month}", "application/pdf", args.requests),
        ):
            server, client, size = await timed(http, path, {**headers, "Accept": accept}, count)
            rows.append(
                (
                    name,
                    f"{p50(server):.1f}",
                    f"{percentile(server, 0.95):.1f}",
                    f"{p50(client):.1f}",
                    f"{percentile(client, 0.95):.1f}",
                    f"{size:,}",
                )
            )
            print(f"{name}: server p95 {rows[-1][2]} ms", flush=True)
        return rows


def subject(headers: dict[str, str]) -> uuid.UUID:
    """The customer's user id: their bearer token's `sub` (read, not verified: ours)."""
    payload = headers["Authorization"].split()[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return uuid.UUID(claims["sub"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000, help="entries in the month")
    parser.add_argument("--requests", type=int, default=100, help="timed requests of each")
    parser.add_argument("--quick", action="store_true", help="20 requests of each")
    parser.add_argument("--store-pool", type=int, default=4, help="accounting's store threads")
    parser.add_argument("--home", type=Path, help="where the embedded servers and logs live")
    args = parser.parse_args()
    if args.quick:
        args.requests = 20
    with (
        postgres(args.home, "savings-statements-") as (admin, home),
        nats(home) as broker,
        scratch_databases(admin, "bench_statements") as urls,
        savings_services(home, urls, broker, store_pool=args.store_pool) as (gateway, _),
    ):
        rows = asyncio.run(measure(gateway, urls[SAVINGS_ACCOUNTING.service], args))
    print(
        f"\n{args.entries:,} entries in the month, {args.requests} requests of each, one at a time"
    )
    print("| read | server p50 ms | server p95 ms | client p50 ms | client p95 ms | bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
