"""Reading the payroll pages' query strings: anything typed gives bounded values or a message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.console.payroll_forms import (
    MAX_OFFSET,
    PAGE_SIZES,
    parse_analytics_query,
    parse_country_query,
    parse_day,
    parse_employee_query,
    parse_money,
)
from backoffice.core.money import MAX_MONEY

COUNTRIES = {"GB": ("United Kingdom", "GBP"), "IN": ("India", "INR")}
FIELDS = (
    "country",
    "job_title",
    "name",
    "min_salary",
    "max_salary",
    "active",
    "sort",
    "limit",
    "offset",
    "currency",
    "metric",
)
TYPED = st.one_of(
    st.text(max_size=210),
    st.sampled_from(["", "GB", "in", "-salary", "25", "200", "0", "-1", "1e9", "12.345", "yes"]),
)


# Drawing 300-character texts is slow on a busy machine; the run's size is what matters here.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), TYPED))
def test_any_query_gives_bounded_values_or_messages(params):
    query, errors = parse_employee_query(params, COUNTRIES)
    assert all(isinstance(m, str) and m for m in errors.values())
    assert query.limit in PAGE_SIZES and 0 <= query.offset <= MAX_OFFSET
    assert len(query.name) <= 200 and len(query.job_title) <= 200
    assert query.country in ("", *COUNTRIES)
    for bound in (query.min_salary, query.max_salary):
        assert bound is None or Decimal(0) <= bound <= MAX_MONEY
    if not errors and query.min_salary is not None and query.max_salary is not None:
        assert query.min_salary <= query.max_salary
    countries, problems = parse_country_query(params)
    assert countries.limit in PAGE_SIZES and len(countries.currency) in (0, 3)
    assert all(problems.values())
    analytics, problems = parse_analytics_query(params, COUNTRIES)
    assert analytics.metric in ("count", "avg", "min", "max", "total")
    assert analytics.country in ("", *COUNTRIES) and all(problems.values())


def test_the_pager_and_csv_links_keep_the_filters_but_not_the_defaults():
    query, errors = parse_employee_query(
        {"country": "gb", "min_salary": "1,000", "sort": "-salary", "offset": "50"}, COUNTRIES
    )
    assert errors == {}
    assert {k: v for k, v in query.params(offset=0).items() if v} == {
        "country": "GB",
        "min_salary": "1000",
        "sort": "-salary",
    }


@pytest.mark.parametrize(
    ("text", "value"), [("50000", "50000"), ("50,000.5", "50000.5"), ("0", "0")]
)
def test_amounts_as_people_write_them(text, value):
    assert parse_money(text) == Decimal(value)


@pytest.mark.parametrize("text", ["-5", "1e3", "12.345", "NaN", "", "1" * 13])
def test_amounts_refused_in_plain_words(text):
    with pytest.raises(ValueError, match="amount"):
        parse_money(text)


def test_dates_are_bounded():
    assert parse_day("2024-02-29") == date(2024, 2, 29)
    for text in ("2023-02-29", "20240101", "2024-1-1", "2024-W01-1", "٢٠٢٤-01-01"):
        with pytest.raises(ValueError, match="Write a date as YYYY-MM-DD"):
            parse_day(text)
    for text in ("1899-12-31", "2200-01-01"):
        with pytest.raises(ValueError, match="between 1900-01-01 and 2199-12-31"):
            parse_day(text)
