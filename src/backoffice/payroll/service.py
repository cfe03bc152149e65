"""Countries, versioned tax policies, salary breakdowns and salary analytics.

Services flush, never commit; errors are domain errors. Tax policy versions are only ever
added (the database refuses updates), so a breakdown for a past date reproduces what was
computed then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    bindparam,
    column,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backoffice.core.db import Driver, Sql
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, NotFound, ValidationFailed
from backoffice.core.money import to_cents
from backoffice.core.pagination import PageParams, paginate_rows
from backoffice.org import countries
from backoffice.org.models import Country
from backoffice.org.salaries import employee_pay, salary_range, salary_range_columns
from backoffice.payroll import tax
from backoffice.payroll.models import (
    SalaryByCountry,
    SalaryByCountryJobTitle,
    SalaryByJobTitle,
    TaxPolicyVersion,
    TaxSlab,
)
from backoffice.payroll.schemas import (
    AppliedPolicy,
    BreakdownRead,
    CountryDetail,
    CountryRead,
    CountrySalaryStats,
    CountryUpsert,
    DeductionLineRead,
    JobTitleSalaryStats,
    PolicyCreate,
    PolicyVersionRead,
    SlabIn,
    SlabOut,
    SplitRead,
)

# --- policy versions -------------------------------------------------------------------------


def _with_slabs(statement: Select[TaxPolicyVersion]) -> Select[TaxPolicyVersion]:
    return statement.options(selectinload(TaxPolicyVersion.slabs))


def _in_force(iso_code: str, as_of: date) -> Select[TaxPolicyVersion]:
    return (
        select(TaxPolicyVersion)
        .where(TaxPolicyVersion.country_iso == iso_code, TaxPolicyVersion.effective_from <= as_of)
        .order_by(TaxPolicyVersion.effective_from.desc(), TaxPolicyVersion.version.desc())
        .limit(1)
    )


async def policy_in_force(
    session: AsyncSession, iso_code: str, as_of: date
) -> TaxPolicyVersion | None:
    """The version in force on `as_of`: latest `effective_from` on or before it."""
    return await session.scalar(_with_slabs(_in_force(iso_code, as_of)))


async def policies_in_force(
    session: AsyncSession, iso_codes: Sequence[str], as_of: date
) -> dict[str, TaxPolicyVersion]:
    """The version in force on `as_of` of each of `iso_codes` that has one."""
    if not iso_codes:
        return {}
    statement = (
        select(TaxPolicyVersion)
        .where(
            TaxPolicyVersion.country_iso.in_(iso_codes), TaxPolicyVersion.effective_from <= as_of
        )
        .order_by(
            TaxPolicyVersion.country_iso,
            TaxPolicyVersion.effective_from.desc(),
            TaxPolicyVersion.version.desc(),
        )
        .ext(distinct_on(TaxPolicyVersion.country_iso))
    )
    versions = await session.scalars(_with_slabs(statement))
    return {v.country_iso: v for v in versions}


async def policy_history(session: AsyncSession, iso_code: str) -> list[TaxPolicyVersion]:
    """Every version of a country's policy, oldest first."""
    rows = await session.scalars(
        _with_slabs(
            select(TaxPolicyVersion)
            .where(TaxPolicyVersion.country_iso == iso_code)
            .order_by(TaxPolicyVersion.version)
        )
    )
    return list(rows)


async def get_policy_version(
    session: AsyncSession, iso_code: str, version: int
) -> TaxPolicyVersion:
    """One version of a country's policy, or `NotFound`."""
    found = await session.scalar(
        _with_slabs(
            select(TaxPolicyVersion).where(
                TaxPolicyVersion.country_iso == iso_code, TaxPolicyVersion.version == version
            )
        )
    )
    if found is None:
        raise NotFound(f"Country {iso_code!r} has no tax policy version {version}")
    return found


def to_policy(version: TaxPolicyVersion) -> tax.TaxPolicy:
    """The pure-rules view of a stored version."""
    return tax.TaxPolicy(
        effective_from=version.effective_from,
        slabs=tuple(tax.Slab(s.lower_bound, s.upper_bound, s.rate) for s in version.slabs),
        flat_rate=version.flat_rate,
        standard_deduction=version.standard_deduction,
    )


def _slabs_from_input(slabs: Sequence[SlabIn]) -> tuple[tax.Slab, ...]:
    return tuple(tax.Slab(s.from_, s.to, s.rate) for s in slabs)


def _same_policy(a: tax.TaxPolicy, b: tax.TaxPolicy) -> bool:
    return (a.flat_rate, a.standard_deduction, a.slabs) == (
        b.flat_rate,
        b.standard_deduction,
        b.slabs,
    )


