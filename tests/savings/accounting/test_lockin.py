"""Lock-in: what may leave the savings now, and when a larger sum unlocks.

The rules see only the balance and the sums still locked; the model here walks the whole
history oldest first, as the lock-in is defined (docs/decisions.md), and they must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.savings.accounting.lockin import SavedSum, free_to_leave, unlocks_at

START = datetime(2025, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
CENT = Decimal("0.01")

sums = st.lists(
    st.builds(
        SavedSum,
        at=st.integers(min_value=0, max_value=10**6).map(
            lambda s: START + timedelta(seconds=s * 60)
        ),
        amount=st.decimals(min_value=CENT, max_value=Decimal("100000"), places=2),
    ),
    min_size=1,
    max_size=20,
)


def model_free(came_in: list[SavedSum], gone_out: Decimal, now: datetime, days: int) -> Decimal:
    """Oldest first over the whole history: the unlocked sums less what has left."""
    unlocked = sum((s.amount for s in came_in if s.at <= now - timedelta(days=days)), Decimal(0))
    return max(Decimal(0), unlocked - gone_out)


def rules_free(
    came_in: list[SavedSum], gone_out: Decimal, now: datetime, days: int
) -> tuple[Decimal, Decimal, list[SavedSum]]:
    savings = sum((s.amount for s in came_in), Decimal(0)) - gone_out
    locked = [s for s in came_in if s.at > now - timedelta(days=days)]
    return free_to_leave(savings, locked), savings, locked


@given(
    sums,
    st.integers(min_value=0, max_value=100),
    st.fractions(min_value=0, max_value=1),
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=CENT, max_value=Decimal("500000"), places=2),
)
def test_the_rules_agree_with_the_oldest_first_walk(came_in, days, share, minutes, amount):
    total = sum((s.amount for s in came_in), Decimal(0))
    gone_out = (total * share.numerator / share.denominator).quantize(CENT, rounding="ROUND_DOWN")
    now = START + timedelta(minutes=minutes)
    free, savings, locked = rules_free(came_in, gone_out, now, days)
    assert free == model_free(came_in, gone_out, now, days)
    when = unlocks_at(savings, locked, amount, days)
    if amount <= free or amount > savings:
        assert when is None
        return
    assert when is not None and when > now
    # At that instant (and not a microsecond before) the walk frees the amount.
    assert model_free(came_in, gone_out, when, days) >= amount
    assert model_free(came_in, gone_out, when - MICRO, days) < amount


def test_money_leaves_oldest_first_and_each_sum_waits_its_days():
    came_in = [
        SavedSum(START, Decimal("100.00")),
        SavedSum(START + timedelta(days=10), Decimal("50.00")),
    ]
    day = timedelta(days=1)
    assert rules_free(came_in, Decimal(0), START + 29 * day, 30)[0] == 0
    assert rules_free(came_in, Decimal(0), START + 30 * day, 30)[0] == Decimal("100.00")
    assert rules_free(came_in, Decimal("80.00"), START + 30 * day, 30)[0] == Decimal("20.00")
    assert rules_free(came_in, Decimal("120.00"), START + 30 * day, 30)[0] == 0
    assert rules_free(came_in, Decimal("120.00"), START + 40 * day, 30)[0] == Decimal("30.00")
    locked = [came_in[1]]
    assert unlocks_at(Decimal("70.00"), locked, Decimal("30.00"), 30) == START + 40 * day
    assert unlocks_at(Decimal("70.00"), locked, Decimal("70.01"), 30) is None
    assert rules_free(came_in, Decimal(0), START + 10 * day, 0)[0] == Decimal("150.00")


def test_refusals():
    with pytest.raises(ValueError):
        free_to_leave(Decimal("-0.01"), [])
    with pytest.raises(ValueError):
        free_to_leave(Decimal(1), [SavedSum(START, Decimal(0))])
    with pytest.raises(ValueError):
        unlocks_at(Decimal(1), [], Decimal(0), 1)
    with pytest.raises(ValueError):
        unlocks_at(Decimal(1), [], Decimal(1), -1)
