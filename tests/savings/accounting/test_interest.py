"""Interest rules against an independent computation written from issue 20's words.

"An annual interest_rate on savings, accrued daily on the end-of-day savings balance
(Actual/365, kept at more than cents while it accrues), posted monthly as an interest entry
rounded half-up to the cent." The reference below works in exact fractions, knows nothing of
the module's precision, and rounds a month once.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.savings.accounting.interest import (
    ACCRUAL,
    Day,
    accrued,
    daily_interest,
    days_of,
    last_day,
    months_due,
    posted,
    validate_rate,
)


def reference_month(balances: dict[date, Fraction], rates: dict[date, Fraction]) -> Fraction:
    """The month's interest from the issue's rule, exactly: sum(balance x rate / 365), then
    half-up to the cent."""
    exact = sum((balances[d] * rates[d] / 365 for d in balances), Fraction(0))
    cents = exact * 100
    whole = cents.numerator // cents.denominator
    return Fraction(whole + (1 if cents - whole >= Fraction(1, 2) else 0), 100)


def a_leap_year_of_days() -> list[Day]:
    """2024 (a leap year): savings moving every few days, the plan's rate changing twice."""
    days = []
    balance = Decimal("1000.00")
    for number in range(366):
        on = date(2024, 1, 1) + timedelta(days=number)
        if number % 7 == 3:
            balance += Decimal("123.45")
        if number % 30 == 11:
            balance -= Decimal("250.10")
        rate = (
            Decimal("0.035")
            if on < date(2024, 3, 15)
            else Decimal("0.0425")
            if on < date(2024, 9, 1)
            else Decimal("0.01")
        )
        days.append(Day(on, balance, rate))
    return days


def test_a_leap_year_of_months_equals_the_rule_computed_independently():
    days = a_leap_year_of_days()
    assert any(d.on == date(2024, 2, 29) for d in days)  # the leap day accrues
    for month in range(1, 13):
        mine = [d for d in days if d.on.month == month]
        assert len(mine) == calendar.monthrange(2024, month)[1]
        expected = reference_month(
            {d.on: Fraction(d.savings) for d in mine},
            {d.on: Fraction(d.annual_rate) for d in mine},
        )
        assert Fraction(posted(mine)) == expected, month
    assert posted(days[:10]) > 0


def test_a_month_is_rounded_once_not_each_day():
    days = [Day(d, Decimal("100.00"), Decimal("0.02")) for d in days_of(2025, 1, date(2020, 1, 1))]
    assert posted(days) == Decimal("0.17")  # 100 x 0.02 x 31 / 365 = 0.1698...
    # Rounding each day (0.0055 -> 0.01) would pay 0.31 for the same month.
    each_day = sum(daily_interest(d.savings, d.annual_rate).quantize(Decimal("0.01")) for d in days)
    assert each_day == Decimal("0.31")


def test_a_month_is_rounded_half_up_once():
    # 1.825 at 1% earns exactly 0.00005 a day; 100 such days 0.005, half a cent: rounds up.
    days = [
        Day(date(2025, 1, 1) + timedelta(days=i), Decimal("1.825"), Decimal("0.01"))
        for i in range(100)
    ]
    assert accrued(days) == Decimal("0.005")
    assert posted(days) == Decimal("0.01")


money = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2)
rates = st.decimals(min_value=0, max_value=Decimal("0.25"), places=6)


@given(st.lists(st.tuples(money, rates), min_size=1, max_size=31))
def test_what_accrues_stays_within_a_hair_of_the_exact_sum(pairs):
    days = [Day(date(2025, 1, 1) + timedelta(days=i), b, r) for i, (b, r) in enumerate(pairs)]
    exact = sum((Fraction(b) * Fraction(r) / 365 for b, r in pairs), Fraction(0))
    assert abs(Fraction(accrued(days)) - exact) <= len(pairs) * Fraction(ACCRUAL) / 2


@given(money, money, rates)
def test_more_savings_never_earns_less(low, high, rate):
    low, high = sorted((low, high))
    assert daily_interest(low, rate) <= daily_interest(high, rate)
    assert daily_interest(high, Decimal(0)) == 0


def test_refusals():
    with pytest.raises(ValueError):
        daily_interest(Decimal("-0.01"), Decimal("0.01"))
    with pytest.raises(ValueError):
        daily_interest(Decimal("1"), Decimal("-0.01"))
    with pytest.raises(ValueError, match="counted twice"):
        accrued([Day(date(2025, 1, 1), Decimal(1), Decimal("0.01"))] * 2)
    for bad in (Decimal("-0.01"), Decimal("0.0000001"), Decimal("0.26"), Decimal("NaN")):
        with pytest.raises(ValueError):
            validate_rate(bad)
    assert validate_rate(Decimal("0.042500")) == Decimal("0.0425")


def test_the_months_due_and_their_days():
    opened = date(2024, 1, 20)
    assert months_due(opened, None, date(2024, 1, 30)) == []
    assert months_due(opened, None, date(2024, 1, 31)) == [(2024, 1)]
    assert months_due(opened, None, date(2024, 3, 31)) == [(2024, 1), (2024, 2), (2024, 3)]
    assert months_due(opened, (2024, 2), date(2024, 4, 15)) == [(2024, 3)]
    assert months_due(opened, (2024, 12), date(2025, 1, 31)) == [(2025, 1)]
    assert months_due(opened, (2023, 11), date(2024, 1, 31)) == [(2024, 1)]  # not before opening
    assert last_day(2024, 2) == date(2024, 2, 29) and last_day(2023, 2) == date(2023, 2, 28)
    assert last_day(2024, 12) == date(2024, 12, 31)
    january = list(days_of(2024, 1, opened))
    assert january[0] == opened and len(january) == 12
    assert len(list(days_of(2024, 2, opened))) == 29
