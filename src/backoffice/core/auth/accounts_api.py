"""`/api/v1/auth/accounts`: admins manage the platform's accounts; every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from backoffice.core.auth import accounts
from backoffice.core.auth.accounts import USERNAME_MAX, USERNAME_PATTERN, Operator
from backoffice.core.auth.dependencies import RequirePermission
from backoffice.core.auth.passwords import MAX_LENGTH, STRENGTH_RULE
from backoffice.core.auth.service import Authenticator, Permission, Principal, Role
from backoffice.core.db import DbSession
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import (
    AUTH_ERRORS,
    Conflict,
    NotFound,
    ValidationFailed,
    error_responses,
)
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import Order, Pagination, sorting
from backoffice.core.routing import ApiRouter
from backoffice.core.types import Flag, FlagParam, IdParam, omissible

Username = Annotated[
    str, StringConstraints(min_length=1, max_length=USERNAME_MAX, pattern=USERNAME_PATTERN)
]
# The password rule (core.auth.passwords) says what else is refused, as a 422 naming the field.
Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LENGTH)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Strict):
    """A new account: the password must pass the password rule."""

    username: Username
    password: Password
    role: Role


class AccountUpdate(_Strict):
    """A new role, or `is_active: false` to disable the account (`true` enables it again)."""

    role: Role = omissible()
    is_active: Flag = omissible()


class PasswordReset(_Strict):
    """The account's new password (the password rule applies)."""

    password: Password


class AccountAdminRead(BaseModel):
    """An account as an admin sees it (never its password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class AccountEventRead(BaseModel):
    """One change to an account: what, by whom, when."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    username: str
    action: str
    actor_account_id: int | None
    actor: str
    details: dict[str, Any]
    created_at: datetime


router = ApiRouter(prefix="/api/v1/auth/accounts", tags=["accounts"])
Admin = Annotated[Principal, RequirePermission(Permission.MANAGE_ACCOUNTS)]
sort_accounts = sorting(accounts.ACCOUNT_SORT, default="id")
_READ_ERRORS = error_responses(*AUTH_ERRORS, NotFound)
_CHANGE_ERRORS = error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed)


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def _published(request: Request) -> frozenset[str]:
    """Passwords published with the demo data: refused for any account."""
    published: frozenset[str] = getattr(request.app.state, "published_passwords", frozenset())
    return published


def _read(account: Any) -> AccountAdminRead:
    return AccountAdminRead.model_validate(account)


@router.get(
    "",
    response_model=Envelope[list[AccountAdminRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List accounts",
)
async def list_accounts(
    session: DbSession,
    _: Admin,
    page: Pagination,
    order: Annotated[Order, Depends(sort_accounts)],
    username: Annotated[
        str | None, Query(max_length=USERNAME_MAX, description="Part of the username, any case")
    ] = None,
    role: Role | None = None,
    is_active: FlagParam | None = None,
) -> Envelope[list[AccountAdminRead]]:
    """Admins only; paginated, filtered by part of the username, role and status."""
    rows, info = await accounts.list_accounts(
        session, page, order, username=username, role=role, is_active=is_active
    )
    return ok([_read(a) for a in rows], pagination=info)


@router.post(
    "",
    status_code=201,
    response_model=Envelope[AccountAdminRead],
    responses=error_responses(*AUTH_ERRORS, Conflict, ValidationFailed),
    summary="Create an account",
    openapi_extra=rules_beyond_schema(STRENGTH_RULE),
)
async def create_account(
    data: AccountCreate, request: Request, session: DbSession, admin: Admin
) -> Envelope[AccountAdminRead]:
    """A taken username (ignoring case) is a 409; a weak password a 422 (`weak_password`)."""
    account = await accounts.open_account(
        session,
        _auth(request),
        Operator.of(admin),
        username=data.username,
        password=data.password,
        role=data.role,
        published=_published(request),
    )
    return ok(_read(account), "Account created", status_code=201)


@router.get(
    "/{account_id}",
    response_model=Envelope[AccountAdminRead],
    responses=_READ_ERRORS,
    summary="One account",
)
async def get_account(
    account_id: IdParam, session: DbSession, _: Admin
) -> Envelope[AccountAdminRead]:
    """404 for an unknown id."""
    return ok(_read(await accounts.get_account(session, account_id)))


@router.patch(
    "/{account_id}",
    response_model=Envelope[AccountAdminRead],
    responses=_CHANGE_ERRORS,
    summary="Change an account's role, or disable or enable it",
)
async def update_account(
    account_id: IdParam, data: AccountUpdate, request: Request, session: DbSession, admin: Admin
) -> Envelope[AccountAdminRead]:
    """Its tokens issued before stop working.

    Not your own account (409 `own_account`), nor the last active admin (409 `last_admin`).
    """
    account = await accounts.get_account(session, account_id)
    changes = data.model_dump(exclude_unset=True)
    operator, auth = Operator.of(admin), _auth(request)
    if "role" in changes:
        await accounts.change_role(session, auth, operator, account, data.role)
    if "is_active" in changes:
        await accounts.set_active(session, auth, operator, account, data.is_active)
    return ok(_read(account), "Account updated")


@router.put(
    "/{account_id}/password",
    response_model=Envelope[AccountAdminRead],
    responses=_CHANGE_ERRORS,
    summary="Reset an account's password",
    openapi_extra=rules_beyond_schema(STRENGTH_RULE),
)
async def reset_password(
    account_id: IdParam, data: PasswordReset, request: Request, session: DbSession, admin: Admin
) -> Envelope[AccountAdminRead]:
    """The password rule applies (422 `weak_password`); the account's tokens stop working."""
    account = await accounts.get_account(session, account_id)
    await accounts.reset_password(
        session,
        _auth(request),
        Operator.of(admin),
        account,
        data.password,
        published=_published(request),
    )
    return ok(_read(account), "Password reset")


@router.get(
    "/{account_id}/audit",
    response_model=Envelope[list[AccountEventRead]],
    responses=_READ_ERRORS,
    summary="Who did what to an account, when",
)
async def account_audit(
    account_id: IdParam, session: DbSession, _: Admin, page: Pagination
) -> Envelope[list[AccountEventRead]]:
    """Newest first; kept after the account is deleted."""
    events, info = await accounts.account_events(session, account_id, page)
    return ok([AccountEventRead.model_validate(e) for e in events], pagination=info)
