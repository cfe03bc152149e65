"""What the Accounts tests of the console share: reading its pages and the accounts' rows.

The fixtures (`people`, `signed_in_admin`) are in tests/console/conftest.py.
"""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from backoffice.core.auth.models import Account, AccountEvent

API = "/api/v1/auth/accounts"
STRONG = "violet-otter-quarry-17"
ROW = re.compile(
    r'<th scope="row"><a href="/console/accounts/(\d+)">([^<]+)</a>.*?</th>\s*'
    r"<td>(\w+)</td>\s*<td>.*?(active|disabled)</span>",
    re.S,
)


def listed(page: str) -> list[tuple[int, str, str, bool]]:
    """(id, username, role, active) of each row of the accounts list."""
    return [
        (int(i), html.unescape(name), role, status == "active")
        for i, name, role, status in ROW.findall(page)
    ]


def field_error(page: str, field: str) -> str | None:
    """The message shown next to a field of a form (None: none)."""
    found = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


async def id_of(session, username: str) -> int:
    """The id of the account `username` (it must exist)."""
    found = await session.scalar(select(Account.id).where(Account.username == username))
    assert found is not None, username
    return int(found)


async def state_of(session, username: str) -> tuple[str, bool, int] | None:
    """(role, active, auth_version) of the account `username` (None: no such account)."""
    row = (
        await session.execute(
            select(Account.role, Account.is_active, Account.auth_version).where(
                Account.username == username
            )
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def events_of(session, username: str) -> list[tuple[str, int | None, str]]:
    """(action, actor id, actor) of each audit event of `username`, oldest first."""
    rows = await session.execute(
        select(AccountEvent.action, AccountEvent.actor_account_id, AccountEvent.actor)
        .where(AccountEvent.username == username)
        .order_by(AccountEvent.id)
    )
    return [(a, b, c) for a, b, c in rows.all()]


def every_form(account_id: int, username: str, new_username: str) -> dict[str, dict[str, str]]:
    """Each form of the section (path: fields), aimed at `account_id` (named `username`).

    The new-account form would create `new_username`; each would write if it were accepted.
    """
    strong = {"password": STRONG, "password_confirm": STRONG}
    return {
        "/console/accounts/new": {"username": new_username, "role": "admin", **strong},
        f"/console/accounts/{account_id}/role": {"role": "admin"},
        f"/console/accounts/{account_id}/disable": {},
        f"/console/accounts/{account_id}/enable": {},
        f"/console/accounts/{account_id}/password": strong,
        f"/console/accounts/{account_id}/delete": {},
        "/console/accounts/locks/clear": {"key": f"platform:{username}"},
    }
