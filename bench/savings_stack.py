"""The savings benches' servers: PostgreSQL, NATS, migrated databases and the three services.

Imported by bench/savings_credits.py and bench/savings_balance.py (`python bench/<script>.py`
puts this folder on the path). PostgreSQL is `DATABASE_URL`'s server when set (any database of
it: scratch databases are created beside it, and dropped after), else a fresh embedded
PostgreSQL under the bench's home, stopped at exit; NATS is `NATS_URL` when set, else an
embedded one. Each service runs as deployed: `backoffice serve <service>` in a process of its
own (uvicorn with uvloop and httptools), on its own database.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from backoffice.core import migrations
from backoffice.core.databases import DatabaseSpec
from backoffice.core.embedded import (
    EmbeddedNats,
    drop_database,
    ensure_database,
    free_port,
    start_postgres,
    stop_postgres,
    with_database,
)
from backoffice.core.natsauth import password_setting
from backoffice.services import NATS_USERS, SAVINGS_ACCOUNTING, SAVINGS_USERS


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0-1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def p50(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def copy_rows(
    conn: psycopg.Connection, table: str, columns: str, types: list[str], rows: Any
) -> None:
    """COPY `rows` into `table` in binary (`types`: their PostgreSQL types)."""
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as cp,
    ):
        cp.set_types(types)
        for row in rows:
            cp.write_row(row)


def server_ms(conn: psycopg.Connection, sql: str, params: Any) -> float:
    """The server's own time of `sql` (EXPLAIN ANALYZE Execution Time), in ms."""
    plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()
    assert plan is not None
    return float(plan[0][0]["Execution Time"])


@contextmanager
def postgres(home: Path | None, prefix: str) -> Iterator[tuple[str, Path]]:
    """An admin URL and the bench's home (`home`, or a new temporary one).

    The server is `DATABASE_URL`'s, or a fresh embedded one under the home, stopped after. A
    temporary home is removed after a run that succeeded (a failed one keeps its logs).
    """
    where = home or Path(tempfile.mkdtemp(prefix=prefix))
    where.mkdir(parents=True, exist_ok=True)
    given = os.environ.get("DATABASE_URL")
    if not given:
        shutil.rmtree(where / "pgdata", ignore_errors=True)
    yield given or start_postgres(where, keep_running=False), where
    if not given:
        stop_postgres(where)
    if home is None:
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def nats(home: Path) -> Iterator[dict[str, str]]:
    """`NATS_URL` and the services' passwords, as environment variables: `NATS_URL` as given
    (with the passwords in the environment, if it asks any), or an embedded server under `home`
    for the block's duration."""
    given = os.environ.get("NATS_URL")
    if given:
        yield {"NATS_URL": given}
        return
    users = NATS_USERS["all"]
    server = EmbeddedNats(home / f"nats-{uuid.uuid4().hex[:8]}", users=users)
    try:
        url = server.start()
        passwords = {password_setting(u.name): server.login(u.name).password for u in users}
        yield {"NATS_URL": url, **passwords}
    finally:
        server.stop()
        shutil.rmtree(server.store_dir, ignore_errors=True)


@contextmanager
def scratch_databases(
    admin: str, prefix: str, specs: tuple[DatabaseSpec, ...] = (SAVINGS_USERS, SAVINGS_ACCOUNTING)
) -> Iterator[dict[str, str]]:
    """Migrated databases for the services of `specs`, by service; dropped after."""
    names = {spec.service: f"{prefix}_{spec.database}" for spec in specs}
    try:
        urls = {}
        for spec in specs:
            ensure_database(admin, names[spec.service], recreate=True)
            urls[spec.service] = with_database(admin, names[spec.service])
            migrations.upgrade(urls[spec.service], scripts=spec.scripts)
        yield urls
    finally:
        for name in names.values():
            drop_database(admin, name)


@contextmanager
def service(name: str, env: Mapping[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`backoffice serve <name>` in a process of its own, ready; yields its base URL and pid."""
    port = free_port()
    binary = shutil.which("backoffice", path=str(Path(sys.executable).parent)) or "backoffice"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [binary, "serve", name, "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"{name} exited; see {log}"
            assert time.monotonic() < deadline, f"{name} not ready in 60 s; see {log}"
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def savings_services(
    home: Path, urls: Mapping[str, str], broker: Mapping[str, str], *, store_pool: int
) -> Iterator[tuple[str, dict[str, int]]]:
    """The users, accounting and gateway services, each in its own process.

    Yields:
        The gateway's base URL and each service's pid by name.


    They share `home` (so the development key pair the users service signs with is the one the
    gateway verifies with; users starts first and makes it). Rate limiting is off and argon2
    cheap (signups are set-up, not measured).
    """
    env = {
        "BACKOFFICE_HOME": str(home),
        "BACKOFFICE_ENV": "development",
        **broker,
        "SAVINGS_USERS_DATABASE_URL": urls[SAVINGS_USERS.service],
        "SAVINGS_ACCOUNTING_DATABASE_URL": urls[SAVINGS_ACCOUNTING.service],
        "SAVINGS_ACCOUNTING_DB_POOL_SIZE": str(store_pool),
        "RATE_LIMIT_PER_MINUTE": "0",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "LOG_LEVEL": "WARNING",
    }
    pids = {}
    with ExitStack() as stack:
        for name in ("savings-users", "savings-accounting", "savings-gateway"):
            base, pids[name] = stack.enter_context(service(name, env, home / f"{name}.log"))
        yield base, pids


def processes(home: Path, services: Mapping[str, int]) -> dict[str, list[psutil.Process]]:
    """The processes whose CPU time a bench reports, by role.

    The bench itself (its threads, not its children), each service, the embedded NATS (a
    child of the bench) and the embedded PostgreSQL (its postmaster and every backend). A
    server given by URL is not counted.
    """
    me = psutil.Process()
    out = {"bench (client)": [me], **{n: [psutil.Process(p)] for n, p in services.items()}}
    out["nats"] = [c for c in me.children() if c.name() == "nats-server"]
    pidfile = home / "pgdata" / "postmaster.pid"
    if pidfile.exists():
        out["postgres"] = [psutil.Process(int(pidfile.read_text().split()[0]))]
    return out


def cpu_seconds(groups: Mapping[str, list[psutil.Process]]) -> dict[str, float]:
    """User + system CPU seconds of each group so far (PostgreSQL's backends included)."""
    out = {}
    for name, procs in groups.items():
        every = list(procs)
        if name == "postgres":
            every += [c for p in procs for c in p.children(recursive=True)]
        total = 0.0
        for proc in every:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        out[name] = total
    return out
