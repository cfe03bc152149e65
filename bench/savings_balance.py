"""Balance at an instant for an account of 1,000,000 events: the projection vs a scan vs a replay.

    .venv/bin/python bench/savings_balance.py                   # 1,000,000 events
    .venv/bin/python bench/savings_balance.py --events 100000   # a quicker run

On a migrated scratch accounting database (embedded PostgreSQL unless DATABASE_URL is set).
The account (opened, a 12.5% plan, then a credit every ~90 s) is built in bulk: its events are
made and applied in memory, turned into stored events by the library's own mapper
(`store.mapper.to_stored_event`) and COPied into `accounting_events`, with a snapshot every 100
versions (as the library takes them) and a `ledger_entries` row per credit, 50,000 events a
transaction. Saving through the library (`save_account`, 500 events a save: one of ~1,500 hung,
issue 12) is timed on `--save-sample` events beside it. Then `--tail` credits go through
`AccountingService.credit`: the library carries on from the bulk data, snapshots included.

Timed in the same run: `service.balance` (`queries.balance_at` over asyncpg) at `--calls` random
instants, client p50/p95, and its statement's server time (EXPLAIN ANALYZE Execution Time);
baselines (a) the same answer summed over the entries up to T with index scans off, (b) the
account rebuilt from the event store up to T by replaying from its first event (the library
has no lookup by time), and by `get(id, version)` from the snapshot before (the version taken
from the projection); and the load of the whole account (`store.get_account`, no cache) with
the events it replays after the latest snapshot. Target (issue 12): p50 under 1 ms server time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import project_aggregate
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from backoffice.core.embedded import driver_url
from backoffice.savings.accounting import queries
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.rules import PlanKind, PlanTerms, split
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import (
    SNAPSHOT_INTERVAL,
    AccountingStore,
    eventsourcing_env,
)
from backoffice.services import SAVINGS_ACCOUNTING
from savings_stack import copy_rows, p50, percentile, postgres, scratch_databases, server_ms

START = datetime(2023, 1, 1, tzinfo=UTC)
BATCH = 50_000
TEN = Decimal("10.00")
TERMS = PlanTerms(PlanKind.PERCENTAGE, Decimal("12.5"))
LIBRARY_COLUMNS = "originator_id, originator_version, topic, state"
LIBRARY_TYPES = ["uuid", "int8", "text", "bytea"]
ENTRY_COLUMNS = (
    "entry_id, account_id, seq, kind, at, amount, main, savings, main_balance, savings_balance,"
    " originator_version, idempotency_key, request_hash"
)
ENTRY_TYPES = [
    "uuid", "uuid", "int8", "text", "timestamptz", *["numeric"] * 5, "int8", "text", "text",
]  # fmt: skip
SUM_SQL = (
    "SELECT coalesce(sum(main), 0), coalesce(sum(savings), 0) FROM ledger_entries"
    " WHERE account_id = %s AND at <= %s"
)
SPAN_SQL = "SELECT min(at), max(at) FROM ledger_entries WHERE account_id = %s"
VERSION_SQL = (
    "SELECT max(originator_version) FROM ledger_entries WHERE account_id = %s AND at <= %s"
)
NO_INDEXES = "SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off"


def bulk_load(conn: psycopg.Connection, store: AccountingStore, events: int) -> uuid.UUID:
    """The account of `events` events (opened, plan, credits), COPied in batches; its id."""
    found = conn.execute(
        "INSERT INTO plans (name, kind, value) VALUES ('bench', %s, %s) RETURNING id",
        (TERMS.kind.value, TERMS.value),
    ).fetchone()
    assert found is not None
    plan_id, account_id, rng = int(found[0]), uuid.uuid4(), random.Random(12)
    opened = Account.Opened(
        originator_topic="backoffice.savings.accounting.aggregate:Account",
        originator_id=account_id, originator_version=1, timestamp=START,
        user_id=account_id, email="big@example.com", full_name="Busy Customer",
    )  # fmt: skip
    assigned = Account.PlanAssigned(
        originator_id=account_id, originator_version=2, timestamp=START + timedelta(seconds=1),
        plan_id=plan_id, kind=TERMS.kind.value, value=TERMS.value,
        interest_rate=Decimal(0), lock_in_days=0,
    )  # fmt: skip
    account: Account | None = project_aggregate(None, [opened, assigned])
    assert account is not None
    conn.execute(
        "INSERT INTO accounts (account_id, email, full_name, plan_id, opened_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (account_id, account.email, account.full_name, plan_id, START),
    )
    pending: list[Any] = [opened, assigned]
    at, started = START + timedelta(seconds=2), time.perf_counter()
    for version in range(3, events + 1):
        at += timedelta(seconds=rng.randint(1, 179), microseconds=rng.randint(0, 999_999))
        amount = Decimal(rng.randint(100, 50_000)) / 100
        parts = split(amount, TERMS)
        credited = Account.Credited(
            originator_id=account_id, originator_version=version, timestamp=at,
            credit_id=uuid.uuid4(), amount=amount, main=parts.main, savings=parts.savings,
            idempotency_key=f"k{version}", request_hash="h",
        )  # fmt: skip
        pending.append(credited)
        if len(pending) == BATCH or version == events:
            write_batch(conn, store, account, pending)
            rate = version / (time.perf_counter() - started)
            print(f"  {version:>9,} events loaded, {rate:,.0f}/s", flush=True)
            pending = []
    return account_id


def write_batch(
    conn: psycopg.Connection, store: AccountingStore, account: Account, pending: list[Any]
) -> None:
    """Apply `pending` to `account`; COPY their stored events, snapshots and ledger rows."""
    snapshot_class: Any = getattr(Account, "Snapshot", None) or store.snapshot_class
    stored, snapshots, entries = [], [], []
    for event in pending:
        if event.originator_version > 2:
            event.mutate(account)
            entries.append((
                event.credit_id, account.id, account.entries, "credit", event.timestamp,
                event.amount, event.main, event.savings, account.main, account.savings,
                event.originator_version, event.idempotency_key, event.request_hash,
            ))  # fmt: skip
        if event.originator_version % SNAPSHOT_INTERVAL == 0:  # as the library takes them
            snapshots.append(store.mapper.to_stored_event(snapshot_class.take(account)))
        stored.append(store.mapper.to_stored_event(event))
    with conn.transaction():
        for table, rows in (("accounting_events", stored), ("accounting_snapshots", snapshots)):
            values = [(r.originator_id, r.originator_version, r.topic, r.state) for r in rows]
            copy_rows(conn, table, LIBRARY_COLUMNS, LIBRARY_TYPES, values)
        copy_rows(conn, "ledger_entries", ENTRY_COLUMNS, ENTRY_TYPES, entries)


def save_sample(store: AccountingStore, events: int) -> float:
    """Events per second saved through the library, 500 a save, on an account of its own."""
    account = Account(user_id=uuid.uuid4(), email="sample@example.com", full_name="Sample")
    started = time.perf_counter()
    for n in range(events):
        account.credit(uuid.uuid4(), TEN, idempotency_key=f"s{n}", request_hash="h")
        if len(account.pending_events) == 500 or n == events - 1:
            store.save_account(account)
    return events / (time.perf_counter() - started)


async def measure(url: str, account_id: uuid.UUID, args: argparse.Namespace) -> None:
    service = await AccountingService.open(url)
    nocache = AccountingStore(env={**service.store.env, "AGGREGATE_CACHE_MAXSIZE": ""})
    conn = psycopg.connect(driver_url(url, None), autocommit=True)
    try:
        span = conn.execute(SPAN_SQL, (account_id,)).fetchone()
        assert span and span[0]
        await tail_and_load(service, nocache, account_id, args.tail)
        first, seconds, rng = span[0], (span[1] - span[0]).total_seconds(), random.Random(7)

        def instant() -> datetime:  # from a day before the first credit to a day after the last
            return first + timedelta(seconds=rng.uniform(-86_400, seconds + 86_400))

        for _ in range(50):  # warm up: the pool, asyncpg's prepared statements, the cache
            await service.balance(account_id, instant())
        times = []
        for _ in range(args.calls):
            at = instant()
            started = time.perf_counter()
            await service.balance(account_id, at)
            times.append((time.perf_counter() - started) * 1000)
        statement = queries.balance_statement(account_id, instant())
        compiled = statement.compile(dialect=PGDialect_psycopg())
        sql, params = str(compiled), dict(compiled.params)
        at_key = next(k for k, v in params.items() if isinstance(v, datetime))
        plan = conn.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}", params).fetchall()
        print("\nplan of balance-at-T:\n" + "\n".join(f"    {line}" for (line,) in plan))
        server = [server_ms(conn, sql, {**params, at_key: instant()}) for _ in range(args.explains)]
        scans, scan_server = [], []
        for _ in range(args.scans):
            at = instant()
            with conn.transaction(force_rollback=True):
                conn.execute(NO_INDEXES)
                started = time.perf_counter()
                summed = conn.execute(SUM_SQL, (account_id, at)).fetchone()
                scans.append((time.perf_counter() - started) * 1000)
                scan_server.append(server_ms(conn, SUM_SQL, (account_id, at)))
            answer = await service.balance(account_id, at)
            assert summed == (answer["main"], answer["savings"]), (summed, answer)
        print(f"\n| balance at T, {args.events:,} events | p50 ms | p95 ms | runs |")
        print("|---|---:|---:|---:|")
        for name, values in (
            ("`service.balance` (projection, one index descent), client", times),
            ("the same statement, server (EXPLAIN ANALYZE Execution Time)", server),
            ("(a) sum of the credits up to T, index scans off, client", scans),
            ("(a) the same, server", scan_server),
        ):
            p95 = percentile(values, 0.95)
            print(f"| {name} | {p50(values):,.3f} | {p95:,.3f} | {len(values)} |")
        instants = sorted(instant() for _ in range(args.replays))
        await rebuilds(service, nocache, conn, account_id, instants)
        ratio = p50(scan_server) / p50(server)
        print(f"\nserver p50 {p50(server):.3f} ms (target < 1 ms); the full sum {ratio:,.0f}x that")
    finally:
        conn.close()
        nocache.close()
        await service.close()


async def tail_and_load(
    service: AccountingService, nocache: AccountingStore, account_id: uuid.UUID, tail: int
) -> None:
    """`tail` credits through the service, then the whole account loaded without a cache."""
    started = time.perf_counter()
    for n in range(tail):
        await service.credit(account_id, TEN, idempotency_key=f"t{n}", request_hash="h")
    rate = tail / (time.perf_counter() - started)
    print(f"{tail} credits through `AccountingService.credit`: {rate:,.0f}/s")
    loads = []
    for _ in range(20):
        started = time.perf_counter()
        account = nocache.get_account(account_id)
        loads.append((time.perf_counter() - started) * 1000)
    assert nocache.snapshots is not None
    snapshot = next(iter(nocache.snapshots.get(account_id, desc=True, limit=1)))
    replayed = account.version - snapshot.originator_version
    print(
        f"store.get_account (no cache) of version {account.version:,}: p50 {p50(loads):.2f} ms;"
        f" snapshot at {snapshot.originator_version:,}, {replayed} events replayed"
        f" (bound {SNAPSHOT_INTERVAL})"
    )
    now = await service.balance(account_id, datetime.now(UTC) + timedelta(days=1))
    assert (now["main"], now["savings"]) == (account.main, account.savings), (now, account)


async def rebuilds(
    service: AccountingService,
    nocache: AccountingStore,
    conn: psycopg.Connection,
    account_id: uuid.UUID,
    instants: list[datetime],
) -> None:
    """Baseline (b): the account rebuilt from the event store up to each instant."""
    print("\n| (b) rebuilt up to T | version | replay from event 1 ms | from a snapshot ms |")
    print("|---|---:|---:|---:|")
    for at in instants:
        found = conn.execute(VERSION_SQL, (account_id, at)).fetchone()
        version = int(found[0]) if found and found[0] else 2
        started = time.perf_counter()
        replayed: Any = project_aggregate(None, nocache.events.get(account_id, lte=version))
        replay = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        snapped = nocache.get_account(account_id, version=version)
        snap = (time.perf_counter() - started) * 1000
        answer = await service.balance(account_id, at)
        expected = (answer["main"], answer["savings"])
        assert (replayed.main, replayed.savings) == (snapped.main, snapped.savings) == expected
        print(f"| {at:%Y-%m-%d %H:%M} | {version:,} | {replay:,.0f} | {snap:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option, default in (("events", 1_000_000), ("calls", 2000), ("explains", 200)):
        parser.add_argument(f"--{option}", type=int, default=default)
    for option, default in (("scans", 5), ("replays", 3), ("tail", 150), ("save-sample", 5000)):
        parser.add_argument(f"--{option}", type=int, default=default)
    parser.add_argument("--home", type=Path, help="where the embedded PostgreSQL lives")
    args = parser.parse_args()
    with (
        postgres(args.home, "savings-balance-") as (admin, _),
        scratch_databases(admin, "bench_balance", (SAVINGS_ACCOUNTING,)) as urls,
    ):
        url = urls[SAVINGS_ACCOUNTING.service]
        store = AccountingStore(env=eventsourcing_env(url, pool_size=2))
        try:
            rate = save_sample(store, args.save_sample)
            print(f"save_account, 500 events a save: {rate:,.0f} events/s")
            started = time.perf_counter()
            with psycopg.connect(driver_url(url, None), autocommit=True) as conn:
                account_id = bulk_load(conn, store, args.events)
                loaded = time.perf_counter() - started
                conn.execute(
                    "VACUUM ANALYZE accounting_events, accounting_snapshots, ledger_entries"
                )
                size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                print(f"bulk load: {loaded:.0f} s, {args.events / loaded:,.0f} events/s (COPY),")
                print(f"  database {next(iter(size.fetchone() or ()), '?')}")
        finally:
            store.close()
        asyncio.run(measure(url, account_id, args))


if __name__ == "__main__":
    main()
