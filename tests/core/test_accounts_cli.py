"""`backoffice accounts ...`: passwords from a prompt or stdin, one transaction, one-line errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from backoffice.cli import app as cli
from backoffice.core import migrations
from backoffice.core.auth.models import Account, AccountEvent
from backoffice.core.auth.service import Authenticator
from backoffice.core.config import Settings, StartupRefused, get_settings
from backoffice.core.db import Database
from backoffice.core.startup import refuse_published_logins
from backoffice.demo import load_demo, published_logins
from tests.live import scratch_database

T = TypeVar("T")
STRONG = "violet-otter-quarry-17"
CHEAP = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024"}


def _settings(url: str) -> Settings:
    return Settings(
        BACKOFFICE_ENV="test", DATABASE_URL=url, argon2_time_cost=1, argon2_memory_kib=1024
    )


def _in_its_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end in a thread of its own (asyncio.run needs a loop of its own)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _state(url: str) -> tuple[dict[str, tuple[str, bool]], int]:
    """Every account (role, active) and how many audit events there are."""
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            rows = (
                await session.execute(select(Account.username, Account.role, Account.is_active))
            ).all()
            events = await session.scalar(select(func.count()).select_from(AccountEvent))
    finally:
        await database.dispose()
    return {name: (role, active) for name, role, active in rows}, int(events or 0)


async def _logs_in(url: str, username: str, password: str) -> bool:
    database = Database(url)
    try:
        principal = await Authenticator(_settings(url)).authenticate(
            database.sessionmaker, username, password
        )
        return principal.username == username
    except Exception:
        return False
    finally:
        await database.dispose()


@pytest.fixture
def database(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated scratch database the CLI runs against (its settings from the environment)."""
    for url in scratch_database(server_url, "accounts_cli"):
        migrations.upgrade(url)
        monkeypatch.setenv("DATABASE_URL", url)
        for name, value in CHEAP.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield url
        finally:
            get_settings.cache_clear()


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["accounts", *args], input=stdin)


def _one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines: list[str] = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_create_from_a_hidden_confirmed_prompt(database):
    result = run("create", "ops-admin", "--role", "admin", stdin=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert STRONG not in result.output, "a typed password is never echoed"
    assert "created, role admin" in result.stdout
    accounts, events = _in_its_own_loop(_state(database))
    assert accounts == {"ops-admin": ("admin", True)}
    assert events == 1
    assert _in_its_own_loop(_logs_in(database, "ops-admin", STRONG))


def test_a_mistyped_confirmation_creates_nothing(database):
    result = run("create", "ops-admin", stdin=f"{STRONG}\n{STRONG}x\n")
    assert result.exit_code != 0
    assert _in_its_own_loop(_state(database)) == ({}, 0)


def test_create_reads_the_first_line_of_stdin(database):
    result = run("create", "robot", "--password-stdin", stdin=f"{STRONG}\nignored\n")
    assert result.exit_code == 0, result.output
    assert _in_its_own_loop(_state(database))[0] == {"robot": ("staff", True)}
    assert _in_its_own_loop(_logs_in(database, "robot", STRONG))


def test_a_password_is_never_an_argument(database):
    result = run("create", "robot", "--password", STRONG)
    assert result.exit_code == 2
    assert _in_its_own_loop(_state(database)) == ({}, 0)


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (("create", "weak", "--password-stdin"), "password1\n", "common"),
        (("create", "weakling1", "--password-stdin"), "Weakling1\n", "username"),
        (("create", "weak", "--password-stdin"), "   \t   \n", "whitespace"),
        (("create", "weak", "--password-stdin"), "staffpass\n", "published demo"),
        (("create", "weak", "--password-stdin"), "", "no password"),
        (("create", "has space", "--password-stdin"), f"{STRONG}\n", "username is 1 to 150"),
        (("create", "newline\n", "--password-stdin"), f"{STRONG}\n", "username is 1 to 150"),
        (("create", "firstadmin", "--password-stdin"), f"{STRONG}\n", "taken"),
        (("set-role", "nobody", "admin"), None, "No account is named 'nobody'"),
        (("set-password", "nobody", "--password-stdin"), f"{STRONG}\n", "No account"),
        (("disable", "firstadmin"), None, "At least one active admin"),
        (("set-role", "firstadmin", "staff"), None, "At least one active admin"),
        (("delete", "firstadmin", "--yes"), None, "At least one active admin"),
        (("set-password", "firstadmin", "--password-stdin"), "FirstAdmin\n", "username"),
    ],
)
def test_a_refusal_is_one_line_exit_1_and_changes_nothing(database, args, stdin, says):
    assert (
        run(
            "create", "firstadmin", "--role", "admin", "--password-stdin", stdin=f"{STRONG}\n"
        ).exit_code
        == 0
    )
    before = _in_its_own_loop(_state(database))
    line = _one_line_error(run(*args, stdin=stdin))
    assert says in line
    assert _in_its_own_loop(_state(database)) == before
    assert _in_its_own_loop(_logs_in(database, "firstadmin", STRONG))


