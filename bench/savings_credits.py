"""Credits (or withdrawals) per second end to end (HTTP, gateway, NATS, accounting, event store)
vs the store alone.

    .venv/bin/python bench/savings_credits.py
    .venv/bin/python bench/savings_credits.py --customers 64 --credits 100 --concurrency 32
    .venv/bin/python bench/savings_credits.py --kind withdrawal
    .venv/bin/python bench/savings_credits.py --kind withdrawal --quick

The three services run as deployed, each `backoffice serve <service>` in a process of its own
(bench/savings_stack.py), on migrated scratch databases of one PostgreSQL server and one NATS
(embedded unless DATABASE_URL / NATS_URL are set). `--customers` customers sign up and log in
(not timed), then `--concurrency` clients (httpx.AsyncClient, one pooled connection each)
credit: client j credits customers j, j+K, j+2K... in turn, `--credits` times each, so no two
credits to one account are ever in flight (as neither are in the baseline) and the figure is
throughput, not retries.

Baseline, in the same run, on the same server and database: the same number of credits
appended straight to the event store by `--concurrency` threads (a pool of as many
connections), on as many accounts of the same kind (opened, no plan, one credit already), each
credit the same load + `Account.credit` + `store.save_account` the service does. Rounds
alternate (end to end, store, end to end, store...) to show drift. Target (issue 12): end to
end at least 0.8x the store. Last, the CPU time each process spent per credit in each phase
(psutil; PostgreSQL's backends counted when it is the embedded one): where the time goes.

`--kind withdrawal` (issue 20) times `POST /withdrawals` instead, and `Account.withdraw` in the
baseline: the customers' and the store's accounts are first credited enough (not timed) for
every withdrawal of every round to fit in main. `--quick`: 16 customers, 30 each, one round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import psutil

from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from backoffice.services import SAVINGS_ACCOUNTING
from raw_http import RawConnection
from savings_stack import (
    cpu_seconds,
    nats,
    p50,
    percentile,
    postgres,
    processes,
    savings_services,
    scratch_databases,
)

PASSWORD = "correct-horse-battery"


def amount(number: int) -> Decimal:
    """A varied amount with cents, from 1.00 to 97.99."""
    return Decimal(f"{1 + number % 97}.{number * 7 % 100:02d}")


def deposit(args: argparse.Namespace) -> Decimal:
    """What each account is first credited: 1.00, or for withdrawals all they will take."""
    if args.kind == "credit":
        return Decimal("1.00")
    return sum((amount(n) for n in range(args.credits)), Decimal(0)) * args.rounds


async def sign_up(
    http: httpx.AsyncClient, count: int, warm: Decimal = Decimal("1.00")
) -> list[dict[str, str]]:
    """`count` customers signed up, logged in and credited `warm` (their accounts are open)."""

    async def one(number: int) -> dict[str, str]:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": PASSWORD, "full_name": f"Customer {number}"}
        created = await http.post("/signup", json=body)
        assert created.status_code == 201, created.text
        login = await http.post("/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        # The first credit waits until accounting has opened the account: not timed.
        first = await http.post(
            "/credits", json={"amount": str(warm)}, headers={**headers, "Idempotency-Key": "warm"}
        )
        assert first.status_code == 201, first.text
        return headers

    started = time.perf_counter()
    out = []
    for start in range(0, count, 16):
        out += await asyncio.gather(*(one(n) for n in range(start, min(count, start + 16))))
    print(
        f"{count} customers signed up, logged in, credited once in {time.perf_counter() - started:.1f} s"
    )
    return out


async def http_round(
    http: httpx.AsyncClient, customers: list[dict[str, str]], args: argparse.Namespace
) -> tuple[float, list[float], list[float]]:
    """One round end to end: (seconds, client latencies ms, gateway X-Process-Time ms)."""
    latencies: list[float] = []
    server: list[float] = []

    async def client(mine: list[dict[str, str]]) -> None:
        raw = await RawConnection.open(str(http.base_url)) if args.client == "raw" else None
        route = f"/{args.kind}s"
        path = http.base_url.path.rstrip("/") + route
        for number in range(args.credits):
            for headers in mine:
                key = {"Idempotency-Key": uuid.uuid4().hex}
                body = {"amount": str(amount(number))}
                started = time.perf_counter()
                if raw is None:
                    response = await http.post(route, json=body, headers={**headers, **key})
                    status, text = response.status_code, response.text
                    took = response.headers["X-Process-Time"]
                else:
                    data = json.dumps(body).encode()
                    status, received, content = await raw.post(path, data, {**headers, **key})
                    text, took = content.decode(), received["x-process-time"]
                latencies.append((time.perf_counter() - started) * 1000)
                assert status == 201, text
                server.append(float(took.removesuffix("ms")))
        if raw is not None:
            await raw.close()

    started = time.perf_counter()
    k = args.concurrency
    await asyncio.gather(*(client(customers[j::k]) for j in range(k)))
    return time.perf_counter() - started, latencies, server


def open_accounts(
    store: AccountingStore, count: int, warm: Decimal = Decimal("1.00")
) -> list[uuid.UUID]:
    """`count` accounts like the customers': opened, no plan, one credit of `warm`."""
    ids = []
    for number in range(count):
        account = Account(
            user_id=uuid.uuid4(), email=f"store-{number}@example.com", full_name="Customer"
        )
        account.credit(uuid.uuid4(), warm, idempotency_key="warm", request_hash="w")
        store.save_account(account)
        ids.append(account.id)
    return ids


