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
        assert after - before >= lock_seconds(policy, count)


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


async def test_a_store_counts_reads_lists_and_clears(store):
    policy = Policy(3, first_lock=10, max_lock=100, memory=1000)
    key = _key()
    assert await store.read([key]) == [None]
    for _ in range(3):
        record = await store.fail(key, policy, 1_000_000.0)
    assert record == Record(3, 1_000_000.0, 1_000_010.0)
    assert await store.read([key, _key()]) == [record, None]
    assert (await store.records())[key] == record
    assert await store.clear(key) is True
    assert await store.clear(key) is False
    assert key not in await store.records()


async def test_redis_counts_every_concurrent_failure_of_two_workers(redis_url):
    policy = Policy(100, memory=1000)
    workers = [RedisStore(redis_url), RedisStore(redis_url)]
    key = _key()
    try:
        await asyncio.gather(*(workers[i % 2].fail(key, policy, 5.0) for i in range(30)))
        assert (await workers[0].read([key]))[0] == Record(30, 5.0, 5.0)
    finally:
        for worker in workers:
            await worker.aclose()


async def test_the_memory_store_stays_bounded():
    policy = Policy(3, memory=1000)
    store = MemoryStore(max_keys=10, memory=1000)
    for i in range(10):
        await store.fail(f"address:old-{i}", policy, 0.0)
    await store.fail("address:new", policy, 2000.0)  # the old ones are forgotten: dropped
    assert list(await store.records()) == ["address:new"]
    for i in range(20):
        await store.fail(f"address:{i}", policy, 2000.0 + i)
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
    assert await throttle.check(attempt) is False
    await throttle.failed(attempt)
    assert await throttle.check(attempt) is True, "the account has a failure now"
    await throttle.failed(attempt)
    await throttle.failed(attempt)  # the third: the account is locked 4 s
    with pytest.raises(LoginThrottled) as caught:
        await throttle.check(attempt)
    assert caught.value.status_code == 429 and caught.value.headers == {"Retry-After": "4"}
    locks = await throttle.locks()
    assert [lock.key for lock in locks if lock.key.endswith(email)] == [f"savings:{email}"]
    clock.now += 4
    other = throttle.attempt("savings", f"other-{email}", address)
    await throttle.check(other)  # the address has 3 failures: not locked yet
    await throttle.failed(other)  # its fourth: locked
    with pytest.raises(LoginThrottled):
        await throttle.check(throttle.attempt("savings", f"third-{email}", address))
    assert await throttle.unlock(f"address:{address}") is True
    assert await throttle.check(attempt) is True
    await throttle.succeeded(attempt, had_failures=True)
    assert await throttle.check(attempt) is False, "a sign-in forgets the account's failures"


async def test_a_disabled_throttle_reads_nothing():
    class Refusing(MemoryStore):
        async def read(self, keys):
            raise AssertionError("no I/O when throttling is off")

    throttle = LoginThrottle(Refusing(), account=Policy(0), address=Policy(0))
    attempt = throttle.attempt("platform", "admin", "127.0.0.1")
    assert attempt.keys == () and attempt.account is None
    assert await throttle.check(attempt) is False
    await throttle.failed(attempt)
    await throttle.succeeded(attempt, had_failures=True)
