import fcntl
import io
import os
import pty
import signal
import socket
import struct
import subprocess
import sys
import termios
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from backoffice.cli import app as cli
from backoffice.core import migrations
from backoffice.core.auth.service import Authenticator
from backoffice.core.console import PIPED_WIDTH, CliConsole
from backoffice.core.db import Database
from backoffice.core.embedded import free_port
from backoffice.demo import load_demo


def test_embedded_nats_accepts_connections(tmp_path):
    from backoffice.core.embedded import EmbeddedNats

    server = EmbeddedNats(tmp_path / "nats", users=())
    url = server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
            assert conn.recv(4).startswith(b"INFO")
        assert url == f"nats://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_cli_db_upgrade_migrates_every_service_database(
    empty_database_url, empty_savings_env, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    for variable, url in empty_savings_env.items():
        monkeypatch.setenv(variable, url)
    from backoffice.core.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    for service in ("main", "savings-users", "savings-accounting"):
        assert f"{service}: database at heads" in result.output


async def test_demo_load_is_idempotent(empty_database_url, settings):
    migrations.upgrade(empty_database_url)
    database = Database(empty_database_url)
    auth = Authenticator(settings)
    try:
        async with database.unit_of_work() as session:
            first = await load_demo(session, auth)
        async with database.unit_of_work() as session:
            second = await load_demo(session, auth)
    finally:
        await database.dispose()
    assert first["accounts"] == 3
    assert all(count == 0 for count in second.values()), second


def _terminal_of_80_columns() -> tuple[int, int]:
    """A pseudo-terminal 80 columns wide: (controller, terminal) file descriptors."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return controller, terminal


def test_cli_tables_are_not_cut_to_the_terminal_when_piped(database_url, tmp_path):
    """Run from an 80-column terminal with stdout piped: the summary table keeps its rows whole."""
    name = "transactions_exported_by_the_tax_team_for_the_whole_company_20240618.csv"
    (tmp_path / name).write_text(
        "transaction_id,user_id,amount,transaction_date\n"
        f"WIDE-{uuid.uuid4().hex},1001,12.50,2024-06-18\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    controller, terminal = _terminal_of_80_columns()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "backoffice", "transactions", "etl", str(tmp_path / name)],
            env={**env, "DATABASE_URL": database_url},
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 0, result.stderr
    row = next((line for line in result.stdout.splitlines() if f"│ {name}" in line), None)
    assert row is not None, result.stdout
    assert len(row) > 80
    assert [int(n) for n in row.split(name)[1].replace("│", " ").split()[1:3]] == [1, 1]


def test_every_cli_console_is_the_shared_one():
    from backoffice import cli as main_cli
    from backoffice.ingest import console as ingest_console
    from backoffice.merchants import cli as merchants_cli
    from backoffice.transactions import cli as transactions_cli

    for console in (
        main_cli.console,
        merchants_cli.console,
        transactions_cli.console,
        ingest_console.errors,
    ):
        assert isinstance(console, CliConsole)
    piped = CliConsole(file=io.StringIO(), _environ={})
    assert piped.width == PIPED_WIDTH
    assert CliConsole(file=io.StringIO(), _environ={"COLUMNS": "100"}).width == 100


def test_serve_refuses_a_port_in_use_in_one_line_before_starting_anything(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "backoffice", "serve", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ, "BACKOFFICE_HOME": str(tmp_path / "home")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    assert "serving" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert "in use" in lines[0]
    assert not (tmp_path / "home").exists(), "nothing is started for a port in use"


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_says_serving_only_once_the_port_answers(
    database_url, services_env, tmp_path, workers
):
    port = free_port()
    env = {
        **os.environ,
        **services_env,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "none"),
        "BACKOFFICE_HOME": str(tmp_path / "home"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backoffice",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # blocks until the first line (or the end)
        assert "serving all" in line, line + server.communicate(timeout=30)[1]
        assert f"http://127.0.0.1:{port}" in line
        # Straight after the line, with no retry: the port listens and the app answers.
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
