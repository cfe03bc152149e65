"""Request and response shapes of payroll: countries, tax policies, breakdowns, analytics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from backoffice.core.money import Money, MoneyOut, Percent
from backoffice.core.types import Day, Text
from backoffice.payroll.iso import country_names, currency_names


def _any_case(codes: Iterable[str]) -> str:
    """A pattern matching exactly `codes`, in any case (`[Gg][Bb]`)."""
    spelled = ("".join(f"[{c}{c.lower()}]" for c in code) for code in sorted(codes))
    return f"^({'|'.join(spelled)})$"


def _code(kind: str, codes: Callable[[], Mapping[str, str]]) -> Any:
    """An ISO code in any case, kept in upper case; the document's pattern lists them all."""

    def check(value: str) -> str:
        code = value.upper()
        if code not in codes() or not value.isascii():
            raise ValueError(f"{value!r} is not an {kind} code")
        return code

    return AfterValidator(check)


IsoCountry = Annotated[
    str,
    _code("ISO 3166-1 alpha-2 country", country_names),
    WithJsonSchema({"type": "string", "pattern": _any_case(country_names())}),
]
IsoCurrency = Annotated[
    str,
    _code("ISO 4217 currency", currency_names),
    WithJsonSchema({"type": "string", "pattern": _any_case(currency_names())}),
]
# A slab rate: a percentage, 0-100 with up to four decimals.
Rate = Percent
# Output rate: a JSON number (at most 4 decimals, so the float prints the exact value).
RateOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class SlabIn(BaseModel):
    """A progressive band: `rate` percent of the income from `from` up to `to` (null: open)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Money = Field(alias="from")
    to: Money | None = None
    rate: Rate


class SlabOut(BaseModel):
    """A progressive band of a policy version."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: MoneyOut = Field(alias="from")
    to: MoneyOut | None
    rate: RateOut


class PolicyCreate(BaseModel):
    """A new version of a country's tax policy."""

    model_config = ConfigDict(extra="forbid")

    current_deduction: Percent | None = Field(
        None, description="Flat TDS percent (0-100); null for none"
    )
    tax_slabs: list[SlabIn] = Field(default_factory=list, max_length=50)
    standard_deduction: Money | None = None
    effective_from: Day | None = Field(None, description="Default: today")


class CountryUpsert(BaseModel):
    """Create or update a country by `iso_code`; a changed tax policy adds a version.

    Omitting `tax_slabs` or `standard_deduction` keeps the current ones; `[]` or null
    removes them.
    """

    model_config = ConfigDict(extra="forbid")

    iso_code: IsoCountry
    name: Annotated[str, Text(max_length=100)]
    currency: IsoCurrency
    current_deduction: Percent = Field(description="Flat TDS percent, 0-100")
    tax_slabs: list[SlabIn] | None = Field(None, max_length=50)
    standard_deduction: Money | None = None
    effective_from: Day | None = Field(None, description="When the policy applies; default today")


class PolicyVersionRead(BaseModel):
    """One version of a country's tax policy."""

    version: int
    effective_from: date
    current_deduction: RateOut | None = Field(description="Flat TDS percent, if any")
    standard_deduction: MoneyOut | None
    tax_slabs: list[SlabOut]
    created_at: datetime


class CountryRead(BaseModel):
    """A country and the tax policy in force today."""

    iso_code: str
    name: str
    currency: str
    current_deduction: RateOut | None = Field(description="Flat TDS percent in force today")
    tax_slabs: list[SlabOut] = Field(description="Slabs in force today")
    standard_deduction: MoneyOut | None
    current_policy: PolicyVersionRead | None
    created_at: datetime
    updated_at: datetime


class CountryDetail(CountryRead):
    """A country with its whole policy history (oldest version first)."""

    policy_history: list[PolicyVersionRead]


class DeductionLineRead(BaseModel):
    """One deduction: what it is charged on (`basis`), at which `rate` percent, how much."""

    name: str
    kind: str = Field(description="`slab` (progressive band) or `flat` (TDS)")
    basis: MoneyOut
    rate: RateOut
    amount: MoneyOut


class SplitRead(BaseModel):
    """Gross = total_deductions + net, to the cent."""

    gross: MoneyOut
    deductions: list[DeductionLineRead]
    total_deductions: MoneyOut
    net: MoneyOut


class AppliedPolicy(BaseModel):
    """Which policy version a breakdown used."""

    country_iso: str
    version: int
    effective_from: date


class BreakdownRead(BaseModel):
    """An annual salary split into deductions and net, and the same per month."""

    employee_id: int | None = None
    country_iso: str
    currency: str
    as_of: date
    policy: AppliedPolicy
    taxable_income: MoneyOut
    annual: SplitRead
    monthly: SplitRead


class CountrySalaryStats(BaseModel):
    """Salary figures of one country's employees."""

    country_iso: str
    count: int
    min: MoneyOut | None
    max: MoneyOut | None
    avg: MoneyOut | None
    total: MoneyOut


class JobTitleSalaryStats(BaseModel):
    """Salary figures of one job title (within `country_iso` when one was asked for)."""

    job_title: str
    country_iso: str | None = None
    count: int
    min: MoneyOut | None
    max: MoneyOut | None
    avg: MoneyOut | None
    total: MoneyOut
