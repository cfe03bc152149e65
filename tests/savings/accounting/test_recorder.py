"""The coupling to the event-sourcing library's internals, pinned (see `recorder.py`).

`recorder.ProjectingRecorder` overrides protected steps of the library's PostgreSQL recorder and
relies on `Application.save` handing its keyword arguments down to them. Nothing in the library
promises either, so this test pins the version and the source of every method the recorder
depends on: an upgrade that changes any of them fails here, naming what to read again, before
it can lose a projection row or a booking instant in production.
"""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import EventStore
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

from backoffice.savings.accounting.recorder import ProjectingRecorder

PINNED_VERSION = "9.5.6"
# sha256 (first 16 hex digits) of each method's source in the pinned version.
PINNED_SOURCES = {
    (PostgresApplicationRecorder, "insert_events"): "f1a98da0239e3ea7",
    (PostgresApplicationRecorder, "_insert_events"): "319d1ce6f3f9c865",
    (PostgresApplicationRecorder, "_insert_stored_events"): "139580714a659085",
    (PostgresAggregateRecorder, "_insert_stored_events"): "80327aa859e4cc55",
    (PostgresApplicationRecorder, "_fetch_ids_after_insert_events"): "9c8efbc1baf72b52",
    (PostgresAggregateRecorder, "__init__"): "78adbde8e22843ca",
    (PostgresApplicationRecorder, "__init__"): "db36fb3de49a5292",
    # The path the rows travel: `save(**kwargs)` down to `insert_events(**kwargs)`.
    (Application, "save"): "4e9747d14b8fd046",
    (Application, "_record"): "104c6186b29d5059",
    (ProcessingEvent, "collect_events"): "7e3a7e6b1abd2bef",
    (EventStore, "put"): "7cbbe45730a0d3b9",
}


def _digest(method: object) -> str:
    return hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16]  # type: ignore[arg-type]


def test_the_library_is_the_version_the_recorder_was_written_against() -> None:
    assert version("eventsourcing") == PINNED_VERSION, (
        "eventsourcing changed version: read PostgresApplicationRecorder.insert_events and the"
        " methods recorder.ProjectingRecorder overrides again, then update this pin"
    )


@pytest.mark.parametrize(
    ("owner", "name"), list(PINNED_SOURCES), ids=[f"{o.__name__}.{n}" for o, n in PINNED_SOURCES]
)
def test_every_method_the_recorder_depends_on_is_unchanged(owner: type, name: str) -> None:
    assert _digest(getattr(owner, name)) == PINNED_SOURCES[owner, name], (
        f"{owner.__name__}.{name} changed: recorder.py depends on it"
    )


def test_the_recorder_overrides_only_what_this_test_pins() -> None:
    own = {
        name
        for name, value in vars(ProjectingRecorder).items()
        if callable(value) and not name.startswith("__")
    }
    pinned = {
        name
        for owner, name in PINNED_SOURCES
        if issubclass(ProjectingRecorder, owner) and not name.startswith("__")
    }
    assert own <= pinned, own - pinned
