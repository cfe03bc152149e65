import socket

from typer.testing import CliRunner

from backoffice.cli import app as cli
from backoffice.core import migrations
from backoffice.core.auth.service import Authenticator
from backoffice.core.db import Database
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