def _validated(policy: tax.TaxPolicy) -> tax.TaxPolicy:
    problems = tax.validate_policy(policy)
    if problems:
        raise ValidationFailed(
            "Invalid tax policy: " + "; ".join(f"{p.field}: {p.message}" for p in problems),
            errors=[
                {"field": p.field, "message": p.message, "code": "invalid_policy"} for p in problems
            ],
        )
    return policy


async def _add_version(
    session: AsyncSession, iso_code: str, policy: tax.TaxPolicy
) -> TaxPolicyVersion | None:
    """Add `policy` as a new version unless it equals the version in force on its date."""
    current = await policy_in_force(session, iso_code, policy.effective_from)
    if current is not None and _same_policy(to_policy(current), policy):
        return None
    last = await session.scalar(
        select(func.max(TaxPolicyVersion.version)).where(TaxPolicyVersion.country_iso == iso_code)
    )
    version = TaxPolicyVersion(
        country_iso=iso_code,
        version=(last or 0) + 1,
        effective_from=policy.effective_from,
        flat_rate=policy.flat_rate,
        standard_deduction=policy.standard_deduction,
        slabs=[
            TaxSlab(position=i, lower_bound=s.lower, upper_bound=s.upper, rate=s.rate)
            for i, s in enumerate(policy.slabs)
        ],
    )
    session.add(version)
    await session.flush()
    return version


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What `upsert_country` did."""

    country: Country
    created: bool
    version_added: TaxPolicyVersion | None


async def upsert_country(session: AsyncSession, data: CountryUpsert) -> UpsertResult:
    """Create or update a country by ISO code; a changed tax policy adds a version."""
    effective_from = data.effective_from or date.today()
    created = await countries.add_country(session, data.iso_code, data.name, data.currency)
    # Locked so concurrent writers number versions one after another.
    country = await countries.lock_country(session, data.iso_code)
    current = None if created else await policy_in_force(session, data.iso_code, effective_from)
    fields = data.model_fields_set
    slabs = (
        _slabs_from_input(data.tax_slabs or [])
        if "tax_slabs" in fields or current is None
        else to_policy(current).slabs
    )
    standard = (
        data.standard_deduction
        if "standard_deduction" in fields or current is None
        else current.standard_deduction
    )
    policy = _validated(
        tax.TaxPolicy(effective_from, slabs, data.current_deduction, standard or None)
    )
    if not created:
        await countries.rename_country(session, country, data.name, data.currency)
    version = await _add_version(session, data.iso_code, policy)
    return UpsertResult(country, created, version)


async def add_policy_version(
    session: AsyncSession, iso_code: str, data: PolicyCreate
) -> TaxPolicyVersion | None:
    """Add a version to an existing country's policy (None if it equals the one in force)."""
    await countries.lock_country(session, iso_code)
    policy = _validated(
        tax.TaxPolicy(
            data.effective_from or date.today(),
            _slabs_from_input(data.tax_slabs),
            data.current_deduction,
            data.standard_deduction or None,
        )
    )
    return await _add_version(session, iso_code, policy)


async def delete_country(session: AsyncSession, iso_code: str) -> None:
    """Delete a country and its policy history; refused (409) while employees are paid in it."""
    country = await countries.lock_country(session, iso_code.upper())
    if await session.scalar(
        select(SalaryByCountry.employee_count).where(
            SalaryByCountry.country_iso == country.iso_code
        )
    ):
        raise Conflict(f"Employees are paid in {country.iso_code}; move them first")
    await countries.delete_country(session, country)


# --- reading countries -----------------------------------------------------------------------


def version_read(version: TaxPolicyVersion) -> PolicyVersionRead:
    """The API view of a stored version."""
    return PolicyVersionRead(
        version=version.version,
        effective_from=version.effective_from,
        current_deduction=version.flat_rate,
        standard_deduction=version.standard_deduction,
        tax_slabs=[
            SlabOut(from_=s.lower_bound, to=s.upper_bound, rate=s.rate) for s in version.slabs
        ],
        created_at=version.created_at,
    )


def country_read(country: Country, current: TaxPolicyVersion | None) -> CountryRead:
    """The API view of a country with the version in force today."""
    policy = version_read(current) if current is not None else None
    return CountryRead(
        iso_code=country.iso_code,
        name=country.name,
        currency=country.currency,
        current_deduction=policy.current_deduction if policy else None,
        tax_slabs=policy.tax_slabs if policy else [],
        standard_deduction=policy.standard_deduction if policy else None,
        current_policy=policy,
        created_at=country.created_at,
        updated_at=country.updated_at,
    )


