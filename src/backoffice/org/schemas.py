"""Request and response shapes of the org directory (companies, teams, levels, employees)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from backoffice.core.money import MoneyOut, PositiveMoney

# Deliberately loose (one @, a dot in the domain, no spaces): delivery is the real test.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(value: str | None) -> str | None:
    if value is None:
        return None
    if not _EMAIL.match(value):
        raise ValueError("must be an email address like name@example.com")
    return value.lower()


def _upper(value: str) -> str:
    return value.upper()


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str | None,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_check_email),
]
CountryIso = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"),
    AfterValidator(_upper),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompanyCreate(_Strict):
    """A new company."""

    name: Name


class CompanyUpdate(_Strict):
    """Fields of a company to change."""

    name: Name | None = None


class CompanyRead(BaseModel):
    """A company."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    updated_at: datetime


class TeamCreate(_Strict):
    """A new team of a company."""

    company_id: int
    name: Name
    is_company_wide: bool = False


class TeamUpdate(_Strict):
    """Fields of a team to change (a team never moves to another company)."""

    name: Name | None = None
    is_company_wide: bool | None = None


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

    company_id: int
    team_id: int | None = None
    level_number: int = Field(ge=1, le=10)
    level_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]


class LevelUpdate(_Strict):
    """Fields of a level to change."""

    level_number: int | None = Field(None, ge=1, le=10)
    level_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None


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
    company_id: int | None = None
    team_id: int | None = None
    level_id: int | None = None
    email: Email = None
    is_active: bool = True
    account_id: int | None = None


class EmployeeUpdate(_Strict):
    """Fields of an employee to change; an explicit null clears an optional field."""

    full_name: Name | None = None
    job_title: Name | None = None
    country_iso: CountryIso | None = None
    salary: PositiveMoney | None = None
    company_id: int | None = None
    team_id: int | None = None
    level_id: int | None = None
    email: Email = None
    is_active: bool | None = None


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


# Fields an update may not set to null (the database requires them).
REQUIRED_ON_UPDATE = frozenset({"full_name", "job_title", "country_iso", "salary", "is_active"})
