"""The event store: an `eventsourcing` application on PostgreSQL that also writes projections.

The library keeps the account's events (`accounting_events`) and snapshots
(`accounting_snapshots`). Its recorder is replaced by `ProjectingRecorder`, which writes, in
the same transaction as the events, the rows that answer queries by time (`credits`), the
accounts' current profile (`accounts`) and a consumer's processed message id
(`processed_messages`): a save either records all of them or none.

The library is synchronous (it has no async API: their issue #233); `service.py` calls it in
threads. Its tables come from this service's Alembic history, never from the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Recording, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import Environment, EnvType, get_topic
from psycopg import Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow

from backoffice.core.embedded import driver_url
from backoffice.savings.accounting.aggregate import Account

# Loading an account replays at most this many events after its latest snapshot (measured:
# 10,001 events took 250 ms to rebuild without a snapshot, 3.8 ms with one 100 events back).
SNAPSHOT_INTERVAL = 100


@dataclass(frozen=True, slots=True)
class CreditRow:
    """A `credits` projection row: one credit and the running balances after it."""

    credit_id: UUID
    account_id: UUID
    at: datetime
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
    """An `accounts` projection row: the account's current profile and plan."""

    account_id: UUID
    email: str
    full_name: str
    plan_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    token_version: int = 1


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """A message a consumer has handled (its effect commits with this record)."""

    consumer: str
    msg_id: str


_INSERT_CREDIT = (
    "INSERT INTO credits (credit_id, account_id, at, amount, main, savings, main_balance,"
    " savings_balance, originator_version, idempotency_key, request_hash)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_UPSERT_ACCOUNT = (
    "INSERT INTO accounts (account_id, email, full_name, plan_id, opened_at, closed_at,"
    " token_version) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (account_id) DO UPDATE SET email = EXCLUDED.email,"
    " full_name = EXCLUDED.full_name, plan_id = EXCLUDED.plan_id,"
    " closed_at = EXCLUDED.closed_at, token_version = EXCLUDED.token_version"
)
_INSERT_PROCESSED = "INSERT INTO processed_messages (consumer, msg_id) VALUES (%s, %s)"


class ProjectingRecorder(PostgresApplicationRecorder):
    """The library's recorder, plus the projection rows passed to `Application.save`.

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
                    row.at,
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
                    account.opened_at,
                    account.closed_at,
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
                at=e.timestamp,
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
            opened_at=account.created_on,
            closed_at=account.closed_on,
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
    ) -> list[Recording[UUID]]:
        """Save an account's pending events with their projection rows, in one transaction.

        Args:
            account: the account, with pending events (or none: then only `processed`).
            processed: the message whose effect this is, recorded in the same transaction.

        Raises:
            eventsourcing.persistence.IntegrityError: another save took this version, or a
                unique key (idempotency key, processed message) is taken.
        """
        credits, row = projection_of(account)
        return self.save(account, credits=credits, account=row, processed=processed)

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
