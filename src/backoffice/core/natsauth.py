"""Who may connect to NATS, and what each connection may publish and subscribe to.

Every connection is a NATS user with a password and subject permissions (NATS's own
authorization, checked by the server; nothing is added per message). Each service that talks
over NATS declares a `NatsUser`: the subjects it publishes to and subscribes to, and whether it
answers requests (it may then publish to the reply subject of a request it received, and
nowhere else it is not allowed). Its replies come back on an inbox of its own
(`_INBOX.<user>.>`), so no other user can read them.

A service's password is its setting `<SERVICE>_NATS_PASSWORD` (e.g.
`SAVINGS_USERS_NATS_PASSWORD`). The embedded server's are generated under `BACKOFFICE_HOME/nats`
(`ensure_passwords`: made once, readable by the owner only) and handed to the services that
`backoffice serve` starts on it. Production refuses to serve without them, and without TLS to a
server that is not on this machine (`refuse_insecure`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from backoffice.core.config import Settings, StartupRefused

# Under the embedded server's store (BACKOFFICE_HOME/nats): its users' generated passwords.
PASSWORDS_FILE = "credentials.json"
# JetStream's API, the subjects its clients manage streams and consumers on, and its acks.
JS_API = "$JS.API"
JS_ACK = "$JS.ACK"


@dataclass(frozen=True)
class NatsUser:
    """A NATS user: a service's name and the subjects it may use.

    Attributes:
        name: the user name, the service's own (e.g. `savings-users`).
        publish: subjects (wildcards allowed) it may publish to, requests included.
        subscribe: subjects it may subscribe to, besides its own inbox.
        answers_requests: it may publish a reply to a request it received (and only to that).
    """

    name: str
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    answers_requests: bool = False

    @property
    def inbox(self) -> str:
        """The prefix of its reply subjects: nobody else may subscribe to them."""
        return inbox_of(self.name)

    def permissions(self) -> dict[str, object]:
        """Its `permissions` block of the server's configuration."""
        permissions: dict[str, object] = {
            "publish": {"allow": list(self.publish)},
            "subscribe": {"allow": [*self.subscribe, f"{self.inbox}.>"]},
        }
        if self.answers_requests:
            permissions["allow_responses"] = True
        return permissions


@dataclass(frozen=True)
class NatsLogin:
    """The credentials a connection presents (the password is kept out of `repr`)."""

    user: str
    password: str = field(repr=False)

    @property
    def inbox(self) -> str:
        return inbox_of(self.user)


def inbox_of(user: str) -> str:
    """The inbox prefix of `user`'s connections."""
    return f"_INBOX.{user}"


def password_setting(service: str) -> str:
    """The environment variable of `service`'s password, e.g. `SAVINGS_USERS_NATS_PASSWORD`."""
    return f"{service.replace('-', '_')}_nats_password".upper()


def server_config(users: Iterable[NatsUser], passwords: Mapping[str, str]) -> str:
    """The `authorization` block of a NATS server's configuration for `users`.

    JSON is a subset of NATS's configuration syntax: every value is quoted, so that no password
    or subject is read as a variable or a number.
    """
    entries = [
        {"user": user.name, "password": passwords[user.name], "permissions": user.permissions()}
        for user in users
    ]
    return "authorization " + json.dumps({"users": entries}, indent=2) + "\n"


def ensure_passwords(path: Path, names: Iterable[str]) -> dict[str, str]:
    """Every user's password from the file at `path`, generating those it lacks (once).

    The file and its folder are readable by the owner only (0600, 0700); a password once made is
    never changed, so that running services keep connecting after a restart of the server.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    passwords = read_passwords(path)
    missing = [name for name in names if name not in passwords]
    if missing:
        passwords.update({name: secrets.token_urlsafe(32) for name in missing})
        write_private(path, json.dumps(passwords, indent=2) + "\n")
    return passwords


def read_passwords(path: Path) -> dict[str, str]:
    """The passwords `ensure_passwords` made, by user; empty when it made none."""
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(name): str(password) for name, password in dict(loaded).items()}


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (replacing it at once), readable by the owner only."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.replace(partial, path)


def login_for(settings: Settings, service: str) -> NatsLogin | None:
    """The credentials `service` connects with: its password setting; None: none at all.

    Outside production a service may connect without credentials, to a server that asks none
    (`backoffice serve` gives each service the embedded server's passwords).

    Raises:
        StartupRefused: in production without its password.
    """
    configured = getattr(settings, password_setting(service).lower(), None)
    if configured is not None:
        return NatsLogin(service, configured.get_secret_value())
    if settings.is_production:
        raise StartupRefused(_missing_password(service))
    return None


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for `NATS_TLS_CA_FILE`'s authority; None: the system's (a `tls://` URL)."""
    if settings.nats_tls_ca_file is None:
        return None
    return ssl.create_default_context(cafile=str(settings.nats_tls_ca_file))


def refuse_insecure(settings: Settings, services: Sequence[str]) -> None:
    """In production: refuse `services` without their passwords, or a remote server without TLS.

    Raises:
        StartupRefused: one line saying which setting to give.
    """
    if not settings.is_production:
        return
    for service in services:
        login_for(settings, service)
    url = settings.nats_url or ""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if parts.scheme != "tls" and settings.nats_tls_ca_file is None and not _loopback(parts):
        raise StartupRefused(
            f"BACKOFFICE_ENV=production needs TLS to a NATS server that is not on this machine:"
            f" write NATS_URL as tls://{parts.netloc.rpartition('@')[2]} (with NATS_TLS_CA_FILE"
            " naming the authority that signed the server's certificate, unless the system"
            " trusts it)"
        )


def _loopback(parts: SplitResult) -> bool:
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _missing_password(service: str) -> str:
    variable = password_setting(service)
    return (
        f"BACKOFFICE_ENV=production needs {variable}: the password of the NATS user"
        f" {service!r}, as the NATS server's configuration gives it (e.g. the output of"
        " python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )
