"""HTTP API of payroll: countries and tax policies, salary breakdowns, salary analytics."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Path, Query, Response

from backoffice.core.auth.dependencies import CanCreate, CanDelete, CanRead
from backoffice.core.auth.service import Permission
from backoffice.core.contexts import Context
from backoffice.core.db import DbSession, StatementPool
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import (
    AUTH_ERRORS,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    error_responses,
)
from backoffice.core.money import PositiveMoney
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import NameContains, Order, Pagination, sorting
from backoffice.core.routing import ApiRouter
from backoffice.core.types import Day, IdParam
from backoffice.org import countries as org_countries
from backoffice.payroll import service
from backoffice.payroll.schemas import (
    BreakdownRead,
    CountryDetail,
    CountryRead,
    CountrySalaryStats,
    CountryUpsert,
    JobTitleSalaryStats,
    PolicyCreate,
    PolicyVersionRead,
)

Iso = Annotated[str, Path(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2, any case")]
AsOf = Annotated[Day | None, Query(description="YYYY-MM-DD; default today")]

countries = ApiRouter(prefix="/api/v1/countries", tags=["countries"])
breakdowns = ApiRouter(prefix="/api/v1/employees", tags=["employees"])
analytics = ApiRouter(prefix="/api/v1/analytics/salary", tags=["analytics"])

# --- countries and tax policies --------------------------------------------------------------

sort_countries = sorting(org_countries.COUNTRY_SORT, default="iso_code")


@countries.post(
    "",
    response_model=Envelope[CountryDetail],
    responses={
        201: {"description": "Country created", "model": Envelope[CountryDetail]},
        **error_responses(*AUTH_ERRORS, Conflict, ValidationFailed),
    },
    summary="Create or update a country by ISO code; a changed tax policy adds a version",
    openapi_extra=rules_beyond_schema(
        "tax slabs: rates 0-100, the first from 0, each to above its from, each from the previous to, only the last open-ended (to: null)"
    ),
)
async def upsert_country(
    data: CountryUpsert, session: DbSession, principal: CanCreate, response: Response
) -> Envelope[CountryDetail]:
    """200 when the country existed (updating needs the update permission), 201 when new."""
    if not principal.can(Permission.UPDATE) and await org_countries.country_exists(
        session, data.iso_code
    ):
        raise Forbidden(f"Role {principal.role.value!r} may not update")
    result = await service.upsert_country(session, data)
    detail = await service.country_detail(session, data.iso_code)
    added = result.version_added
    if result.created:
        response.status_code = 201
        return ok(detail, "Country created", status_code=201)
    message = (
        f"Country updated; tax policy version {added.version} added"
        if added
        else "Country updated; tax policy unchanged"
    )
    return ok(detail, message)


@countries.get(
    "/list",
    response_model=Envelope[list[CountryRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List countries with the tax policy in force today",
)
async def list_countries(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_countries)],
    name: NameContains = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
) -> Envelope[list[CountryRead]]:
    """Paginated; filter by name and currency."""
    rows, info = await service.list_countries(session, page, order, name=name, currency=currency)
    return ok(rows, pagination=info)


@countries.get(
    "/{iso}",
    response_model=Envelope[CountryDetail],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="One country, the tax policy in force today and its whole history",
)
async def get_country(iso: Iso, session: DbSession, _: CanRead) -> Envelope[CountryDetail]:
    """404 for a country that was never added."""
    return ok(await service.country_detail(session, iso))


@countries.delete(
    "/{iso}",
    response_model=Envelope[None],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Delete a country and its policy history",
)
async def delete_country(iso: Iso, session: DbSession, _: CanDelete) -> Envelope[None]:
    """409 while employees are paid in it."""
    await service.delete_country(session, iso)
    return ok(None, "Country deleted")


@countries.get(
    "/{iso}/policies",
    response_model=Envelope[list[PolicyVersionRead]],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="Every version of a country's tax policy, oldest first",
)
async def list_policy_versions(
    iso: Iso, session: DbSession, _: CanRead
) -> Envelope[list[PolicyVersionRead]]:
    """History is never overwritten: each change is a new version."""
    country = await org_countries.get_country(session, iso)
    history = await service.policy_history(session, country.iso_code)
    return ok([service.version_read(v) for v in history])


@countries.post(
    "/{iso}/policies",
    status_code=201,
    response_model=Envelope[PolicyVersionRead],
    responses={
        200: {"description": "Same as the version in force then: nothing added"},
        **error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    },
    summary="Add a version to a country's tax policy",
    openapi_extra=rules_beyond_schema(
        "tax slabs: rates 0-100, the first from 0, each to above its from, each from the previous to, only the last open-ended (to: null)"
    ),
)
async def add_policy_version(
    iso: Iso, data: PolicyCreate, session: DbSession, _: CanCreate, response: Response
) -> Envelope[PolicyVersionRead]:
    """201 with the new version; 200 with the version in force if nothing changed."""
    iso = iso.upper()
    added = await service.add_policy_version(session, iso, data)
    if added is not None:
        version = await service.get_policy_version(session, iso, added.version)
        return ok(service.version_read(version), "Tax policy version added", status_code=201)
    in_force = await service.policy_in_force(session, iso, data.effective_from or date.today())
    assert in_force is not None  # an unchanged policy means one is in force
    response.status_code = 200
    return ok(service.version_read(in_force), "Tax policy unchanged; no version added")


@countries.get(
    "/{iso}/policies/{version}",
    response_model=Envelope[PolicyVersionRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="One version of a country's tax policy",
)
async def get_policy_version(
    iso: Iso, version: IdParam, session: DbSession, _: CanRead
) -> Envelope[PolicyVersionRead]:
    """404 for an unknown country or version."""
    country = await org_countries.get_country(session, iso)
    return ok(
        service.version_read(await service.get_policy_version(session, country.iso_code, version))
    )


@countries.get(
    "/{iso}/policy",
    response_model=Envelope[PolicyVersionRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="The version of a country's tax policy in force on a date",
)
async def get_policy_in_force(
    iso: Iso, session: DbSession, _: CanRead, as_of: AsOf = None
) -> Envelope[PolicyVersionRead]:
    """404 when no version is in force on that date."""
    country = await org_countries.get_country(session, iso)
    day = as_of or date.today()
    version = await service.policy_in_force(session, country.iso_code, day)
    if version is None:
        raise NotFound(f"{country.iso_code} has no tax policy in force on {day.isoformat()}")
    return ok(service.version_read(version))


@countries.get(
    "/{iso}/breakdown",
    response_model=Envelope[BreakdownRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="Preview the breakdown of any annual salary under a country's policy",
)
async def preview_breakdown(
    iso: Iso,
    salary: Annotated[PositiveMoney, Query(description="Annual gross")],
    session: DbSession,
    _: CanRead,
    as_of: AsOf = None,
) -> Envelope[BreakdownRead]:
    """What an employee paid `salary` in this country would get."""
    return ok(await service.salary_breakdown(session, salary, iso, as_of or date.today()))


# --- salary breakdown of an employee ---------------------------------------------------------


@breakdowns.get(
    "/salary-breakdown/{employee_id}",
    response_model=Envelope[BreakdownRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="An employee's annual and monthly gross, deductions and net",
)
async def salary_breakdown(
    employee_id: IdParam, _: CanRead, conn: StatementPool, as_of: AsOf = None
) -> Envelope[BreakdownRead]:
    """Uses the country's policy version in force on `as_of` and says which one."""
    return ok(await service.employee_breakdown(conn, employee_id, as_of or date.today()))


