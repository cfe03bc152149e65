"""Exporting employees: the list's filters and order, at most `limit` rows, no count."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backoffice.core.errors import ValidationFailed
from backoffice.core.pagination import PageParams
from backoffice.org import employees
from tests.payroll.factories import make_country, make_employee


async def test_export_has_the_rows_of_every_page_of_the_list_in_order(session):
    await make_country(session, "IN")
    await make_country(session, "US", currency="USD")
    for i in range(7):
        await make_employee(
            session,
            full_name=f"Exp {i}",
            country_iso="US" if i % 2 else "IN",
            salary=Decimal(1000 + i),
        )
    order = [employees.EMPLOYEE_SORT["salary"].desc()]
    filters: employees.EmployeeFilters = {"country_iso": "us", "name": "exp"}
    listed = []
    for offset in (0, 2, 4):
        page, info = await employees.list_employees(
            session, PageParams(limit=2, offset=offset), order, **filters
        )
        listed += page
    assert info.total == 3
    exported = await employees.export_employees(session, order, **filters)
    assert [e.id for e in exported] == [e.id for e in listed]
    assert [e.salary for e in exported] == [Decimal(1005), Decimal(1003), Decimal(1001)]
    assert len(await employees.export_employees(session, order, limit=2, **filters)) == 2


async def test_export_refuses_what_the_list_refuses(session):
    with pytest.raises(ValidationFailed):
        await employees.export_employees(session, [], min_salary=Decimal(10), max_salary=Decimal(5))
    with pytest.raises(ValidationFailed):
        await employees.export_employees(session, [], limit=employees.EXPORT_LIMIT + 1)
