"""`/api/v1/auth/locks`: the login locks an admin can see and clear (core.auth.locks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

from backoffice.core.auth import locks
from backoffice.core.auth.dependencies import CurrentUser
from backoffice.core.auth.locks import KEY_MAX, KEY_MIN, KEY_PATTERN, LockView, NoSuchLock
from backoffice.core.auth.service import Principal
from backoffice.core.auth.throttle import LoginThrottle
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import AUTH_ERRORS, Forbidden, error_responses
from backoffice.core.routing import ApiRouter


class LockRead(BaseModel):
    """A locked login key."""

    key: str = Field(description="`platform:<username>`, `savings:<email>` or `address:<ip>`")
    scope: str = Field(description="`platform`, `savings` or `address`")
    failures: int = Field(description="Wrong passwords counted on the key")
    locked_until: datetime
    retry_after: int = Field(description="Seconds until the key may try again")

    @classmethod
    def of(cls, lock: LockView) -> LockRead:
        """The lock as the API shows it."""
        return cls(
            key=lock.key,
            scope=lock.scope,
            failures=lock.failures,
            locked_until=lock.locked_until,
            retry_after=lock.retry_after,
        )


class UnlockRead(BaseModel):
    """A cleared key."""

    key: str


async def _admin(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin may see or clear login locks")
    return principal


Admin = Annotated[Principal, Depends(_admin)]
LockKey = Annotated[
    str,
    Query(
        min_length=KEY_MIN,
        max_length=KEY_MAX,
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
    return ok([LockRead.of(lock) for lock in await locks.current_locks(_throttle(request))])


@router.delete(
    "",
    response_model=Envelope[UnlockRead],
    responses=error_responses(*AUTH_ERRORS, NoSuchLock),
    summary="Clear a login key's lock and failures (admins)",
)
async def unlock(key: LockKey, _: Admin, request: Request) -> Envelope[UnlockRead]:
    """The key may sign in again at once; its count of wrong passwords starts over."""
    await locks.clear_lock(_throttle(request), key)
    return ok(UnlockRead(key=key), "Unlocked")
