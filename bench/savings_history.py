"""What stable history costs (issue 18): a save's server CPU and a balance read's latency.

    .venv/bin/python bench/savings_history.py
    # the code before, from a commit, on the same venv (run the two one after the other):
    git archive 6c9440c src | tar -x -C /tmp/base && \
        PYTHONPATH=/tmp/base/src .venv/bin/python bench/savings_history.py

On a migrated scratch accounting database (embedded PostgreSQL unless DATABASE_URL is set), one
thread, one connection: `--saves` credits in turn over 20 accounts (load, `Account.credit`,
`save_account`, as the service does), timed by the CPU time of the one PostgreSQL backend
behind the store (what booking adds is server-side: an advisory lock, a setting, the events'
JSON rewritten) and by the client's clock; then `--reads` calls of `service.balance` at now,
client p50/p95 (booking's reads run one statement more first, `queries.settle`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psutil

from backoffice.core.db import Database
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from backoffice.services import SAVINGS_ACCOUNTING
from savings_stack import p50, percentile, postgres, scratch_databases

ACCOUNTS = 20


def saves(url: str, count: int) -> tuple[float, float, list[uuid.UUID]]:
    """Backend CPU ms and client p50 ms per save, and the accounts."""
    store = AccountingStore(env=eventsourcing_env(url, pool_size=1))
    try:
        with store.recorder.datastore.get_connection() as conn:
            backend = psutil.Process(
                conn.execute("SELECT pg_backend_pid()").fetchone()["pg_backend_pid"]
            )
        accounts = []
        for _ in range(ACCOUNTS):
            account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
            store.save_account(account)
            accounts.append(account.id)

        def credit(n: int) -> None:
            account = store.get_account(accounts[n % ACCOUNTS])
            account.credit(
                uuid.uuid4(), Decimal(1), idempotency_key=uuid.uuid4().hex, request_hash="h"
            )
            store.save_account(account)

        for n in range(100):  # the statements prepared, the cache warm
            credit(n)
        timings = []
        cpu = sum(backend.cpu_times()[:2])
        for n in range(count):
            start = time.perf_counter()
            credit(n)
            timings.append(time.perf_counter() - start)
        cpu = sum(backend.cpu_times()[:2]) - cpu
        return 1000 * cpu / count, 1000 * p50(timings), accounts
    finally:
        store.close()


async def reads(url: str, accounts: list[uuid.UUID], count: int) -> tuple[float, float]:
    """Client p50 and p95 ms of `service.balance` at now."""
    store = AccountingStore(env=eventsourcing_env(url, pool_size=1))
    service = AccountingService(store, Database(url, pool_size=1, max_overflow=0), threads=1)
    try:
        timings = []
        for n in range(count):
            start = time.perf_counter()
            await service.balance(accounts[n % ACCOUNTS], datetime.now(UTC))
            timings.append(time.perf_counter() - start)
        return 1000 * p50(timings), 1000 * percentile(timings, 0.95)
    finally:
        await service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--home", type=Path, help="where the embedded server lives")
    args = parser.parse_args()
    with (
        postgres(args.home, "savings-history-") as (admin, _),
        scratch_databases(admin, "history", (SAVINGS_ACCOUNTING,)) as urls,
    ):
        url = urls[SAVINGS_ACCOUNTING.service]
        cpu, wall, accounts = saves(url, args.saves)
        print(f"save: PostgreSQL backend CPU {cpu:.3f} ms, client p50 {wall:.3f} ms ({args.saves})")
        read50, read95 = asyncio.run(reads(url, accounts, args.reads))
        print(f"balance at now: client p50 {read50:.3f} ms, p95 {read95:.3f} ms ({args.reads})")


if __name__ == "__main__":
    main()
