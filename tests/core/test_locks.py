"""Login locks as operators see and clear them (core.auth.locks): the API's and the console's."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.auth import locks
from backoffice.core.auth.locks import KEY_MAX, KEY_MIN, KEY_PATTERN, LockView, NoSuchLock
from backoffice.core.auth.throttle import Lock, LoginThrottle, MemoryStore, Policy
from backoffice.core.errors import ValidationFailed

SCOPES = st.sampled_from(["address", "platform", "savings", "Platform", "other", ""])


@given(scope=SCOPES, name=st.text(max_size=320))
def test_check_key_accepts_exactly_what_the_apis_query_pattern_and_bounds_accept(scope, name):
    key = f"{scope}:{name}"
    pattern_says = bool(re.match(KEY_PATTERN, key)) and KEY_MIN <= len(key) <= KEY_MAX
    try:
        locks.check_key(key)
    except ValidationFailed as error:
        assert not pattern_says, key
        assert error.errors and error.errors[0]["field"] == "key"
    else:
        assert pattern_says, key
        assert "\n" not in key  # `$` would admit a final newline: fullmatch does not


def test_a_lock_is_read_with_its_scope_name_and_end():
    view = LockView.of(
        Lock("platform:ada", failures=4, locked_until=1_800_000_000.5, retry_after=7)
    )
    assert (view.scope, view.name, view.kind, view.failures) == ("platform", "ada", "account", 4)
    assert view.locked_until == datetime.fromtimestamp(1_800_000_000.5, UTC)
    address = LockView.of(Lock("address:203.0.113.9", 10, 0.0, 1))
    assert (address.kind, address.name) == ("address", "203.0.113.9")


async def test_clearing_forgets_a_key_once_and_refuses_bad_keys():
    now = [1000.0]
    policy = Policy(2, first_lock=30.0, max_lock=60.0, memory=600.0)
    throttle = LoginThrottle(MemoryStore(), account=policy, address=policy, clock=lambda: now[0])
    attempt = throttle.attempt("platform", "Ada", None)
    for _ in range(2):
        await throttle.begin(attempt)
    listed = await locks.current_locks(throttle)
    assert [(lock.key, lock.failures, lock.retry_after) for lock in listed] == [
        ("platform:ada", 2, 30)
    ]
    await locks.clear_lock(throttle, "platform:ada")
    assert await locks.current_locks(throttle) == []
    with pytest.raises(NoSuchLock):
        await locks.clear_lock(throttle, "platform:ada")
    with pytest.raises(ValidationFailed):
        await locks.clear_lock(throttle, "platform:ada\n")
