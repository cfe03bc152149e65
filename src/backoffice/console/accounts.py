"""Accounts (admins): the list with its filters and CSV export, one account's page, a new account.

Every read and change goes through `core.auth.accounts`, the service behind
`/api/v1/auth/accounts` and `backoffice accounts`: the same password rule, the same refusals,
the same audit trail (`account_events`) with the signed-in admin as the actor. The changes to
an existing account are in `accounts_forms`; the login locks in `logins`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Admin, signed_in
from backoffice.console.web import (
    FieldProblem,
    csv_response,
    field_errors,
    read_form,
    redirect,
    render,
    text_field,
    with_query,
)
from backoffice.core.auth import accounts
from backoffice.core.auth.accounts import USERNAME_MAX, Operator
from backoffice.core.auth.models import Account
from backoffice.core.auth.passwords import MAX_LENGTH, MIN_LENGTH
from backoffice.core.auth.service import Authenticator, Principal, Role
from backoffice.core.db import DbSession
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, DomainError, ValidationFailed
from backoffice.core.pagination import MAX_LIMIT, PageParams
from backoffice.core.routing import ApiRouter
from backoffice.core.types import IdParam

router = ApiRouter(include_in_schema=False)

LIST = "/console/accounts/"
NEW = "/console/accounts/new"
PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 20
MAX_OFFSET = 1_000_000
EXPORT_MAX_ROWS = 10_000  # a CSV of more accounts than any back office has; bounded all the same
ROLE_CHOICES = [(role.value, role.value.capitalize()) for role in Role]
STATUS_CHOICES = {"active": True, "disabled": False}
# The list's orders: (label, the service's sort fields).
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "username": ("Username, A to Z", ("username",)),
    "newest": ("Newest first", ("-created_at",)),
    "oldest": ("Oldest first", ("created_at",)),
    "role": ("Role, then username", ("role", "username")),
}
PASSWORD_HINT = (
    f"At least {MIN_LENGTH} characters; not the username, not one of the most common"
    " passwords, not a published demo password."
)
USERNAME_HINT = "Letters, digits and . _ @ + - (no spaces), starting with a letter or digit."
# The service's refusals in the console's words (the API's messages name the API and the CLI).
REFUSALS = {
    "own_account": "This is your own account: another admin must change its role, password or"
    " status, or delete it.",
    "last_admin": "This is the last active admin: create or enable another admin first.",
    "username_taken": "This username is taken (usernames are compared ignoring case).",
}
REFUSED = (FieldProblem, ValidationFailed, Conflict)  # what a form shows next to its fields


def when(moment: datetime | None, *, seconds: bool = False) -> str:
    """A time as the pages show it: UTC, to the minute (or the second)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} UTC")


def authenticator(request: Request) -> Authenticator:
    """The app's authenticator (it hashes passwords and forgets changed accounts)."""
    auth: Authenticator = request.app.state.auth
    return auth


def published_passwords(request: Request) -> frozenset[str]:
    """Passwords published with the demo data: refused for any account, as the API does."""
    published: frozenset[str] = getattr(request.app.state, "published_passwords", frozenset())
    return published


async def admin_form(request: Request) -> FormData:
    """The posted form of the signed-in admin's session (CSRF checked); after the access check."""
    who = signed_in(request)
    assert who is not None  # the `Admin` check ran first
    return await read_form(request, who.csrf_token)


def problems(error: DomainError, default_field: str) -> dict[str, str]:
    """A refusal as messages by field, in the console's words."""
    if error.code in REFUSALS:
        field = "username" if error.code == "username_taken" else default_field
        return {field: REFUSALS[error.code]}
    return field_errors(error, default_field)


