"""Reading the payroll pages' GET forms: filters, sort, page and dates, checked in plain words.

Pure functions of the query string (no I/O): each returns what it understood and, by field,
what it could not, so the page can show the message next to the field. Every value is bounded
before anything is queried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from backoffice.core.money import MAX_MONEY
from backoffice.core.types import MAX_INT
from backoffice.org.employees import EmployeeFilters

MAX_TEXT = 200  # a name or a job title, as the API bounds them
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_OFFSET = 10**9  # far past any list we hold; the page past the end is simply empty
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)

# The employee list's sort options (the API's whitelist, each way), as (value, label).
EMPLOYEE_SORTS = (
    ("id", "Added first"),
    ("-id", "Added last"),
    ("full_name", "Name, A to Z"),
    ("-full_name", "Name, Z to A"),
    ("salary", "Salary, lowest first"),
    ("-salary", "Salary, highest first"),
    ("country_iso", "Country, A to Z"),
    ("-country_iso", "Country, Z to A"),
    ("job_title", "Job title, A to Z"),
    ("-job_title", "Job title, Z to A"),
)
ACTIVE_CHOICES = (("", "Anyone"), ("yes", "Active"), ("no", "Not active"))
_ISO = re.compile(r"[A-Za-z]{2}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONEY = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")


def one(params: Mapping[str, str], name: str, limit: int = MAX_TEXT) -> str:
    """A query parameter stripped, cut at `limit` characters (the caller checks its length)."""
    return (params.get(name) or "").strip()[: limit + 1]


def parse_money(text: str) -> Decimal:
    """An amount such as `50000`, `50,000` or `50000.50` (ValueError in plain words)."""
    cleaned = text.replace(",", "").replace(" ", "")
    if not _MONEY.fullmatch(cleaned):
        raise ValueError("Write an amount such as 50000 or 50000.50 (at most 2 decimals).")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise ValueError("Write an amount such as 50000.") from exc
    if value > MAX_MONEY:
        raise ValueError(f"At most {MAX_MONEY:,}.")
    return value


def parse_day(text: str) -> date:
    """A date written YYYY-MM-DD between 1900 and 2199 (ValueError in plain words)."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError("Write a date as YYYY-MM-DD, for example 2024-04-06.") from exc
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError("Choose a date between 1900-01-01 and 2199-12-31.")
    return day


def parse_page(params: Mapping[str, str], errors: dict[str, str]) -> tuple[int, int]:
    """(limit, offset): a page size offered by the form and an offset from 0."""
    limit, offset = DEFAULT_PAGE_SIZE, 0
    raw_limit, raw_offset = one(params, "limit", 10), one(params, "offset", 12)
    if raw_limit:
        if raw_limit.isascii() and raw_limit.isdigit() and int(raw_limit) in PAGE_SIZES:
            limit = int(raw_limit)
        else:
            errors["limit"] = f"Choose {', '.join(map(str, PAGE_SIZES))} rows per page."
    if raw_offset:
        if raw_offset.isascii() and raw_offset.isdigit() and int(raw_offset) <= MAX_OFFSET:
            offset = int(raw_offset)
        else:
            errors["offset"] = "The page position must be a whole number from 0."
    return limit, offset


@dataclass(frozen=True)
class EmployeeQuery:
    """What the employee list was asked for: filters, sort and page, all checked."""

    country: str = ""
    job_title: str = ""
    name: str = ""
    min_salary: Decimal | None = None
    max_salary: Decimal | None = None
    active: str = ""
    company: int | None = None
    sort: str = "id"
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    raw: dict[str, str] = field(default_factory=dict)  # as typed, to show the form again

    def filters(self) -> EmployeeFilters:
        """The filters for `org.employees.list_employees` / `export_employees`."""
        return EmployeeFilters(
            country_iso=self.country or None,
            job_title=self.job_title or None,
            name=self.name or None,
            min_salary=self.min_salary,
            max_salary=self.max_salary,
            is_active={"yes": True, "no": False}.get(self.active),
            company_id=self.company,
        )

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this list (with `changes`), for the pager and the CSV link."""
        query = replace(self, **changes) if changes else self
        return {
            "country": query.country,
            "job_title": query.job_title,
            "name": query.name,
            "min_salary": "" if query.min_salary is None else str(query.min_salary),
            "max_salary": "" if query.max_salary is None else str(query.max_salary),
            "active": query.active,
            "company": query.company or "",
            "sort": "" if query.sort == "id" else query.sort,
            "limit": "" if query.limit == DEFAULT_PAGE_SIZE else query.limit,
            "offset": query.offset or "",
        }


def parse_employee_query(
    params: Mapping[str, str], countries: Mapping[str, Any]
) -> tuple[EmployeeQuery, dict[str, str]]:
    """The employee list's query and its problems by field (`countries`: iso -> name)."""
    errors: dict[str, str] = {}
    raw = {
        name: one(params, name)
        for name in (
            "country",
            "job_title",
            "name",
            "min_salary",
            "max_salary",
            "active",
            "company",
            "sort",
        )
    }
    values: dict[str, Any] = {}
    country = raw["country"].upper()
    if country:
        if not _ISO.fullmatch(country):
            errors["country"] = "Choose a country from the list."
        elif country not in countries:
            errors["country"] = f"There is no country {country} in the directory."
        else:
            values["country"] = country
    for name, label in (("job_title", "A job title"), ("name", "A name")):
        if len(raw[name]) > MAX_TEXT:
            errors[name] = f"{label} has at most {MAX_TEXT} characters."
        else:
            values[name] = raw[name]
    for name in ("min_salary", "max_salary"):
        if raw[name]:
            try:
                values[name] = parse_money(raw[name])
            except ValueError as exc:
                errors[name] = str(exc)
    low, high = values.get("min_salary"), values.get("max_salary")
    if low is not None and high is not None and low > high:
        errors["max_salary"] = "The highest salary must not be below the lowest."
    if raw["active"] in dict(ACTIVE_CHOICES):
        values["active"] = raw["active"]
    else:
        errors["active"] = "Choose anyone, active or not active."
    if raw["company"]:
        company = raw["company"]
        if company.isascii() and company.isdigit() and 1 <= int(company) <= MAX_INT:
            values["company"] = int(company)
        else:
            errors["company"] = "Choose a company from the list."
    if raw["sort"]:
        if raw["sort"] in dict(EMPLOYEE_SORTS):
            values["sort"] = raw["sort"]
        else:
            errors["sort"] = "Choose one of the orders in the list."
    values["limit"], values["offset"] = parse_page(params, errors)
    return EmployeeQuery(**values, raw=raw), errors


