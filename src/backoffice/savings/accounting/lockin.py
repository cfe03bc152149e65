"""Lock-in of savings: money that came into savings recently cannot leave yet (pure rules).

A plan may have `lock_in_days` (issue 20): savings credited less than that long ago cannot be
transferred out. Each sum that comes into savings (a credit's savings part, a transfer from
main, posted interest, a reversal that gives savings back) is locked from the instant it was
booked for the `lock_in_days` of the plan in force THEN: the terms it was saved under. A plan
changed later does not shorten it (a customer cannot switch to a plan without lock-in for a
minute, take the money out and switch back: a reviewer's finding), nor lengthen it.

What may leave now is the savings balance less the sums still locked (money leaves from what is
free). With one lock-in for every sum this is the oldest-first walk over the whole history;
tests/savings/accounting/test_lockin.py checks the two against each other. The rules need only
the balance, the account's plan changes and the sums of the last longest lock-in (one range of
the ledger's index), never the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class SavedSum:
    """A sum that came into savings, and when it was booked."""

    at: datetime
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LockedSum:
    """A sum that may not leave savings before `until`."""

    until: datetime
    amount: Decimal


def still_locked(
    came_in: Sequence[SavedSum], lock_ins: Sequence[tuple[datetime, int]], now: datetime
) -> list[LockedSum]:
    """The sums locked at `now`, each for the lock-in of the plan in force when it came in.

    Args:
        came_in: sums that came into savings, oldest first.
        lock_ins: the account's plan changes as (instant, lock_in_days), oldest first; before
            the first, nothing is locked.
        now: the instant asked about.
    """
    if any(s.amount <= 0 for s in came_in) or any(days < 0 for _, days in lock_ins):
        raise ValueError("a sum that came in is above zero, a lock-in at least zero days")
    locked, change, days = [], 0, 0
    for saved in came_in:
        while change < len(lock_ins) and lock_ins[change][0] <= saved.at:
            days = lock_ins[change][1]
            change += 1
        until = saved.at + timedelta(days=days)
        if until > now:
            locked.append(LockedSum(until, saved.amount))
    return locked


def free_to_leave(savings: Decimal, locked: Sequence[LockedSum]) -> Decimal:
    """How much of `savings` may leave while `locked` are locked (never below zero)."""
    _check(savings, locked)
    return max(Decimal(0), savings - sum((s.amount for s in locked), Decimal(0)))


def unlocks_at(savings: Decimal, locked: Sequence[LockedSum], amount: Decimal) -> datetime | None:
    """The first instant at which `amount` may leave, if nothing else moves before.

    The instant the locked sums unlocking soonest have freed enough. None when `amount` is free
    already or more than `savings` holds.
    """
    _check(savings, locked)
    if amount <= 0:
        raise ValueError("an amount that leaves is above zero")
    still = sum((s.amount for s in locked), Decimal(0))
    if amount > savings or savings - still >= amount:
        return None
    ordered = sorted(locked, key=lambda s: s.until)  # not empty: something is locked
    for saved in ordered[:-1]:
        still -= saved.amount
        if savings - still >= amount:
            return saved.until
    # With every sum unlocked the whole balance is free, and it holds `amount`.
    return ordered[-1].until


def _check(savings: Decimal, locked: Sequence[LockedSum]) -> None:
    if savings < 0 or any(s.amount <= 0 for s in locked):
        raise ValueError("a balance is at least zero and each sum that came in above zero")
