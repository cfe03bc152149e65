"""140 wrong passwords on each login, with the throttle off and on: how many reach argon2.

    .venv/bin/python bench/login_throttle.py [--guesses 140]

The whole platform in this process (the app with its lifespan: the savings users service and
gateway on NATS, the platform's accounts), on migrated scratch databases of one PostgreSQL and
one NATS (embedded unless DATABASE_URL / NATS_URL are set), argon2 at its production cost
(3 passes, 64 MiB). One attacker, one client address, guesses one account's password as fast
as answers come, ignoring 429s: `--guesses` wrong passwords on `POST /api/v1/auth/token` (HTTP
Basic, a known account) and as many on `POST /api/v1/savings/login` (a registered email), then
the right password. Once with the throttle off (LOGIN_FREE_FAILURES_PER_* = 0, as before it
existed), once with the defaults. Counted: the answers by status, the argon2 verifications
(every `PasswordHasher.verify` in the process), the wall time. Last, the time an attacker who
waits out every lock (Retry-After) needs for as many guesses, from the throttle's own rule.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from backoffice.app import create_app
from backoffice.core.auth.service import Role, create_account
from backoffice.core.auth.throttle import Policy, lock_seconds
from backoffice.core.config import Settings
from backoffice.core.db import Database
from backoffice.services import MAIN, SAVINGS_ACCOUNTING, SAVINGS_USERS
from savings_stack import nats, postgres, scratch_databases

PASSWORD = "a-long-and-right-passphrase"
ATTACKER = "203.0.113.66"
verifications = 0
_verify = PasswordHasher.verify


def _counting_verify(self: PasswordHasher, stored: str | bytes, password: str | bytes) -> bool:
    global verifications
    verifications += 1
    return _verify(self, stored, password)


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def attack(app: Any, guesses: int) -> dict[str, dict[str, Any]]:
    """Wrong passwords then the right one on each login; per login: statuses, argon2, time."""
    global verifications
    username = f"victim-{uuid.uuid4().hex[:6]}"
    email = f"victim-{uuid.uuid4().hex[:6]}@example.com"
    database = Database(app.state.settings.database_url)
    async with database.unit_of_work() as session:
        await create_account(
            session, app.state.auth, username=username, password=PASSWORD, role=Role.STAFF
        )
    await database.dispose()
    results = {}
    setup = httpx.ASGITransport(app=app, client=("198.51.100.1", 1))
    attacker = httpx.ASGITransport(app=app, client=(ATTACKER, 2))
    async with (
        httpx.AsyncClient(transport=setup, base_url="http://bench") as http,
        httpx.AsyncClient(transport=attacker, base_url="http://bench") as evil,
    ):
        body = {"email": email, "password": PASSWORD, "full_name": "Victim"}
        assert (await http.post("/api/v1/savings/signup", json=body)).status_code == 201

        async def token(password: str) -> httpx.Response:
            return await evil.post("/api/v1/auth/token", headers=_basic(username, password))

        async def login(password: str) -> httpx.Response:
            body = {"email": email, "password": password}
            return await evil.post("/api/v1/savings/login", json=body)

        for name, send in (
            ("POST /api/v1/auth/token", token),
            ("POST /api/v1/savings/login", login),
        ):
            verifications = 0
            started = time.perf_counter()
            statuses = [(await send(f"guess-{n:04d}-wrong")).status_code for n in range(guesses)]
            elapsed = time.perf_counter() - started
            right = (await send(PASSWORD)).status_code
            results[name] = {
                "statuses": collections.Counter(statuses),
                "argon2": verifications,
                "seconds": elapsed,
                "right password after": right,
            }
    return results


async def run_mode(settings: Settings, urls: dict[str, str], guesses: int) -> dict[str, Any]:
    """One mode's app, its lifespan around the attack."""
    savings = {k: v for k, v in urls.items() if k != MAIN.service}
    app = create_app(settings, database_url=urls[MAIN.service], database_urls=savings)
    async with app.router.lifespan_context(app):
        return await attack(app, guesses)


def waiting_attacker_hours(policy: Policy, guesses: int) -> float:
    """Hours to make `guesses` guesses when each lock is waited out (Retry-After obeyed)."""
    return sum(lock_seconds(policy, failures) for failures in range(1, guesses)) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guesses", type=int, default=140)
    parser.add_argument("--home", type=Path, help="where the embedded servers and keys live")
    args = parser.parse_args()
    PasswordHasher.verify = _counting_verify  # type: ignore[method-assign]
    with postgres(args.home, "bench-logins-") as (admin, home), nats(home) as nats_url:
        specs = (MAIN, SAVINGS_USERS, SAVINGS_ACCOUNTING)
        with scratch_databases(admin, "bench_logins", specs) as urls:
            base = Settings(
                BACKOFFICE_ENV="development",
                DATABASE_URL=urls[MAIN.service],
                NATS_URL=nats_url,
                BACKOFFICE_HOME=home,
                rate_limit_per_minute=0,
                log_level="WARNING",
                _env_file=None,  # type: ignore[call-arg]
            )
            off = base.model_copy(
                update={"login_free_failures_per_account": 0, "login_free_failures_per_address": 0}
            )
            modes = {"throttle off": off, "throttle on (defaults)": base}
            results = {
                mode: asyncio.run(run_mode(s, urls, args.guesses)) for mode, s in modes.items()
            }
    print(f"{args.guesses} wrong passwords from one address on one account, then the right one")
    print("argon2id: 3 passes, 64 MiB (the defaults)\n")
    print("| mode | login | 401 | 429 | argon2 verifications | time | the right password then |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode, by_login in results.items():
        for login, found in by_login.items():
            statuses = found["statuses"]
            print(
                f"| {mode} | `{login}` | {statuses.get(401, 0)} | {statuses.get(429, 0)} |"
                f" {found['argon2']} | {found['seconds']:.2f} s | {found['right password after']} |"
            )
    policy = Policy(
        base.login_free_failures_per_account,
        max_lock=float(base.login_lock_max_seconds),
        memory=float(base.login_failure_memory_seconds),
    )
    hours = waiting_attacker_hours(policy, args.guesses)
    print(
        f"\nAn attacker who waits out every lock needs {hours:.1f} h for {args.guesses} guesses"
        f" on one account (locks of 1 s doubling to {base.login_lock_max_seconds} s after"
        f" {base.login_free_failures_per_account} wrong passwords)."
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
