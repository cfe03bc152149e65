"""Login throttling: wrong passwords per account and per client address lock them for a while.

Every login (the platform's HTTP Basic, hence `POST /api/v1/auth/token` too, and the savings
login) checks its account's key and its address's key before any password is verified. A
locked key is answered 429 with `Retry-After` without touching the password, whether the
account exists or not: a lock says nothing about the account, and a correct guess made while
locked is refused like a wrong one (the lock is no oracle). A password about to be verified is
counted as a wrong one first, in the same atomic step as the check, and taken back once it
proves right: so guesses sent all at once cannot all pass the check before the first of them
is counted. Each wrong password counts on both keys; a key's `free_failures`-th locks it, and each later one for twice as long as the last
(1 s, 2 s, 4 s ... up to a maximum). Failures are forgotten some time after the last one, and an
account's are forgotten when it signs in.

The decision rules are the plain functions below (`lock_seconds`, `record_failure`,
`remaining`); the records live in this process's memory or, when `REDIS_URL` is set, in Redis,
so every worker shares them (as core.ratelimit does). An operator lists and clears locks with
`GET`/`DELETE /api/v1/auth/locks` or `backoffice logins locks|unlock`.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from backoffice.core.errors import RateLimited

if TYPE_CHECKING:
    from backoffice.core.config import Settings

# Keys are `<scope>:<account name>` and `address:<client address>`.
ADDRESS_SCOPE: Final = "address"
PLATFORM_SCOPE: Final = "platform"
SAVINGS_SCOPE: Final = "savings"
KEY_MAX_LENGTH: Final = 300  # a longer name is cut: two names that share 300 characters share a key
REDIS_PREFIX: Final = "backoffice:login:"
MEMORY_MAX_KEYS: Final = 100_000


class LoginThrottled(RateLimited):
    """Too many wrong passwords for this account or from this address: retry later."""

    code = "too_many_failed_logins"
    default_message = "Too many failed sign-ins: retry after the time Retry-After gives"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many failed sign-ins: retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


# --- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """How one kind of key is throttled.

    Attributes:
        free_failures: wrong passwords that lock the key (the last of them locks it); 0
            disables the throttle.
        first_lock: seconds of the first lock; each later one is twice the last.
        max_lock: the longest lock, in seconds.
        memory: failures are forgotten this many seconds after the last one; more than
            `max_lock`, so that waiting out a lock never wipes the count.
    """

    free_failures: int
    first_lock: float = 1.0
    max_lock: float = 900.0
    memory: float = 3600.0

    def __post_init__(self) -> None:
        if self.free_failures < 0 or not 0 < self.first_lock <= self.max_lock < self.memory:
            raise ValueError("need free_failures >= 0 and 0 < first_lock <= max_lock < memory")

    @property
    def enabled(self) -> bool:
        """Whether this kind of key is throttled at all."""
        return self.free_failures > 0


@dataclass(frozen=True, slots=True)
class Record:
    """What is known of a key: its failures, the last one's time, its lock's end (epoch s)."""

    failures: int
    last_failure: float
    locked_until: float


def lock_seconds(policy: Policy, failures: int) -> float:
    """How long a key is locked right after its `failures`-th failure in a row (0: not).

    The `free_failures`-th locks it `first_lock` seconds, each later one twice as long.
    """
    beyond = failures - policy.free_failures
    if beyond < 0:
        return 0.0
    return min(policy.max_lock, math.ldexp(policy.first_lock, min(beyond, 64)))


def is_forgotten(policy: Policy, record: Record | None, now: float) -> bool:
    """Whether the record no longer counts (none, or its last failure is `memory` old)."""
    return record is None or now - record.last_failure >= policy.memory


def record_failure(policy: Policy, record: Record | None, now: float) -> Record:
    """The record after one more wrong password at `now`.

    A key that is not locked keeps a lock end in the past (0 at first), never `now`: another
    worker's clock a little behind must not read that as a lock.
    """
    if record is None or is_forgotten(policy, record, now):
        failures, until, last = 1, 0.0, now
    else:
        failures, until, last = (
            record.failures + 1,
            record.locked_until,
            max(now, record.last_failure),
        )
    lock = lock_seconds(policy, failures)
    return Record(failures, last, max(until, now + lock) if lock > 0 else until)


def take_back(record: Record | None, now: float) -> Record | None:
    """The record with one counted failure taken back (the password proved right).

    A lock still running is that failure's (the attempt was let through unlocked): it ends.
    None: nothing left to remember.
    """
    if record is None or record.failures <= 1:
        return None
    until = record.locked_until if record.locked_until <= now else 0.0
    return Record(record.failures - 1, record.last_failure, until)


def remaining(policy: Policy, record: Record | None, now: float) -> float:
    """Seconds until the key may try again (0: now)."""
    if record is None or is_forgotten(policy, record, now):
        return 0.0
    return max(0.0, record.locked_until - now)


def fold_name(name: str) -> str:
    """An account name as a key holds it: case and look-alike forms folded, like emails are."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).lower()).strip()
    return folded[:KEY_MAX_LENGTH]


