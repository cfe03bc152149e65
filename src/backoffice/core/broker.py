"""The NATS server the app's services connect to, as a context.

`NATS_URL` names the server; without it the app starts an embedded one under
`BACKOFFICE_HOME/nats` for its lifetime (`backoffice serve` starts it once for all workers and
sets `NATS_URL` and the services' passwords). Each service opens a connection of its own, as its
own NATS user (`connect`), so that it stops answering before it closes its database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backoffice.core.config import Settings
from backoffice.core.contexts import Context
from backoffice.core.embedded import EmbeddedNats
from backoffice.core.health import NotReady
from backoffice.core.messaging import Bus
from backoffice.core.natsauth import NatsUser, login_for, refuse_insecure, tls_context


def broker_context(settings: Settings, users: Sequence[NatsUser]) -> Context:
    """Put the server's URL in `app.state.nats_url` for the app's lifetime (first of the users).

    Args:
        settings: `NATS_URL`, the services' passwords, TLS.
        users: the NATS users of the services the app serves (the embedded server admits them).
    """

    def setup(app: FastAPI) -> None:
        app.state.buses = {}  # each service's connection by its name, while it is open

    @asynccontextmanager
    async def server(app: FastAPI) -> AsyncIterator[None]:
        app.state.nats_tls = tls_context(settings)
        if settings.nats_url is not None:
            refuse_insecure(settings, [user.name for user in users])  # `serve` said it first
            app.state.nats_url = settings.nats_url
            app.state.nats_logins = {user.name: login_for(settings, user.name) for user in users}
            yield
            return
        embedded = EmbeddedNats(settings.home / "nats", users=users)
        app.state.nats_url = embedded.start()
        app.state.nats_logins = {user.name: embedded.login(user.name) for user in users}
        try:
            yield
        finally:
            embedded.stop()

    return Context("broker", setup=setup, lifespan=(server,))


@asynccontextmanager
async def connect(app: FastAPI, name: str) -> AsyncIterator[Bus]:
    """A connection of `name`'s own to the app's server, as its NATS user, closed on exit.

    Kept in `app.state.buses` while it is open, for `check_connected`.
    """
    login = app.state.nats_logins.get(name)
    bus = await Bus.connect(app.state.nats_url, name=name, login=login, tls=app.state.nats_tls)
    app.state.buses[name] = bus
    try:
        yield bus
    finally:
        del app.state.buses[name]
        await bus.close()


def check_connected(app: FastAPI, name: str) -> None:
    """For a readiness check: `name`'s connection is up.

    Raises:
        NotReady: the connection is not up (never made, closed, or reconnecting).
    """
    buses: dict[str, Bus] = getattr(app.state, "buses", {})
    bus = buses.get(name)
    if bus is None or not bus.connected:
        raise NotReady("broker_unavailable", "NATS is not connected")
