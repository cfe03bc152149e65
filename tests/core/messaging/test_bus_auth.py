"""The savings bus admits only its services, each to the subjects it needs (issue 18, section 1).

Against the session's embedded NATS, whose users are the savings services' (savings.permissions)
and the tests' own. Each refusal is checked beside an allowed action on the same connection, so
that a test cannot pass because nothing works at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nats.aio.client import Client
from nats.aio.msg import Msg

from backoffice.core.broker import broker_context, connect
from backoffice.core.config import Settings
from backoffice.core.contexts import build_app
from backoffice.core.embedded import EmbeddedNats
from backoffice.core.errors import ServiceUnavailable
from backoffice.core.messaging import Bus
from backoffice.core.natsauth import NatsLogin
from backoffice.savings import subjects
from backoffice.savings.permissions import GATEWAY
from backoffice.services import NATS_USERS
from tests.core.messaging.conftest import eventually
from tests.live import own_nats

QUIET = 0.3  # seconds a refused message is given to arrive anyway


@pytest.fixture(scope="module")
def server(nats_server: EmbeddedNats | None) -> Iterator[EmbeddedNats]:
    """The session's embedded NATS; with `NATS_URL` set, one of the module's own (the machine's
    server does not know the savings services' users)."""
    if nats_server is not None:
        yield nats_server
        return
    with own_nats("bus-auth") as server:
        yield server


class Errors:
    """The asynchronous errors a connection got from the server (`-ERR`)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))

    def violations(self) -> list[str]:
        return [error for error in self.seen if "permissions violation" in error.lower()]


async def _raw(server: EmbeddedNats, login: NatsLogin, errors: Errors) -> Client:
    """A plain nats-py connection as `login`, its replies on its own inbox."""
    return await nats.connect(
        server.url,
        user=login.user,
        password=login.password,
        inbox_prefix=login.inbox,
        error_cb=errors.record,
        allow_reconnect=False,
    )


class Listener:
    """The tests' own connection, recording what arrives on some subjects."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.received: list[str] = []

    async def listen(self, *subjects_: str) -> None:
        async def record(msg: Msg) -> None:
            self.received.append(msg.subject)

        for subject in subjects_:
            await self.nc.subscribe(subject, cb=record)
        await self.nc.flush()


@pytest.fixture
async def listener(server: EmbeddedNats) -> AsyncIterator[Listener]:
    login = server.login("tests")
    nc = await nats.connect(server.url, user=login.user, password=login.password)
    try:
        yield Listener(nc)
    finally:
        await nc.close()


async def test_an_anonymous_connection_is_refused(server: EmbeddedNats):
    with pytest.raises(ServiceUnavailable, match="refuses a connection without credentials"):
        await Bus.connect(server.url, name="anonymous", connect_timeout=0.5)
    wrong = NatsLogin("savings-gateway", "not-its-password")
    with pytest.raises(ServiceUnavailable, match="refuses the user 'savings-gateway'") as refused:
        await Bus.connect(server.url, name="guessing", login=wrong, connect_timeout=0.5)
    assert "not-its-password" not in str(refused.value)


async def test_the_gateway_cannot_publish_a_users_event(server: EmbeddedNats, listener: Listener):
    await listener.listen(subjects.USER_CREATED, subjects.SIGNUP)
    errors = Errors()
    gateway = await _raw(server, server.login("savings-gateway"), errors)
    try:
        await gateway.publish(subjects.SIGNUP, b"{}")  # allowed: a command it sends
        await gateway.publish(subjects.USER_CREATED, b'{"user_id": "someone"}')
        await gateway.flush()
        await eventually(lambda: bool(errors.violations()))
        await asyncio.sleep(QUIET)
    finally:
        await gateway.close()
    assert listener.received == [subjects.SIGNUP]
    assert subjects.USER_CREATED in errors.violations()[0]


@pytest.mark.parametrize(
    "command", [subjects.UPDATE_USER, subjects.CREDIT, subjects.BALANCE, subjects.PLAN_CUSTOMERS]
)
async def test_the_gateway_cannot_subscribe_to_a_command(
    server: EmbeddedNats, nats_url: str, command: str
):
    gateway = await Bus.connect(server.url, name="gateway", login=server.login("savings-gateway"))
    tests = await Bus.connect(nats_url, name="tests")
    answered: list[dict[str, Any]] = []

    async def steal(body: dict[str, Any]) -> dict[str, Any]:
        answered.append(body)
        return {"stolen": True}

    try:
        await gateway.serve(command, "thieves", steal)
        with pytest.raises(ServiceUnavailable):
            await tests.request(command, {"user_id": "someone"}, timeout=QUIET)
    finally:
        await gateway.close()
        await tests.close()
    assert answered == []


async def test_the_users_service_cannot_send_a_credit(server: EmbeddedNats, listener: Listener):
    await listener.listen(subjects.CREDIT, subjects.USER_UPDATED)
    users = await Bus.connect(server.url, name="users", login=server.login("savings-users"))
    errors = Errors()
    raw = await _raw(server, server.login("savings-users"), errors)
    try:
        await raw.publish(subjects.USER_UPDATED, b"{}")  # allowed: its own event
        with pytest.raises(ServiceUnavailable):
            await users.request(
                subjects.CREDIT, {"user_id": "someone", "amount": "1e6"}, timeout=QUIET
            )
        await raw.publish(subjects.CREDIT, b'{"user_id": "someone", "amount": "1000000"}')
        await raw.flush()
        await eventually(lambda: bool(errors.violations()))
        await asyncio.sleep(QUIET)
    finally:
        await users.close()
        await raw.close()
    assert listener.received == [subjects.USER_UPDATED]


async def test_no_service_reads_another_s_replies(server: EmbeddedNats):
    errors = Errors()
    gateway = await _raw(server, server.login("savings-gateway"), errors)
    try:
        await gateway.subscribe("_INBOX.>")
        await gateway.subscribe("_INBOX.savings-users.>")
        await gateway.subscribe("_INBOX.savings-gateway.>")  # its own
        await gateway.flush()
        await eventually(lambda: len(errors.violations()) == 2)
        await asyncio.sleep(QUIET)
    finally:
        await gateway.close()
    assert len(errors.violations()) == 2, errors.seen


def _authority_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A certificate authority of the test's own and a server certificate it signed for
    localhost: (the authority's PEM, the server's certificate, its key)."""
    now = datetime.now(UTC)

    def certificate(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        signer: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test NATS CA")])
    ca = certificate("test NATS CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate("localhost", key, ca_name, ca_key, ca=False)
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


async def test_a_service_reaches_a_tls_nats_trusting_the_configured_authority(tmp_path: Path):
    ca, cert, key = _authority_and_server_cert(tmp_path)
    tls = f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n}}\n'
    server = EmbeddedNats(tmp_path / "nats", users=NATS_USERS["all"], config=tls)
    server.start()
    try:
        url = f"tls://localhost:{server.port}"
        password = server.login("savings-gateway").password
        base = Settings(_env_file=None, NATS_URL=url, savings_gateway_nats_password=password)
        trusting = build_app(
            [broker_context(base.model_copy(update={"nats_tls_ca_file": ca}), [GATEWAY])]
        )
        async with (
            trusting.router.lifespan_context(trusting),
            connect(trusting, "savings-gateway") as bus,
        ):
            assert bus.connected
        untrusting = build_app([broker_context(base, [GATEWAY])])  # the system's authorities only
        async with untrusting.router.lifespan_context(untrusting):
            with pytest.raises(ServiceUnavailable):
                async with connect(untrusting, "savings-gateway"):
                    pass
    finally:
        server.stop()
