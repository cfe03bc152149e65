"""The embedded NATS server: it picks its own port, so two never race for one."""

import json
import socket

import pytest

from backoffice.core.embedded import EmbeddedNats


def _server_info(port: int) -> dict[str, object]:
    """The INFO a NATS server sends first to every client."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        line = conn.makefile("rb").readline().decode()
    assert line.startswith("INFO "), line
    return dict(json.loads(line.removeprefix("INFO ")))


def test_two_servers_bind_their_own_ports_with_jetstream(tmp_path):
    first, second = EmbeddedNats(tmp_path / "a"), EmbeddedNats(tmp_path / "b")
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
    server = EmbeddedNats(tmp_path)
    with pytest.raises(RuntimeError, match="exited with code 1 at start"):
        server.start(timeout=30)
    assert server.port is None
