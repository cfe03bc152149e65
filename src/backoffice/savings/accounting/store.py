"""The event store: an `eventsourcing` application on PostgreSQL that also writes projections.

The library keeps the account's events (`accounting_events`) and snapshots
(`accounting_snapshots`). Its recorder is replaced by `ProjectingRecorder`, which writes, in
the same transaction as the events, the rows that answer queries by time (`credits`), the
accounts' current profile (`accounts`) and a consumer's processed message id
(`processed_messages`): a save either records all of them or none.

Every save is booked at one instant taken by the database inside its commit, under its
account's booking lock: the events' own timestamps, the credits' `at` and the accounts' dates
are that instant, so an account's instants follow its commit order (see `queries.settle` for
the reads that rely on it, and docs/decisions.md "History that never changes").

The library is synchronous (it has no async API: their issue #233); `service.py` calls it in
threads. Its tables come from this service's Alembic history, never from the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, EnvType, get_topic
from psycopg import Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal

from backoffice.core.embedded import driver_url
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.models import BOOKING_LOCK

# Loading an account replays at most this many events after its latest snapshot (measured:
# 10,001 events took 250 ms to rebuild without a snapshot, 3.8 ms with one 100 events back).
SNAPSHOT_INTERVAL = 100


@dataclass(frozen=True, slots=True)
class CreditRow:
    """A `credits` projection row: one credit and the running balances after it.

    Its `at` is the save's booking instant, which only the database knows (`_INSERT_EVENTS`).
    """

    credit_id: UUID
    account_id: UUID
    amount: Decimal
    main: Decimal
    savings: Decimal
    main_balance: Decimal
    savings_balance: Decimal
    originator_version: int
    idempotency_key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An `accounts` projection row: the account's current profile and plan.

    Opened (on its first save) and closed (if `closed`) at the save's booking instant.
    """

    account_id: UUID
    email: str
    full_name: str
    plan_id: int | None
    closed: bool
    token_version: int = 1


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """A message a consumer has handled (its effect commits with this record)."""

    consumer: str
    msg_id: str


# The save's booking instant: the database's clock, read once per save while it holds its
# accounts' booking locks (`models.BOOKING_LOCK`, until it commits), and kept for the rest of the
# transaction in the transaction-local setting `backoffice.booked_at`. An account's instants are
# in commit order. The events' insert (`ProjectingRecorder`) sets it; the rows below read it.
_INSERT_CREDIT = (
    "INSERT INTO credits (credit_id, account_id, at, amount, main, savings, main_balance,"
    " savings_balance, originator_version, idempotency_key, request_hash)"
    " VALUES (%s, %s, current_setting('backoffice.booked_at')::timestamptz,"
    " %s, %s, %s, %s, %s, %s, %s, %s)"
)
_UPSERT_ACCOUNT = (
    "INSERT INTO accounts (account_id, email, full_name, plan_id, opened_at, closed_at,"
    " token_version) VALUES (%s, %s, %s, %s, current_setting('backoffice.booked_at')::timestamptz,"
    " CASE WHEN %s THEN current_setting('backoffice.booked_at')::timestamptz END, %s)"
    " ON CONFLICT (account_id) DO UPDATE SET email = EXCLUDED.email,"
    " full_name = EXCLUDED.full_name, plan_id = EXCLUDED.plan_id,"
    " closed_at = coalesce(accounts.closed_at, EXCLUDED.closed_at),"
    " token_version = EXCLUDED.token_version"
)
# The library's events insert (its composite type's columns, the notification ids returned),
# and before it, in the same statement: the booking locks of the save's accounts taken, then
# the booking instant read and kept, then written into each event's JSON timestamp as the
# library writes a datetime (its `datetime_iso` transcoding, UTC).
_INSERT_EVENTS = (
    "WITH e AS MATERIALIZED (SELECT * FROM unnest(%s::{schema}.{stored_event_type}[])),"
    " held AS MATERIALIZED (SELECT pg_advisory_xact_lock({lock}, hashtext(id::text))"
    " FROM (SELECT DISTINCT originator_id AS id FROM e) AS ids),"
    " booked AS MATERIALIZED (SELECT to_char(at AT TIME ZONE 'UTC',"
    """ 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS iso FROM (SELECT set_config('backoffice.booked_at',"""
    " clock_timestamp()::text, true)::timestamptz AS at FROM (SELECT count(*) FROM held) AS h) AS b)"
    " INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state)"
    " SELECT e.originator_id, e.originator_version, e.topic,"
    " CASE WHEN substr(e.state, 1, 48) = convert_to("
    """'{{"timestamp":{{"_type_":"datetime_iso","_data_":"', 'UTF8')"""
    " THEN overlay(e.state PLACING convert_to(booked.iso, 'UTF8') FROM 49"
    """ FOR position('"'::bytea IN substr(e.state, 49)) - 1)"""
    " ELSE convert_to(jsonb_set(convert_from(e.state, 'UTF8')::jsonb,"
    " ARRAY['timestamp', '_data_'], to_jsonb(booked.iso))::text, 'UTF8') END"
    " FROM e CROSS JOIN booked"
    " RETURNING notification_id, current_setting('backoffice.booked_at')::timestamptz AS booked_at"
)
_INSERT_PROCESSED = "INSERT INTO processed_messages (consumer, msg_id) VALUES (%s, %s)"


