"""The payroll section: employees (list, CSV, one employee's salary breakdown on a date).

Countries, their policy history and the salary analytics are in `payroll_countries`. Every
page reads through the contexts' services, the same paths the API uses (the employee list's
pagination, the breakdown's one-statement read on the statement pool); nothing here queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Reader
from backoffice.console.payroll_forms import (
    ACTIVE_CHOICES,
    DEFAULT_PAGE_SIZE,
    EMPLOYEE_SORTS,
    PAGE_SIZES,
    EmployeeQuery,
    one,
    parse_day,
    parse_employee_query,
)
from backoffice.console.web import csv_response, field_errors, redirect, render, with_query
from backoffice.core.db import DbSession, StatementPool
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import NotFound, ValidationFailed
from backoffice.core.pagination import PageParams, counted_past
from backoffice.core.routing import ApiRouter
from backoffice.core.types import MAX_INT
from backoffice.org import countries as org_countries
from backoffice.org import employees
from backoffice.org import service as org_service
from backoffice.org.models import Employee
from backoffice.payroll import service
from backoffice.payroll.periods import in_force_on, in_force_periods, why

router = ApiRouter(include_in_schema=False)
# The list counts its matches this far only, then says "more than 10,000": an exact count of
# a common name among a million employees (every block of the table) is 70-90 ms alone, and
# the page must stay under 50 ms (docs/benchmarks.md). The API's `total` stays exact.
COUNT_AT_MOST = 10_000

EMPLOYEES = "/console/payroll/employees"
EXPORT = "/console/payroll/employees.csv"
# ISO 3166-1 has 249 codes: one page holds every country the directory can have.
ALL_COUNTRIES = PageParams(limit=300)
MAX_COMPANIES = 200  # the picker's choices; a company beyond them is still a valid filter
EXPORT_HEADER = (
    "id",
    "full_name",
    "job_title",
    "country_iso",
    "salary",
    "company_id",
    "team_id",
    "email",
    "is_active",
)


def money(value: Decimal | None) -> str:
    """An amount as the pages print it: thousands separated, two decimals; None as a dash."""
    return "—" if value is None else f"{value:,.2f}"


def percent(value: Decimal | None) -> str:
    """A rate as a percentage without trailing zeros (20, 12.5); None as a dash."""
    if value is None:
        return "—"
    text = f"{value.normalize():f}"
    return f"{text}%"


def minus(value: Decimal) -> str:
    """A deduction as the breakdown prints it: with a minus sign, unless it is nothing."""
    return f"\N{MINUS SIGN}{money(value)}" if value else money(value)


FORMATS: dict[str, Any] = {"money": money, "percent": percent, "minus": minus}  # templates


async def country_names(session: AsyncSession) -> dict[str, tuple[str, str]]:
    """Every country of the directory: iso -> (name, currency), by name."""
    order = [org_countries.COUNTRY_SORT["name"].asc()]
    rows, _ = await org_countries.list_countries(session, ALL_COUNTRIES, order)
    return {c.iso_code: (c.name, c.currency) for c in rows}


def order_by(allowed: Mapping[str, Any], sort: str) -> list[ColumnElement[Any]]:
    """ORDER BY for a checked `sort` (`name` or `-name`) over a whitelist."""
    column = allowed[sort.removeprefix("-")]
    return [column.desc() if sort.startswith("-") else column.asc()]


@router.get("/console/payroll/")
async def section(request: Request, principal: Reader) -> Response:
    """The section's first page is the employee list (its address kept in the query)."""
    return redirect(with_query(EMPLOYEES, dict(request.query_params)))


@router.get("/console/payroll/employees")
async def employee_list(request: Request, principal: Reader, session: DbSession) -> Response:
    """Employees with filters, sort and server-side pages (the API's listing path)."""
    countries = await country_names(session)
    query, errors = await _checked_query(request, session, countries)
    if errors:
        return await _list_page(request, session, query, errors, countries)
    try:
        rows, info = await employees.list_employees(
            session,
            PageParams(query.limit, query.offset),
            order_by(employees.EMPLOYEE_SORT, query.sort),
            count_at_most=COUNT_AT_MOST,
            **query.filters(),
        )
    except ValidationFailed as error:
        return await _list_page(request, session, query, field_errors(error), countries)
    return await _list_page(request, session, query, {}, countries, rows, info)


