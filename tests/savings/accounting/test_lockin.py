"""Lock-in: what may leave the savings now, and when a larger sum unlocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.savings.accounting.lockin import SavedSum, free_to_leave, unlocks_at

START = datetime(2025, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)

sums = st.lists(
    st.builds(
        SavedSum,
        at=st.integers(min_value=0, max_value=10**6).map(
            lambda s: START + timedelta(seconds=s * 60)
        ),
        amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2),
    ),
    min_size=1,
    max_size=20,
)


@given(
    sums,
    st.integers(min_value=0, max_value=100),
    st.fractions(min_value=0, max_value=1),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500000"), places=2),
)
def test_a_sum_unlocks_at_the_first_instant_it_may_leave(came_in, days, share, amount):
    total = sum((s.amount for s in came_in), Decimal(0))
    gone_out = (total * Decimal(share.numerator) / Decimal(share.denominator)).quantize(
        Decimal("0.01"), rounding="ROUND_DOWN"
    )
    when = unlocks_at(came_in, gone_out, amount, days)
    if when is None:
        assert gone_out + amount > total
        return
    assert free_to_leave(came_in, gone_out, when, days) >= amount
    assert free_to_leave(came_in, gone_out, when - MICRO, days) < amount


def test_money_leaves_oldest_first_and_each_sum_waits_its_days():
    came_in = [
        SavedSum(START, Decimal("100.00")),
        SavedSum(START + timedelta(days=10), Decimal("50.00")),
    ]
    day = timedelta(days=1)
    assert free_to_leave(came_in, Decimal(0), START + 29 * day, 30) == 0
    assert free_to_leave(came_in, Decimal(0), START + 30 * day, 30) == Decimal("100.00")
    assert free_to_leave(came_in, Decimal("80.00"), START + 30 * day, 30) == Decimal("20.00")
    assert free_to_leave(came_in, Decimal("120.00"), START + 30 * day, 30) == 0
    assert free_to_leave(came_in, Decimal("120.00"), START + 40 * day, 30) == Decimal("30.00")
    assert unlocks_at(came_in, Decimal("80.00"), Decimal("30.00"), 30) == START + 40 * day
    assert unlocks_at(came_in, Decimal("80.00"), Decimal("70.01"), 30) is None
    no_lock_in = free_to_leave(came_in, Decimal(0), START + 10 * day, 0)
    assert no_lock_in == Decimal("150.00")


def test_refusals():
    came_in = [SavedSum(START, Decimal("10.00"))]
    for args in (
        ([SavedSum(START, Decimal(0))], Decimal(0), 1),
        (came_in, Decimal("-1"), 1),
        (came_in, Decimal(0), -1),
        (came_in, Decimal("10.01"), 1),
    ):
        with pytest.raises(ValueError):
            free_to_leave(*args[:2], START, args[2])
    with pytest.raises(ValueError):
        unlocks_at(came_in, Decimal(0), Decimal(0), 1)
