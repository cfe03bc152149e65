"""Changing an account from its page: role, disable or enable, a new password, delete.

Each form posts with the session's CSRF token and calls `core.auth.accounts`, which refuses
your own account (`OwnAccount`) and taking away the last active admin (`LastAdmin`); the
refusal is shown on the account's page next to the form, in plain words, and nothing is
written (each change runs in a savepoint). A role change, a new password or disabling bumps
the account's `auth_version`: its console sessions and tokens end at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Admin
from backoffice.console.accounts import (
    LIST,
    REFUSED,
    account_page,
    admin_form,
    authenticator,
    passwords_of,
    problems,
    published_passwords,
    role_of,
)
from backoffice.console.web import redirect
from backoffice.core.auth import accounts
from backoffice.core.auth.accounts import Operator
from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Principal
from backoffice.core.db import DbSession
from backoffice.core.routing import ApiRouter
from backoffice.core.types import IdParam

router = ApiRouter(include_in_schema=False)


async def _change(
    request: Request,
    session: DbSession,
    admin: Principal,
    account_id: int,
    field: str,
    change: Callable[[Account], Awaitable[str]],
    *,
    done: str | None = None,
) -> Response:
    """Run `change` on the account (its notice back), or show the account with why not.

    Done, to the page `done` (the account's own by default) with the notice.
    """
    await admin_form(request)  # the CSRF token, before anything is read or written
    account = await accounts.get_account(session, account_id)
    try:
        async with session.begin_nested():  # a refusal leaves nothing behind
            notice = await change(account)
    except REFUSED as error:
        return await account_page(
            request,
            session,
            admin,
            account_id,
            errors=problems(error, field),
            status_code=error.status_code,
        )
    return redirect(done or f"/console/accounts/{account_id}", notice=notice)


@router.post("/console/accounts/{account_id}/role")
async def change_role(
    request: Request, account_id: IdParam, session: DbSession, admin: Admin
) -> Response:
    """Give the account another role; its sessions end."""
    form = await admin_form(request)

    async def change(account: Account) -> str:
        role = role_of(form)
        before = account.role
        await accounts.change_role(
            session, authenticator(request), Operator.of(admin), account, role
        )
        if before == role.value:
            return f"{account.username} already was {role.value}: nothing changed."
        return f"{account.username} is now {role.value}; their sessions have ended."

    return await _change(request, session, admin, account_id, "role", change)


@router.post("/console/accounts/{account_id}/disable")
async def disable(
    request: Request, account_id: IdParam, session: DbSession, admin: Admin
) -> Response:
    """Disable the account: it cannot sign in, and its sessions end."""
    return await _set_active(request, account_id, session, admin, active=False)


@router.post("/console/accounts/{account_id}/enable")
async def enable(
    request: Request, account_id: IdParam, session: DbSession, admin: Admin
) -> Response:
    """Enable the account again: it can sign in."""
    return await _set_active(request, account_id, session, admin, active=True)


async def _set_active(
    request: Request, account_id: int, session: DbSession, admin: Principal, *, active: bool
) -> Response:
    async def change(account: Account) -> str:
        await accounts.set_active(
            session, authenticator(request), Operator.of(admin), account, active
        )
        if active:
            return f"{account.username} is enabled and can sign in."
        return f"{account.username} is disabled; their sessions have ended."

    return await _change(request, session, admin, account_id, "status", change)


@router.post("/console/accounts/{account_id}/password")
async def reset_password(
    request: Request, account_id: IdParam, session: DbSession, admin: Admin
) -> Response:
    """Set a new password (the password rule applies); the account's sessions end."""
    form = await admin_form(request)
    password, errors = passwords_of(form)
    if errors:
        return await account_page(
            request, session, admin, account_id, errors=errors, status_code=422
        )

    async def change(account: Account) -> str:
        await accounts.reset_password(
            session,
            authenticator(request),
            Operator.of(admin),
            account,
            password,
            published=published_passwords(request),
        )
        return f"{account.username} has a new password; their sessions have ended."

    return await _change(request, session, admin, account_id, "password", change)


@router.post("/console/accounts/{account_id}/delete")
async def delete(
    request: Request, account_id: IdParam, session: DbSession, admin: Admin
) -> Response:
    """Delete the account; its audit trail stays."""

    async def change(account: Account) -> str:
        username = account.username
        await accounts.delete_account(session, authenticator(request), Operator.of(admin), account)
        return f"Account {username} deleted; its audit trail is kept."

    return await _change(request, session, admin, account_id, "delete", change, done=LIST)
