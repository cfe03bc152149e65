"""docker-compose.yml's NATS, read against the code: TLS, and the savings services as its only
users, each with only its own password and the permissions of `backoffice.savings.permissions`
(the helpers are test_shipping's)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backoffice.core.natsauth import password_setting, refuse_insecure
from backoffice.services import NATS_USERS
from tests.test_shipping import ROOT, _compose, _served, _settings


def test_compose_gives_each_service_only_its_nats_password(monkeypatch):
    compose = _compose()["services"]
    for service, spec in _served().items():
        settings = _settings(spec, monkeypatch)
        own = {user.name for user in NATS_USERS[service]}
        given = {
            user.name
            for user in NATS_USERS["all"]
            if getattr(settings, password_setting(user.name).lower()) is not None
        }
        assert given == own, (service, given)
        refuse_insecure(settings, sorted(own))  # what `backoffice serve` checks in production
        for user in NATS_USERS[service]:  # the very password the NATS container is given
            variable = password_setting(user.name)
            assert spec["environment"][variable] == compose["nats"]["environment"][variable]


def test_compose_services_reach_nats_over_tls_trusting_its_authority(monkeypatch):
    compose = _compose()
    for service, spec in _served().items():
        settings = _settings(spec, monkeypatch)
        assert urlsplit(settings.nats_url or "").scheme == "tls", service
        ca = settings.nats_tls_ca_file
        assert ca is not None and ca.parent == Path("/run/secrets"), service
        assert ca.name in spec["secrets"] and ca.name in compose["secrets"], service


def _nats_config() -> tuple[str, dict[str, Any]]:
    """ops/docker/nats.conf: its text, and its `authorization` block (each `$VAR` as "$VAR")."""
    text = (ROOT / "ops" / "docker" / "nats.conf").read_text()
    block = text[text.index("authorization") + len("authorization") :]
    quoted = re.sub(r"(?<![\w\"])\$(\w+)", r'"$\1"', block)
    authorization: dict[str, Any] = json.loads(quoted)
    return text, authorization


def test_compose_nats_admits_the_services_with_the_permissions_of_the_code():
    nats = _compose()["services"]["nats"]
    command = nats["command"]
    config_path = command[command.index("--config") + 1]
    assert f"./ops/docker/nats.conf:{config_path}:ro" in nats["volumes"]
    text, authorization = _nats_config()
    users = {entry["user"]: entry for entry in authorization["users"]}
    assert set(users) == {user.name for user in NATS_USERS["all"]}, "no other user, no anonymous"
    for user in NATS_USERS["all"]:
        entry = users[user.name]
        assert entry["permissions"] == user.permissions(), user.name
        variable = password_setting(user.name)
        assert entry["password"] == f"${variable}"
        assert variable in nats["environment"], f"the NATS container lacks {variable}"
    for secret in ("nats_tls_cert", "nats_tls_key"):
        assert f"/run/secrets/{secret}" in text and secret in nats["secrets"], secret
    assert re.search(r"^tls\s*\{", text, re.MULTILINE), "TLS on the client port"
