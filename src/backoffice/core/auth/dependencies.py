"""Who is calling: `authenticate`, and the dependencies `CurrentUser` and `RequirePermission`.

A dependency that checks credentials is declared with `credentials(*schemes)`: the route guard
(core.routing) runs it before the body is read, and the OpenAPI document (core.openapi) says
that the operation takes those schemes. The platform's own is `get_current_user`; a context with
callers of its own (the savings gateway's customers) declares its check the same way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from backoffice.core.auth.service import (
    Authenticator,
    Permission,
    Principal,
    SessionFactory,
)
from backoffice.core.auth.throttle import PLATFORM_SCOPE, LoginThrottle
from backoffice.core.errors import Forbidden, Unauthorized

T = TypeVar("T")


@dataclass(frozen=True)
class SecurityScheme:
    """A way of sending credentials, as the OpenAPI document names and describes it."""

    name: str
    definition: Mapping[str, Any] = field(hash=False)


BASIC = SecurityScheme("basic", {"type": "http", "scheme": "basic"})
BEARER = SecurityScheme(
    "bearer",
    {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A platform account's token from POST /api/v1/auth/token",
    },
)
# Platform accounts: HTTP Basic or a bearer token from POST /api/v1/auth/token.
PLATFORM = (BASIC, BEARER)

# Every credentials check and the schemes it takes (filled by `credentials`).
CREDENTIAL_CHECKS: dict[Callable[..., Any], tuple[SecurityScheme, ...]] = {}


def credentials(
    *schemes: SecurityScheme,
) -> Callable[[Callable[[Request], Awaitable[T]]], Callable[[Request], Coroutine[Any, Any, T]]]:
    """Declare a dependency as a credentials check that takes `schemes`.

    The check runs once per request: the route guard runs it before the body is read (an
    error ends the request there), and the dependency then returns what it found.
    """

    def declare(
        check: Callable[[Request], Awaitable[T]],
    ) -> Callable[[Request], Coroutine[Any, Any, T]]:
        async def checked(request: Request) -> T:
            found: dict[Any, Any] = request.scope.setdefault("state", {}).setdefault(
                "credentials", {}
            )
            if checked not in found:
                found[checked] = await check(request)
            result: T = found[checked]
            return result

        checked.__name__ = check.__name__
        checked.__qualname__ = check.__qualname__
        checked.__doc__ = check.__doc__
        CREDENTIAL_CHECKS[checked] = schemes
        return checked

    return declare


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep or "\x00" in username:  # no account name holds a NUL: PostgreSQL refuses them
        raise Unauthorized("Malformed Basic credentials")
    return username, password


async def authenticate(request: Request) -> Principal:
    """The caller, from HTTP Basic or a bearer token; else `Unauthorized`.

    A remembered Basic verification or a bearer token costs no database round trip. A cache
    miss looks the account up in a session of its own (`app.state.auth_sessions`), outside the
    request's transaction; for a token, whether its account is still active at the token's
    version (see `Authenticator.check_current`).
    """
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized()
    scheme, _, value = header.partition(" ")
    auth: Authenticator = request.app.state.auth
    sessions: SessionFactory | None = request.app.state.auth_sessions
    if scheme.lower() == "bearer":
        principal = auth.decode_token(value.strip())
        if sessions is not None:  # alone, a savings service trusts the token until it expires
            principal = await auth.check_current(sessions, principal)
    elif scheme.lower() == "basic":
        username, password = _basic_credentials(value.strip())
        if sessions is None:  # a service served alone, without the platform's database
            raise Unauthorized(
                "This service runs without the platform's accounts: sign in with a bearer"
                " token from POST /api/v1/auth/token"
            )
        principal = await password_login(request, auth, sessions, username, password)
    else:
        raise Unauthorized("Unsupported authorization scheme")
    request.state.account = principal.username
    return principal


async def password_login(
    request: Request, auth: Authenticator, sessions: SessionFactory, username: str, password: str
) -> Principal:
    """A password login, throttled per account and per address: Basic, the console's sign-in.

    A locked account or address is a 429 before the password is looked at (a remembered
    verification included: the lock must not tell a right guess from a wrong one). A password
    to verify is counted as wrong first, atomically with the check, so that guesses sent at
    once cannot all pass before the first is counted; a right one is taken back.
    """
    throttle: LoginThrottle = request.app.state.login_throttle
    attempt = throttle.attempt(PLATFORM_SCOPE, username, client_address(request))
    remembered = auth.remembered(username, password)
    if remembered is not None:  # verified a moment ago: no password check, one read
        await throttle.check(attempt)
        return remembered
    await throttle.begin(attempt)  # counted as wrong until it proves right
    try:
        principal = await auth.authenticate(sessions, username, password)
    except Unauthorized:
        raise
    except Exception:  # the database failed: no password was checked
        await throttle.abandoned(attempt)
        raise
    await throttle.succeeded(attempt)
    return principal


def client_address(request: Request) -> str | None:
    """The client's address as the server saw it (behind a proxy: uvicorn's --proxy-headers)."""
    return request.client.host if request.client is not None else None


@credentials(*PLATFORM)
async def get_current_user(request: Request) -> Principal:
    """The authenticated caller (401 otherwise).

    The route guard (core.routing) authenticates before the body is read; this dependency
    hands the principal it found to the endpoint. `async def`, like every dependency on the hot
    path: a plain `def` runs in a worker thread.
    """
    return await authenticate(request)


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
