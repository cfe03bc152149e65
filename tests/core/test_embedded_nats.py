"""The embedded NATS server: it picks its own port, so two never race for one."""

import json
import socket
import subprocess
import sys
import time

import pytest

from backoffice.core.embedded import EmbeddedNats


def _server_info(port: int) -> dict[str, object]:
    """The INFO a NATS server sends first to every client."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        line = conn.makefile("rb").readline().decode()
    assert line.startswith("INFO "), line
    return dict(json.loads(line.removeprefix("INFO ")))


def test_two_servers_bind_their_own_ports_with_jetstream(tmp_path):
    first, second = EmbeddedNats(tmp_path / "a", users=()), EmbeddedNats(tmp_path / "b", users=())
    try:
        urls = {first.start(), second.start()}
        assert len(urls) == 2
        for server in (first, second):
            assert server.port is not None
            info = _server_info(server.port)
            assert info["port"] == server.port
            assert info["jetstream"] is True
    finally:
        first.stop()
        second.stop()
    assert first.port is None


def test_a_server_that_exits_at_start_says_so_at_once(tmp_path):
    (tmp_path / "jetstream").write_text("JetStream's store must be a directory")
    server = EmbeddedNats(tmp_path, users=())
    with pytest.raises(RuntimeError, match="exited with code 1 at start"):
        server.start(timeout=30)
    assert server.port is None


def test_start_nats_is_shared_by_every_serve_of_a_home_and_db_stop_ends_it(tmp_path):
    from backoffice.core.embedded import running_nats, start_nats, stop_nats

    try:
        url = start_nats(tmp_path, ())
        assert start_nats(tmp_path, ()) == url, "a second serve reuses the running server"
        assert running_nats(tmp_path / "nats") == url
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            assert conn.recv(4).startswith(b"INFO")
    finally:
        assert stop_nats(tmp_path)
    assert running_nats(tmp_path / "nats") is None
    assert not stop_nats(tmp_path), "nothing left to stop"


def test_a_server_outlives_a_killed_owner_only_when_detached(tmp_path):
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from backoffice.core.embedded import EmbeddedNats, start_nats\n"
        f"owned = EmbeddedNats(Path({str(tmp_path / 'owned')!r}), users=()); owned.start()\n"
        f"start_nats(Path({str(tmp_path)!r}), ())\n"
        "print(owned._proc.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    from backoffice.core.embedded import _alive, running_nats, stop_nats

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    owned_pid = int(result.stdout.strip())
    try:
        deadline = time.monotonic() + 10
        while _alive(owned_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(owned_pid), "the owned server died with its owner"
        assert running_nats(tmp_path / "nats") is not None, "the detached one lives on"
    finally:
        stop_nats(tmp_path)


def test_passwords_are_made_once_readable_by_the_owner_only(tmp_path):
    from backoffice.core.natsauth import PASSWORDS_FILE
    from backoffice.services import NATS_USERS

    store = tmp_path / "nats"
    first = EmbeddedNats(store, users=NATS_USERS["all"])
    first.start()
    first.stop()
    passwords = {user.name: first.login(user.name).password for user in NATS_USERS["all"]}
    assert len(set(passwords.values())) == 3
    assert all(len(password) >= 32 for password in passwords.values())
    for path, mode in (
        (store, 0o700),
        (store / PASSWORDS_FILE, 0o600),
        (store / "nats.conf", 0o600),
    ):
        assert path.stat().st_mode & 0o777 == mode, path
    again = EmbeddedNats(store, users=NATS_USERS["all"])
    assert {name: again.login(name).password for name in passwords} == passwords


async def test_a_restarted_home_nats_keeps_its_address_and_connections_come_back(tmp_path):
    """`backoffice db stop` (or a crash) and the next `serve`: running services reconnect."""
    import asyncio

    from backoffice.core.embedded import start_nats, stop_nats
    from backoffice.core.messaging import Bus
    from tests.core.messaging.conftest import eventually
    from tests.live import TESTS_USER, embedded_nats

    users = embedded_nats(tmp_path).users
    url = await asyncio.to_thread(start_nats, tmp_path, users)
    server = EmbeddedNats(tmp_path / "nats", users=users)
    answering = await Bus.connect(url, name="answering", login=server.login(TESTS_USER.name))
    asking = await Bus.connect(url, name="asking", login=server.login(TESTS_USER.name))
    try:

        async def echo(body):
            return body

        await answering.serve("echo", "echo", echo)
        assert await asking.request("echo", {"n": 1}) == {"n": 1}
        await asyncio.to_thread(stop_nats, tmp_path)
        await eventually(lambda: not asking.connected)
        assert await asyncio.to_thread(start_nats, tmp_path, users) == url, "the same address"
        await eventually(lambda: asking.connected and answering.connected)
        assert await asking.request("echo", {"n": 2}) == {"n": 2}
    finally:
        await asking.close()
        await answering.close()
        await asyncio.to_thread(stop_nats, tmp_path)
