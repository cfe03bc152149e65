"""`backoffice accounts ...`: an operator manages the platform's accounts on the server.

Passwords come from a hidden, confirmed prompt or from standard input (`--password-stdin`,
for scripts), never from an argument (it would sit in the shell history and `ps`). Each
command is one transaction: a refusal prints one line on stderr, exits 1 and changes nothing.
Every change is audited as `cli:<os user>`. The commands do not refuse to run in production:
that is where the first admin is created and the demo logins are removed.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from backoffice.core.auth.roles import Role
from backoffice.core.config import get_settings
from backoffice.core.errors import DomainError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from backoffice.core.auth.accounts import Operator
    from backoffice.core.auth.service import Authenticator

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of a prompt",
    ),
]


def _fail(message: str) -> typer.Exit:
    errors.print(f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _operator() -> Operator:
    from backoffice.core.auth.accounts import Operator

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        user = "unknown"
    return Operator.command_line(user)


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not line:
            raise _fail("no password on standard input (--password-stdin reads its first line)")
        return line
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _in_transaction(work: Callable[[AsyncSession, Authenticator], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the main database: committed if it returns.

    A domain error or a database that cannot be used is one line on stderr and exit 1.
    """
    from sqlalchemy.exc import DBAPIError

    from backoffice.core.auth.service import Authenticator
    from backoffice.core.db import Database
    from backoffice.core.embedded import resolve_database_url

    settings = get_settings()
    url = resolve_database_url(settings)

    async def run() -> T:
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            async with database.unit_of_work() as session:
                return await work(session, Authenticator(settings))
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise _fail(exc.message) from None
    except (OSError, DBAPIError) as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise _fail(
            f"the database cannot be used ({reason}): check DATABASE_URL, and run"
            " `backoffice db upgrade` if it is not migrated"
        ) from None


def _check_username(username: str) -> None:
    """Refuse a bad username before asking for a password."""
    from backoffice.core.auth.accounts import check_username

    try:
        check_username(username)
    except DomainError as exc:
        raise _fail(exc.message) from None


