"""Server time of API endpoints, in process: the app the bench scripts time their endpoints on.

Each request goes through the whole app (authentication, routing, the database) over an ASGI
transport, and its time is the one the app reports in `X-Process-Time`, so the client's own
overhead is left out. Imported by the bench scripts beside it (`python bench/<script>.py` puts
this folder on the path).
"""

from __future__ import annotations

import secrets
import uuid

import httpx
from sqlalchemy import delete

from backoffice.app import create_app
from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Principal, Role, create_account
from backoffice.core.config import Settings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def time_endpoints(url: str, paths: list[str], requests: int) -> dict[str, list[float]]:
    """`requests` GETs of each path after 20 to warm up; each one's server time in ms."""
    settings = Settings(
        DATABASE_URL=url, BACKOFFICE_ENV="test", rate_limit_per_minute=0, log_level="WARNING"
    )
    app = create_app(settings, database_url=url)
    # A token works only while its account exists at the token's version: a real one.
    async with app.state.db.unit_of_work() as session:
        account = await create_account(
            session,
            app.state.auth,
            username=f"bench-{uuid.uuid4().hex[:8]}",
            password=secrets.token_urlsafe(16),
            role=Role.STAFF,
        )
        principal = Principal(account.id, account.username, Role.STAFF, account.auth_version)
    token, _ = app.state.auth.issue_token(principal)
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for path in paths:
            for _ in range(20):  # warm up: pools, prepared statements, caches
                await http.get(path, headers=headers)
            times = []
            for _ in range(requests):
                response = await http.get(path, headers=headers)
                assert response.status_code == 200, response.text
                times.append(float(response.headers["X-Process-Time"].removesuffix("ms")))
            out[path] = times
    async with app.state.db.unit_of_work() as session:
        await session.execute(delete(Account).where(Account.id == principal.account_id))
    await app.state.db.dispose()
    return out
