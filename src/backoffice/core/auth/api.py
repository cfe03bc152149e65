"""Authentication dependencies (`CurrentUser`, `RequirePermission`) and `/api/v1/auth`."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from backoffice.core.auth.service import (
    Authenticator,
    Permission,
    Principal,
    Role,
    SessionFactory,
)
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import Forbidden, Unauthorized, error_responses

PUBLIC_PATHS = frozenset({"/health", "/ready"})


def document_security(app: FastAPI) -> None:
    """Declare Basic and Bearer in the OpenAPI document, so /docs offers both.

    Declared here rather than as per-request security dependencies: parsing is ours (one
    header, two schemes), and the hot path should not pay for two extra dependencies.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            }
            schema["security"] = [{"basic": []}, {"bearer": []}]
            for path in PUBLIC_PATHS & schema["paths"].keys():
                for operation in schema["paths"][path].values():
                    operation["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("Malformed Basic credentials")
    return username, password


async def get_auth_sessions(request: Request) -> SessionFactory:
    """Where a cache miss looks the account up: a session of its own, outside the request's.

    `async def`, like every dependency on the hot path: a plain `def` runs in a worker thread.
    """
    return request.app.state.db.sessionmaker  # type: ignore[no-any-return]


async def get_current_user(
    request: Request, sessions: Annotated[SessionFactory, Depends(get_auth_sessions)]
) -> Principal:
    """The authenticated caller, from HTTP Basic or a bearer token; else 401.

    A remembered Basic verification or a bearer token costs no database round trip.
    """
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized()
    scheme, _, value = header.partition(" ")
    auth: Authenticator = request.app.state.auth
    if scheme.lower() == "bearer":
        principal = auth.decode_token(value.strip())
    elif scheme.lower() == "basic":
        username, password = _basic_credentials(value.strip())
        principal = await auth.authenticate(sessions, username, password)
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
