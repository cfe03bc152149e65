"""The login locks an admin sees and clears (core.auth.throttle), for every way of doing it.

`GET`/`DELETE /api/v1/auth/locks` (core.auth.locks_api) and the console's login-locks page
(backoffice.console.logins) both call these: the same keys are accepted, the same locks shown,
the same error for a key with nothing to clear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from backoffice.core.auth.throttle import (
    ADDRESS_SCOPE,
    KEY_MAX_LENGTH,
    PLATFORM_SCOPE,
    SAVINGS_SCOPE,
    Lock,
    LoginThrottle,
    scope_of,
)
from backoffice.core.errors import NotFound, ValidationFailed

# A key as listed: `<scope>:<name>`; visible characters and spaces, no control characters.
KEY_PATTERN: Final = r"^(address|platform|savings):[^\x00-\x1f\x7f]+$"
_KEY = re.compile(r"(address|platform|savings):[^\x00-\x1f\x7f]+")  # fullmatch: see accounts
KEY_MIN: Final = 9  # `address:x`
KEY_MAX: Final = KEY_MAX_LENGTH + 10  # the longest scope, its colon, and a name cut at the max

# What each scope's keys name, in words.
SCOPE_NAMES: Final = {
    PLATFORM_SCOPE: "account",
    SAVINGS_SCOPE: "savings customer",
    ADDRESS_SCOPE: "address",
}


class NoSuchLock(NotFound):
    """The key has no lock and no failures to clear."""

    code = "lock_not_found"
    default_message = "No login lock or failure is recorded under this key"


@dataclass(frozen=True, slots=True)
class LockView:
    """A lock as an operator reads it: what is locked, until when, after how many failures."""

    key: str
    scope: str
    name: str
    failures: int
    locked_until: datetime
    retry_after: int

    @classmethod
    def of(cls, lock: Lock) -> LockView:
        """The lock with its scope and name apart and its end as a UTC time."""
        return cls(
            key=lock.key,
            scope=scope_of(lock.key),
            name=lock.key.partition(":")[2],
            failures=lock.failures,
            locked_until=datetime.fromtimestamp(lock.locked_until, UTC),
            retry_after=lock.retry_after,
        )

    @property
    def kind(self) -> str:
        """What the key names, in words (`account`, `savings customer`, `address`)."""
        return SCOPE_NAMES.get(self.scope, self.scope)


def check_key(key: str, *, field: str = "key") -> None:
    """Refuse a key that is not `<scope>:<name>` as `current_locks` lists them."""
    if not KEY_MIN <= len(key) <= KEY_MAX or not _KEY.fullmatch(key):
        raise ValidationFailed.field(
            field, "A key is address:, platform: or savings: followed by the name, as listed"
        )


async def current_locks(throttle: LoginThrottle) -> list[LockView]:
    """The keys locked now, the longest lock first."""
    return [LockView.of(lock) for lock in await throttle.locks()]


async def clear_lock(throttle: LoginThrottle, key: str) -> None:
    """Forget the key's lock and failures: it may sign in again at once.

    Raises:
        ValidationFailed: the key is not one `current_locks` could list.
        NoSuchLock: nothing is recorded under the key (already cleared, or expired).
    """
    check_key(key)
    if not await throttle.unlock(key):
        raise NoSuchLock()
