"""When each version of a tax policy is in force, and why one applies on a date (no I/O).

The rule (the one `service.policy_in_force` queries): on a date, the version in force is the
one with the latest `effective_from` on or before it, the highest version among equal dates.
So a version is in force from its `effective_from` until the next later date some version
takes effect; a version that another replaces on its very first day is never in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

RULE = (
    "the version in force on a date is the one that took effect most recently on or before "
    "that date (the highest version number among versions taking effect the same day)"
)


@dataclass(frozen=True, slots=True)
class Period:
    """Version `version` is in force from `effective_from` until the day before `until`.

    `until` is None while it is still in force (no later version); `replaced_same_day` means a
    higher version took effect the same day, so this one never applied.
    """

    version: int
    effective_from: date
    until: date | None
    replaced_same_day: bool = False

    @property
    def last_day(self) -> date | None:
        """The last day it applies (None: open-ended); for a version that never applied, None."""
        if self.replaced_same_day or self.until is None:
            return None
        return self.until - timedelta(days=1)

    def covers(self, day: date) -> bool:
        """Whether this version is the one in force on `day`."""
        if self.replaced_same_day or day < self.effective_from:
            return False
        return self.until is None or day < self.until


def in_force_periods(versions: Sequence[tuple[int, date]]) -> list[Period]:
    """The period of each `(version, effective_from)`, in version order."""
    ordered = sorted(versions, key=lambda v: (v[1], v[0]))
    periods: dict[int, Period] = {}
    for i, (version, start) in enumerate(ordered):
        later = [d for _, d in ordered[i + 1 :] if d > start]
        same_day = any(d == start for _, d in ordered[i + 1 :])
        periods[version] = Period(version, start, later[0] if later else None, same_day)
    return [periods[v] for v in sorted(periods)]


def in_force_on(periods: Sequence[Period], day: date) -> Period | None:
    """The period in force on `day`, or None before the first version takes effect."""
    return next((p for p in periods if p.covers(day)), None)


def why(periods: Sequence[Period], day: date) -> str:
    """In plain words, which version applies on `day` and why (or why none does)."""
    chosen = in_force_on(periods, day)
    when = day.isoformat()
    if chosen is None:
        if not periods:
            return f"No tax policy has been recorded, so none applies on {when}."
        first = min(p.effective_from for p in periods)
        return (
            f"No version applies on {when}: the first one takes effect on {first.isoformat()}. "
            "Choose that date or a later one."
        )
    reason = (
        f"Version {chosen.version} applies on {when} because it took effect on "
        f"{chosen.effective_from.isoformat()}, the most recent start on or before that date"
    )
    if any(p.replaced_same_day and p.effective_from == chosen.effective_from for p in periods):
        reason += " (and it is the highest version starting that day)"
    if chosen.until is None:
        return reason + "; it is still in force."
    last = chosen.until - timedelta(days=1)
    return (
        reason + f"; it applies up to {last.isoformat()}, as the next version takes effect on "
        f"{chosen.until.isoformat()}."
    )
