"""Request and response shapes of the org directory (companies, teams, levels, employees)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from backoffice.core.money import MoneyOut, PositiveMoney
from backoffice.core.types import Email, Flag, Id, Text, Whole, omissible


def _upper(value: str) -> str:
    return value.upper()


Name = Annotated[str, Text(max_length=200)]
LevelNumber = Annotated[int, Whole(ge=1, le=10), Field(description="1 is the most senior")]
LevelName = Annotated[str, Text(max_length=100)]
CountryIso = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$"), AfterValidator(_upper)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompanyCreate(_Strict):
    """A new company."""

    name: Name


class CompanyUpdate(_Strict):
    """Fields of a company to change."""

    name: Name = omissible()


class CompanyRead(BaseModel):
    """A company."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    updated_at: datetime


class TeamCreate(_Strict):
    """A new team of a company."""

    company_id: Id
    name: Name
    is_company_wide: Flag = False


class TeamUpdate(_Strict):
    """Fields of a team to change (a team never moves to another company)."""

    name: Name = omissible()
    is_company_wide: Flag = omissible()


class TeamRead(BaseModel):
    """A team."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    is_company_wide: bool
    created_at: datetime
    updated_at: datetime


class LevelCreate(_Strict):
    """A new rung of a company's (or one team's) ladder; 1 is the most senior."""

    company_id: Id
    team_id: Id | None = None
    level_number: LevelNumber
    level_name: LevelName


class LevelUpdate(_Strict):
    """Fields of a level to change."""

    level_number: LevelNumber = omissible()
    level_name: LevelName = omissible()


class LevelRead(BaseModel):
    """A hierarchy level."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    team_id: int | None
    level_number: int
    level_name: str
    created_at: datetime
    updated_at: datetime


class EmployeeCreate(_Strict):
    """A new employee: payroll fields are required, org placement is optional."""

    full_name: Name
    job_title: Name
    country_iso: CountryIso
    salary: PositiveMoney = Field(description="Annual gross salary, > 0, at most 2 decimals")
    company_id: Id | None = None
    team_id: Id | None = None
    level_id: Id | None = None
    email: Email | None = None
    is_active: Flag = True
    account_id: Id | None = None


class EmployeeUpdate(_Strict):
    """Fields of an employee to change; an explicit null clears an optional field."""

    full_name: Name = omissible()
    job_title: Name = omissible()
    country_iso: CountryIso = omissible()
    salary: PositiveMoney = omissible()
    company_id: Id | None = None
    team_id: Id | None = None
    level_id: Id | None = None
    email: Email | None = None
    is_active: Flag = omissible()


class EmployeeRead(BaseModel):
    """An employee."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    job_title: str
    country_iso: str
    salary: MoneyOut
    company_id: int | None
    team_id: int | None
    level_id: int | None
    email: str | None
    is_active: bool
    account_id: int | None
    created_at: datetime
    updated_at: datetime
