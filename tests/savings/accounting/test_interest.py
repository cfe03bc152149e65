"""Interest rules against an independent computation written from issue 20's words.

"An annual interest_rate on savings, accrued daily on the end-of-day savings balance
(Actual/365, kept at more than cents while it accrues), posted monthly as an interest entry
rounded half-up to the cent." The reference below works in exact fractions, knows nothing of
the module's precision, and rounds a month once. For a year of ledger entries it reads each
day straight from the instants (the balance after the last entry before the next UTC midnight,
and the lowest rate in force at any instant of the day: the one in force as it starts and every
one a change during it puts in force, so that a brief switch never earns more), never through
`month_days`.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

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
    month_days,
    months_due,
    posted,
    validate_rate,
)


def half_up_cents(exact: Fraction) -> Fraction:
    """An exact amount rounded half-up to the cent."""
    cents = exact * 100
    whole = cents.numerator // cents.denominator
    return Fraction(whole + (1 if cents - whole >= Fraction(1, 2) else 0), 100)


def reference_month(balances: dict[date, Fraction], rates: dict[date, Fraction]) -> Fraction:
    """The month's interest from the issue's rule, exactly: sum(balance x rate / 365), then
    half-up to the cent."""
    return half_up_cents(sum((balances[d] * rates[d] / 365 for d in balances), Fraction(0)))


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


# --- From the ledger's instants to a month's days, checked against the instants themselves ---

Rows = Sequence[tuple[datetime, Decimal]]
YEAR = 2028  # a leap year


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def last_before(rows: Rows, instant: datetime, otherwise: Decimal) -> Decimal:
    """The value of the last row strictly before `instant` (a brute-force scan)."""
    found = otherwise
    for at, value in rows:
        if at < instant:
            found = value
    return found


def lowest_during(rows: Rows, begins: datetime, ends: datetime) -> Decimal:
    """The lowest rate in force at any instant from `begins` to before `ends` (brute force):
    the one in force at `begins` (the last change at or before it; 0 before any), and the rate
    of every change from `begins` to before `ends`."""
    in_force = [Decimal(0)] + [rate for at, rate in rows if at <= begins]
    return min([in_force[-1]] + [rate for at, rate in rows if begins <= at < ends])


def reference_exact(
    year: int,
    month: int,
    opened: date,
    through: date,
    opening: Decimal,
    entries: Rows,
    changes: Rows,
) -> tuple[Fraction, int]:
    """What a month earned, exactly, and how many days earned it, read from every instant:
    each day from the later of the 1st and `opened` to the earlier of the month's end and
    `through`, at the balance before the next UTC midnight and the lowest rate in force during
    the day, over 365."""
    exact, count = Fraction(0), 0
    for number in range(calendar.monthrange(year, month)[1]):
        day = date(year, month, 1) + timedelta(days=number)
        if opened <= day <= through:
            begins = utc_midnight(day)
            ends = begins + timedelta(days=1)
            balance = last_before(entries, ends, opening)
            rate = lowest_during(changes, begins, ends)
            exact += Fraction(balance) * Fraction(rate) / 365
            count += 1
    return exact, count


def ledger_reads(
    year: int, month: int, opening: Decimal, entries: Rows, changes: Rows
) -> dict[str, Any]:
    """What the posting job reads for a month: the balance before it, its entries, the rate
    changes up to its end."""
    start = utc_midnight(date(year, month, 1))
    end = utc_midnight(last_day(year, month)) + timedelta(days=1)
    return {
        "opening_savings": last_before(entries, start, opening),
        "balances": [(at, b) for at, b in entries if start <= at < end],
        "rates": [(at, r) for at, r in changes if at < end],
    }


def a_year_of_entries() -> tuple[Decimal, Rows, Rows]:
    """2028: the savings balance moving at random instants (several a day, some at midnight
    exactly, on 29 February too), the rate changing before the year, on the leap day in the
    afternoon, twice one May day, at midnights, a microsecond before one, and in another zone."""
    draw = random.Random(YEAR)
    start = utc_midnight(date(YEAR, 1, 1))
    instants = [start + timedelta(seconds=draw.randrange(366 * 86400)) for _ in range(700)]
    instants += [utc_midnight(date(YEAR, 2, 29)), utc_midnight(date(YEAR, 3, 1))]
    instants += [utc_midnight(date(YEAR, 2, 29)) + timedelta(hours=h) for h in (6, 12, 23)]
    entries, balance = [], Decimal("2500.00")
    for at in sorted(instants):
        balance = max(Decimal(0), balance + Decimal(draw.randrange(-40000, 60000)) / 100)
        entries.append((at, balance))
    changes = [
        (datetime(2027, 10, 1, 9, tzinfo=UTC), Decimal("0.02")),
        (datetime(YEAR, 2, 29, 15, 30, tzinfo=UTC), Decimal("0.031")),
        (datetime(YEAR, 5, 17, 12, tzinfo=UTC), Decimal("0.0275")),
        (datetime(YEAR, 5, 17, 18, 45, tzinfo=UTC), Decimal("0.029")),
        (datetime(YEAR, 8, 1, tzinfo=UTC), Decimal(0)),
        (datetime(YEAR, 8, 20, 23, 59, 59, 999999, tzinfo=UTC), Decimal("0.045")),
        (datetime(YEAR, 10, 15, tzinfo=UTC), Decimal("0.0333")),
        (datetime(YEAR, 11, 30, 23, tzinfo=timezone(timedelta(hours=-2))), Decimal("0.123456")),
    ]
    return Decimal("1800.00"), entries, changes


def test_a_year_of_ledger_entries_posts_what_the_instants_earn_each_month():
    opening, entries, changes = a_year_of_entries()
    opened, through = date(2027, 6, 1), date(YEAR, 12, 31)

    def days(month: int) -> list[Day]:
        reads = ledger_reads(YEAR, month, opening, entries, changes)
        return month_days(YEAR, month, opened=opened, through=through, **reads)

    for month in range(1, 13):
        exact, count = reference_exact(YEAR, month, opened, through, opening, entries, changes)
        assert len(days(month)) == count == calendar.monthrange(YEAR, month)[1]
        assert Fraction(posted(days(month))) == half_up_cents(exact), month
    assert all(posted(days(month)) > 0 for month in (1, 2, 5, 12))
    assert posted(days(8)) > 0  # 0% through the 20th, then 4.5%
    # The leap day accrues, at the old rate (the higher one came that afternoon), 1 March at
    # the new one.
    assert [(d.on.day, d.annual_rate) for d in days(2)[-2:]] == [
        (28, Decimal("0.02")),
        (29, Decimal("0.02")),
    ]
    assert days(3)[0].annual_rate == Decimal("0.031")
    # 17 May: 3.1% at its start, 2.75% at noon, 2.9% at 18:45: the lowest; the 18th the last.
    assert [d.annual_rate for d in days(5)[16:18]] == [Decimal("0.0275"), Decimal("0.029")]
    # A change at midnight exactly begins its day: 1 August is 0% all day, 31 July is not.
    assert [d.annual_rate for d in days(7)[-1:] + days(8)[:1]] == [Decimal("0.029"), 0]
    # 4.5% from a microsecond before the 21st: the 20th was 0% nearly all day.
    assert [d.annual_rate for d in days(8)[18:21]] == [0, 0, Decimal("0.045")]
    assert [d.annual_rate for d in days(10)[13:15]] == [Decimal("0.045"), Decimal("0.0333")]
    # 23:00 at UTC-2 on 30 November is 01:00 on 1 December in UTC: November ends at the old
    # rate, and 1 December too (in force until 01:00); the 2nd at the new one.
    assert [d.annual_rate for d in days(11)[-1:] + days(12)[:2]] == [
        Decimal("0.0333"),
        Decimal("0.0333"),
        Decimal("0.123456"),
    ]


def distance_to_a_half_cent(exact: Fraction) -> Fraction:
    """How far an exact amount lies from the nearest odd half cent (where rounding turns)."""
    offset = (exact * 100 - Fraction(1, 2)) % 1
    return min(offset, 1 - offset) / 100


SECONDS_2028 = 366 * 86400
instants_2028 = st.one_of(
    st.integers(0, SECONDS_2028 - 1),
    st.integers(0, 365).map(lambda d: d * 86400),  # midnights exactly
    st.integers(1, 366).map(lambda d: d * 86400 - 1),  # a second before one
)
ledger_rows = st.lists(st.tuples(instants_2028, money), max_size=40)
rate_instants = st.one_of(st.integers(-200 * 86400, SECONDS_2028 - 1), instants_2028)
rate_rows = st.lists(st.tuples(rate_instants, rates), max_size=12)


def as_rows(pairs: list[tuple[int, Decimal]]) -> Rows:
    start = utc_midnight(date(YEAR, 1, 1))
    return [(start + timedelta(seconds=s), v) for s, v in sorted(pairs, key=lambda p: p[0])]


@given(
    money,
    ledger_rows,
    rate_rows,
    st.dates(date(2027, 6, 1), date(YEAR, 12, 31)),
    st.dates(date(YEAR, 1, 1), date(YEAR, 12, 31)),
)
def test_any_year_of_ledger_entries_posts_what_the_instants_earn(
    opening, entry_pairs, change_pairs, opened, through
):
    entries, changes = as_rows(entry_pairs), as_rows(change_pairs)
    for month in range(1, 13):
        reads = ledger_reads(YEAR, month, opening, entries, changes)
        days = month_days(YEAR, month, opened=opened, through=through, **reads)
        exact, count = reference_exact(YEAR, month, opened, through, opening, entries, changes)
        assert len(days) == count
        # Each day is kept at ACCRUAL: the month's sum is within half of one a day of the exact.
        hair = len(days) * Fraction(ACCRUAL) / 2
        assert abs(Fraction(accrued(days)) - exact) <= hair
        if distance_to_a_half_cent(exact) > hair:
            assert Fraction(posted(days)) == half_up_cents(exact), month
        else:  # the exact sum sits on a half cent to within the accrual's rounding
            assert abs(Fraction(posted(days)) - half_up_cents(exact)) <= Fraction(1, 100)


@st.composite
def a_month_of_entries(draw: st.DrawFn) -> tuple[int, int, date, date, Decimal, Rows, Rows]:
    """A month, opened/through around it, entries several a day (in any zone), rate changes."""
    year, month = draw(st.integers(1990, 2100)), draw(st.integers(1, 12))
    start = utc_midnight(date(year, month, 1))
    length = calendar.monthrange(year, month)[1] * 86400
    zones = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    offsets = st.one_of(  # any second, or a midnight exactly
        st.integers(0, length - 1), st.integers(0, length // 86400 - 1).map(lambda d: d * 86400)
    )
    entries = sorted(
        draw(st.lists(st.tuples(offsets, money, zones), max_size=60)), key=lambda r: r[0]
    )
    balances = [((start + timedelta(seconds=s)).astimezone(z), b) for s, b, z in entries]
    instants = st.one_of(st.integers(-length, length - 1), offsets)
    changes = sorted(draw(st.lists(st.tuples(instants, rates), max_size=8)))
    rate_rows = [(start + timedelta(seconds=s), r) for s, r in changes]
    first = date(year, month, 1)
    opened = first + timedelta(days=draw(st.integers(-40, 40)))
    through = first + timedelta(days=draw(st.integers(-5, 70)))
    return year, month, opened, through, draw(money), balances, rate_rows


@given(a_month_of_entries())
def test_a_month_has_one_day_per_day_with_its_end_balance_and_its_lowest_rate(month_of_entries):
    year, month, opened, through, opening, balances, rate_rows = month_of_entries
    days = month_days(
        year,
        month,
        opened=opened,
        through=through,
        opening_savings=opening,
        balances=balances,
        rates=rate_rows,
    )
    first, last = max(date(year, month, 1), opened), min(last_day(year, month), through)
    assert len(days) == max(0, (last - first).days + 1)
    assert [d.on for d in days] == [first + timedelta(days=i) for i in range(len(days))]
    for day in days:
        begins = utc_midnight(day.on)
        ends = begins + timedelta(days=1)
        assert day.savings == last_before(balances, ends, opening)
        assert day.annual_rate == lowest_during(rate_rows, begins, ends)
        # Never more than the rate in force at the day's end (what the old rule paid).
        assert day.annual_rate <= last_before(rate_rows, ends, Decimal(0))


def test_month_days_refuses_nonsense():
    def days(balances: Rows = (), rates: Rows = ()) -> list[Day]:
        return month_days(
            YEAR,
            3,
            opened=date(YEAR, 1, 1),
            through=date(YEAR, 3, 31),
            opening_savings=Decimal(5),
            balances=balances,
            rates=rates,
        )

    noon = datetime(YEAR, 3, 10, 12, tzinfo=UTC)
    one = Decimal(1)
    with pytest.raises(ValueError, match="no time zone"):
        days([(datetime(YEAR, 3, 10), one)])
    with pytest.raises(ValueError, match="no time zone"):
        days(rates=[(datetime(YEAR, 3, 10), one)])
    with pytest.raises(ValueError, match="oldest first"):
        days([(noon, one), (noon - timedelta(microseconds=1), one)])
    with pytest.raises(ValueError, match="oldest first"):
        days(rates=[(noon, one), (noon - timedelta(days=40), one)])
    with pytest.raises(ValueError, match="outside the month"):
        days([(datetime(YEAR, 3, 1, tzinfo=UTC) - timedelta(microseconds=1), one)])
    with pytest.raises(ValueError, match="outside the month"):
        days([(datetime(YEAR, 4, 1, tzinfo=UTC), one)])
    with pytest.raises(ValueError, match="outside the month"):  # 00:30 at UTC+1 is still March
        days([(datetime(YEAR, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=1))), one)])
    with pytest.raises(ValueError, match="outside the month"):
        days(rates=[(datetime(YEAR, 4, 1, tzinfo=UTC), one)])
    # The same instant twice is in order (the later row is the later entry); a rate from
    # years before applies; a midnight begins its day.
    same = days([(noon, one), (noon, Decimal(7))], [(datetime(2001, 1, 1, tzinfo=UTC), one)])
    assert (same[9].savings, same[8].savings, same[0].annual_rate) == (Decimal(7), Decimal(5), one)
    midnight = days([(datetime(YEAR, 3, 2, tzinfo=UTC), one)])
    assert (midnight[0].savings, midnight[1].savings) == (Decimal(5), one)


def test_a_month_outside_the_account_or_the_run_has_no_days():
    def days(opened: date, through: date) -> list[Day]:
        return month_days(
            YEAR,
            3,
            opened=opened,
            through=through,
            opening_savings=Decimal(1),
            balances=[],
            rates=[],
        )

    assert days(date(YEAR, 4, 1), date(YEAR, 12, 31)) == []
    assert days(date(YEAR, 1, 1), date(YEAR, 2, 29)) == []
    assert [d.on.day for d in days(date(YEAR, 3, 30), date(YEAR, 12, 31))] == [30, 31]
    assert [d.on.day for d in days(date(YEAR, 1, 1), date(YEAR, 3, 2))] == [1, 2]


def test_a_switch_to_a_richer_plan_over_midnight_earns_nothing_more():
    """The exploit the lowest rate closes: 0% all along, 25% from 23:59 to 00:01 the next
    day. Both days had 0% in force at some instant: both accrue at 0%. A switch that lasts a
    whole day earns that day, and that day only."""

    def days(rates: Rows) -> list[Day]:
        return month_days(
            YEAR,
            3,
            opened=date(YEAR, 1, 1),
            through=date(YEAR, 3, 31),
            opening_savings=Decimal("100000.00"),
            balances=[],
            rates=rates,
        )

    zero, richest = Decimal(0), Decimal("0.25")
    brief = days(
        [
            (datetime(YEAR, 2, 1, tzinfo=UTC), zero),
            (datetime(YEAR, 3, 10, 23, 59, tzinfo=UTC), richest),
            (datetime(YEAR, 3, 11, 0, 1, tzinfo=UTC), zero),
        ]
    )
    assert [d.annual_rate for d in brief[9:11]] == [zero, zero]
    assert {d.annual_rate for d in brief} == {zero}
    assert posted(brief) == 0
    whole_day = days(
        [
            (datetime(YEAR, 3, 10, 23, 59, tzinfo=UTC), richest),
            (datetime(YEAR, 3, 12, 0, 1, tzinfo=UTC), zero),
        ]
    )
    assert [d.annual_rate for d in whole_day[9:13]] == [zero, richest, zero, zero]
    assert posted(whole_day) == Decimal("68.49")  # 100,000 x 25% / 365, one day
