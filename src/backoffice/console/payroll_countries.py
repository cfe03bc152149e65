"""The payroll section: countries with their tax policy history, and the salary analytics.

The analytics read the maintained aggregates through `payroll.service`, exactly the API's
figures (min and max from index probes, count, total and average from the aggregate rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console import charts
from backoffice.console.access import Reader
from backoffice.console.payroll import FORMATS, country_names, money, order_by
from backoffice.console.payroll_forms import (
    ANALYTICS_METRICS,
    ANALYTICS_SORTS,
    COUNTRY_SORTS,
    PAGE_SIZES,
    parse_analytics_query,
    parse_country_query,
)
from backoffice.console.web import csv_response, render, with_query
from backoffice.core.db import DbSession
from backoffice.core.errors import NotFound
from backoffice.core.pagination import PageParams
from backoffice.core.routing import ApiRouter
from backoffice.org import countries as org_countries
from backoffice.payroll import service
from backoffice.payroll.periods import in_force_on, in_force_periods
from backoffice.payroll.schemas import CountryRead, CountrySalaryStats, JobTitleSalaryStats

router = ApiRouter(include_in_schema=False)

COUNTRIES = "/console/payroll/countries"
ANALYTICS = "/console/payroll/analytics"
# Every country with employees fits on one chart: ISO 3166-1 has 249 codes.
EVERY_COUNTRY = PageParams(limit=300)


@router.get("/console/payroll/countries")
async def country_list(request: Request, principal: Reader, session: DbSession) -> Response:
    """Countries with the tax policy in force today; filter by name and currency, pages."""
    query, errors = parse_country_query(request.query_params)
    rows: list[CountryRead] = []
    info = None
    if not errors:
        rows, info = await service.list_countries(
            session,
            PageParams(query.limit, query.offset),
            order_by(org_countries.COUNTRY_SORT, query.sort),
            name=query.name or None,
            currency=query.currency or None,
        )
    return render(
        request,
        "payroll/countries.html",
        status_code=422 if errors else 200,
        query=query,
        errors=errors,
        countries=rows,
        page=info,
        sorts=COUNTRY_SORTS,
        page_sizes=PAGE_SIZES,
        page_url=lambda offset: with_query(COUNTRIES, query.params(offset=offset)),
        csv_url=with_query("/console/payroll/countries.csv", query.params(offset=0)),
        **FORMATS,
    )


@router.get("/console/payroll/countries.csv")
async def country_export(request: Request, principal: Reader, session: DbSession) -> Response:
    """The countries the list's filters select, in its order, with the policy in force today."""
    query, errors = parse_country_query(request.query_params)
    if errors:
        return await country_list(request, principal, session)
    rows, _ = await service.list_countries(
        session,
        EVERY_COUNTRY,
        order_by(org_countries.COUNTRY_SORT, query.sort),
        name=query.name or None,
        currency=query.currency or None,
    )
    return csv_response(
        "countries.csv",
        (
            "iso_code",
            "name",
            "currency",
            "policy_version",
            "effective_from",
            "flat_tds_percent",
            "standard_deduction",
            "tax_bands",
        ),
        (
            (
                c.iso_code,
                c.name,
                c.currency,
                c.current_policy.version if c.current_policy else "",
                c.current_policy.effective_from.isoformat() if c.current_policy else "",
                "" if c.current_deduction is None else f"{c.current_deduction.normalize():f}",
                "" if c.standard_deduction is None else c.standard_deduction,
                len(c.tax_slabs),
            )
            for c in rows
        ),
    )


@router.get("/console/payroll/countries/{iso}")
async def country_page(
    request: Request, principal: Reader, session: DbSession, iso: str
) -> Response:
    """A country: its tax policy history (each version's period and rates) and its salaries."""
    if not (len(iso) == 2 and iso.isascii() and iso.isalpha()):
        raise NotFound("There is no such country.")
    detail = await service.country_detail(session, iso)
    stats = await service.salary_by_country(session, detail.iso_code)
    periods = {
        p.version: p
        for p in in_force_periods([(v.version, v.effective_from) for v in detail.policy_history])
    }
    today = in_force_on(list(periods.values()), date.today())
    return render(
        request,
        "payroll/country.html",
        country=detail,
        stats=stats,
        history=list(reversed(detail.policy_history)),  # newest first
        periods=periods,
        current_version=today.version if today else None,
        **FORMATS,
    )


