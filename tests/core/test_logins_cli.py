"""`backoffice logins locks|unlock` on the locks in Redis, and its refusal without Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from typer.testing import CliRunner

from backoffice import cli
from backoffice.core.auth.throttle import Policy, RedisStore
from backoffice.core.config import StartupRefused, get_settings


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch):
    def use(redis_url: str | None) -> None:
        if redis_url is None:
            monkeypatch.delenv("REDIS_URL", raising=False)
        else:
            monkeypatch.setenv("REDIS_URL", redis_url)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_without_redis_the_command_points_at_the_api(environment, capsys, monkeypatch):
    environment(None)
    result = CliRunner().invoke(cli.app, ["logins", "locks"])
    assert isinstance(result.exception, StartupRefused)
    assert "GET / DELETE /api/v1/auth/locks" in str(result.exception)
    monkeypatch.setattr("sys.argv", ["backoffice", "logins", "unlock", "address:1.2.3.4"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    assert "REDIS_URL" in capsys.readouterr().err


def test_locks_lists_and_unlock_clears_a_key_in_redis(environment, redis_url):
    environment(redis_url)
    key = f"savings:{uuid.uuid4().hex[:10]}@example.com"

    async def lock() -> None:
        store = RedisStore(redis_url)
        for _ in range(5):
            await store.reserve([(key, Policy(5))], 4_000_000_000.0)  # locked far ahead
        await store.aclose()

    asyncio.run(lock())
    runner = CliRunner()
    listed = runner.invoke(cli.app, ["logins", "locks"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert key in listed.output
    cleared = runner.invoke(cli.app, ["logins", "unlock", key])
    assert cleared.exit_code == 0 and "unlocked" in cleared.output
    again = runner.invoke(cli.app, ["logins", "unlock", key])
    assert again.exit_code == 1 and "nothing recorded" in again.output
    assert key not in runner.invoke(cli.app, ["logins", "locks"], env={"COLUMNS": "200"}).output
