"""The payroll demo loaders: idempotent, and the UK shows two policy versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from backoffice.payroll import service
from backoffice.payroll.demo import DEMO_EMPLOYEES, FLAT_COUNTRIES, load_countries, load_employees
from tests.payroll.factories import snapshot


async def test_loaders_are_idempotent(session):
    assert await load_countries(session) == len(FLAT_COUNTRIES) + 1
    assert await load_employees(session) == len(DEMO_EMPLOYEES)
    before = await snapshot(session)
    assert await load_countries(session) == 0
    assert await load_employees(session) == 0
    assert await snapshot(session) == before


async def test_demo_policies(session):
    await load_countries(session)
    india = await service.policy_in_force(session, "IN", date.today())
    us = await service.policy_in_force(session, "US", date.today())
    assert india is not None and india.flat_rate == 10
    assert us is not None and us.flat_rate == 12
    history = await service.policy_history(session, "GB")
    assert [v.effective_from for v in history] == [date(2022, 4, 6), date(2023, 4, 6)]
    old = await service.salary_breakdown(session, Decimal(140000), "GB", date(2023, 1, 1))
    new = await service.salary_breakdown(session, Decimal(140000), "GB", date.today())
    assert (old.policy.version, new.policy.version) == (1, 2)
    assert old.annual.total_deductions < new.annual.total_deductions