async def country_detail(session: AsyncSession, iso_code: str) -> CountryDetail:
    """A country, the version in force today and every version."""
    country = await countries.get_country(session, iso_code)
    history = await policy_history(session, country.iso_code)
    current = await policy_in_force(session, country.iso_code, date.today())
    return CountryDetail(
        **country_read(country, current).model_dump(),
        policy_history=[version_read(v) for v in history],
    )


async def list_countries(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    name: str | None = None,
    currency: str | None = None,
) -> tuple[list[CountryRead], PageInfo]:
    """One page of countries, each with the policy in force today."""
    rows, info = await countries.list_countries(
        session, page, order_by, name=name, currency=currency
    )
    current = await policies_in_force(session, [c.iso_code for c in rows], date.today())
    return [country_read(c, current.get(c.iso_code)) for c in rows], info


# --- salary breakdown ------------------------------------------------------------------------


def _split_read(split: tax.Split) -> SplitRead:
    return SplitRead(
        gross=split.gross,
        deductions=[
            DeductionLineRead(
                name=line.name, kind=line.kind, basis=line.basis, rate=line.rate, amount=line.amount
            )
            for line in split.deductions
        ],
        total_deductions=split.total_deductions,
        net=split.net,
    )


def _breakdown_read(
    policy: tax.TaxPolicy,
    salary: Decimal,
    *,
    country_iso: str,
    currency: str,
    version: int,
    as_of: date,
    employee_id: int | None,
) -> BreakdownRead:
    result = tax.compute_breakdown(policy, salary)
    return BreakdownRead(
        employee_id=employee_id,
        country_iso=country_iso,
        currency=currency,
        as_of=as_of,
        policy=AppliedPolicy(
            country_iso=country_iso, version=version, effective_from=policy.effective_from
        ),
        taxable_income=result.taxable_income,
        annual=_split_read(result.annual),
        monthly=_split_read(result.monthly),
    )


def _no_policy(country_iso: str, as_of: date) -> NotFound:
    return NotFound.field(
        "as_of", f"{country_iso} has no tax policy in force on {as_of.isoformat()}"
    )


async def salary_breakdown(
    session: AsyncSession,
    salary: Decimal,
    country_iso: str,
    as_of: date,
    employee_id: int | None = None,
) -> BreakdownRead:
    """Split an annual gross `salary` under the country's policy in force on `as_of`."""
    country = await countries.get_country(session, country_iso)
    version = await policy_in_force(session, country.iso_code, as_of)
    if version is None:
        raise _no_policy(country.iso_code, as_of)
    return _breakdown_read(
        to_policy(version),
        salary,
        country_iso=country.iso_code,
        currency=country.currency,
        version=version.version,
        as_of=as_of,
        employee_id=employee_id,
    )


@cache
def _employee_breakdown_inputs() -> Select[*tuple[Any, ...]]:
    """Salary, country, currency, the version in force and its slabs: one statement.

    Built once with bind parameters `employee_id` and `as_of`: building a statement this size
    costs milliseconds of Python, executing a cached one a fraction of that.
    """
    as_of = bindparam("as_of", type_=Date)
    pay = employee_pay(bindparam("employee_id", type_=Integer)).subquery("pay")
    v = TaxPolicyVersion
    version = (
        select(v.id, v.version, v.effective_from, v.flat_rate, v.standard_deduction)
        .where(v.country_iso == pay.c.country_iso, v.effective_from <= as_of)
        .order_by(v.effective_from.desc(), v.version.desc())
        .limit(1)
        .lateral("v")
    )
    slabs = (
        select(
            *(
                func.array_agg(aggregate_order_by(column, TaxSlab.position)).label(name)
                for name, column in (
                    ("lowers", TaxSlab.lower_bound),
                    ("uppers", TaxSlab.upper_bound),
                    ("rates", TaxSlab.rate),
                )
            )
        )
        .where(TaxSlab.version_id == version.c.id)
        .lateral("s")
    )
    return select(
        pay.c.salary,
        pay.c.country_iso,
        pay.c.currency,
        version.c.version,
        version.c.effective_from,
        version.c.flat_rate,
        version.c.standard_deduction,
        slabs.c.lowers,
        slabs.c.uppers,
        slabs.c.rates,
    ).select_from(pay.outerjoin(version, true()).outerjoin(slabs, true()))


@cache
def _employee_breakdown_sql() -> Sql:
    return Sql(_employee_breakdown_inputs())