def scope_of(key: str) -> str:
    """The scope a key belongs to: `address`, `platform` or `savings`."""
    return key.partition(":")[0]


# --- where records live ------------------------------------------------------------------------


class ThrottleStore(Protocol):
    """Keeps the records, shared by whoever shares the store."""

    async def read(self, keys: Sequence[str]) -> list[Record | None]:
        """The records of these keys (None: no record)."""
        ...

    async def reserve(self, keys: Sequence[tuple[str, Policy]], now: float) -> float:
        """Check and count at once: the wait if any key is locked, else 0.

        With a wait nothing is counted; with 0 one failure is counted on each key
        (`record_failure`), atomically against every other reservation.
        """
        ...

    async def take_back(self, key: str, now: float) -> None:
        """Apply `take_back` to the key's record, atomically."""
        ...

    async def clear(self, key: str) -> bool:
        """Forget a key; whether it had a record."""
        ...

    async def records(self) -> dict[str, Record]:
        """Every key's record (for an operator's list)."""
        ...


class MemoryStore:
    """One process's records: right for a single worker, and the default.

    Each operation runs without an await inside, so it is atomic on the event loop. Bounded:
    past `max_keys`, forgotten records go first, then the least recently failed half.
    """

    def __init__(self, *, max_keys: int = MEMORY_MAX_KEYS, memory: float = 3600.0) -> None:
        self._records: dict[str, Record] = {}
        self._max_keys = max_keys
        self._memory = memory

    async def read(self, keys: Sequence[str]) -> list[Record | None]:
        return [self._records.get(key) for key in keys]

    async def reserve(self, keys: Sequence[tuple[str, Policy]], now: float) -> float:
        wait = max(
            (remaining(policy, self._records.get(key), now) for key, policy in keys), default=0.0
        )
        if wait > 0:
            return wait
        for key, policy in keys:
            if key not in self._records and len(self._records) >= self._max_keys:
                self._evict(now)
            self._records[key] = record_failure(policy, self._records.get(key), now)
        return 0.0

    async def take_back(self, key: str, now: float) -> None:
        record = take_back(self._records.get(key), now)
        if record is None:
            self._records.pop(key, None)
        else:
            self._records[key] = record

    def _evict(self, now: float) -> None:
        kept = {k: r for k, r in self._records.items() if now - r.last_failure < self._memory}
        if len(kept) >= self._max_keys:
            recent = sorted(kept.items(), key=lambda item: item[1].last_failure)
            kept = dict(recent[len(recent) // 2 :])
        self._records = kept

    async def clear(self, key: str) -> bool:
        return self._records.pop(key, None) is not None

    async def records(self) -> dict[str, Record]:
        return dict(self._records)


_FIELDS = ("f", "l", "u")


class RedisStore:
    """Records in Redis hashes (`backoffice:login:<key>`), so that every worker shares them.

    A reservation or a take-back is a WATCH/MULTI transaction around the pure rules, retried
    when another worker changed one of its keys meanwhile: concurrent attempts from several
    workers all count. Each hash expires `memory` seconds after its last failure.
    """

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    @staticmethod
    def _parse(values: Sequence[bytes | str | None]) -> Record | None:
        if any(value is None for value in values):
            return None
        failures, last, until = values
        return Record(int(failures or 0), float(last or 0), float(until or 0))

    async def read(self, keys: Sequence[str]) -> list[Record | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(REDIS_PREFIX + key, *_FIELDS)
            rows = await pipe.execute()
        return [self._parse(row) for row in rows]

    async def _transaction(
        self,
        keys: Sequence[str],
        change: Callable[[list[Record | None]], list[Record | None] | None],
        expiry: float | None = None,
    ) -> None:
        """Write `change(records)` for `keys` atomically against other writers.

        A None record deletes its key; `change` returning None writes nothing. `expiry`: the
        written keys' new time to live in seconds (None: each keeps its own).
        """
        from redis.exceptions import WatchError

        names = [REDIS_PREFIX + key for key in keys]
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*names)
                    records = [self._parse(await pipe.hmget(name, *_FIELDS)) for name in names]
                    changed = change(records)
                    if changed is None:
                        return  # leaving the block unwatches
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for name, record in zip(names, changed, strict=True):
                        if record is None:
                            pipe.delete(name)
                            continue
                        values = (
                            record.failures,
                            repr(record.last_failure),
                            repr(record.locked_until),
                        )
                        pipe.hset(name, mapping=dict(zip(_FIELDS, values, strict=True)))
                        if expiry is not None:
                            pipe.expire(name, math.ceil(expiry))
                    await pipe.execute()
                    return
                except WatchError:  # another worker changed a key meanwhile: again
                    continue

    async def reserve(self, keys: Sequence[tuple[str, Policy]], now: float) -> float:
        wait = 0.0

        def count(records: list[Record | None]) -> list[Record | None] | None:
            nonlocal wait
            pairs = list(zip(keys, records, strict=True))
            wait = max(remaining(policy, record, now) for (_, policy), record in pairs)
            if wait > 0:
                return None
            return [record_failure(policy, record, now) for (_, policy), record in pairs]

        memory = max(policy.memory for _, policy in keys)
        await self._transaction([key for key, _ in keys], count, expiry=memory)
        return wait

    async def take_back(self, key: str, now: float) -> None:
        await self._transaction([key], lambda records: [take_back(records[0], now)])

    async def clear(self, key: str) -> bool:
        return bool(await self._redis.delete(REDIS_PREFIX + key))

    async def records(self) -> dict[str, Record]:
        names = [name async for name in self._redis.scan_iter(match=REDIS_PREFIX + "*")]
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(name, *_FIELDS)
            rows = await pipe.execute()
        found = {}
        for name, row in zip(names, rows, strict=True):
            record = self._parse(row)
            if record is not None:  # expired between the scan and the read
                found[name.decode()[len(REDIS_PREFIX) :]] = record
        return found


# --- the throttle ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login's keys, each with its policy (disabled kinds left out).

    Attributes:
        keys: (key, policy) pairs; the account's first when it is throttled.
        account: the account's key, or None when accounts are not throttled.
    """

    keys: tuple[tuple[str, Policy], ...]
    account: str | None


@dataclass(frozen=True, slots=True)
class Lock:
    """A key that is locked now."""

    key: str
    failures: int
    locked_until: float
    retry_after: int


class LoginThrottle:
    """Checks, counts and clears wrong passwords per account and per address."""

    def __init__(
        self,
        store: ThrottleStore,
        *,
        account: Policy,
        address: Policy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.account_policy = account
        self.address_policy = address
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store: ThrottleStore | None = None
    ) -> LoginThrottle:
        """The throttle the settings describe, in Redis when `REDIS_URL` is set."""
        limits = {
            "max_lock": float(settings.login_lock_max_seconds),
            "memory": float(settings.login_failure_memory_seconds),
        }
        account = Policy(settings.login_free_failures_per_account, **limits)
        address = Policy(settings.login_free_failures_per_address, **limits)
        if store is None:
            url = settings.redis_url
            store = RedisStore(url) if url else MemoryStore(memory=limits["memory"])
        return cls(store, account=account, address=address)

    def policy_of(self, key: str) -> Policy:
        """The policy of a key, by its scope."""
        return self.address_policy if scope_of(key) == ADDRESS_SCOPE else self.account_policy

    def attempt(self, scope: str, name: str, address: str | None) -> Attempt:
        """The keys of a login to `scope` as `name` from `address`."""
        keys: list[tuple[str, Policy]] = []
        account = None
        if self.account_policy.enabled:
            account = f"{scope}:{fold_name(name)}"
            keys.append((account, self.account_policy))
        if self.address_policy.enabled and address:
            keys.append((f"{ADDRESS_SCOPE}:{address[:KEY_MAX_LENGTH]}", self.address_policy))
        return Attempt(tuple(keys), account)

    async def check(self, attempt: Attempt) -> None:
        """Raise `LoginThrottled` if any key is locked (counting nothing).

        For credentials verified before (no password is checked again): one read, one Redis
        round trip; nothing at all when throttling is off.
        """
        if not attempt.keys:
            return
        now = self._clock()
        records = await self.store.read([key for key, _ in attempt.keys])
        wait = max(
            remaining(policy, record, now)
            for (_, policy), record in zip(attempt.keys, records, strict=True)
        )
        if wait > 0:
            raise LoginThrottled(wait)

    async def begin(self, attempt: Attempt) -> None:
        """Before a password is verified: refuse it if locked, else count it as wrong.

        Raises `LoginThrottled` if any key is locked; else counts the attempt as a wrong
        password on every key, in the same atomic step (`succeeded` takes it back).
        """
        if not attempt.keys:
            return
        wait = await self.store.reserve(attempt.keys, self._clock())
        if wait > 0:
            raise LoginThrottled(wait)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget the account's failures, take it back from the rest."""
        now = self._clock()
        for key, _ in attempt.keys:
            if key == attempt.account:
                await self.store.clear(key)
            else:
                await self.store.take_back(key, now)

    async def abandoned(self, attempt: Attempt) -> None:
        """The password could not be verified (a service down): take the attempt back."""
        now = self._clock()
        for key, _ in attempt.keys:
            await self.store.take_back(key, now)

    async def locks(self) -> list[Lock]:
        """The keys locked now, the longest lock first."""
        now = self._clock()
        found = []
        for key, record in (await self.store.records()).items():
            wait = remaining(self.policy_of(key), record, now)
            if wait > 0:
                found.append(Lock(key, record.failures, record.locked_until, math.ceil(wait)))
        return sorted(found, key=lambda lock: (-lock.locked_until, lock.key))

    async def unlock(self, key: str) -> bool:
        """Forget a key (its lock and its failures); whether there was anything to forget."""
        return await self.store.clear(key)
