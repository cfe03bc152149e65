"""Login throttling: the pure rules (hypothesis), both stores, and the throttle over them."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.auth.throttle import (
    LoginThrottle,
    LoginThrottled,
    MemoryStore,
    Policy,
    Record,
    RedisStore,
    ThrottleStore,
    fold_name,
    is_forgotten,
    lock_seconds,
    record_failure,
    remaining,
    take_back,
)

policies = st.builds(
    Policy,
    free_failures=st.integers(1, 30),
    first_lock=st.floats(0.5, 10),
    max_lock=st.floats(10, 1000),
    memory=st.floats(1001, 10_000),
)


@given(policies, st.integers(0, 200))
def test_the_free_failures_end_in_a_lock_growing_up_to_the_maximum(policy, failures):
    seconds = lock_seconds(policy, failures)
    if failures < policy.free_failures:
        assert seconds == 0
    else:
        assert policy.first_lock <= seconds <= policy.max_lock
        assert seconds >= lock_seconds(policy, failures - 1)
    assert lock_seconds(policy, policy.free_failures) == policy.first_lock
    assert lock_seconds(policy, 10_000) == policy.max_lock


@given(policies, st.lists(st.floats(0, 2000), min_size=1, max_size=80))
def test_an_attacker_waits_at_least_each_lock_between_two_verified_guesses(policy, pauses):
    """Guesses at any times; one is verified only when the key is not locked."""
    now, record, verified = 0.0, None, []
    for pause in pauses:
        now += pause
        if remaining(policy, record, now) == 0:
            forgotten = is_forgotten(policy, record, now)
            record = record_failure(policy, record, now)
            verified.append((now, record.failures))
            assert record.failures == 1 or not forgotten
    for (before, count), (after, _) in itertools.pairwise(verified):
        assert after - before >= lock_seconds(policy, count) - 1e-9  # float sums


@given(policies, st.integers(1, 100), st.floats(0, 5000))
def test_failures_are_forgotten_after_their_memory_and_never_before_a_lock_ends(
    policy, failures, quiet
):
    record = None
    for _ in range(failures):
        record = record_failure(policy, record, 0.0)
    assert record is not None and record.failures == failures
    left = remaining(policy, record, quiet)
    if quiet >= policy.memory:
        assert is_forgotten(policy, record, quiet) and left == 0
        assert record_failure(policy, record, quiet).failures == 1
    else:
        assert left == max(0.0, lock_seconds(policy, failures) - quiet)


@given(policies, st.lists(st.floats(0, 2000), max_size=40), st.floats(0, 2000))
def test_a_right_password_taken_back_leaves_the_key_as_it_was(policy, pauses, pause):
    """Counted as wrong when let through, then taken back: as if it never happened."""
    now, record = 0.0, None
    for step in pauses:
        now += step
        if remaining(policy, record, now) == 0:
            record = record_failure(policy, record, now)
    now += pause
    if remaining(policy, record, now) > 0:
        return  # locked: no attempt is let through, nothing to take back
    back = take_back(record_failure(policy, record, now), now)
    assert remaining(policy, back, now) == 0
    before = 0 if is_forgotten(policy, record, now) else record.failures  # type: ignore[union-attr]
    assert (back.failures if back is not None else 0) == before


@given(st.text(max_size=400))
def test_names_fold_like_emails_and_stay_bounded(name):
    folded = fold_name(name)
    assert fold_name(folded) == folded
    assert fold_name(name.upper()) == fold_name(name.lower()) or not name.isascii()
    assert len(folded) <= 300


def test_policies_refuse_locks_that_outlast_the_memory():
    with pytest.raises(ValueError):
        Policy(5, max_lock=3600, memory=3600)
    assert not Policy(0).enabled


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ThrottleStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis = RedisStore(request.getfixturevalue("redis_url"))
    yield redis
    await redis.aclose()


def _key() -> str:
    return f"savings:{uuid.uuid4().hex}@example.com"


async def test_a_store_reserves_takes_back_lists_and_clears(store):
    policy = Policy(3, first_lock=10, max_lock=100, memory=1000)
    key, other = _key(), _key()
    assert await store.read([key]) == [None]
    for _ in range(3):
        assert await store.reserve([(key, policy)], 1_000_000.0) == 0
    record = Record(3, 1_000_000.0, 1_000_010.0)
    assert await store.read([key, other]) == [record, None]
    # Locked: a reservation counts nothing, on any of its keys.
    assert await store.reserve([(other, policy), (key, policy)], 1_000_004.0) == 6.0
    assert await store.read([key, other]) == [record, None]
    assert (await store.records())[key] == record
    await store.take_back(key, 1_000_004.0)  # that third attempt proved right: no lock
    assert await store.read([key]) == [Record(2, 1_000_000.0, 0.0)]
    await store.take_back(key, 1_000_005.0)
    await store.take_back(key, 1_000_005.0)
    await store.take_back(key, 1_000_005.0)  # nothing left: harmless
    assert await store.read([key]) == [None]
    await store.reserve([(key, policy)], 1_000_006.0)
    assert await store.clear(key) is True
    assert await store.clear(key) is False
    assert key not in await store.records()


async def test_redis_counts_every_concurrent_reservation_of_two_workers(redis_url):
    policy = Policy(100, memory=1000)
    workers = [RedisStore(redis_url), RedisStore(redis_url)]
    key = _key()
    try:
        await asyncio.gather(*(workers[i % 2].reserve([(key, policy)], 5.0) for i in range(30)))
        assert (await workers[0].read([key]))[0] == Record(30, 5.0, 0.0)
    finally:
        for worker in workers:
            await worker.aclose()


async def test_concurrent_attempts_pass_no_more_than_the_free_failures(store):
    """Guesses sent at once: each is counted as it is let through, so the lock holds."""
    throttle = LoginThrottle(store, account=Policy(4), address=Policy(1000))
    attempt = throttle.attempt("platform", f"burst-{uuid.uuid4().hex}", _key())

    async def guess() -> bool:
        try:
            await throttle.begin(attempt)
        except LoginThrottled:
            return False
        return True

    let_through = await asyncio.gather(*(guess() for _ in range(50)))
    assert sum(let_through) == 4


async def test_the_memory_store_stays_bounded():
    policy = Policy(3, memory=1000)
    store = MemoryStore(max_keys=10, memory=1000)
    for i in range(10):
        await store.reserve([(f"address:old-{i}", policy)], 0.0)
    await store.reserve([("address:new", policy)], 2000.0)  # the old ones are forgotten: dropped
    assert list(await store.records()) == ["address:new"]
    for i in range(20):
        await store.reserve([(f"address:{i}", policy)], 2000.0 + i)
    kept = await store.records()
    assert len(kept) <= 10 and "address:19" in kept


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_throttle_locks_an_account_and_an_address_then_forgets(store):
    clock = Clock()
    throttle = LoginThrottle(
        store,
        account=Policy(3, first_lock=4, max_lock=60, memory=600),
        address=Policy(4, first_lock=4, max_lock=60, memory=600),
        clock=clock,
    )
    email = f"{uuid.uuid4().hex}@example.com"
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    attempt = throttle.attempt("savings", email.upper(), address)
    assert [key for key, _ in attempt.keys] == [f"savings:{email}", f"address:{address}"]
    await throttle.check(attempt)
    for _ in range(3):  # three wrong passwords: the third locks the account 4 s
        await throttle.begin(attempt)
    for refused in (throttle.check, throttle.begin):
        with pytest.raises(LoginThrottled) as caught:
            await refused(attempt)
        assert caught.value.status_code == 429 and caught.value.headers == {"Retry-After": "4"}
    locks = await throttle.locks()
    assert [lock.key for lock in locks if lock.key.endswith(email)] == [f"savings:{email}"]
    clock.now += 4
    other = throttle.attempt("savings", f"other-{email}", address)
    await throttle.begin(other)  # the address's fourth: locked
    with pytest.raises(LoginThrottled):
        await throttle.begin(throttle.attempt("savings", f"third-{email}", address))
    assert await throttle.unlock(f"address:{address}") is True
    await throttle.begin(attempt)  # the account's fourth: allowed after its lock, and right
    await throttle.succeeded(attempt)
    assert await store.read([f"savings:{email}", f"address:{address}"]) == [None, None]
    await throttle.begin(attempt)
    await throttle.abandoned(attempt)  # the service failed: nothing counted
    assert await store.read([f"savings:{email}", f"address:{address}"]) == [None, None]


async def test_a_disabled_throttle_reads_nothing():
    class Refusing(MemoryStore):
        async def read(self, keys):
            raise AssertionError("no I/O when throttling is off")

    throttle = LoginThrottle(Refusing(), account=Policy(0), address=Policy(0))
    attempt = throttle.attempt("platform", "admin", "127.0.0.1")
    assert attempt.keys == () and attempt.account is None
    await throttle.check(attempt)
    await throttle.begin(attempt)
    await throttle.succeeded(attempt)
    await throttle.abandoned(attempt)
