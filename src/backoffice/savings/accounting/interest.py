"""Interest on savings: accrued daily, posted monthly (pure rules, no I/O).

A plan may pay an annual rate on the savings balance (issue 20). Each day earns the end-of-day
savings balance times the rate in force that day, divided by 365 (Actual/365: every calendar
day counts, a leap year's 29 February included, and the year is 365 days whatever its length).
What a day earns is kept at `ACCRUAL` (more than cents) and summed over the month; the month's
sum is posted once, rounded half-up to the cent, as the month's `interest` entry. Rounding the
month rather than each day keeps the rounding to half a cent a month: 100.00 at 2% earns
0.0054794... a day, 0.17 over January, where a cent rounded each day would pay 0.31.

The days of a month are those from its first (or the day the account opened) to its last (or
the day posting runs through), end-of-day balances after that day's every movement. A month is
due once its last day has ended (`months_due`); posting is idempotent per account and month.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from backoffice.core.money import CENT

DAYS_A_YEAR = Decimal(365)
# What a day's interest is kept at while it accrues: ten decimal places, far below a cent even
# summed over every day of a month (31 x 0.5e-10 < 0.000000002).
ACCRUAL = Decimal("0.0000000001")
# The highest annual rate a plan may pay (a fraction: 0.25 is 25%).
MAX_RATE = Decimal("0.25")


@dataclass(frozen=True, slots=True)
class Day:
    """One day of an account: its savings balance at the end of the day, the rate in force."""

    on: date
    savings: Decimal
    annual_rate: Decimal


def daily_interest(savings: Decimal, annual_rate: Decimal) -> Decimal:
    """What one day earns on an end-of-day `savings` balance, at `ACCRUAL`."""
    if savings < 0 or annual_rate < 0:
        raise ValueError("interest accrues on a balance and a rate of at least zero")
    with localcontext() as context:
        context.prec = 40  # exact for any balance NUMERIC(14, 2) holds and any rate
        return (savings * annual_rate / DAYS_A_YEAR).quantize(ACCRUAL, rounding=ROUND_HALF_UP)


def accrued(days: Iterable[Day]) -> Decimal:
    """What the days earned together, at `ACCRUAL` (not rounded to cents)."""
    total = Decimal(0)
    seen: set[date] = set()
    for day in days:
        if day.on in seen:
            raise ValueError(f"{day.on} is counted twice")
        seen.add(day.on)
        total += daily_interest(day.savings, day.annual_rate)
    return total


def posted(days: Iterable[Day]) -> Decimal:
    """The month's interest entry: what its days earned, rounded half-up to the cent."""
    return accrued(days).quantize(CENT, rounding=ROUND_HALF_UP)


def month_of(day: date) -> tuple[int, int]:
    """(year, month) of a day."""
    return day.year, day.month


def last_day(year: int, month: int) -> date:
    """The last calendar day of a month."""
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def next_month(year: int, month: int) -> tuple[int, int]:
    """The month after (year, month)."""
    return (year + 1, 1) if month == 12 else (year, month + 1)


def months_due(
    opened: date, last_posted: tuple[int, int] | None, through: date
) -> list[tuple[int, int]]:
    """The months to post, oldest first, whose last day is on or before `through`.

    From the account's first month, or the one after the last posted (never one before the
    account opened): rerun after a crash, a posting run takes up where the last one stopped.
    """
    first = month_of(opened)
    year, month = first if last_posted is None else max(first, next_month(*last_posted))
    due = []
    while last_day(year, month) <= through:
        due.append((year, month))
        year, month = next_month(year, month)
    return due


def validate_rate(rate: Decimal) -> Decimal:
    """A plan's annual rate: a fraction from 0 to `MAX_RATE`, at most six decimal places.

    Raises:
        ValueError: anything else (the caller says it in its own words).
    """
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        raise ValueError(f"an annual rate is a fraction from 0 to {MAX_RATE}")
    if rate != rate.quantize(Decimal("0.000001")):
        raise ValueError("an annual rate has at most six decimal places")
    return rate


def days_of(year: int, month: int, opened: date) -> Iterator[date]:
    """The days of a month that accrue for an account opened on `opened`."""
    day = max(date(year, month, 1), opened)
    end = last_day(year, month)
    while day <= end:
        yield day
        day += timedelta(days=1)
