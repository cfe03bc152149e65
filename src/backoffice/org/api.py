"""HTTP API of the org directory: `/api/v1/employees` and `/api/v1/org/{companies,teams,levels}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Depends, Query

from backoffice.core.auth.dependencies import CanCreate, CanDelete, CanRead, CanUpdate
from backoffice.core.contexts import Context
from backoffice.core.db import DbSession
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import (
    AUTH_ERRORS,
    Conflict,
    NotFound,
    ValidationFailed,
    error_responses,
)
from backoffice.core.money import Money
from backoffice.core.openapi import rules_beyond_schema
from backoffice.core.pagination import NameContains, Order, Pagination, sorting
from backoffice.core.routing import ApiRouter
from backoffice.core.types import FlagParam, Id, IdParam
from backoffice.org import employees, service
from backoffice.org.schemas import (
    CompanyCreate,
    CompanyRead,
    CompanyUpdate,
    EmployeeCreate,
    EmployeeRead,
    EmployeeUpdate,
    LevelCreate,
    LevelRead,
    LevelUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
)

employees_router = ApiRouter(prefix="/api/v1/employees", tags=["employees"])
org_router = ApiRouter(prefix="/api/v1/org", tags=["org"])

# --- employees -------------------------------------------------------------------------------

sort_employees = sorting(employees.EMPLOYEE_SORT, default="id")


@employees_router.post(
    "/create",
    status_code=201,
    response_model=Envelope[EmployeeRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Create an employee",
    openapi_extra=rules_beyond_schema(
        "team_id needs company_id, and the team must be of that company",
        "level_id needs company_id, and the level must be of that company (and of team_id for a team level)",
    ),
)
async def create_employee(
    data: EmployeeCreate, session: DbSession, _: CanCreate
) -> Envelope[EmployeeRead]:
    """`salary` is the annual gross (> 0, at most 2 decimals); `country_iso` must exist."""
    employee = await employees.create_employee(session, data)
    return ok(EmployeeRead.model_validate(employee), "Employee created", status_code=201)


@employees_router.get(
    "/list",
    response_model=Envelope[list[EmployeeRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List employees (paginated, filtered, sorted)",
    openapi_extra=rules_beyond_schema("min_salary must not exceed max_salary"),
)
async def list_employees(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_employees)],
    country_iso: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    job_title: Annotated[str | None, Query(max_length=200, description="Exact job title")] = None,
    name: NameContains = None,
    min_salary: Annotated[Money | None, Query(description="Annual gross at least")] = None,
    max_salary: Annotated[Money | None, Query(description="Annual gross at most")] = None,
    company_id: IdParam | None = None,
    team_id: IdParam | None = None,
    is_active: FlagParam | None = None,
) -> Envelope[list[EmployeeRead]]:
    """Filters combine with AND; `sort` takes e.g. `-salary,full_name`."""
    rows, info = await employees.list_employees(
        session,
        page,
        order,
        country_iso=country_iso,
        job_title=job_title,
        name=name,
        min_salary=min_salary,
        max_salary=max_salary,
        company_id=company_id,
        team_id=team_id,
        is_active=is_active,
    )
    return ok([EmployeeRead.model_validate(e) for e in rows], pagination=info)


@employees_router.get(
    "/{employee_id}",
    response_model=Envelope[EmployeeRead],
    responses=error_responses(*AUTH_ERRORS, NotFound),
    summary="One employee",
)
async def get_employee(
    employee_id: IdParam, session: DbSession, _: CanRead
) -> Envelope[EmployeeRead]:
    """404 for an unknown id."""
    return ok(EmployeeRead.model_validate(await employees.get_employee(session, employee_id)))


@employees_router.patch(
    "/{employee_id}",
    response_model=Envelope[EmployeeRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Change some fields of an employee",
    openapi_extra=rules_beyond_schema(
        "team_id needs company_id, and the team must be of that company",
        "level_id needs company_id, and the level must be of that company (and of team_id for a team level)",
    ),
)
async def update_employee(
    employee_id: IdParam, data: EmployeeUpdate, session: DbSession, _: CanUpdate
) -> Envelope[EmployeeRead]:
    """Only the fields sent change; null clears an optional field."""
    employee = await employees.update_employee(session, employee_id, data)
    return ok(EmployeeRead.model_validate(employee), "Employee updated")


@employees_router.delete(
    "/{employee_id}",
    response_model=Envelope[None],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict),
    summary="Delete an employee",
)
async def delete_employee(employee_id: IdParam, session: DbSession, _: CanDelete) -> Envelope[None]:
    """409 while other records (e.g. expenses) refer to the employee."""
    await employees.delete_employee(session, employee_id)
    return ok(None, "Employee deleted")


@employees_router.put(
    "/{employee_id}/account",
    response_model=Envelope[EmployeeRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Link (or with null, unlink) the login an employee acts through",
)
async def link_account(
    employee_id: IdParam,
    session: DbSession,
    _: CanUpdate,
    account_id: Annotated[Id | None, Body(embed=True, description="The login; null unlinks")],
) -> Envelope[EmployeeRead]:
    """One employee per account."""
    employee = await employees.link_account(session, employee_id, account_id)
    return ok(EmployeeRead.model_validate(employee), "Account linked" if account_id else "Unlinked")


# --- companies -------------------------------------------------------------------------------

sort_companies = sorting(service.COMPANY_SORT, default="id")


@org_router.post(
    "/companies",
    status_code=201,
    response_model=Envelope[CompanyRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Create a company",
)
async def create_company(
    data: CompanyCreate, session: DbSession, _: CanCreate
) -> Envelope[CompanyRead]:
    """Names are unique (409)."""
    company = await service.create_company(session, data)
    return ok(CompanyRead.model_validate(company), "Company created", status_code=201)


@org_router.get(
    "/companies",
    response_model=Envelope[list[CompanyRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List companies",
)
async def list_companies(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_companies)],
    name: NameContains = None,
) -> Envelope[list[CompanyRead]]:
    """Paginated; `name` filters by substring."""
    rows, info = await service.list_companies(session, page, order, name=name)
    return ok([CompanyRead.model_validate(c) for c in rows], pagination=info)


@org_router.get(
    "/companies/{company_id}",
    response_model=Envelope[CompanyRead],
    responses=error_responses(*AUTH_ERRORS, NotFound),
    summary="One company",
)
async def get_company(company_id: IdParam, session: DbSession, _: CanRead) -> Envelope[CompanyRead]:
    """404 for an unknown id."""
    return ok(CompanyRead.model_validate(await service.get_company(session, company_id)))


@org_router.patch(
    "/companies/{company_id}",
    response_model=Envelope[CompanyRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Rename a company",
)
async def update_company(
    company_id: IdParam, data: CompanyUpdate, session: DbSession, _: CanUpdate
) -> Envelope[CompanyRead]:
    """Names are unique (409)."""
    company = await service.update_company(session, company_id, data)
    return ok(CompanyRead.model_validate(company), "Company updated")


@org_router.delete(
    "/companies/{company_id}",
    response_model=Envelope[None],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict),
    summary="Delete a company with its teams and levels",
)
async def delete_company(company_id: IdParam, session: DbSession, _: CanDelete) -> Envelope[None]:
    """409 while it has employees."""
    await service.delete_company(session, company_id)
    return ok(None, "Company deleted")


# --- teams -----------------------------------------------------------------------------------

sort_teams = sorting(service.TEAM_SORT, "id")


@org_router.post(
    "/teams",
    status_code=201,
    response_model=Envelope[TeamRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Create a team in a company",
)
async def create_team(data: TeamCreate, session: DbSession, _: CanCreate) -> Envelope[TeamRead]:
    """Team names are unique within a company (409)."""
    team = await service.create_team(session, data)
    return ok(TeamRead.model_validate(team), "Team created", status_code=201)


@org_router.get(
    "/teams",
    response_model=Envelope[list[TeamRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List teams",
)
async def list_teams(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_teams)],
    company_id: IdParam | None = None,
    name: NameContains = None,
) -> Envelope[list[TeamRead]]:
    """Paginated; filter by company and name."""
    rows, info = await service.list_teams(session, page, order, company_id=company_id, name=name)
    return ok([TeamRead.model_validate(t) for t in rows], pagination=info)


@org_router.get(
    "/teams/{team_id}",
    response_model=Envelope[TeamRead],
    responses=error_responses(*AUTH_ERRORS, NotFound),
    summary="One team",
)
async def get_team(team_id: IdParam, session: DbSession, _: CanRead) -> Envelope[TeamRead]:
    """404 for an unknown id."""
    return ok(TeamRead.model_validate(await service.get_team(session, team_id)))


@org_router.patch(
    "/teams/{team_id}",
    response_model=Envelope[TeamRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Rename a team or change whether it spans the company",
)
async def update_team(
    team_id: IdParam, data: TeamUpdate, session: DbSession, _: CanUpdate
) -> Envelope[TeamRead]:
    """A team never moves to another company."""
    team = await service.update_team(session, team_id, data)
    return ok(TeamRead.model_validate(team), "Team updated")


@org_router.delete(
    "/teams/{team_id}",
    response_model=Envelope[None],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict),
    summary="Delete a team and its levels",
)
async def delete_team(team_id: IdParam, session: DbSession, _: CanDelete) -> Envelope[None]:
    """409 while employees are on it."""
    await service.delete_team(session, team_id)
    return ok(None, "Team deleted")


# --- hierarchy levels ------------------------------------------------------------------------

sort_levels = sorting(service.LEVEL_SORT, default="company_id,level_number")


@org_router.post(
    "/levels",
    status_code=201,
    response_model=Envelope[LevelRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Create a hierarchy level of a company (or of one of its teams)",
    openapi_extra=rules_beyond_schema("team_id must be a team of company_id"),
)
async def create_level(data: LevelCreate, session: DbSession, _: CanCreate) -> Envelope[LevelRead]:
    """Level 1 is the most senior; a number is unique per company (or team) (409)."""
    level = await service.create_level(session, data)
    return ok(LevelRead.model_validate(level), "Hierarchy level created", status_code=201)


@org_router.get(
    "/levels",
    response_model=Envelope[list[LevelRead]],
    responses=error_responses(*AUTH_ERRORS, ValidationFailed),
    summary="List hierarchy levels",
)
async def list_levels(
    session: DbSession,
    _: CanRead,
    page: Pagination,
    order: Annotated[Order, Depends(sort_levels)],
    company_id: IdParam | None = None,
    team_id: IdParam | None = None,
) -> Envelope[list[LevelRead]]:
    """Paginated; filter by company and team."""
    rows, info = await service.list_levels(
        session, page, order, company_id=company_id, team_id=team_id
    )
    return ok([LevelRead.model_validate(lv) for lv in rows], pagination=info)


@org_router.get(
    "/levels/{level_id}",
    response_model=Envelope[LevelRead],
    responses=error_responses(*AUTH_ERRORS, NotFound),
    summary="One hierarchy level",
)
async def get_level(level_id: IdParam, session: DbSession, _: CanRead) -> Envelope[LevelRead]:
    """404 for an unknown id."""
    return ok(LevelRead.model_validate(await service.get_level(session, level_id)))


@org_router.patch(
    "/levels/{level_id}",
    response_model=Envelope[LevelRead],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict, ValidationFailed),
    summary="Rename or renumber a hierarchy level",
)
async def update_level(
    level_id: IdParam, data: LevelUpdate, session: DbSession, _: CanUpdate
) -> Envelope[LevelRead]:
    """A number is unique per company (or team) (409)."""
    level = await service.update_level(session, level_id, data)
    return ok(LevelRead.model_validate(level), "Hierarchy level updated")


@org_router.delete(
    "/levels/{level_id}",
    response_model=Envelope[None],
    responses=error_responses(*AUTH_ERRORS, NotFound, Conflict),
    summary="Delete a hierarchy level",
)
async def delete_level(level_id: IdParam, session: DbSession, _: CanDelete) -> Envelope[None]:
    """409 while employees hold it."""
    await service.delete_level(session, level_id)
    return ok(None, "Hierarchy level deleted")


context = Context("org", routers=(employees_router, org_router))
