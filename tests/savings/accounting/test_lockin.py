"""Lock-in: what may leave the savings now, and when a larger sum unlocks.

With one lock-in for every sum, the rules must agree with the oldest-first walk over the whole
history (the lock-in's definition, docs/decisions.md). With plan changes, each sum keeps the
lock-in of the plan in force when it came in, and `unlocks_at` must name the first instant the
amount is free.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.savings.accounting.lockin import (
    LockedSum,
    SavedSum,
    free_to_leave,
    still_locked,
    unlocks_at,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
CENT = Decimal("0.01")
instants = st.integers(min_value=0, max_value=10**6).map(lambda m: START + timedelta(minutes=m))
sums = st.lists(
    st.builds(
        SavedSum,
        at=instants,
        amount=st.decimals(min_value=CENT, max_value=Decimal(10**5), places=2),
    ),
    min_size=1,
    max_size=20,
).map(lambda found: sorted(found, key=lambda s: s.at))


def model_free(came_in: list[SavedSum], gone_out: Decimal, now: datetime, days: int) -> Decimal:
    """Oldest first over the whole history: the unlocked sums less what has left."""
    unlocked = sum((s.amount for s in came_in if s.at <= now - timedelta(days=days)), Decimal(0))
    return max(Decimal(0), unlocked - gone_out)


def free_at(
    came_in: list[SavedSum], savings: Decimal, lock_ins: list[tuple[datetime, int]], now: datetime
) -> Decimal:
    return free_to_leave(savings, still_locked(came_in, lock_ins, now))


@given(
    sums,
    st.integers(min_value=0, max_value=100),
    st.fractions(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=CENT, max_value=Decimal(500_000), places=2),
)
def test_one_lock_in_for_every_sum_is_the_oldest_first_walk(came_in, days, share, minutes, amount):
    total = sum((s.amount for s in came_in), Decimal(0))
    gone_out = (total * share.numerator / share.denominator).quantize(CENT, rounding="ROUND_DOWN")
    savings = total - gone_out
    now = START + timedelta(minutes=minutes)
    lock_ins = [(START - timedelta(days=1), days)]  # one plan, from before the first sum
    locked = still_locked(came_in, lock_ins, now)
    assert free_to_leave(savings, locked) == model_free(came_in, gone_out, now, days)
    when = unlocks_at(savings, locked, amount)
    if amount <= free_to_leave(savings, locked) or amount > savings:
        assert when is None
        return
    assert when is not None and when > now
    assert model_free(came_in, gone_out, when, days) >= amount
    assert model_free(came_in, gone_out, when - MICRO, days) < amount


@given(
    sums,
    st.lists(st.tuples(instants, st.integers(min_value=0, max_value=60)), max_size=5),
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=CENT, max_value=Decimal(500_000), places=2),
)
def test_each_sum_keeps_the_lock_in_it_came_in_under(came_in, changes, minutes, amount):
    lock_ins = sorted(changes)
    savings = sum((s.amount for s in came_in), Decimal(0))
    now = START + timedelta(minutes=minutes)
    locked = still_locked(came_in, lock_ins, now)
    # Each sum: the plan in force when it came in, by a scan of the changes.
    for saved in came_in:
        days = max([(at, d) for at, d in lock_ins if at <= saved.at], default=(START, 0))[1]
        held = saved.at + timedelta(days=days) > now
        assert (LockedSum(saved.at + timedelta(days=days), saved.amount) in locked) == held
    when = unlocks_at(savings, locked, amount)
    if when is None:
        assert amount <= free_to_leave(savings, locked) or amount > savings
        return
    assert free_at(came_in, savings, lock_ins, when) >= amount
    assert free_at(came_in, savings, lock_ins, when - MICRO) < amount


def test_a_plan_changed_later_neither_frees_nor_locks_what_came_in_before():
    day = timedelta(days=1)
    came_in = [SavedSum(START, Decimal("100.00")), SavedSum(START + 10 * day, Decimal("50.00"))]
    # 30 days locked for the first sum; a plan with no lock-in for the second.
    lock_ins = [(START - day, 30), (START + 5 * day, 0)]
    assert still_locked(came_in, lock_ins, START + 10 * day) == [
        LockedSum(START + 30 * day, Decimal("100.00"))
    ]
    assert free_at(came_in, Decimal("150.00"), lock_ins, START + 10 * day) == Decimal("50.00")
    assert free_at(came_in, Decimal("150.00"), lock_ins, START + 30 * day) == Decimal("150.00")
    locked = still_locked(came_in, lock_ins, START + 10 * day)
    assert unlocks_at(Decimal("150.00"), locked, Decimal("60.00")) == START + 30 * day
    assert unlocks_at(Decimal("150.00"), locked, Decimal("150.01")) is None
    assert still_locked(came_in, [], START + 10 * day) == []  # no plan: nothing locked


def test_refusals():
    with pytest.raises(ValueError):
        free_to_leave(Decimal("-0.01"), [])
    with pytest.raises(ValueError):
        free_to_leave(Decimal(1), [LockedSum(START, Decimal(0))])
    with pytest.raises(ValueError):
        unlocks_at(Decimal(1), [], Decimal(0))
    with pytest.raises(ValueError):
        still_locked([SavedSum(START, Decimal(0))], [], START)
    with pytest.raises(ValueError):
        still_locked([], [(START, -1)], START)