def test_list_set_role_password_disable_enable_delete_and_audit(database):
    for name, role in (("boss", "admin"), ("carol", "staff")):
        assert (
            run("create", name, "--role", role, "--password-stdin", stdin=f"{STRONG}\n").exit_code
            == 0
        )

    listed = run("list")
    assert listed.exit_code == 0, listed.output
    assert "boss" in listed.stdout and "carol" in listed.stdout

    assert run("set-role", "carol", "manager").exit_code == 0
    assert (
        run("set-password", "carol", "--password-stdin", stdin="a-new-long-secret-9\n").exit_code
        == 0
    )
    assert _in_its_own_loop(_logs_in(database, "carol", "a-new-long-secret-9"))
    assert not _in_its_own_loop(_logs_in(database, "carol", STRONG))
    assert run("disable", "carol").exit_code == 0
    assert not _in_its_own_loop(_logs_in(database, "carol", "a-new-long-secret-9"))
    assert _in_its_own_loop(_state(database))[0]["carol"] == ("manager", False)
    assert run("enable", "carol").exit_code == 0
    assert _in_its_own_loop(_logs_in(database, "carol", "a-new-long-secret-9"))

    audit = run("audit", "carol")
    assert audit.exit_code == 0, audit.output
    for action in ("created", "role_changed", "password_reset", "disabled", "enabled"):
        assert action in audit.stdout
    assert "cli:" in audit.stdout

    assert run("delete", "carol", stdin="n\n").exit_code != 0  # asked, and refused
    assert "carol" in _in_its_own_loop(_state(database))[0]
    assert run("delete", "carol", stdin="y\n").exit_code == 0
    accounts, events = _in_its_own_loop(_state(database))
    assert set(accounts) == {"boss"}
    assert events == 7  # two creations, then carol: role, password, disable, enable, delete


def _cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("DATABASE_URL", "NATS_URL", "BACKOFFICE_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "backoffice", *args],
        env={**clean, **CHEAP, **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _load_demo(url: str) -> None:
    database = Database(url)
    try:
        async with database.unit_of_work() as session:
            await load_demo(session, Authenticator(_settings(url)))
    finally:
        await database.dispose()


async def _refusal(url: str) -> str | None:
    database = Database(url)
    try:
        await refuse_published_logins(database, Authenticator(_settings(url)), published_logins())
    except StartupRefused as exc:
        return str(exc)
    finally:
        await database.dispose()
    return None


def test_the_first_admin_of_a_production_database_and_the_demo_logins(server_url, tmp_path):
    """Production runs the command (no refusal to start), and still refuses demo passwords."""
    for url in scratch_database(server_url, "accounts_production"):
        migrations.upgrade(url)
        _in_its_own_loop(_load_demo(url))
        env = {
            "BACKOFFICE_ENV": "production",
            "DATABASE_URL": url,
            "NATS_URL": "nats://127.0.0.1:1",
            "BACKOFFICE_SECRET_KEY": "a-production-secret-of-more-than-32-characters",
        }
        created = _cli(
            ["accounts", "create", "ops", "--role", "admin", "--password-stdin"],
            env,
            tmp_path,
            f"{STRONG}\n",
        )
        assert created.returncode == 0, created.stderr
        demo = _cli(
            ["accounts", "set-password", "admin", "--password-stdin"], env, tmp_path, "adminpass\n"
        )
        assert demo.returncode == 1
        assert "published demo password" in demo.stderr
        refusal = _in_its_own_loop(_refusal(url))
        assert refusal is not None and "admin" in refusal, "demo logins still work: refused"

        for name in published_logins():
            deleted = _cli(["accounts", "delete", name, "--yes"], env, tmp_path)
            assert deleted.returncode == 0, deleted.stderr
        assert _in_its_own_loop(_refusal(url)) is None
        assert _in_its_own_loop(_logs_in(url, "ops", STRONG))


@pytest.mark.parametrize("where", ["unmigrated", "unreachable"])
def test_a_database_that_cannot_be_used_is_one_line(
    where, empty_database_url, monkeypatch: pytest.MonkeyPatch
):
    url = empty_database_url if where == "unmigrated" else "postgresql://nobody@127.0.0.1:1/none"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = run("list")
    finally:
        get_settings.cache_clear()
    line = _one_line_error(result)
    assert "DATABASE_URL" in line
    assert "db upgrade" in line
    assert "Traceback" not in result.output
