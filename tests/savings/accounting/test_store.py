"""The event store on PostgreSQL: settings, round trips, snapshots, projections in one commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import psycopg
import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, StoredEvent

from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.ledger import ProcessedMessage
from backoffice.savings.accounting.models import BOOKING_LOCK
from backoffice.savings.accounting.store import (
    SNAPSHOT_INTERVAL,
    AccountingStore,
    eventsourcing_env,
)
from tests.savings.accounting.helpers import make_plan


def test_env_from_the_embedded_servers_unix_socket_url() -> None:
    env = eventsourcing_env("postgresql://postgres:@/savings?host=/tmp/pg-sock", pool_size=3)
    assert env["POSTGRES_HOST"] == "/tmp/pg-sock"
    assert env["POSTGRES_DBNAME"] == "savings"
    assert env["POSTGRES_USER"] == "postgres"
    assert env["POSTGRES_PASSWORD"] == ""
    assert env["POSTGRES_PORT"] == "5432"
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("3", "0")


def test_env_from_a_tcp_url_with_a_driver() -> None:
    env = eventsourcing_env("postgresql+asyncpg://ann:p%40ss@db.example:6543/acc", pool_size=2)
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("ann", "p@ss")
    assert env["POSTGRES_DBNAME"] == "acc"


def test_env_defaults_like_libpq() -> None:
    env = eventsourcing_env("postgresql://", pool_size=1)
    assert (env["POSTGRES_HOST"], env["POSTGRES_USER"]) == ("localhost", "postgres")
    assert env["POSTGRES_DBNAME"] == "postgres"


def test_the_process_environment_is_ignored(
    monkeypatch: pytest.MonkeyPatch, store: AccountingStore
) -> None:
    monkeypatch.setenv("POSTGRES_DBNAME", "elsewhere")
    monkeypatch.setenv("ACCOUNTING_CREATE_TABLE", "yes")
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "1")
    env = store.construct_env(store.name, {"POSTGRES_DBNAME": "here"})
    assert env.get("POSTGRES_DBNAME") == "here"
    assert env.get("CREATE_TABLE") == "no"
    assert env.get("AGGREGATE_CACHE_MAXSIZE") == "10000"


def test_tables_are_named_after_the_application(store: AccountingStore) -> None:
    assert store.recorder.events_table_name == "accounting_events"  # type: ignore[attr-defined]
    assert store.snapshots is not None
    assert store.snapshots.recorder.events_table_name == "accounting_snapshots"  # type: ignore[attr-defined]


def test_decimals_and_plans_round_trip_through_the_store(
    store: AccountingStore, plain_url: str
) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    account.assign_plan(plan_id=make_plan(plain_url), kind="percentage", value=Decimal("33.33"))
    account.credit(uuid.uuid4(), Decimal("0.10"), idempotency_key="k", request_hash="h")
    store.save_account(account)
    loaded = store.get_account(account.id)
    assert (loaded.main, loaded.savings) == (Decimal("0.07"), Decimal("0.03"))
    assert isinstance(loaded.main, Decimal) and isinstance(loaded.plan_value, Decimal)
    assert loaded.plan_value == Decimal("33.33") and loaded.version == 3
    events = list(store.events.get(account.id))
    credited = events[-1]
    assert isinstance(credited, Account.Credited)
    assert credited.amount == Decimal("0.10") and isinstance(credited.credit_id, uuid.UUID)


@pytest.fixture
def counted_reads(store: AccountingStore) -> Iterator[list[int]]:
    """How many events each read of the events table returned."""
    counts: list[int] = []
    recorder: Any = store.events.recorder
    original = recorder.select_events

    def counting(*args: Any, **kwargs: Any) -> Any:
        rows = original(*args, **kwargs)
        counts.append(len(rows))
        return rows

    recorder.select_events = counting
    try:
        yield counts
    finally:
        del recorder.select_events


def test_snapshots_bound_the_replay(store: AccountingStore, counted_reads: list[int]) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    store.save_account(account)
    for n in range(2 * SNAPSHOT_INTERVAL + 49):  # versions 2..250
        account.credit(uuid.uuid4(), Decimal(1), idempotency_key=str(n), request_hash="h")
        store.save_account(account)
    assert account.version == 2 * SNAPSHOT_INTERVAL + 50
    assert store.snapshots is not None
    snapshots = list(store.snapshots.get(account.id))
    assert [s.originator_version for s in snapshots] == [SNAPSHOT_INTERVAL, 2 * SNAPSHOT_INTERVAL]
    counted_reads.clear()
    # A rebuild from the table (a version given skips the in-memory cache):
    loaded = store.get_account(account.id, version=account.version)
    assert loaded.main == Decimal(2 * SNAPSHOT_INTERVAL + 49)
    assert counted_reads == [50]  # the events after the snapshot at 200, not 250
    # A cached account reads only what was saved since it was cached.
    store.get_account(account.id)  # rebuilt once, then cached
    counted_reads.clear()
    store.get_account(account.id)
    assert counted_reads == [0]


def _count(url: str, sql: str, *params: Any) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        assert row is not None
        return int(row[0])


def test_a_lost_version_race_writes_no_projection_row(
    store: AccountingStore, plain_url: str
) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    store.save_account(account)
    first, second = store.get_account(account.id), store.get_account(account.id)
    first.credit(uuid.uuid4(), Decimal(5), idempotency_key="a", request_hash="h")
    store.save_account(first)
    late = second.credit(uuid.uuid4(), Decimal(7), idempotency_key="b", request_hash="h")
    with pytest.raises(IntegrityError):
        store.save_account(second)
    assert (
        _count(plain_url, "SELECT count(*) FROM ledger_entries WHERE entry_id = %s", late.credit_id)
        == 0
    )
    assert (
        _count(plain_url, "SELECT count(*) FROM ledger_entries WHERE account_id = %s", account.id)
        == 1
    )


def test_a_failing_projection_row_writes_no_event(store: AccountingStore, plain_url: str) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    account.credit(uuid.uuid4(), Decimal(5), idempotency_key="same", request_hash="h")
    store.save_account(account)
    account.credit(uuid.uuid4(), Decimal(7), idempotency_key="same", request_hash="h")
    with pytest.raises(IntegrityError):  # the key is unique per account in `ledger_entries`
        store.save_account(account)
    assert store.get_account(account.id).version == 2
    events = "SELECT count(*) FROM accounting_events WHERE originator_id = %s"
    assert _count(plain_url, events, account.id) == 2


def test_a_processed_message_commits_with_the_effect(
    store: AccountingStore, plain_url: str
) -> None:
    message = ProcessedMessage("test", uuid.uuid4().hex)
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    store.save_account(account, processed=message)
    other = Account(user_id=uuid.uuid4(), email="bob@example.com", full_name="Bob")
    with pytest.raises(IntegrityError):
        store.save_account(other, processed=message)
    assert other.id not in store.repository
    processed = "SELECT count(*) FROM processed_messages WHERE consumer = %s AND msg_id = %s"
    assert _count(plain_url, processed, "test", message.msg_id) == 1
    accounts = "SELECT count(*) FROM accounts WHERE account_id = %s"
    assert _count(plain_url, accounts, account.id) == 1
    assert _count(plain_url, accounts, other.id) == 0


def test_failed_saves_leave_the_connection_usable(accounting_database_url: str) -> None:
    # One connection, so every save after a failed one reuses it (psycopg's prepared
    # statements must still match the server's: see ProjectingRecorder).
    store = AccountingStore(env=eventsourcing_env(accounting_database_url, pool_size=1))
    try:
        account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
        store.save_account(account)
        for n in range(8):  # past psycopg's threshold for preparing a statement on its own
            stale = store.get_account(account.id)
            account.credit(uuid.uuid4(), Decimal(1), idempotency_key=f"k{n}", request_hash="h")
            store.save_account(account)
            duplicate = store.get_account(account.id)
            duplicate.credit(uuid.uuid4(), Decimal(1), idempotency_key=f"k{n}", request_hash="h")
            with pytest.raises(IntegrityError):  # the key is taken
                store.save_account(duplicate)
            stale.credit(uuid.uuid4(), Decimal(1), idempotency_key=f"s{n}", request_hash="h")
            with pytest.raises(IntegrityError):  # the version is taken
                store.save_account(stale)
        assert store.get_account(account.id).main == Decimal(8)
    finally:
        store.close()


def _row(url: str, sql: str, *params: Any) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)


def test_a_save_is_booked_at_one_instant_that_every_record_of_it_keeps(
    store: AccountingStore, plain_url: str
) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    made = account.credit(uuid.uuid4(), Decimal(5), idempotency_key="k", request_hash="h")
    before = datetime.now(UTC)
    booked = store.save_account(account)
    assert booked is not None and made.timestamp < before < booked < datetime.now(UTC)
    # The events as stored (what replays, the cache and snapshots read) carry the booking.
    stored = [cast(Account.Event, e) for e in store.events.get(account.id)]
    assert [e.timestamp for e in stored] == [booked, booked]
    loaded = store.get_account(account.id)
    assert loaded.created_on == loaded.modified_on == booked
    at = "SELECT at FROM ledger_entries WHERE entry_id = %s"
    assert _row(plain_url, at, made.credit_id) == (booked,)
    # Rewritten in place: the library's JSON as it wrote it, but for the instant.
    state = (
        "SELECT state FROM accounting_events WHERE originator_id = %s AND originator_version = 2"
    )
    (raw,) = _row(plain_url, state, account.id)
    written = store.mapper.to_stored_event(made).state
    assert bytes(raw) == written.replace(
        made.timestamp.isoformat().encode(), booked.isoformat(timespec="microseconds").encode()
    )
    dates = "SELECT opened_at, closed_at FROM accounts WHERE account_id = %s"
    assert _row(plain_url, dates, account.id) == (booked, None)
    loaded.close()
    closed = store.save_account(loaded)
    assert closed is not None and closed > booked
    assert store.get_account(account.id).closed_on == closed
    assert _row(plain_url, dates, account.id) == (booked, closed)


def test_a_save_without_events_is_booked_at_no_instant(store: AccountingStore) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    store.save_account(account)
    loaded = store.get_account(account.id)
    assert store.save_account(loaded, processed=ProcessedMessage("test", uuid.uuid4().hex)) is None


def test_a_save_is_booked_once_its_accounts_booking_lock_is_free(
    store: AccountingStore, plain_url: str
) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    store.save_account(account)
    other = Account(user_id=uuid.uuid4(), email="bob@example.com", full_name="Bob")
    loaded = store.get_account(account.id)
    loaded.credit(uuid.uuid4(), Decimal(5), idempotency_key="k", request_hash="h")
    with psycopg.connect(plain_url) as conn, ThreadPoolExecutor(1) as pool:
        conn.execute(  # a reader's share of the lock, held
            "SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s::uuid::text))",
            (BOOKING_LOCK, account.id),
        )
        assert store.save_account(other) is not None  # another account's save goes
        saving = pool.submit(store.save_account, loaded)
        with pytest.raises(TimeoutError):
            saving.result(timeout=0.3)
        released = _row(plain_url, "SELECT clock_timestamp()")[0]
        conn.commit()
        booked = saving.result(timeout=10)
    assert booked is not None and booked > released


def test_snapshots_carry_the_booked_instants(store: AccountingStore) -> None:
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    store.save_account(account)
    for n in range(SNAPSHOT_INTERVAL - 1):  # versions 2..100
        account.credit(uuid.uuid4(), Decimal(1), idempotency_key=str(n), request_hash="h")
        booked = store.save_account(account)
    assert store.snapshots is not None
    (snapshot,) = [cast(Snapshot, s) for s in store.snapshots.get(account.id)]
    assert snapshot.originator_version == SNAPSHOT_INTERVAL
    # The state restored from it (its own timestamp is when it was taken, after the save).
    assert snapshot.state["_modified_on"] == booked
    assert store.get_account(account.id, version=SNAPSHOT_INTERVAL).modified_on == booked


def test_an_event_whose_json_starts_otherwise_is_booked_all_the_same(
    store: AccountingStore,
) -> None:
    # The insert rewrites the library's JSON in place when it starts with the timestamp (as the
    # library writes it), and through jsonb otherwise.
    account = Account(user_id=uuid.uuid4(), email="ann@example.com", full_name="Ann")
    stored = store.mapper.to_stored_event(account.collect_events()[0])
    fields = list(json.loads(stored.state).items())
    assert fields[0][0] == "timestamp"
    reordered = json.dumps(dict(reversed(fields))).encode()
    before = datetime.now(UTC)
    store.recorder.insert_events(  # and with no `booked` list to learn the instant through
        [StoredEvent(stored.originator_id, stored.originator_version, stored.topic, reordered)]
    )
    (opened,) = [cast(Account.Event, e) for e in store.events.get(account.id)]
    assert account.created_on < before < opened.timestamp < datetime.now(UTC)
