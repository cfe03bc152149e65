"""Small keyword factories for payroll and org tests (real rows, inside the test's transaction)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.org import employees as org_employees
from backoffice.org.models import Employee
from backoffice.payroll import service
from backoffice.payroll.iso import country_names
from backoffice.payroll.schemas import CountryUpsert


async def make_country(
    session: AsyncSession,
    iso_code: str = "IN",
    *,
    name: str | None = None,
    currency: str = "INR",
    current_deduction: Decimal | str | int = 10,
    tax_slabs: list[dict[str, Any]] | None = None,
    standard_deduction: Decimal | str | None = None,
    effective_from: date | None = None,
) -> service.UpsertResult:
    """Create (or update) a country with one policy version."""
    data: dict[str, Any] = {
        "iso_code": iso_code,
        "name": name or country_names()[iso_code.upper()],
        "currency": currency,
        "current_deduction": current_deduction,
    }
    if tax_slabs is not None:
        data["tax_slabs"] = tax_slabs
    if standard_deduction is not None:
        data["standard_deduction"] = standard_deduction
    if effective_from is not None:
        data["effective_from"] = effective_from
    return await service.upsert_country(session, CountryUpsert.model_validate(data))


async def make_employee(session: AsyncSession, **fields: Any) -> Employee:
    """An employee; defaults to an engineer in India on 1,200,000 a year."""
    data: dict[str, Any] = {
        "full_name": f"Employee {uuid.uuid4().hex[:6]}",
        "job_title": "Engineer",
        "country_iso": "IN",
        "salary": Decimal("1200000.00"),
    } | fields
    return await org_employees.create_employee(session, data)


TABLES = (
    "countries",
    "tax_policy_versions",
    "tax_slabs",
    "employees",
    "companies",
    "teams",
    "hierarchy_levels",
    "salary_stats_by_country",
    "salary_stats_by_job_title",
    "salary_stats_by_country_job_title",
)


async def snapshot(session: AsyncSession) -> dict[str, tuple[int, int]]:
    """Row count and a content hash of every payroll and org table: equal means nothing changed."""
    from sqlalchemy import text

    out = {}
    for table in TABLES:
        row = (
            await session.execute(
                text(f"SELECT count(*), coalesce(sum(hashtext(t::text)), 0) FROM {table} t")
            )
        ).one()
        out[table] = (int(row[0]), int(row[1]))
    return out


def assert_error(
    response: Any, status: int, field: str | None = None, text: str | None = None
) -> Any:
    """The response is an error envelope with `status`, naming `field` and containing `text`."""
    body = response.json()
    assert response.status_code == status, body
    assert body["status"] == "error"
    assert body["status_code"] == status
    assert body["data"] is None
    assert body["errors"], body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body["errors"]
    if text is not None:
        blob = body["message"] + " " + " ".join(e["message"] for e in body["errors"])
        assert text.lower() in blob.lower(), blob
    return body
