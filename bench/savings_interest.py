"""A month's interest for many accounts (`posting.post_interest`) vs the same events appended alone.

    .venv/bin/python bench/savings_interest.py              # 100,000 accounts
    .venv/bin/python bench/savings_interest.py --quick      # 10,000 accounts
    .venv/bin/python bench/savings_interest.py --profile    # where posting's time goes

On a migrated scratch accounting database (embedded PostgreSQL unless DATABASE_URL is set),
`--accounts` accounts are made through the event store (opened, a plan paying 3.75%, one
credit all to savings: the events and projection rows the real recorder writes), then their
projections are moved back to 1 January 2024 with SQL, as the tests do (posting reads only the
projections; the database's clock books everything at now), and analysed.

Posting, timed: `post_interest(service, through=<a month's last day>)` as the CLI runs it
(batches of `--batch`: the due accounts read, the month's inputs read, the amounts computed,
each account loaded and its `InterestPosted` saved, one save a batch).

Baseline, in the same run, on the same accounts: the next month's `InterestPosted` appended
straight to the store, the same number of events in the same batch sizes (each account loaded,
`Account.post_interest` with a fixed amount, one `store.save_accounts` a batch): what any
posting through the event store must cost, with nothing read from the projections and nothing
computed. Rounds alternate (posting January, the store February, posting March...). Target
(issue 20): posting at least 0.8x the store's accounts per second. Last, the CPU each side
spent (this process, PostgreSQL's backends when the server is the embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg

from backoffice.core.embedded import driver_url
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.interest import last_day
from backoffice.savings.accounting.posting import post_interest
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.accounting.store import AccountingStore, eventsourcing_env
from backoffice.services import SAVINGS_ACCOUNTING
from savings_stack import cpu_seconds, postgres, processes, scratch_databases

RATE = Decimal("0.0375")
YEAR = 2024


def cpu_now(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """CPU seconds so far of each group, PostgreSQL's backends gone since included.

    `savings_stack.cpu_seconds` counts the backends alive when it looks; the services here
    open and close their connections within a phase, so PostgreSQL's share also takes the
    postmaster's reaped children's times (`children_user`, `children_system`).
    """
    out = cpu_seconds(groups)
    for postmaster in groups.get("postgres", []):
        times = postmaster.cpu_times()
        out["postgres"] += times.children_user + times.children_system
    return out


def make_accounts(url: str, count: int) -> list[uuid.UUID]:
    """`count` accounts saving since 1 January (backdated projections), by id."""
    plain = driver_url(url, None)
    with psycopg.connect(plain) as conn:
        row = conn.execute(
            "INSERT INTO plans (name, kind, value, interest_rate)"
            " VALUES ('bench', 'percentage', 100, %s) RETURNING id",
            (RATE,),
        ).fetchone()
        assert row is not None
        plan_id = int(row[0])
    store = AccountingStore(env=eventsourcing_env(url, pool_size=1))
    ids = []
    started = time.perf_counter()
    try:
        for start in range(0, count, 1000):
            chunk = []
            for number in range(start, min(count, start + 1000)):
                account = Account(
                    user_id=uuid.uuid4(), email=f"{number}@example.com", full_name="Customer"
                )
                account.assign_plan(plan_id, "percentage", Decimal(100), RATE, 0)
                amount = Decimal(f"{100 + number * 37 % 9000}.{number * 13 % 100:02d}")
                account.credit(uuid.uuid4(), amount, idempotency_key="k", request_hash="h")
                chunk.append(account)
                ids.append(account.id)
            store.save_accounts(chunk)
    finally:
        store.close()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"UPDATE accounts SET opened_at = '{YEAR}-01-01 00:00:00+00'")
        conn.execute(f"UPDATE plan_changes SET at = '{YEAR}-01-01 00:00:01+00'")
        conn.execute(f"UPDATE ledger_entries SET at = '{YEAR}-01-01 12:00:00+00'")
        conn.execute("VACUUM ANALYZE")
    print(f"{count:,} accounts made and backdated in {time.perf_counter() - started:.1f} s")
    return ids


async def posting_round(url: str, month: int, batch: int, profile: bool) -> tuple[float, int]:
    """Post `month` for every account: (seconds, accounts settled)."""
    service = await AccountingService.open(url)
    profiler = cProfile.Profile() if profile else None
    try:
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        done = await post_interest(service, last_day(YEAR, month), batch=batch)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
    finally:
        await service.close()
    assert done.months == done.accounts and not done.failed, done
    if profiler is not None:
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(25)
    return seconds, done.accounts


def store_round(url: str, ids: list[uuid.UUID], month: int, batch: int) -> float:
    """Append `month`'s `InterestPosted` to every account, `batch` a save: seconds."""
    store = AccountingStore(env=eventsourcing_env(url, pool_size=1))
    period, through = f"{YEAR}-{month:02d}", last_day(YEAR, month)
    try:
        started = time.perf_counter()
        for start in range(0, len(ids), batch):
            accounts = [store.get_account(i) for i in ids[start : start + batch]]
            for account in accounts:
                account.post_interest(uuid.uuid4(), Decimal("1.23"), period, through)
            store.save_accounts(accounts)
        return time.perf_counter() - started
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 accounts, one round")
    parser.add_argument("--batch", type=int, default=500, help="accounts a save (posting's own)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each")
    parser.add_argument("--profile", action="store_true", help="cProfile the posting rounds")
    parser.add_argument("--home", type=Path, help="where the embedded server lives")
    args = parser.parse_args()
    if args.quick:
        args.accounts, args.rounds = 10_000, 1
    assert 2 * args.rounds <= 12, "one month a round each, within the year"
    rows = []
    with (
        postgres(args.home, "savings-interest-") as (admin, home),
        scratch_databases(admin, "bench_interest", (SAVINGS_ACCOUNTING,)) as urls,
    ):
        url = urls[SAVINGS_ACCOUNTING.service]
        groups = {k: v for k, v in processes(home, {}).items() if v}
        ids = make_accounts(url, args.accounts)
        cpu: dict[str, dict[str, float]] = {"posting": {}, "store": {}}

        def count(phase: str, before: dict[str, float]) -> None:
            for name, seconds in cpu_now(groups).items():
                cpu[phase][name] = cpu[phase].get(name, 0.0) + seconds - before[name]

        for number in range(args.rounds):
            before = cpu_now(groups)
            posting, settled = asyncio.run(
                posting_round(url, 2 * number + 1, args.batch, args.profile)
            )
            count("posting", before)
            assert settled == args.accounts, settled
            print(f"round {number + 1}: posting {settled / posting:,.0f} accounts/s", flush=True)
            before = cpu_now(groups)
            alone = store_round(url, ids, 2 * number + 2, args.batch)
            count("store", before)
            print(f"round {number + 1}: store alone {len(ids) / alone:,.0f} accounts/s", flush=True)
            rows.append((posting, alone))
    n = args.accounts
    print(f"\n{n:,} accounts, batch {args.batch}")
    print("| round | posting s | posting accounts/s | store s | store accounts/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for number, (posting, alone) in enumerate(rows, 1):
        print(
            f"| {number} | {posting:.1f} | {n / posting:,.0f} | {alone:.1f} | {n / alone:,.0f}"
            f" | {alone / posting:.2f}x |"
        )
    posting = sum(p for p, _ in rows)
    alone = sum(a for _, a in rows)
    print(f"\nmean: posting {alone / posting:.2f}x the store alone (target 0.8x)")
    print("\nCPU ms per account, by process, over all rounds:")
    print("| process | posting | store alone |\n|---|---:|---:|")
    for name in cpu["posting"]:
        spent = [cpu[phase][name] * 1000 / (n * args.rounds) for phase in ("posting", "store")]
        print(f"| {name} | {spent[0]:.3f} | {spent[1]:.3f} |")


if __name__ == "__main__":
    main()
