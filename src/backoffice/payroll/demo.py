"""Payroll demo data: countries with their tax policies, and a handful of employees.

Both loaders are idempotent: a second run creates nothing. `load_countries` runs right after
the demo accounts; `load_employees` runs after the expenses demo, which needs employee ids
1..7 on a fresh database.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.org.employees import create_employee, existing_names
from backoffice.payroll.schemas import CountryUpsert
from backoffice.payroll.service import upsert_country

# Old enough that every demo breakdown, even for a past `as_of`, finds a policy.
DEMO_EPOCH = date(2020, 1, 1)

# (iso, name, currency, flat TDS percent)
FLAT_COUNTRIES: list[tuple[str, str, str, str]] = [
    ("IN", "India", "INR", "10"),
    ("US", "United States", "USD", "12"),
    ("DE", "Germany", "EUR", "0"),
    ("FR", "France", "EUR", "0"),
    ("CA", "Canada", "CAD", "0"),
    ("AU", "Australia", "AUD", "0"),
    ("JP", "Japan", "JPY", "0"),
    ("SG", "Singapore", "SGD", "0"),
    ("AE", "United Arab Emirates", "AED", "0"),
    ("BR", "Brazil", "BRL", "0"),
]

# United Kingdom income tax bands (the personal allowance as a 0% band, its taper ignored).
# From 6 April 2023 the 45% additional rate starts at 125,140 instead of 150,000.
UK_VERSIONS: list[tuple[date, list[dict[str, Any]]]] = [
    (
        date(2022, 4, 6),
        [
            {"from": "0", "to": "12570", "rate": "0"},
            {"from": "12570", "to": "50270", "rate": "20"},
            {"from": "50270", "to": "150000", "rate": "40"},
            {"from": "150000", "to": None, "rate": "45"},
        ],
    ),
    (
        date(2023, 4, 6),
        [
            {"from": "0", "to": "12570", "rate": "0"},
            {"from": "12570", "to": "50270", "rate": "20"},
            {"from": "50270", "to": "125140", "rate": "40"},
            {"from": "125140", "to": None, "rate": "45"},
        ],
    ),
]

# (full name, job title, country, annual gross salary)
DEMO_EMPLOYEES: list[tuple[str, str, str, str]] = [
    ("Asha Rao", "Software Engineer", "IN", "1800000.00"),
    ("Vikram Mehta", "Data Analyst", "IN", "950000.00"),
    ("Emily Carter", "Software Engineer", "US", "145000.00"),
    ("Marcus Lee", "Product Manager", "US", "160000.00"),
    ("Oliver Smith", "Software Engineer", "GB", "140000.00"),
    ("Sophie Turner", "Accountant", "GB", "48000.00"),
    ("Lena Müller", "Product Manager", "DE", "90000.00"),
    ("Kenji Sato", "Data Analyst", "JP", "7200000.00"),
]


async def load_countries(session: AsyncSession) -> int:
    """Create the demo countries and their policy versions; return how many countries were new."""
    created: set[str] = set()
    for iso, name, currency, rate in FLAT_COUNTRIES:
        result = await upsert_country(
            session,
            CountryUpsert(
                iso_code=iso,
                name=name,
                currency=currency,
                current_deduction=Decimal(rate),
                tax_slabs=[],
                effective_from=DEMO_EPOCH,
            ),
        )
        if result.created:
            created.add(iso)
    for effective_from, slabs in UK_VERSIONS:
        result = await upsert_country(
            session,
            CountryUpsert.model_validate(
                {
                    "iso_code": "GB",
                    "name": "United Kingdom",
                    "currency": "GBP",
                    "current_deduction": "0",
                    "tax_slabs": slabs,
                    "effective_from": effective_from,
                }
            ),
        )
        if result.created:
            created.add("GB")
    return len(created)


async def load_employees(session: AsyncSession) -> int:
    """Create the payroll demo employees that do not exist yet; return how many were created."""
    existing = await existing_names(session, [(name, iso) for name, _, iso, _ in DEMO_EMPLOYEES])
    created = 0
    for name, title, iso, salary in DEMO_EMPLOYEES:
        if (name, iso) in existing:
            continue
        await create_employee(
            session,
            {"full_name": name, "job_title": title, "country_iso": iso, "salary": Decimal(salary)},
        )
        created += 1
    return created