@router.get("/console/payroll/employees.csv")
async def employee_export(request: Request, principal: Reader, session: DbSession) -> Response:
    """The employees the list's filters select, in its order, as CSV (at most EXPORT_LIMIT).

    Bad filters give the list's page with the problems next to them (422), no download.
    """
    countries = await country_names(session)
    query, errors = await _checked_query(request, session, countries)
    if errors:
        return await _list_page(request, session, query, errors, countries)
    try:
        rows = await employees.export_employees(
            session, order_by(employees.EMPLOYEE_SORT, query.sort), **query.filters()
        )
    except ValidationFailed as error:
        return await _list_page(request, session, query, field_errors(error), countries)
    return csv_response(
        "employees.csv",
        EXPORT_HEADER,
        (
            (
                e.id,
                e.full_name,
                e.job_title,
                e.country_iso,
                e.salary,
                e.company_id or "",
                e.team_id or "",
                e.email or "",
                "yes" if e.is_active else "no",
            )
            for e in rows
        ),
    )


async def _checked_query(
    request: Request, session: AsyncSession, countries: Mapping[str, Any]
) -> tuple[EmployeeQuery, dict[str, str]]:
    """The list's query, its problems by field, and whether its company exists."""
    query, errors = parse_employee_query(request.query_params, countries)
    if query.company is not None:
        try:
            await org_service.get_company(session, query.company)
        except NotFound:
            errors["company"] = f"There is no company {query.company}."
    return query, errors


async def company_choices(session: AsyncSession) -> list[tuple[str, str]]:
    """The companies a list can be filtered by, by name (the first MAX_COMPANIES)."""
    order = [org_service.COMPANY_SORT["name"].asc()]
    rows, _ = await org_service.list_companies(session, PageParams(limit=MAX_COMPANIES), order)
    return [(str(c.id), c.name) for c in rows]


async def _list_page(
    request: Request,
    session: AsyncSession,
    query: EmployeeQuery,
    errors: dict[str, str],
    countries: dict[str, tuple[str, str]],
    found: list[Employee] | None = None,
    info: PageInfo | None = None,
) -> Response:
    """The employee list: its filters (with their problems, a 422), then one page of rows."""
    return render(
        request,
        "payroll/employees.html",
        status_code=422 if errors else 200,
        query=query,
        errors=errors,
        employees=found,
        page=info,
        more_than=counted_past(info, COUNT_AT_MOST) if info is not None else None,
        countries=countries,
        job_titles=await service.job_titles(session),
        companies=[("", "Any company"), *await company_choices(session)],
        sorts=EMPLOYEE_SORTS,
        actives=ACTIVE_CHOICES,
        page_sizes=PAGE_SIZES,
        page_url=lambda offset: with_query(EMPLOYEES, query.params(offset=offset)),
        csv_url=with_query(EXPORT, query.params(offset=0, limit=DEFAULT_PAGE_SIZE)),
        export_limit=employees.EXPORT_LIMIT,
        **FORMATS,
    )


def _employee_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 1 <= int(text) <= MAX_INT:
        raise NotFound("There is no such employee.")
    return int(text)


@router.get("/console/payroll/employees/{employee_id}")
async def employee_page(
    request: Request,
    principal: Reader,
    session: DbSession,
    conn: StatementPool,
    employee_id: str,
) -> Response:
    """An employee and their salary breakdown on a date, with the policy version that applied."""
    employee = await employees.get_employee(session, _employee_id(employee_id))
    country = await org_countries.get_country(session, employee.country_iso)
    errors: dict[str, str] = {}
    status = 200
    raw_as_of = one(request.query_params, "as_of", 10)
    as_of = date.today()
    if raw_as_of:
        try:
            as_of = parse_day(raw_as_of)
        except ValueError as problem:
            errors["as_of"], status = str(problem), 422
    history = await service.policy_history(session, country.iso_code)
    periods = in_force_periods([(v.version, v.effective_from) for v in history])
    breakdown = None
    if not errors:
        try:
            breakdown = await service.employee_breakdown(conn, employee.id, as_of)
        except NotFound:  # no version in force that day: said in words, next to the date
            errors["as_of"] = why(periods, as_of)
    lines = []
    if breakdown is not None:
        lines = list(zip(breakdown.annual.deductions, breakdown.monthly.deductions, strict=True))
    return render(
        request,
        "payroll/employee.html",
        status_code=status,
        employee=employee,
        country=country,
        as_of=as_of,
        raw_as_of=raw_as_of or as_of.isoformat(),
        errors=errors,
        breakdown=breakdown,
        lines=lines,
        period=in_force_on(periods, as_of) if breakdown else None,
        reason=why(periods, as_of) if breakdown else "",
        **FORMATS,
    )