def build(published: Callable[[], Collection[str]]) -> typer.Typer:
    """The `accounts` command group; `published` gives the demo's published passwords.

    Those passwords are refused for any account (production refuses to start while one works).
    """
    app = typer.Typer(
        help="Platform accounts: create, list, change, disable, delete (every change audited).",
        no_args_is_help=True,
    )

    @app.command("create")
    def create(
        username: Annotated[str, typer.Argument(help="Letters, digits and . _ @ + -")],
        role: Annotated[Role, typer.Option(help="What the account may do")] = Role.STAFF,
        password_stdin: PasswordStdin = False,
    ) -> None:
        """Create an account (the first admin of a fresh database: --role admin)."""
        from backoffice.core.auth import accounts

        _check_username(username)
        password = _read_password(password_stdin)
        refused = published()

        async def work(session: AsyncSession, auth: Authenticator) -> tuple[int, str]:
            account = await accounts.open_account(
                session,
                auth,
                _operator(),
                username=username,
                password=password,
                role=role,
                published=refused,
            )
            return account.id, account.role

        account_id, granted = _in_transaction(work)
        console.print(f"account {account_id} {username!r} created, role {granted}", highlight=False)

    @app.command("list")
    def list_command(
        role: Annotated[Role | None, typer.Option(help="Only this role")] = None,
        limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many")] = 200,
        offset: Annotated[int, typer.Option(min=0, help="Skip this many")] = 0,
    ) -> None:
        """List accounts by username: id, role, whether active, when created."""
        from backoffice.core.auth import accounts
        from backoffice.core.auth.models import Account
        from backoffice.core.pagination import PageParams

        async def work(session: AsyncSession, _: Authenticator) -> tuple[list[Account], int]:
            page = PageParams(limit=limit, offset=offset)
            rows, info = await accounts.list_accounts(
                session, page, [Account.username.asc()], role=role
            )
            return rows, info.total

        rows, total = _in_transaction(work)
        table = Table("id", "username", "role", "active", "created", title="accounts")
        for account in rows:
            table.add_row(
                str(account.id),
                account.username,
                account.role,
                "yes" if account.is_active else "no",
                account.created_at.strftime("%Y-%m-%d %H:%M"),
            )
        console.print(table)
        if total > offset + len(rows):
            console.print(f"{len(rows)} of {total}: --offset {offset + len(rows)} for more")

    @app.command("set-password")
    def set_password(
        username: Annotated[str, typer.Argument(help="The account")],
        password_stdin: PasswordStdin = False,
    ) -> None:
        """Set an account's password; its bearer tokens stop working."""
        from backoffice.core.auth import accounts

        password = _read_password(password_stdin)
        refused = published()

        async def work(session: AsyncSession, auth: Authenticator) -> None:
            account = await accounts.account_named(session, username)
            await accounts.reset_password(
                session, auth, _operator(), account, password, published=refused
            )

        _in_transaction(work)
        console.print(f"password of {username!r} changed", highlight=False)

    @app.command("set-role")
    def set_role(
        username: Annotated[str, typer.Argument(help="The account")],
        role: Annotated[Role, typer.Argument(help="The new role")],
    ) -> None:
        """Give an account another role; its bearer tokens stop working."""
        from backoffice.core.auth import accounts

        async def work(session: AsyncSession, auth: Authenticator) -> None:
            account = await accounts.account_named(session, username)
            await accounts.change_role(session, auth, _operator(), account, role)

        _in_transaction(work)
        console.print(f"{username!r} is now {role.value}", highlight=False)

    def _set_active(username: str, active: bool) -> None:
        from backoffice.core.auth import accounts

        async def work(session: AsyncSession, auth: Authenticator) -> None:
            account = await accounts.account_named(session, username)
            await accounts.set_active(session, auth, _operator(), account, active)

        _in_transaction(work)
        console.print(f"{username!r} {'enabled' if active else 'disabled'}", highlight=False)

    @app.command("disable")
    def disable(username: Annotated[str, typer.Argument(help="The account")]) -> None:
        """Disable an account: it cannot log in and its bearer tokens stop working."""
        _set_active(username, False)

    @app.command("enable")
    def enable(username: Annotated[str, typer.Argument(help="The account")]) -> None:
        """Enable a disabled account again."""
        _set_active(username, True)

    @app.command("delete")
    def delete(
        username: Annotated[str, typer.Argument(help="The account")],
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    ) -> None:
        """Delete an account (its audit trail stays; an employee linked to it is unlinked)."""
        from backoffice.core.auth import accounts

        if not yes:
            typer.confirm(f"Delete the account {username!r}?", abort=True)

        async def work(session: AsyncSession, auth: Authenticator) -> None:
            account = await accounts.account_named(session, username)
            await accounts.delete_account(session, auth, _operator(), account)

        _in_transaction(work)
        console.print(f"account {username!r} deleted", highlight=False)

    @app.command("audit")
    def audit(
        username: Annotated[str, typer.Argument(help="The account")],
        limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many")] = 50,
    ) -> None:
        """What was done to an account, by whom and when, newest first."""
        from backoffice.core.auth import accounts
        from backoffice.core.auth.models import AccountEvent
        from backoffice.core.pagination import PageParams

        async def work(session: AsyncSession, _: Authenticator) -> list[AccountEvent]:
            account = await accounts.account_named(session, username)
            events, _info = await accounts.account_events(
                session, account.id, PageParams(limit=limit)
            )
            return events

        table = Table("when", "action", "by", "details", title=f"audit of {username}")
        for event in _in_transaction(work):
            details = ", ".join(f"{k}: {v}" for k, v in event.details.items())
            table.add_row(
                event.created_at.strftime("%Y-%m-%d %H:%M:%S"), event.action, event.actor, details
            )
        console.print(table)

    return app