def passwords_of(form: FormData) -> tuple[str, dict[str, str]]:
    """The new password (as typed: never stripped) and the problems the form alone shows."""
    password = form.get("password")
    confirm = form.get("password_confirm")
    password = password if isinstance(password, str) else ""
    confirm = confirm if isinstance(confirm, str) else ""
    errors: dict[str, str] = {}
    if not password:
        errors["password"] = "Enter the new password."  # noqa: S105 - a message
    elif len(password) > MAX_LENGTH:
        errors["password"] = f"The password must be at most {MAX_LENGTH} characters."
    if password and password != confirm:
        errors["password_confirm"] = "The two passwords differ: type the same one twice."  # noqa: S105
    return password, errors


def role_of(form: FormData) -> Role:
    """The role chosen in a form (`FieldProblem` on `role` if none or unknown)."""
    value = form.get("role")
    try:
        return Role(value if isinstance(value, str) else "")
    except ValueError:
        raise FieldProblem("role", "Choose a role: admin, manager or staff.") from None


# --- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters as the page shows them (the query string, checked)."""

    username: str = ""
    role: str = ""
    status: str = ""
    sort: str = "username"

    def query(self) -> dict[str, str]:
        """The filters as a query string's parameters (empty ones left out by `with_query`)."""
        return {"username": self.username, "role": self.role, "status": self.status} | (
            {"sort": self.sort} if self.sort != "username" else {}
        )

    def problems(self) -> dict[str, str]:
        """What is wrong with the filters, by field."""
        errors = {}
        if self.role and self.role not in {role.value for role in Role}:
            errors["role"] = "Choose a role from the list."
        if self.status and self.status not in STATUS_CHOICES:
            errors["status"] = "Choose active or disabled."
        if self.sort not in SORTS:
            errors["sort"] = "Choose an order from the list."
        return errors

    async def page(self, session: AsyncSession, page: PageParams) -> tuple[list[Account], PageInfo]:
        """One page of the accounts these filters select, as `GET /api/v1/auth/accounts` does."""
        order = []
        for field in SORTS[self.sort][1]:
            column = accounts.ACCOUNT_SORT[field.removeprefix("-")]
            order.append(column.desc() if field.startswith("-") else column.asc())
        return await accounts.list_accounts(
            session,
            page,
            order,
            username=self.username or None,
            role=Role(self.role) if self.role else None,
            is_active=STATUS_CHOICES[self.status] if self.status else None,
        )