async def employee_breakdown(conn: Driver, employee_id: int, as_of: date) -> BreakdownRead:
    """An employee's breakdown on `as_of`, read in one statement on the statement pool.

    The hottest endpoint reads through a plain asyncpg connection outside any transaction:
    one statement sees one snapshot, and skipping the ORM session, BEGIN and COMMIT leaves a
    single round trip and a fraction of the Python work.
    """
    row = await _employee_breakdown_sql().fetchrow(conn, employee_id=employee_id, as_of=as_of)
    if row is None:
        raise NotFound(f"Employee {employee_id} not found")
    salary, iso, currency, version, effective_from, flat, standard, lowers, uppers, rates = row
    if version is None:
        raise _no_policy(iso, as_of)
    slabs = tuple(map(tax.Slab, lowers, uppers, rates)) if lowers else ()
    policy = tax.TaxPolicy(effective_from, slabs, flat, standard)
    return _breakdown_read(
        policy,
        salary,
        country_iso=iso,
        currency=currency,
        version=version,
        as_of=as_of,
        employee_id=employee_id,
    )


# --- salary analytics (aggregates kept by triggers; min/max from indexes) --------------------


# The statements below select these names from whichever aggregate table they read.
_STATS_SORT = {
    "count": column("employee_count"),
    "total": column("salary_total"),
    "avg": column("salary_total") / column("employee_count"),
}
# What the per-country and per-job-title figures may be sorted by (`core.pagination.sorting`).
BY_COUNTRY_SORT = {"country_iso": column("country_iso"), **_STATS_SORT}
BY_JOB_TITLE_SORT = {"job_title": column("job_title"), **_STATS_SORT}


def _avg(total: Decimal, count: int) -> Decimal | None:
    return to_cents(total / count) if count else None


async def salary_by_country(session: AsyncSession, iso_code: str) -> CountrySalaryStats:
    """Count, sum, avg, min and max salary of one country's employees."""
    country = await countries.get_country(session, iso_code)
    row = await session.get(SalaryByCountry, country.iso_code)
    count, total = (row.employee_count, row.salary_total) if row else (0, Decimal(0))
    low, high = await salary_range(session, country_iso=country.iso_code) if count else (None, None)
    return CountrySalaryStats(
        country_iso=country.iso_code,
        count=count,
        total=total,
        avg=_avg(total, count),
        min=low,
        max=high,
    )


async def salary_by_every_country(
    session: AsyncSession, page: PageParams, order_by: Sequence[ColumnElement[Any]]
) -> tuple[list[CountrySalaryStats], PageInfo]:
    """The same figures for every country that has employees."""
    low, high = salary_range_columns(country_iso=SalaryByCountry.country_iso)
    statement = select(
        SalaryByCountry.country_iso,
        SalaryByCountry.employee_count,
        SalaryByCountry.salary_total,
        low,
        high,
    )
    rows, info = await paginate_rows(session, statement, page, [*order_by, column("country_iso")])
    return [
        CountrySalaryStats(
            country_iso=iso, count=n, total=total, avg=_avg(total, n), min=lo, max=hi
        )
        for iso, n, total, lo, hi in rows
    ], info


async def salary_by_job_title(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    country_iso: str | None = None,
) -> tuple[list[JobTitleSalaryStats], PageInfo]:
    """Count, avg, min and max salary per job title, optionally within one country."""
    if country_iso is None:
        low, high = salary_range_columns(job_title=SalaryByJobTitle.job_title)
        statement = select(
            SalaryByJobTitle.job_title,
            SalaryByJobTitle.employee_count,
            SalaryByJobTitle.salary_total,
            low,
            high,
        )
    else:
        country = await countries.get_country(session, country_iso)
        pair = SalaryByCountryJobTitle
        low, high = salary_range_columns(country_iso=pair.country_iso, job_title=pair.job_title)
        statement = select(pair.job_title, pair.employee_count, pair.salary_total, low, high).where(
            pair.country_iso == country.iso_code
        )
    rows, info = await paginate_rows(session, statement, page, [*order_by, column("job_title")])
    iso = country_iso.upper() if country_iso else None
    return [
        JobTitleSalaryStats(
            job_title=title,
            country_iso=iso,
            count=n,
            total=total,
            avg=_avg(total, n),
            min=lo,
            max=hi,
        )
        for title, n, total, lo, hi in rows
    ], info


async def job_titles(session: AsyncSession, limit: int = 200) -> list[str]:
    """The `limit` job titles held by the most employees, most first (a picker's choices).

    Read from the maintained per-title aggregate, never from `employees`.
    """
    rows = await session.scalars(
        select(SalaryByJobTitle.job_title)
        .order_by(SalaryByJobTitle.employee_count.desc(), SalaryByJobTitle.job_title)
        .limit(max(1, min(limit, 1000)))
    )
    return list(rows)
