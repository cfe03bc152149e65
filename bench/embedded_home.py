"""The embedded servers a bench starts under its BACKOFFICE_HOME are stopped when it ends.

`resolve_database_url` starts the home's embedded PostgreSQL and leaves it running (for `make
run`: the next run finds it warm), and a `backoffice serve` child starts the home's embedded
NATS the same way. A bench calls `stop_at_exit(home)` before either can start: whichever was
not running yet is stopped when the bench ends, whether it ends normally, on an error, on
Ctrl-C or on SIGTERM. Imported by the bench scripts beside it (`python bench/<script>.py`
puts this folder on the path).
"""

from __future__ import annotations

import atexit
import signal
import sys
from pathlib import Path
from types import FrameType

from backoffice.core.embedded import running_nats, stop_nats, stop_postgres


def stop_at_exit(home: Path) -> None:
    """At exit, stop the embedded PostgreSQL and NATS under `home` that are not running now."""
    home = home.resolve()
    postgres_ran = (home / "pgdata" / "postmaster.pid").exists()
    nats_ran = running_nats(home / "nats") is not None

    def stop() -> None:
        if not nats_ran and stop_nats(home):
            print(f"stopped the embedded NATS under {home}", file=sys.stderr)
        if not postgres_ran and stop_postgres(home):
            print(f"stopped the embedded PostgreSQL under {home}", file=sys.stderr)

    def terminated(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # runs the `finally` blocks and `stop`

    atexit.register(stop)
    signal.signal(signal.SIGTERM, terminated)
