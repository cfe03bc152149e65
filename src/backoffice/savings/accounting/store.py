"""The event store: an `eventsourcing` application on PostgreSQL that also writes projections.

The library keeps the account's events (`accounting_events`) and snapshots
(`accounting_snapshots`). Its recorder is `recorder.ProjectingRecorder`, which writes, in the
same transaction as the events, the projection rows `ledger.py` builds from them (the ledger,
the plan changes, the accounts' current profile, a consumer's processed message id): a save
either records all of them or none.

Every save is booked at one instant taken by the database inside its commit, under its
account's booking lock: the events' own timestamps, the entries' `at` and the accounts' dates
are that instant, so an account's instants follow its commit order (see `queries.settle` for
the reads that rely on it, and docs/decisions.md "History that never changes").

The library is synchronous (it has no async API: their issue #233); `service.py` calls it in
threads. Its tables come from this service's Alembic history, never from the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType, get_topic
from psycopg.conninfo import conninfo_to_dict

from backoffice.core.embedded import driver_url
from backoffice.savings.accounting import ledger
from backoffice.savings.accounting.aggregate import Account
from backoffice.savings.accounting.ledger import ProcessedMessage
from backoffice.savings.accounting.recorder import ProjectingRecorder

# Loading an account replays at most this many events after its latest snapshot (measured:
# 10,001 events took 250 ms to rebuild without a snapshot, 3.8 ms with one 100 events back).
SNAPSHOT_INTERVAL = 100


class DateAsISO(Transcoding):
    """Dates in events and snapshots as ISO strings (the library transcodes datetimes only)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        """`2026-11-30`."""
        return obj.isoformat()

    def decode(self, data: str) -> date:
        """The date back."""
        return date.fromisoformat(data)


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
        rows = ledger.rows_for(account)
        if processed is not None:
            rows.append(ledger.processed_row(processed))
        booked: list[datetime] = []
        self.save(account, rows=rows, booked=booked)
        return booked[0] if booked else None

    def save_accounts(self, accounts: Sequence[Account]) -> datetime | None:
        """Save several accounts' pending events and their rows in one transaction.

        All or none: a version or a unique key taken by another save fails them all.

        Returns:
            The instant the save was booked at (None without events).
        """
        rows = [row for account in accounts for row in ledger.rows_for(account)]
        booked: list[datetime] = []
        self.save(*accounts, rows=rows, booked=booked)
        return booked[0] if booked else None

    def record_processed(self, processed: ProcessedMessage) -> None:
        """Record a message that needed no change (its redelivery is then skipped early)."""
        self.save(rows=[ledger.processed_row(processed)])

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """The library's transcodings, and dates (`Account.interest_through`)."""
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

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
