"""Lock-in of savings: money that came into savings recently cannot leave yet (pure rules).

A plan may have `lock_in_days` (issue 20): savings credited less than that long ago cannot be
transferred out. Each sum that came into savings (a credit's savings part, a transfer from main,
posted interest, a reversal that gives savings back) is locked for `lock_in_days` from the
instant it was booked. Money leaves savings oldest first, so what has left is taken from the
oldest sums: what may leave now is the unlocked sums less everything that has left, which is the
savings balance less the sums still locked. So the rules need only the balance and the sums of
the last `lock_in_days` (one range of the ledger's index), never the account's whole history;
tests/savings/accounting/test_lockin.py checks them against the oldest-first walk over the whole
history. The plan in force when a transfer is asked for decides the lock-in, for every sum (a
plan change applies to what is already saved, as a new rate would).
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


def free_to_leave(savings: Decimal, locked: Sequence[SavedSum]) -> Decimal:
    """How much of `savings` may leave now.

    Args:
        savings: the savings balance now.
        locked: the sums that came in less than the lock-in ago (booked after now less
            `lock_in_days`).
    """
    _check(savings, locked)
    return max(Decimal(0), savings - sum((s.amount for s in locked), Decimal(0)))


def unlocks_at(
    savings: Decimal, locked: Sequence[SavedSum], amount: Decimal, lock_in_days: int
) -> datetime | None:
    """The first instant at which `amount` may leave, if nothing else moves before.

    The instant the locked sum whose maturing makes `amount` free (oldest first) has been saved
    for `lock_in_days`. None when `amount` is free already or more than `savings` holds.
    """
    _check(savings, locked)
    if amount <= 0 or lock_in_days < 0:
        raise ValueError("an amount that leaves is above zero, a lock-in at least zero days")
    still = sum((s.amount for s in locked), Decimal(0))
    if amount > savings or savings - still >= amount:
        return None
    ordered = sorted(locked, key=lambda s: s.at)  # not empty: something is locked
    for saved in ordered[:-1]:
        still -= saved.amount
        if savings - still >= amount:
            return saved.at + timedelta(days=lock_in_days)
    # With every sum unlocked the whole balance is free, and it holds `amount`.
    return ordered[-1].at + timedelta(days=lock_in_days)


def _check(savings: Decimal, locked: Sequence[SavedSum]) -> None:
    if savings < 0 or any(s.amount <= 0 for s in locked):
        raise ValueError("a balance is at least zero and each sum that came in above zero")
