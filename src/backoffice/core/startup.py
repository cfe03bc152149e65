"""Refusals to start that need the database: production with published demo logins.

Each refusal is a `StartupRefused` (see `core.config`, which refuses bad settings the same way)
whose message is one line saying what to do. Core knows no context: the caller passes the
logins to check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Authenticator, find_demo_credentials
from backoffice.core.config import Settings, StartupRefused
from backoffice.core.db import Database

__all__ = ["StartupRefused", "check_before_serving", "refuse_published_logins"]


async def refuse_published_logins(
    db: Database, auth: Authenticator, logins: Mapping[str, str]
) -> None:
    """Refuse while any of `logins` (username: published password) still works.

    A database without the accounts table has no login that works (and `/ready` says it is not
    migrated).

    Raises:
        StartupRefused: a published login works, or the database cannot be asked.
    """
    try:
        async with db.sessionmaker() as session:
            if await session.scalar(text(f"SELECT to_regclass('{Account.__tablename__}')")):
                exposed = await find_demo_credentials(session, auth, dict(logins))
            else:
                exposed = []
    except (OSError, DBAPIError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StartupRefused(
            f"cannot check the demo logins: the database does not answer ({reason});"
            " check DATABASE_URL"
        ) from None
    if exposed:
        raise StartupRefused(
            f"refusing to start in production: demo passwords still work for"
            f" {', '.join(sorted(exposed))}; change those passwords or delete the accounts"
            " (data of `backoffice demo load` has no place in production)"
        )


def check_before_serving(settings: Settings, url: str, logins: Mapping[str, str]) -> None:
    """What the app's lifespan refuses, checked before the server starts (production only).

    The server would report a lifespan failure with a traceback; the CLI prints one line.
    """
    if not settings.is_production:
        return

    async def check() -> None:
        database = Database(url)
        try:
            await refuse_published_logins(database, Authenticator(settings), logins)
        finally:
            await database.dispose()

    asyncio.run(check())