def _bars(rows: list[Any], label: Any, metric: str) -> list[tuple[str, Decimal | int]]:
    return [(label(r), getattr(r, metric) or 0) for r in rows]


def _country_label(iso: str, names: Mapping[str, tuple[str, str]]) -> str:
    return f"{names[iso][0]} ({iso})" if iso in names else iso


def _country_rows(
    rows: list[CountrySalaryStats], names: Mapping[str, tuple[str, str]]
) -> list[list[str]]:
    return [
        [
            _country_label(r.country_iso, names),
            names.get(r.country_iso, ("", ""))[1],
            f"{r.count:,}",
            money(r.min),
            money(r.max),
            money(r.avg),
            money(r.total),
        ]
        for r in rows
    ]


def _title_rows(rows: list[JobTitleSalaryStats]) -> list[list[str]]:
    return [
        [r.job_title, f"{r.count:,}", money(r.min), money(r.max), money(r.avg), money(r.total)]
        for r in rows
    ]


@router.get("/console/payroll/analytics")
async def analytics(request: Request, principal: Reader, session: DbSession) -> Response:
    """Salary figures by country and by job title (optionally in one country), as charts."""
    names = await country_names(session)
    query, errors = parse_analytics_query(request.query_params, names)
    by_country: list[CountrySalaryStats] = []
    by_title: list[JobTitleSalaryStats] = []
    info = None
    if not errors:
        by_country, _ = await service.salary_by_every_country(
            session, EVERY_COUNTRY, _order(query.sort, service.BY_COUNTRY_SORT, "country_iso")
        )
        by_title, info = await service.salary_by_job_title(
            session,
            PageParams(query.limit, query.offset),
            _order(query.sort, service.BY_JOB_TITLE_SORT, "job_title"),
            country_iso=query.country or None,
        )
    metric_label = dict(ANALYTICS_METRICS)[query.metric]
    value_format = _count if query.metric == "count" else _amount
    country_chart = charts.bar_chart(
        title=f"{metric_label} by country",
        description=f"{metric_label} of the employees of each country, in its own currency.",
        bars=_bars(by_country, lambda r: _country_label(r.country_iso, names), query.metric),
        value_format=value_format,
        chart_id="payroll-by-country",
    )
    where = f" in {names[query.country][0]}" if query.country else ""
    title_chart = charts.bar_chart(
        title=f"{metric_label} by job title{where}",
        description=f"{metric_label} of the employees holding each job title{where}.",
        bars=_bars(by_title, lambda r: r.job_title, query.metric),
        value_format=value_format,
        chart_id="payroll-by-title",
    )
    return render(
        request,
        "payroll/analytics.html",
        status_code=422 if errors else 200,
        query=query,
        errors=errors,
        names_options=[(iso, f"{name} ({iso})") for iso, (name, _) in names.items()],
        metrics=ANALYTICS_METRICS,
        sorts=ANALYTICS_SORTS,
        page_sizes=PAGE_SIZES,
        metric_label=metric_label,
        where=where,
        country_chart=country_chart,
        title_chart=title_chart,
        country_rows=_country_rows(by_country, names),
        title_rows=_title_rows(by_title),
        page=info,
        page_url=lambda offset: with_query(ANALYTICS, query.params(offset=offset)),
    )


def _order(sort: str, allowed: Mapping[str, Any], name: str) -> list[Any]:
    """The API's sort of either list; `name` stands for the list's own key (country, title)."""
    key = sort.removeprefix("-")
    return order_by(allowed, sort.replace(key, name) if key == "name" else sort)


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _amount(value: Any) -> str:
    return money(Decimal(value))
