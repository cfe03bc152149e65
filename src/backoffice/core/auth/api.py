"""Authentication dependencies (`CurrentUser`, `RequirePermission`) and `/api/v1/auth`."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBearer
from pydantic import BaseModel

from backoffice.core.auth.service import Authenticator, Permission, Principal, Role
from backoffice.core.db import DbSession
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import Forbidden, Unauthorized, error_responses

# Declared only so that /docs offers both schemes; parsing is ours (one header, two schemes).
_basic_scheme = HTTPBasic(auto_error=False)
_bearer_scheme = HTTPBearer(auto_error=False)


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("Malformed Basic credentials")
    return username, password


async def get_current_user(
    request: Request,
    session: DbSession,
    _basic: Annotated[Any, Depends(_basic_scheme)],
    _bearer: Annotated[Any, Depends(_bearer_scheme)],
) -> Principal:
    """The authenticated caller, from HTTP Basic or a bearer token; else 401."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized()
    scheme, _, value = header.partition(" ")
    auth: Authenticator = request.app.state.auth
    if scheme.lower() == "bearer":
        principal = auth.decode_token(value.strip())
    elif scheme.lower() == "basic":
        username, password = _basic_credentials(value.strip())
        principal = await auth.authenticate(session, username, password)
    else:
        raise Unauthorized("Unsupported authorization scheme")
    request.state.account = principal.username
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def RequirePermission(permission: Permission) -> Any:  # noqa: N802 - reads as a type in signatures
    """A dependency that yields the caller if their role grants `permission`, else 403."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"Role {principal.role.value!r} may not {permission.value}")
        return principal

    return Depends(check)


CanCreate = Annotated[Principal, RequirePermission(Permission.CREATE)]
CanRead = Annotated[Principal, RequirePermission(Permission.READ)]
CanUpdate = Annotated[Principal, RequirePermission(Permission.UPDATE)]
CanDelete = Annotated[Principal, RequirePermission(Permission.DELETE)]


class TokenRead(BaseModel):
    """An OAuth2-style bearer token."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class AccountRead(BaseModel):
    """The caller as the platform sees them."""

    id: int
    username: str
    role: Role
    permissions: list[Permission]


router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Envelope[TokenRead],
    responses=error_responses(Unauthorized),
    summary="Exchange Basic credentials for a short-lived bearer token",
)
async def issue_token(request: Request, principal: CurrentUser) -> Envelope[TokenRead]:
    """Send HTTP Basic credentials; use the token as `Authorization: Bearer <token>`."""
    token, ttl = request.app.state.auth.issue_token(principal)
    return ok(TokenRead(access_token=token, expires_in=ttl), "Token issued")


@router.get("/me", response_model=Envelope[AccountRead], responses=error_responses(Unauthorized))
async def who_am_i(principal: CurrentUser) -> Envelope[AccountRead]:
    """The authenticated account and what its role may do."""
    permissions = sorted(p for p in Permission if principal.can(p))
    return ok(
        AccountRead(
            id=principal.account_id,
            username=principal.username,
            role=principal.role,
            permissions=permissions,
        )
    )
