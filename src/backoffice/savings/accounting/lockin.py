"""Lock-in of savings: money that came into savings recently cannot leave yet (pure rules).

A plan may have `lock_in_days` (issue 20): savings credited less than that long ago cannot be
transferred out. Each sum that came into savings (a credit's savings part, a transfer from main,
posted interest) is locked for `lock_in_days` from the instant it was booked. Money leaves
savings oldest first, so what has left is taken from the oldest sums: what may leave now is the
unlocked sums minus everything that has left already, and a request for more says when enough
will have unlocked. The plan in force when a transfer is asked for decides the lock-in, for
every sum (a plan change applies to what is already saved, as a new rate would).
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


def free_to_leave(
    came_in: Sequence[SavedSum], gone_out: Decimal, now: datetime, lock_in_days: int
) -> Decimal:
    """How much of the savings may leave at `now`.

    The sums booked at least `lock_in_days` before it, less what has left already (oldest
    first), never below zero.
    """
    _check(came_in, gone_out, lock_in_days)
    unlocked_before = now - timedelta(days=lock_in_days)
    unlocked = sum((s.amount for s in came_in if s.at <= unlocked_before), Decimal(0))
    return max(Decimal(0), unlocked - gone_out)


def unlocks_at(
    came_in: Sequence[SavedSum], gone_out: Decimal, amount: Decimal, lock_in_days: int
) -> datetime | None:
    """The first instant at which `amount` may leave, or None if the savings never hold it.

    The instant the sum that completes `gone_out + amount` (oldest first) has been saved for
    `lock_in_days`.
    """
    _check(came_in, gone_out, lock_in_days)
    if amount <= 0:
        raise ValueError("an amount that leaves is greater than zero")
    needed = gone_out + amount
    running = Decimal(0)
    for saved in sorted(came_in, key=lambda s: s.at):
        running += saved.amount
        if running >= needed:
            return saved.at + timedelta(days=lock_in_days)
    return None


def _check(came_in: Sequence[SavedSum], gone_out: Decimal, lock_in_days: int) -> None:
    if lock_in_days < 0 or gone_out < 0 or any(s.amount <= 0 for s in came_in):
        raise ValueError("sums, what has left and the lock-in are positive (or zero)")
    if gone_out > sum((s.amount for s in came_in), Decimal(0)):
        raise ValueError("more has left the savings than ever came in")
