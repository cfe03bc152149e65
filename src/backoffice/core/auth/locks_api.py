"""`/api/v1/auth/locks`: the login locks an admin can see and clear (core.auth.throttle)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

from backoffice.core.auth.dependencies import CurrentUser
from backoffice.core.auth.service import Principal
from backoffice.core.auth.throttle import KEY_MAX_LENGTH, Lock, LoginThrottle, scope_of
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import AUTH_ERRORS, Forbidden, NotFound, error_responses
from backoffice.core.routing import ApiRouter

# A key as listed: `<scope>:<name>`; visible characters and spaces, no control characters.
KEY_PATTERN = r"^(address|platform|savings):[^\x00-\x1f\x7f]+$"


class LockRead(BaseModel):
    """A locked login key."""

    key: str = Field(description="`platform:<username>`, `savings:<email>` or `address:<ip>`")
    scope: str = Field(description="`platform`, `savings` or `address`")
    failures: int = Field(description="Wrong passwords counted on the key")
    locked_until: datetime
    retry_after: int = Field(description="Seconds until the key may try again")

    @classmethod
    def of(cls, lock: Lock) -> LockRead:
        """The lock as the API shows it."""
        until = datetime.fromtimestamp(lock.locked_until, UTC)
        return cls(
            key=lock.key,
            scope=scope_of(lock.key),
            failures=lock.failures,
            locked_until=until,
            retry_after=lock.retry_after,
        )


class UnlockRead(BaseModel):
    """A cleared key."""

    key: str


class NoSuchLock(NotFound):
    """The key has no lock and no failures to clear."""

    code = "lock_not_found"
    default_message = "No login lock or failure is recorded under this key"


async def _admin(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin may see or clear login locks")
    return principal


Admin = Annotated[Principal, Depends(_admin)]
LockKey = Annotated[
    str,
    Query(
        min_length=9,
        max_length=KEY_MAX_LENGTH + 10,
        pattern=KEY_PATTERN,
        description="The key as listed, e.g. `savings:ada@example.com` or `address:203.0.113.7`",
    ),
]

router = ApiRouter(prefix="/api/v1/auth/locks", tags=["auth"])


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


@router.get(
    "",
    response_model=Envelope[list[LockRead]],
    responses=error_responses(*AUTH_ERRORS),
    summary="List the login keys locked now (admins)",
)
async def list_locks(_: Admin, request: Request) -> Envelope[list[LockRead]]:
    """Accounts and client addresses locked after wrong passwords, the longest lock first."""
    return ok([LockRead.of(lock) for lock in await _throttle(request).locks()])


@router.delete(
    "",
    response_model=Envelope[UnlockRead],
    responses=error_responses(*AUTH_ERRORS, NoSuchLock),
    summary="Clear a login key's lock and failures (admins)",
)
async def unlock(key: LockKey, _: Admin, request: Request) -> Envelope[UnlockRead]:
    """The key may sign in again at once; its count of wrong passwords starts over."""
    if not await _throttle(request).unlock(key):
        raise NoSuchLock()
    return ok(UnlockRead(key=key), "Unlocked")