COUNTRY_SORTS = (
    ("iso_code", "Code, A to Z"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("currency", "Currency, A to Z"),
)
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class CountryQuery:
    """What the country list was asked for."""

    name: str = ""
    currency: str = ""
    sort: str = "iso_code"
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this list (with `changes`), for the pager."""
        query = replace(self, **changes) if changes else self
        return {
            "name": query.name,
            "currency": query.currency,
            "sort": "" if query.sort == "iso_code" else query.sort,
            "limit": "" if query.limit == DEFAULT_PAGE_SIZE else query.limit,
            "offset": query.offset or "",
        }


def parse_country_query(params: Mapping[str, str]) -> tuple[CountryQuery, dict[str, str]]:
    """The country list's query and its problems by field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    name, currency, sort = one(params, "name"), one(params, "currency"), one(params, "sort")
    if len(name) > 100:
        errors["name"] = "A country's name has at most 100 characters."
    values["name"] = name[:100]
    if currency and not _CURRENCY.fullmatch(currency):
        errors["currency"] = "Write a currency as its three-letter code, such as EUR."
    else:
        values["currency"] = currency.upper()
    if sort and sort not in dict(COUNTRY_SORTS):
        errors["sort"] = "Choose one of the orders in the list."
    elif sort:
        values["sort"] = sort
    values["limit"], values["offset"] = parse_page(params, errors)
    return CountryQuery(**values), errors


# What the analytics' bars show (the API's figures), and how both lists are ordered.
ANALYTICS_METRICS = (
    ("count", "Employees"),
    ("avg", "Average salary"),
    ("min", "Lowest salary"),
    ("max", "Highest salary"),
    ("total", "Total salaries"),
)
ANALYTICS_SORTS = (
    ("-count", "Most employees first"),
    ("-avg", "Highest average first"),
    ("-total", "Highest total first"),
    ("name", "Alphabetical"),
)


@dataclass(frozen=True)
class AnalyticsQuery:
    """What the analytics page was asked for: the figure drawn, the order, the job titles' page."""

    metric: str = "count"
    sort: str = "-count"
    country: str = ""  # job titles within this country only
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this page (with `changes`), for the pager."""
        query = replace(self, **changes) if changes else self
        return {
            "metric": "" if query.metric == "count" else query.metric,
            "sort": "" if query.sort == "-count" else query.sort,
            "country": query.country,
            "limit": "" if query.limit == DEFAULT_PAGE_SIZE else query.limit,
            "offset": query.offset or "",
        }


def parse_analytics_query(
    params: Mapping[str, str], countries: Mapping[str, Any]
) -> tuple[AnalyticsQuery, dict[str, str]]:
    """The analytics page's query and its problems by field (`countries`: iso -> anything)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    metric, sort = one(params, "metric"), one(params, "sort")
    country = one(params, "country").upper()
    if metric and metric not in dict(ANALYTICS_METRICS):
        errors["metric"] = "Choose one of the figures in the list."
    elif metric:
        values["metric"] = metric
    if sort and sort not in dict(ANALYTICS_SORTS):
        errors["sort"] = "Choose one of the orders in the list."
    elif sort:
        values["sort"] = sort
    if country and country not in countries:
        errors["country"] = "Choose a country from the list."
    else:
        values["country"] = country
    values["limit"], values["offset"] = parse_page(params, errors)
    return AnalyticsQuery(**values), errors