class ProjectingRecorder(PostgresApplicationRecorder):
    """The library's recorder, plus the booking instant and the rows passed to `Application.save`.

    Its events' insert books the save (`_INSERT_EVENTS`) and writes that instant into each event's
    own timestamp, in the statement that inserts them: whatever reads the events (a replay, the
    library's cache as it catches up, a snapshot) sees the instant the projections hold. The
    caller learns it through the `booked` list it passes to `save`.

    The rows go in the events' transaction, after the events (so after the library's table
    lock: no projection write ever waits while holding it). A reused idempotency key or a
    processed message violates a unique key and fails the save as a whole with the library's
    `IntegrityError`, as a version conflict does.

    Two rules keep psycopg's pipeline sound. The rows are written after the library's own
    statements: a failing statement makes the server skip the rest of the pipeline, and
    psycopg would count the skipped `prepare=True` statements of the library (its table lock)
    as prepared, so the connection's next save fails with "prepared statement does not exist"
    (seen here). And they are never prepared (`prepare=False`): a version conflict may come
    first and skip them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Saves hold the library's table lock here, so they never wait on each other for the
        # booking locks, only on a reader's one statement (`queries.settle`).
        self.insert_events_statement = SQL(_INSERT_EVENTS).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            stored_event_type=Identifier(self.stored_event_type_name),
            lock=Literal(BOOKING_LOCK),
        )

    def _insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        # With no events the library writes nothing: a processed message goes alone.
        if not stored_events:
            self._project(curs, **kwargs)

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        # Another cursor: the library reads the notification ids from this one's results.
        with curs.connection.cursor() as projection:
            self._project(projection, **kwargs)

    def _fetch_ids_after_insert_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        booked: list[datetime] | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        rows = curs.fetchall()
        if booked is not None:
            booked[:] = [rows[0]["booked_at"].astimezone(UTC)]
        return [row["notification_id"] for row in rows]

    @staticmethod
    def _project(
        curs: Cursor[DictRow],
        *,
        credits: Sequence[CreditRow] = (),
        account: AccountRow | None = None,
        processed: ProcessedMessage | None = None,
        **_: Any,
    ) -> None:
        for row in credits:
            curs.execute(
                _INSERT_CREDIT,
                (
                    row.credit_id,
                    row.account_id,
                    row.amount,
                    row.main,
                    row.savings,
                    row.main_balance,
                    row.savings_balance,
                    row.originator_version,
                    row.idempotency_key,
                    row.request_hash,
                ),
                prepare=False,
            )
        if account is not None:
            curs.execute(
                _UPSERT_ACCOUNT,
                (
                    account.account_id,
                    account.email,
                    account.full_name,
                    account.plan_id,
                    account.closed,
                    account.token_version,
                ),
                prepare=False,
            )
        if processed is not None:
            curs.execute(_INSERT_PROCESSED, (processed.consumer, processed.msg_id), prepare=False)


def projection_of(account: Account) -> tuple[list[CreditRow], AccountRow | None]:
    """The projection rows for an account's pending (not yet saved) events.

    Returns:
        A `CreditRow` per pending credit, with the running balances after it, and the
        account's row if any pending event changed its profile, plan or state.
    """
    pending = list(account.pending_events)
    credited = [e for e in pending if isinstance(e, Account.Credited)]
    # The aggregate already holds the balances after every pending event: walk back to
    # where they stood before the first one, then forward one credit at a time.
    main = account.main - sum((e.main for e in credited), Decimal(0))
    savings = account.savings - sum((e.savings for e in credited), Decimal(0))
    rows = []
    for e in credited:
        main += e.main
        savings += e.savings
        rows.append(
            CreditRow(
                credit_id=e.credit_id,
                account_id=account.id,
                amount=e.amount,
                main=e.main,
                savings=e.savings,
                main_balance=main,
                savings_balance=savings,
                originator_version=e.originator_version,
                idempotency_key=e.idempotency_key,
                request_hash=e.request_hash,
            )
        )
    changed = len(credited) < len(pending)
    row = (
        AccountRow(
            account_id=account.id,
            email=account.email,
            full_name=account.full_name,
            plan_id=account.plan_id,
            closed=account.is_closed,
            token_version=account.token_version,
        )
        if changed
        else None
    )
    return rows, row


class AccountingStore(Application[UUID]):
    """The accounts' event store (tables `accounting_events` and `accounting_snapshots`).

    The library names its tables after the application's `name`, lower-cased.
    """

    name = "Accounting"
    snapshotting_intervals = {Account: SNAPSHOT_INTERVAL}
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": get_topic(ProjectingRecorder),
        # The tables come from Alembic (accounting_0001), not from the library at start-up.
        "CREATE_TABLE": "no",
        # Recently used accounts stay in memory; each load then reads only the events saved
        # since (by any process: the cache fast-forwards from the table), not a snapshot and
        # up to 100 events decoded again for every credit.
        "AGGREGATE_CACHE_MAXSIZE": "10000",
    }

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """The library's settings: this class's and the given ones only.

        The library would also read the process environment, where a stray `POSTGRES_*` or
        `ACCOUNTING_*` variable could point the store at another database; the service's own
        settings say where its database is (see `eventsourcing_env`).
        """
        settings = dict(type(self).env, IS_SNAPSHOTTING_ENABLED="y")
        settings.update(env or {})
        return Environment(name, settings)

    def save_account(
        self, account: Account, *, processed: ProcessedMessage | None = None
    ) -> datetime | None:
        """Save an account's pending events with their projection rows, in one transaction.

        Args:
            account: the account, with pending events (or none: then only `processed`).
            processed: the message whose effect this is, recorded in the same transaction.

        Returns:
            The instant the save was booked at: every saved event's timestamp as stored (the
            objects in `account` keep the ones they were made with). None without events.

        Raises:
            eventsourcing.persistence.IntegrityError: another save took this version, or a
                unique key (idempotency key, processed message) is taken.
        """
        credits, row = projection_of(account)
        booked: list[datetime] = []
        self.save(account, credits=credits, account=row, processed=processed, booked=booked)
        return booked[0] if booked else None

    def record_processed(self, processed: ProcessedMessage) -> None:
        """Record a message that needed no change (its redelivery is then skipped early)."""
        self.save(processed=processed)

    def get_account(self, account_id: UUID, version: int | None = None) -> Account:
        """The account rebuilt from its latest snapshot and the events after it.

        Raises:
            eventsourcing.application.AggregateNotFoundError: no such account (or version).
        """
        account: Account = self.repository.get(account_id, version=version)
        return account


def eventsourcing_env(url: str, *, pool_size: int) -> dict[str, str]:
    """The library's settings for a PostgreSQL URL.

    Handles the forms libpq takes, including the embedded server's unix-socket URL
    (`postgresql://user:@/db?host=/path/to/socket-dir`). Only host, port, database, user and
    password are carried over (the library passes nothing else to psycopg; libpq's `PG*`
    environment variables still apply).

    Args:
        url: a `postgresql://` (or `postgresql+driver://`) URL.
        pool_size: connections the library keeps; it opens no more (no overflow), so the
            service's threads into it must be bounded by the same number.

    Returns:
        The `POSTGRES_*` settings for `AccountingStore(env=...)`.
    """
    params = conninfo_to_dict(driver_url(url, None))
    return {
        "POSTGRES_DBNAME": str(params.get("dbname") or params.get("user") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "localhost"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
        # Never the library's "DB functions" mode: it skips the table lock, and a follower
        # reading by notification id then missed 119 of 30,671 events (measured).
        "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
    }
