"""`backoffice logins locks|unlock`: the login locks (core.auth.throttle), from a terminal.

The locks are shared through Redis when `REDIS_URL` is set, and this command reads and clears
them there. Without it they live in the serving process's memory, out of a command's reach:
it then says so (exit 2) and points at the API, which works in both cases.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backoffice.core.auth.throttle import Lock, LoginThrottle, RedisStore
from backoffice.core.config import Settings, StartupRefused, get_settings

app = typer.Typer(help="Login locks after wrong passwords.", no_args_is_help=True)
console = Console()


def _throttle(settings: Settings) -> tuple[LoginThrottle, RedisStore]:
    if not settings.redis_url:
        raise StartupRefused(
            "without REDIS_URL the login locks live in the serving process's memory: list and"
            " clear them as an admin with GET / DELETE /api/v1/auth/locks, or set REDIS_URL"
        )
    store = RedisStore(settings.redis_url)
    return LoginThrottle.from_settings(settings, store=store), store


@app.command("locks")
def locks() -> None:
    """List the accounts and client addresses locked now, the longest lock first."""
    throttle, store = _throttle(get_settings())

    async def run() -> list[Lock]:
        try:
            return await throttle.locks()
        finally:
            await store.aclose()

    found = asyncio.run(run())
    table = Table("key", "failures", "locked until (UTC)", "retry after (s)", title="login locks")
    for lock in found:
        until = datetime.fromtimestamp(lock.locked_until, UTC).isoformat(timespec="seconds")
        table.add_row(lock.key, str(lock.failures), until, str(lock.retry_after))
    console.print(table if found else "no login is locked")


@app.command("unlock")
def unlock(
    key: Annotated[
        str, typer.Argument(help="The key as `locks` lists it, e.g. savings:ada@example.com")
    ],
) -> None:
    """Clear KEY's lock and its count of wrong passwords."""
    throttle, store = _throttle(get_settings())

    async def run() -> bool:
        try:
            return await throttle.unlock(key)
        finally:
            await store.aclose()

    if not asyncio.run(run()):
        console.print(f"nothing recorded under {key!r}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]unlocked[/] {key}", highlight=False)
