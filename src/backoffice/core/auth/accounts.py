"""Account management by operators: create, list, change role, reset password, disable, delete.

Used by `backoffice accounts` (core.auth.cli) and `/api/v1/auth/accounts` (core.auth.accounts_api).
Every change goes through the password rule (`core.auth.passwords`), bumps the account's
`auth_version` (which ends its bearer tokens, see `Authenticator.check_current`), and writes an
`AccountEvent` in the same transaction. Nothing here commits; the demo loader creates its
published logins with `service.create_account`, which knows no password rule.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from sqlalchemy import ColumnElement, Select, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.models import Account, AccountEvent
from backoffice.core.auth.passwords import WeakPassword, check_password
from backoffice.core.auth.service import Authenticator, Principal, Role
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, NotFound, ValidationFailed
from backoffice.core.pagination import PageParams, contains, paginate

# Letters, digits and `. _ @ + -`: no space, colon (HTTP Basic splits at the first one) or
# control character, so a username logs in exactly as it is shown.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$"
USERNAME_MAX = 150
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")  # fullmatch: `$` admits a final newline

ACCOUNT_SORT: dict[str, Any] = {
    "id": Account.id,
    "username": Account.username,
    "role": Account.role,
    "is_active": Account.is_active,
    "created_at": Account.created_at,
}


class AccountNotFound(NotFound):
    """No account has this id or username."""

    code = "account_not_found"
    default_message = "Account not found"


class UsernameTaken(Conflict):
    """Another account has this username (compared ignoring case)."""

    code = "username_taken"
    default_message = "The username is taken"


class OwnAccount(Conflict):
    """An admin tried to change their own role, password or status through the accounts API."""

    code = "own_account"
    default_message = (
        "You cannot change your own role, password or status here: ask another admin,"
        " or use `backoffice accounts` on the server"
    )


class LastAdmin(Conflict):
    """The change would leave no active admin to manage accounts."""

    code = "last_admin"
    default_message = "At least one active admin must remain: create or enable another first"


@dataclass(frozen=True, slots=True)
class Operator:
    """Who manages accounts: an admin through the API, or the CLI on the server."""

    account_id: int | None
    name: str

    @classmethod
    def of(cls, principal: Principal) -> Operator:
        return cls(principal.account_id, principal.username)

    @classmethod
    def command_line(cls, os_user: str) -> Operator:
        return cls(None, f"cli:{os_user}"[:200])


def check_username(username: str, *, field: str = "username") -> None:
    """Refuse a username that could not log in as shown (`USERNAME_PATTERN`, 1-150)."""
    if len(username) > USERNAME_MAX or not _USERNAME.fullmatch(username):
        raise ValidationFailed.field(
            field,
            f"A username is 1 to {USERNAME_MAX} letters, digits and . _ @ + - (no spaces),"
            " starting with a letter or digit",
        )


def _check_new_password(
    password: str, username: str, published: Collection[str], field: str
) -> None:
    check_password(password, identities=[username], field=field)
    if password in published:
        raise WeakPassword.field(field, "The password is a published demo password")


def _record(
    session: AsyncSession,
    operator: Operator,
    account: Account,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AccountEvent(
            account_id=account.id,
            username=account.username,
            action=action,
            actor_account_id=operator.account_id,
            actor=operator.name,
            details=details or {},
        )
    )


async def list_accounts(
    session: AsyncSession,
    page: PageParams,
    order: Sequence[ColumnElement[Any]],
    *,
    username: str | None = None,
    role: Role | None = None,
    is_active: bool | None = None,
) -> tuple[list[Account], PageInfo]:
    """One page of accounts, filtered by part of the username, role and status."""
    statement: Select[Any] = select(Account)
    if username:
        statement = statement.where(contains(Account.username, username))
    if role is not None:
        statement = statement.where(Account.role == role.value)
    if is_active is not None:
        statement = statement.where(Account.is_active.is_(is_active))
    return await paginate(session, statement, page, [*order, Account.id.asc()])


async def get_account(session: AsyncSession, account_id: int) -> Account:
    """The account with this id, or `AccountNotFound`."""
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFound(f"Account {account_id} not found")
    return account


async def account_named(session: AsyncSession, username: str) -> Account:
    """The account with this exact username, or `AccountNotFound`."""
    account = await session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise AccountNotFound(f"No account is named {username!r}")
    return account


async def open_account(
    session: AsyncSession,
    auth: Authenticator,
    operator: Operator,
    *,
    username: str,
    password: str,
    role: Role,
    published: Collection[str] = (),
) -> Account:
    """Create an account; its password must pass the rule and be none of `published`.

    Raises:
        ValidationFailed: the username breaks `USERNAME_PATTERN`, or the password the rule.
        UsernameTaken: an account has this name, ignoring case (409).
    """
    check_username(username)
    _check_new_password(password, username, published, "password")
    taken = await session.scalar(
        select(Account.username).where(func.lower(Account.username) == username.lower())
    )
    if taken is not None:
        raise UsernameTaken(f"The username {username!r} is taken ({taken!r})")
    hashed = await to_thread.run_sync(auth.hash_password, password)
    account = Account(username=username, password_hash=hashed, role=role.value)
    session.add(account)
    await session.flush()
    _record(session, operator, account, "created", {"role": role.value})
    await session.flush()
    return account


def _not_yourself(operator: Operator, account: Account) -> None:
    if operator.account_id is not None and operator.account_id == account.id:
        raise OwnAccount()


async def _keep_an_admin(session: AsyncSession, account: Account) -> None:
    """Refuse to take away the last active admin.

    The active admins are locked first, so two admins demoting each other at once cannot both
    pass this check.
    """
    if account.role != Role.ADMIN.value or not account.is_active:
        return
    admins = await session.scalars(
        select(Account.id)
        .where(Account.role == Role.ADMIN.value, Account.is_active.is_(True))
        .order_by(Account.id)  # one locking order for every transaction: no deadlock
        .with_for_update()
    )
    if not set(admins) - {account.id}:
        raise LastAdmin()


def _forget(session: AsyncSession, auth: Authenticator, account_id: int) -> None:
    """End what this process remembers of the account: now, and again once the change commits.

    A request between the two would otherwise read the version still committed and remember it.
    """
    auth.forget(account_id)
    event.listen(session.sync_session, "after_commit", lambda _: auth.forget(account_id), once=True)


def _changed(session: AsyncSession, auth: Authenticator, account: Account) -> None:
    account.auth_version += 1
    _forget(session, auth, account.id)


async def change_role(
    session: AsyncSession, auth: Authenticator, operator: Operator, account: Account, role: Role
) -> Account:
    """Give `account` another role; its tokens issued before stop working."""
    _not_yourself(operator, account)
    if account.role == role.value:
        return account
    if role is not Role.ADMIN:
        await _keep_an_admin(session, account)
    _record(session, operator, account, "role_changed", {"from": account.role, "to": role.value})
    account.role = role.value
    _changed(session, auth, account)
    await session.flush()
    return account


async def reset_password(
    session: AsyncSession,
    auth: Authenticator,
    operator: Operator,
    account: Account,
    password: str,
    *,
    published: Collection[str] = (),
) -> Account:
    """Set a new password (the rule applies); the account's tokens issued before stop working."""
    _not_yourself(operator, account)
    _check_new_password(password, account.username, published, "password")
    account.password_hash = await to_thread.run_sync(auth.hash_password, password)
    _record(session, operator, account, "password_reset")
    _changed(session, auth, account)
    await session.flush()
    return account


