"""Production refuses to start on a risky configuration: one line on stderr saying what to do,
no traceback, a non-zero exit, for `backoffice serve` and every command that loads settings."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from backoffice.core import migrations
from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Authenticator, Role, create_account
from backoffice.core.config import Settings
from backoffice.core.db import Database
from backoffice.core.embedded import free_port
from backoffice.savings.tokens import ensure_key_pair
from tests.live import scratch_database

SECRET = "a-production-secret-of-more-than-32-characters"
COMMANDS = [
    ["serve"],
    ["db", "upgrade"],
    ["db", "downgrade", "base"],
    ["db", "url"],
    ["db", "stop"],
    ["demo", "load"],
    ["merchants", "import", "."],
    ["merchants", "rejects"],
    ["accounts", "list"],
]


def _setting_names() -> set[str]:
    return {
        (str(field.validation_alias) if field.validation_alias else name).upper()
        for name, field in Settings.model_fields.items()
    }


def _cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The CLI in a clean environment (no settings but `env`) and a folder without `.env`."""
    clean = {k: v for k, v in os.environ.items() if k.upper() not in _setting_names()}
    return subprocess.run(
        [sys.executable, "-m", "backoffice", *args],
        env={**clean, "COLUMNS": "80", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_production_without_database_url_is_one_line(command, tmp_path):
    result = _cli(
        command, {"BACKOFFICE_ENV": "production", "BACKOFFICE_SECRET_KEY": SECRET}, tmp_path
    )
    line = _one_line_refusal(result)
    assert "DATABASE_URL" in line
    assert "set " in line


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_production_with_a_weak_secret_is_one_line(command, tmp_path):
    env = {
        "BACKOFFICE_ENV": "production",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "BACKOFFICE_SECRET_KEY": "short",
    }
    line = _one_line_refusal(_cli(command, env, tmp_path))
    assert "BACKOFFICE_SECRET_KEY" in line
    assert "32" in line
    assert "short" not in line, "a refusal never prints the secret"


def test_an_invalid_setting_is_one_line(tmp_path):
    line = _one_line_refusal(_cli(["db", "url"], {"DB_POOL_SIZE": "many"}, tmp_path))
    assert "DB_POOL_SIZE" in line


def _in_its_own_loop(coroutine) -> None:
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _set_logins(url: str, logins: dict[str, str]) -> None:
    """Exactly these accounts (cheap hashes: verification reads the cost from the hash)."""
    cheap = Authenticator(
        Settings(
            BACKOFFICE_ENV="test", DATABASE_URL=url, argon2_time_cost=1, argon2_memory_kib=1024
        )
    )
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            await session.execute(delete(Account))
            for username, password in logins.items():
                await create_account(
                    session, cheap, username=username, password=password, role=Role.STAFF
                )
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def production_url(server_url: str) -> Iterator[str]:
    for url in scratch_database(server_url, "production"):
        migrations.upgrade(url)
        yield url


def _production(url: str, nats_url: str = "nats://127.0.0.1:1") -> dict[str, str]:
    return {
        "BACKOFFICE_ENV": "production",
        "DATABASE_URL": url,
        "NATS_URL": nats_url,
        "BACKOFFICE_SECRET_KEY": SECRET,
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "alice-pass"), ("grace", "grace-pass"), ("admin", "adminpass")],
)
def test_serve_in_production_refuses_any_working_demo_login(
    production_url, tmp_path, username, password
):
    _in_its_own_loop(_set_logins(production_url, {username: password, "ops": "a-real-password"}))
    try:
        result = _cli(["serve", "--port", str(free_port())], _production(production_url), tmp_path)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"production served while {username}/{password} works") from None
    line = _one_line_refusal(result)
    assert username in line
    assert "ops" not in line
    assert "password" in line


def test_serve_in_production_starts_once_the_demo_passwords_are_changed(
    production_url, services_env, tmp_path
):
    _in_its_own_loop(_set_logins(production_url, {"alice": "not-alice-pass", "admin": "changed!"}))
    clean = {k: v for k, v in os.environ.items() if k.upper() not in _setting_names()}
    port = free_port()
    keys = ensure_key_pair(tmp_path / "keys")
    env = {
        **clean,
        **_production(production_url),
        **services_env,
        "SAVINGS_TOKEN_PRIVATE_KEY_FILE": str(keys.private_path),
        "SAVINGS_TOKEN_PUBLIC_KEY_FILE": str(keys.public_path),
        "DATA_DIR": str(tmp_path / "none"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


# --- NATS: a password per service, TLS to a server elsewhere (issue 18, section 1) ---

NATS_PASSWORDS = {
    "SAVINGS_USERS_NATS_PASSWORD": "users-password",
    "SAVINGS_ACCOUNTING_NATS_PASSWORD": "accounting-password",
    "SAVINGS_GATEWAY_NATS_PASSWORD": "gateway-password",
}


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("savings-users", "SAVINGS_USERS_NATS_PASSWORD"),
        ("savings-accounting", "SAVINGS_ACCOUNTING_NATS_PASSWORD"),
        ("savings-gateway", "SAVINGS_GATEWAY_NATS_PASSWORD"),
    ],
)
def test_serve_in_production_without_its_nats_password_is_one_line(service, variable, tmp_path):
    others = {name: value for name, value in NATS_PASSWORDS.items() if name != variable}
    env = {**_production("postgresql://nobody@127.0.0.1:1/none"), **others}
    result = _cli(["serve", service, "--port", str(free_port())], env, tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_line_refusal(result)
    assert variable in line
    assert not any(value in line for value in NATS_PASSWORDS.values()), "no secret printed"


@pytest.mark.parametrize("url", ["nats://nats:4222", "nats.example.com:4222", "nats://10.0.0.7"])
def test_serve_in_production_needs_tls_to_a_nats_elsewhere(url, tmp_path):
    env = {**_production("postgresql://nobody@127.0.0.1:1/none", url), **NATS_PASSWORDS}
    result = _cli(["serve", "savings-gateway", "--port", str(free_port())], env, tmp_path)
    assert result.returncode == 2, result.stderr
    line = _one_line_refusal(result)
    assert "tls://" in line
    assert "NATS_URL" in line


@pytest.mark.parametrize(
    ("url", "ca_file", "refused"),
    [
        ("tls://nats:4222", None, False),
        ("nats://nats:4222", "/run/secrets/nats-ca.pem", False),  # TLS with the CA's context
        ("nats://127.0.0.1:4222", None, False),
        ("nats://localhost:4222", None, False),
        ("nats://[::1]:4222", None, False),
        ("nats://nats:4222", None, True),
    ],
)
def test_tls_is_required_only_off_this_machine(url, ca_file, refused):
    from backoffice.core.config import StartupRefused
    from backoffice.core.natsauth import refuse_insecure

    settings = Settings(
        _env_file=None,
        BACKOFFICE_ENV="production",
        DATABASE_URL="postgresql://db/backoffice",
        NATS_URL=url,
        BACKOFFICE_SECRET_KEY=SECRET,
        savings_gateway_nats_password="x",
        nats_tls_ca_file=ca_file,
    )
    if refused:
        with pytest.raises(StartupRefused, match="tls://nats:4222"):
            refuse_insecure(settings, ["savings-gateway"])
    else:
        refuse_insecure(settings, ["savings-gateway"])
