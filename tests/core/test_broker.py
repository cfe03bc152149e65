"""The app's NATS server: `NATS_URL`, or an embedded one for the app's lifetime."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi import FastAPI

from backoffice.core.broker import broker_context, check_connected, connect
from backoffice.core.config import Settings
from backoffice.core.contexts import build_app
from backoffice.core.health import NotReady


async def test_without_nats_url_the_app_starts_an_embedded_server_and_stops_it(tmp_path: Path):
    app = build_app([broker_context(Settings(BACKOFFICE_HOME=tmp_path), ())])
    async with app.router.lifespan_context(app):
        url = app.state.nats_url
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            assert conn.recv(4).startswith(b"INFO")
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass


async def test_with_nats_url_the_app_uses_it(nats_url: str):
    app: FastAPI = build_app([broker_context(Settings(NATS_URL=nats_url), ())])
    async with app.router.lifespan_context(app):
        assert app.state.nats_url == nats_url


async def test_a_connection_is_ready_only_while_it_is_open(nats_url: str):
    app: FastAPI = build_app([broker_context(Settings(NATS_URL=nats_url), ())])
    with pytest.raises(NotReady) as failure:
        check_connected(app, "svc")  # never made
    assert failure.value.code == "broker_unavailable"
    async with app.router.lifespan_context(app), connect(app, "svc") as bus:
        assert bus.connected
        check_connected(app, "svc")
    with pytest.raises(NotReady):
        check_connected(app, "svc")  # closed


async def test_in_production_an_app_refuses_nats_elsewhere_without_tls_or_its_password():
    """Served by uvicorn or gunicorn directly, not `backoffice serve`: the lifespan refuses."""
    from pydantic import SecretStr

    from backoffice.core.config import StartupRefused
    from backoffice.savings.permissions import GATEWAY

    production = Settings(
        _env_file=None,
        BACKOFFICE_ENV="production",
        DATABASE_URL="postgresql://db/backoffice",
        NATS_URL="nats://nats:4222",
        BACKOFFICE_SECRET_KEY="s" * 40,
    )
    for settings, refusal in (
        (production, "SAVINGS_GATEWAY_NATS_PASSWORD"),
        (production.model_copy(update={"savings_gateway_nats_password": SecretStr("p")}), "tls://"),
    ):
        app: FastAPI = build_app([broker_context(settings, [GATEWAY])])
        with pytest.raises(StartupRefused, match=refusal):
            async with app.router.lifespan_context(app):
                pass