# --- salary analytics ------------------------------------------------------------------------

sort_by_country = sorting(service.BY_COUNTRY_SORT, "country_iso")
sort_by_job_title = sorting(service.BY_JOB_TITLE_SORT, "job_title")


@analytics.get(
    "/by-country/{iso}",
    response_model=Envelope[CountrySalaryStats],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="Min, max, avg and count of salaries in one country",
)
async def salary_by_country(
    iso: Iso, session: DbSession, _: CanRead
) -> Envelope[CountrySalaryStats]:
    """From the maintained aggregates and the (country, salary) index; never a scan."""
    return ok(await service.salary_by_country(session, iso))


@analytics.get(
    "/by-country",
    response_model=Envelope[list[CountrySalaryStats]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="Min, max, avg and count of salaries per country",
)
async def salary_by_every_country(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_by_country)],
) -> Envelope[list[CountrySalaryStats]]:
    """Countries with at least one employee; sort by `country_iso`, `count`, `avg`, `total`."""
    rows, info = await service.salary_by_every_country(session, page, order)
    return ok(rows, pagination=info)


@analytics.get(
    "/by-job-title",
    response_model=Envelope[list[JobTitleSalaryStats]],
    responses=error_responses(*AUTH_ERRORS, NotFound, ValidationFailed),
    summary="Min, max, avg and count of salaries per job title, optionally in one country",
)
async def salary_by_job_title(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_by_job_title)],
    country_iso: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
) -> Envelope[list[JobTitleSalaryStats]]:
    """Job titles with at least one employee; sort by `job_title`, `count`, `avg`, `total`."""
    rows, info = await service.salary_by_job_title(session, page, order, country_iso=country_iso)
    return ok(rows, pagination=info)


context = Context("payroll", routers=(breakdowns, countries, analytics))
