"""The savings pages' pure rules: figures and instants in words, the months a statement takes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from backoffice.console.savings_accounts import an_id
from backoffice.console.savings_forms import (
    lock_in_label,
    rate_label,
    readable_instant,
    signed,
    unlock_message,
)
from backoffice.console.savings_statements import (
    EARLIEST,
    MAX_MONTHS,
    RECENT,
    month_name,
    month_of,
    months_back,
)

CENTS = st.integers(min_value=-(10**14), max_value=10**14).map(lambda c: Decimal(c) / 100)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31))


@given(CENTS)
def test_a_signed_change_reads_back_as_the_amount(amount):
    text = signed(amount)
    assert Decimal(text.replace(",", "")) == amount
    assert text.startswith("+") == (amount > 0) and text.startswith("-") == (amount < 0)


def test_rates_and_lock_ins_in_words():
    assert rate_label(Decimal("2.5000")) == "2.5% a year"
    assert rate_label(Decimal("0.0001")) == "0.0001% a year"
    assert rate_label(Decimal(25)) == "25% a year"
    assert rate_label(Decimal(0)) == "None"
    assert [lock_in_label(d) for d in (0, 1, 30)] == ["None", "1 day", "30 days"]


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))]),
    )
)
def test_an_instant_is_said_in_utc_to_the_second(instant):
    text = readable_instant(instant)
    at = instant.astimezone(UTC)
    assert text == f"{at.day} {at:%B} {at.year} at {at:%H:%M:%S} UTC"
    assert datetime.strptime(text, "%d %B %Y at %H:%M:%S UTC").replace(tzinfo=UTC) == at.replace(
        microsecond=0
    )


def test_the_unlock_message_names_the_instant_or_says_none():
    assert unlock_message("2026-12-07T14:03:27.250000+00:00") == (
        "Your plan still locks in these savings: this amount can leave your savings from"
        " 7 December 2026 at 14:03:27 UTC."
    )
    for bad in (None, "", "tomorrow", 5):
        assert unlock_message(bad) == (
            "Your plan still locks in these savings: try a smaller amount or a later date."
        )


@given(st.text(max_size=12), DAYS)
def test_only_a_month_from_the_earliest_to_this_one_is_taken(text, today):
    taken = month_of(text, today)
    assert taken is None or taken == text
    if taken is not None:
        year, month = int(text[:4]), int(text[5:])
        assert EARLIEST <= (year, month) <= (today.year, today.month)
        assert len(text) == 7 and text.isascii()


@given(DAYS, st.integers(min_value=0, max_value=11))
def test_every_listed_month_is_taken_and_named(today, back):
    month = f"{today.year:04d}-{today.month:02d}"
    assert month_of(month, today) == month
    year, number = divmod(today.year * 12 + today.month - 1 - back, 12)
    earlier = f"{year:04d}-{number + 1:02d}"
    assert month_of(earlier, today) == (earlier if (year, number + 1) >= EARLIEST else None)
    assert month_name("2026-03") == "March 2026"
    assert month_of("2026-00", today) is None and month_of("\N{SUPERSCRIPT TWO}", today) is None


@given(st.one_of(st.none(), DAYS), DAYS)
def test_the_picker_lists_consecutive_months_newest_first(first, today):
    months = months_back(first, today)
    assert months[0] == f"{today.year:04d}-{today.month:02d}"
    assert all(month_of(m, today) == m for m in months)
    numbers = [int(m[:4]) * 12 + int(m[5:]) for m in months]
    assert numbers == list(range(numbers[0], numbers[0] - len(numbers), -1))
    if first is None:
        assert len(months) == min(RECENT, numbers[0] - (EARLIEST[0] * 12 + EARLIEST[1]) + 1)
    elif first <= today:
        wanted = (today.year - first.year) * 12 + today.month - first.month + 1
        assert len(months) == min(wanted, MAX_MONTHS)
    else:
        assert len(months) == 1


@given(st.uuids())
def test_an_id_reads_the_usual_form_only(value):
    assert an_id(str(value)) == value
    assert an_id(str(value).upper()) == value
    assert an_id(value.hex) is None  # 32 characters: not the form people copy
    assert an_id("{" + str(value)[1:]) is None


def test_an_id_refuses_what_is_no_id():
    for bad in ("", "nope", "\N{SUPERSCRIPT TWO}" * 36, "x" * 36, str(uuid.uuid4()) + " "):
        assert an_id(bad) is None
