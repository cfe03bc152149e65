"""The one module coupled to the event-sourcing library's internals: its PostgreSQL recorder.

The library saves an application's events with `PostgresApplicationRecorder.insert_events`, in
one transaction, and hands it whatever keyword arguments `Application.save` was given. It has no
public hook to write other rows in that transaction, so this subclass overrides three of its
protected steps (`_insert_events`, `_insert_stored_events`, `_fetch_ids_after_insert_events`) and
replaces its events' insert statement (`insert_events_statement`). Nothing else in the code base
touches the library's internals: the projection's rows are built in `ledger.py` and passed to
`save` as `rows`. tests/savings/accounting/test_recorder.py pins the library's version and the
source of every method this depends on, so an upgrade that changes them fails there first.

What it adds:
- the save's booking instant: the events' insert (`_INSERT_EVENTS`) takes the booking locks of
  the save's accounts (`models.BOOKING_LOCK`), reads the database's clock once, keeps it in the
  transaction-local setting `backoffice.booked_at` (which the rows read) and writes it into each
  event's own timestamp, so whatever reads the events (a replay, the library's cache as it
  catches up, a snapshot) sees the instant the projections hold. The caller learns it through
  the `booked` list it passes to `save`.
- the rows, written in the events' transaction after the events (so after the library's table
  lock: no projection write ever waits while holding it). A unique key taken (an idempotency
  key, a processed message, a month's interest) fails the save as a whole with the library's
  `IntegrityError`, as a version conflict does.

Two rules keep psycopg's pipeline sound. The rows are written after the library's own
statements: a failing statement makes the server skip the rest of the pipeline, and psycopg
would count the skipped `prepare=True` statements of the library (its table lock) as prepared,
so the connection's next save fails with "prepared statement does not exist" (seen here). And
they are never prepared (`prepare=False`): a version conflict may come first and skip them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier, Literal

from backoffice.savings.accounting.models import BOOKING_LOCK

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


@dataclass(frozen=True, slots=True)
class Row:
    """A statement to run in a save's transaction, after its events, and its parameters."""

    sql: str
    params: tuple[Any, ...]


class ProjectingRecorder(PostgresApplicationRecorder):
    """The library's recorder, plus the booking instant and the `rows` passed to `save`."""

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
        # With no events the library writes nothing: rows without events (a processed
        # message) go alone.
        if not stored_events:
            _write(curs, **kwargs)

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        # Another cursor: the library reads the notification ids from this one's results.
        with curs.connection.cursor() as projection:
            _write(projection, **kwargs)

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


def _write(curs: Cursor[DictRow], *, rows: Sequence[Row] = (), **_: Any) -> None:
    for row in rows:
        curs.execute(row.sql, row.params, prepare=False)