async def set_active(
    session: AsyncSession, auth: Authenticator, operator: Operator, account: Account, active: bool
) -> Account:
    """Enable or disable an account; a disabled one cannot log in and its tokens stop working."""
    _not_yourself(operator, account)
    if account.is_active == active:
        return account
    if not active:
        await _keep_an_admin(session, account)
    _record(session, operator, account, "enabled" if active else "disabled")
    account.is_active = active
    _changed(session, auth, account)
    await session.flush()
    return account


async def delete_account(
    session: AsyncSession, auth: Authenticator, operator: Operator, account: Account
) -> None:
    """Delete an account; its audit trail stays (by username), its employee link is cleared."""
    _not_yourself(operator, account)
    await _keep_an_admin(session, account)
    _record(session, operator, account, "deleted", {"role": account.role})
    await session.flush()
    account_id = account.id
    await session.delete(account)
    await session.flush()
    _forget(session, auth, account_id)


async def account_events(
    session: AsyncSession, account_id: int, page: PageParams
) -> tuple[list[AccountEvent], PageInfo]:
    """The audit trail of an account (also after it was deleted), newest first."""
    statement: Select[Any] = select(AccountEvent).where(AccountEvent.account_id == account_id)
    events, info = await paginate(session, statement, page, [AccountEvent.id.desc()])
    if info.total == 0:
        await get_account(session, account_id)  # an unknown account is a 404, not []
    return events, info
