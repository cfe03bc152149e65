"""When each tax policy version is in force: the periods agree with the rule the query applies."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from backoffice.payroll.periods import in_force_on, in_force_periods, why

DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))


def brute_force(versions: list[tuple[int, date]], day: date) -> int | None:
    """The rule as `service.policy_in_force` states it: latest start on or before, then version."""
    started = [(start, version) for version, start in versions if start <= day]
    return max(started)[1] if started else None


@given(
    st.lists(DAYS, min_size=0, max_size=8).map(lambda ds: [(i + 1, d) for i, d in enumerate(ds)]),
    DAYS,
)
def test_the_period_covering_a_day_is_the_version_the_rule_picks(versions, day):
    periods = in_force_periods(versions)
    found = in_force_on(periods, day)
    assert (found.version if found else None) == brute_force(versions, day)
    # At most one period covers any day, and each period's last day is inside it.
    assert sum(p.covers(day) for p in periods) <= 1
    for p in periods:
        if p.last_day is not None:
            assert p.covers(p.last_day) and not p.covers(p.last_day + timedelta(days=1))


def test_a_version_replaced_on_its_first_day_never_applies():
    periods = in_force_periods(
        [(1, date(2022, 4, 6)), (2, date(2022, 4, 6)), (3, date(2023, 4, 6))]
    )
    assert [p.replaced_same_day for p in periods] == [True, False, False]
    assert periods[0].last_day is None
    assert periods[1].last_day == date(2023, 4, 5)
    assert periods[2].until is None
    assert "highest version" in why(periods, date(2022, 5, 1))


def test_why_says_which_version_and_until_when_in_plain_words():
    periods = in_force_periods([(1, date(2022, 4, 6)), (2, date(2023, 4, 6))])
    assert why(periods, date(2023, 1, 1)) == (
        "Version 1 applies on 2023-01-01 because it took effect on 2022-04-06, the most recent "
        "start on or before that date; it applies up to 2023-04-05, as the next version takes "
        "effect on 2023-04-06."
    )
    assert why(periods, date(2024, 1, 1)).endswith("it is still in force.")
    assert why(periods, date(2020, 1, 1)) == (
        "No version applies on 2020-01-01: the first one takes effect on 2022-04-06. "
        "Choose that date or a later one."
    )
    assert why([], date(2020, 1, 1)).startswith("No tax policy has been recorded")