def store_round(
    store: AccountingStore, accounts: list[uuid.UUID], args: argparse.Namespace
) -> tuple[float, list[float]]:
    """One round of the baseline: (seconds, latencies ms of load + credit + save)."""

    def worker(mine: list[uuid.UUID]) -> list[float]:
        times = []
        for number in range(args.credits):
            for account_id in mine:
                started = time.perf_counter()
                account = store.get_account(account_id)
                key = uuid.uuid4().hex
                move = account.credit if args.kind == "credit" else account.withdraw
                move(uuid.uuid4(), amount(number), idempotency_key=key, request_hash=key)
                store.save_account(account)
                times.append((time.perf_counter() - started) * 1000)
        return times

    k = args.concurrency
    started = time.perf_counter()
    with ThreadPoolExecutor(k) as pool:
        parts = list(pool.map(worker, [accounts[j::k] for j in range(k)]))
    return time.perf_counter() - started, [t for part in parts for t in part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=32)
    parser.add_argument("--credits", type=int, default=100, help="credits per customer a round")
    # 16: the store alone is bound by its table lock at either 8 or 16 threads (720-800/s
    # measured), while end to end needs the more requests in flight to keep both cores busy.
    parser.add_argument("--concurrency", type=int, default=16, help="clients, and store threads")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each")
    parser.add_argument("--store-pool", type=int, default=4, help="accounting's store threads")
    parser.add_argument("--home", type=Path, help="where the embedded servers and logs live")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="the timed credits' client: bench/raw_http.py (light) or httpx (~1.6 ms CPU each)",
    )
    parser.add_argument("--kind", choices=("credit", "withdrawal"), default="credit")
    parser.add_argument("--quick", action="store_true", help="16 customers, 30 each, one round")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.credits, args.rounds = 16, 30, 1
    if args.customers % args.concurrency:
        parser.error("--customers must be a multiple of --concurrency (one client per account)")
    total = args.customers * args.credits
    print(f"{total:,} {args.kind}s a round: {args.customers} customers x {args.credits},")
    print(
        f"concurrency {args.concurrency}, accounting store threads {args.store_pool},"
        f" client {args.client}"
    )
    rounds: list[dict[str, float]] = [{} for _ in range(args.rounds)]
    with (
        postgres(args.home, "savings-credits-") as (admin, home),
        nats(home) as broker,
        scratch_databases(admin, "bench_credits") as urls,
        savings_services(home, urls, broker, store_pool=args.store_pool) as (gateway, pids),
    ):
        groups = processes(home, pids)
        env = eventsourcing_env(urls[SAVINGS_ACCOUNTING.service], pool_size=args.concurrency)
        store = AccountingStore(env=env)
        try:
            accounts = open_accounts(store, args.customers, deposit(args))
            cpu = asyncio.run(alternate(gateway, store, accounts, groups, args, rounds))
        finally:
            store.close()
    print(
        f"\n| round | end to end {args.kind}s/s | store {args.kind}s/s | ratio | e2e p50 ms"
        " | e2e p95 ms | gateway p50 ms | store p50 ms | store p95 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for number, row in enumerate(rounds, 1):
        print(
            f"| {number} | {row['e2e']:,.0f} | {row['store']:,.0f} | {row['e2e'] / row['store']:.2f}x"
            f" | {row['e2e_p50']:.1f} | {row['e2e_p95']:.1f} | {row['gw_p50']:.1f}"
            f" | {row['store_p50']:.1f} | {row['store_p95']:.1f} |"
        )
    e2e = sum(r["e2e"] for r in rounds) / len(rounds)
    base = sum(r["store"] for r in rounds) / len(rounds)
    print(
        f"\nmean: end to end {e2e:,.0f}/s, store alone {base:,.0f}/s: {e2e / base:.2f}x (target 0.8x)"
    )
    print(f"\nCPU ms per {args.kind}, by process, over all rounds ({os.cpu_count()} cores):")
    print("| process | end to end | store alone |\n|---|---:|---:|")
    for name in cpu["e2e"]:
        e2e_ms, store_ms = (cpu[phase][name] * 1000 / (total * args.rounds) for phase in cpu)
        print(f"| {name} | {e2e_ms:.2f} | {store_ms:.2f} |")


async def alternate(
    gateway: str,
    store: AccountingStore,
    accounts: list[uuid.UUID],
    groups: dict[str, list[psutil.Process]],
    args: argparse.Namespace,
    rounds: list[dict[str, float]],
) -> dict[str, dict[str, float]]:
    """End-to-end and store rounds in turn (the store's threads run while the loop waits).

    Returns:
        The CPU seconds each process spent in each phase ("e2e", "store"), over all rounds.
    """
    cpu: dict[str, dict[str, float]] = {"e2e": {}, "store": {}}

    def count(phase: str, before: dict[str, float]) -> None:
        after = cpu_seconds(groups)
        for name, seconds in after.items():
            cpu[phase][name] = cpu[phase].get(name, 0.0) + seconds - before[name]

    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=f"{gateway}/api/v1/savings", limits=limits, timeout=30
    ) as http:
        customers = await sign_up(http, args.customers, deposit(args))
        for number, row in enumerate(rounds, 1):
            before = cpu_seconds(groups)
            seconds, latencies, server = await http_round(http, customers, args)
            count("e2e", before)
            row.update(
                e2e=len(latencies) / seconds,
                e2e_p50=p50(latencies),
                e2e_p95=percentile(latencies, 0.95),
                gw_p50=p50(server),
            )
            print(f"round {number}: end to end {row['e2e']:,.0f} {args.kind}s/s", flush=True)
            before = cpu_seconds(groups)
            seconds, times = await asyncio.to_thread(store_round, store, accounts, args)
            count("store", before)
            row.update(
                store=len(times) / seconds,
                store_p50=p50(times),
                store_p95=percentile(times, 0.95),
            )
            print(f"round {number}: store alone {row['store']:,.0f} {args.kind}s/s", flush=True)
    return cpu


if __name__ == "__main__":
    main()