FilterText = Annotated[str, Query(max_length=USERNAME_MAX)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


async def filters_of(  # async: FastAPI runs a plain def in its thread pool
    username: FilterText = "",
    role: FilterText = "",
    status: FilterText = "",
    sort: FilterText = "username",
) -> Filters:
    """The list's filters from the query string (the list and its CSV export read the same)."""
    return Filters(username.strip(), role, status, sort)


ListFilters = Annotated[Filters, Depends(filters_of)]


@router.get(LIST)
async def account_list(
    request: Request,
    session: DbSession,
    admin: Admin,
    filters: ListFilters,
    offset: Offset = 0,
) -> Response:
    """The accounts, filtered by part of the username, role and status, a page at a time."""
    errors = filters.problems()
    rows: list[Account] = []
    info: PageInfo | None = None
    if not errors:
        rows, info = await filters.page(session, PageParams(PAGE_SIZE, offset))
    return render(
        request,
        "accounts/list.html",
        status_code=422 if errors else 200,
        errors=errors,
        filters=filters,
        rows=rows,
        info=info,
        me=admin,
        when=when,
        role_choices=[("", "Any role"), *ROLE_CHOICES],
        status_choices=[("", "Any status"), ("active", "Active"), ("disabled", "Disabled")],
        sort_choices=[(key, label) for key, (label, _) in SORTS.items()],
        page_url=lambda at: with_query(LIST, {**filters.query(), "offset": at or ""}),
        export_url=with_query("/console/accounts/export.csv", filters.query()),
    )


@router.get("/console/accounts/export.csv")
async def account_export(
    request: Request,
    session: DbSession,
    admin: Admin,
    filters: ListFilters,
) -> Response:
    """The accounts the list's filters select, every page of them, as CSV."""
    errors = filters.problems()
    if errors:
        raise FieldProblem(*next(iter(errors.items())))
    rows: list[Account] = []
    while len(rows) < EXPORT_MAX_ROWS:
        found, info = await filters.page(session, PageParams(MAX_LIMIT, len(rows)))
        rows.extend(found)
        if not info.has_more:
            break
    return csv_response(
        "accounts.csv",
        ["id", "username", "role", "status", "created_at", "updated_at"],
        (
            [
                a.id,
                a.username,
                a.role,
                "active" if a.is_active else "disabled",
                a.created_at.astimezone(UTC).isoformat(),
                a.updated_at.astimezone(UTC).isoformat(),
            ]
            for a in rows[:EXPORT_MAX_ROWS]
        ),
    )


# --- a new account -----------------------------------------------------------------------------


def _new_page(
    request: Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/new.html",
        status_code=status_code,
        values={"username": "", "role": Role.STAFF.value, **(values or {})},
        errors=errors or {},
        role_choices=ROLE_CHOICES,
        username_max=USERNAME_MAX,
        password_max=MAX_LENGTH,
        username_hint=USERNAME_HINT,
        password_hint=PASSWORD_HINT,
    )


@router.get(NEW)
async def new_account_form(request: Request, admin: Admin) -> Response:
    """The form to create an account."""
    return _new_page(request)


@router.post(NEW)
async def create_account(request: Request, session: DbSession, admin: Admin) -> Response:
    """Create the account (the password rule applies); to its page, or the form with why not."""
    form = await admin_form(request)
    values = {"username": "", "role": ""}
    errors: dict[str, str] = {}
    try:
        values["username"] = text_field(form, "username", max_length=USERNAME_MAX)
    except FieldProblem as problem:
        errors["username"] = problem.message
    if not values["username"] and not errors:
        errors["username"] = "Enter a username."
    try:
        role = role_of(form)
        values["role"] = role.value
    except FieldProblem as problem:
        errors["role"] = problem.message
    password, password_errors = passwords_of(form)
    errors |= password_errors
    if errors:
        return _new_page(request, values=values, errors=errors, status_code=422)
    try:
        async with session.begin_nested():  # a refusal leaves nothing behind
            account = await accounts.open_account(
                session,
                authenticator(request),
                Operator.of(admin),
                username=values["username"],
                password=password,
                role=role,
                published=published_passwords(request),
            )
    except REFUSED as error:
        return _new_page(
            request,
            values=values,
            errors=problems(error, "form"),
            status_code=error.status_code,
        )
    return redirect(
        f"/console/accounts/{account.id}",
        notice=f"Account {account.username} created ({account.role}).",
    )


# --- one account -------------------------------------------------------------------------------


async def account_page(
    request: Request,
    session: DbSession,
    admin: Principal,
    account_id: int,
    *,
    offset: int = 0,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """An account, its audit trail (newest first, a page at a time) and the forms to change it."""
    account = await accounts.get_account(session, account_id)
    events, info = await accounts.account_events(
        session, account_id, PageParams(EVENTS_PAGE_SIZE, offset)
    )
    here = f"/console/accounts/{account.id}"
    return render(
        request,
        "accounts/account.html",
        status_code=status_code,
        account=account,
        events=events,
        info=info,
        errors=errors or {},
        own=account.id == admin.account_id,
        when=when,
        role_choices=ROLE_CHOICES,
        password_max=MAX_LENGTH,
        password_hint=PASSWORD_HINT,
        here=here,
        page_url=lambda at: with_query(here, {"offset": at or ""}),
    )


@router.get("/console/accounts/{account_id}")
async def account_detail(
    request: Request,
    account_id: IdParam,
    session: DbSession,
    admin: Admin,
    offset: Offset = 0,
) -> Response:
    """One account: its role and status, the forms to change it, and its audit trail."""
    return await account_page(request, session, admin, account_id, offset=offset)
