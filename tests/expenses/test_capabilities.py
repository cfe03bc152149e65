"""What a login may do in expenses: a rule of its own, whatever its role, and `/me` says it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.auth.service import Role
from backoffice.expenses.capabilities import Acting, Linked, acting_as, capabilities
from backoffice.expenses.errors import EmployeeNotFound, NoLinkedEmployee, NotYourIdentity
from tests.conftest import make_account
from tests.expenses.factories import Org, add_person
from tests.expenses.test_workflow import approve, submit

ids = st.integers(min_value=1, max_value=50)
linked = st.none() | st.builds(
    Linked,
    employee_id=ids,
    company_id=st.none() | st.integers(min_value=1, max_value=3),
    is_active=st.booleans(),
    level_number=st.none() | st.integers(min_value=1, max_value=10),
)
roles = st.sampled_from(list(Role))


@given(roles, linked)
def test_only_admins_differ_by_role(role, employee):
    caps = capabilities(role, employee)
    if role is not Role.ADMIN:
        staff = capabilities(Role.STAFF, employee)
        assert replace(caps, may_read_all=False) == staff, "manager and staff act alike"
        assert caps.may_read_all == (role is Role.MANAGER)
        assert caps.may_submit == (employee is not None and employee.is_active)
        assert caps.may_approve == (
            employee is not None and employee.is_active and employee.level_number is not None
        )
        assert not caps.may_act_for_others
    else:
        assert caps.may_submit and caps.may_approve and caps.may_act_for_others
        assert caps.may_read_all
    assert caps.employee_id == (employee.employee_id if employee is not None else None)
    assert not caps.may_approve or caps.may_submit


@given(roles, linked, ids, st.none() | st.integers(min_value=1, max_value=3), st.booleans())
def test_acting_as_someone(role, employee, named, target_company, exists):
    caps = capabilities(role, employee)
    try:
        acting = acting_as(caps, named, target_company, target_exists=exists, field="user_id")
    except NoLinkedEmployee:
        assert employee is None and role is not Role.ADMIN
    except EmployeeNotFound:
        assert not exists or (employee is not None and target_company != employee.company_id)
    except NotYourIdentity:
        assert role is not Role.ADMIN and employee is not None and named != employee.employee_id
    else:
        if employee is not None and named == employee.employee_id:
            assert acting is Acting.SELF
        else:
            assert acting is Acting.ON_BEHALF
            assert role is Role.ADMIN and exists
            assert employee is None or target_company == employee.company_id


async def _me(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_me_says_what_a_staff_employee_may_do_in_expenses(client, acme: Org):
    grace = await _me(client, acme["Grace"].headers)
    assert grace["role"] == "staff"
    assert grace["permissions"] == ["read"]
    assert grace["capabilities"]["expenses"] == {
        "employee_id": acme["Grace"].id,
        "company_id": acme.company_id,
        "may_submit": True,
        "may_approve": True,
        "may_act_for_others": False,
        "may_read_all": False,
    }
    # And it is the truth: Grace (staff) submits, Frank (staff) approves as the chain's approver.
    created = await submit(
        client, acme["Grace"].headers, acme["Grace"].id, acme.policies["Small Equipment"], 10
    )
    assert created.status_code == 201, created.text
    decided = await approve(
        client, acme["Frank"].headers, created.json()["expense_id"], acme["Frank"].id
    )
    assert decided.status_code == 200, decided.text


async def test_me_of_logins_without_an_employee(client, session, auth, staff, manager, admin):
    for headers, reads_all in ((staff, False), (manager, True)):
        expenses = (await _me(client, headers))["capabilities"]["expenses"]
        assert expenses == {
            "employee_id": None,
            "company_id": None,
            "may_submit": False,
            "may_approve": False,
            "may_act_for_others": False,
            "may_read_all": reads_all,
        }
    boss = await _me(client, admin)
    assert "manage_accounts" in boss["permissions"]
    assert boss["capabilities"]["expenses"]["may_act_for_others"] is True


async def test_an_inactive_or_levelless_employee_is_told_so(client, session, auth, acme: Org):
    newcomer = await add_person(session, auth, acme, "Nina", None)
    nina = (await _me(client, newcomer.headers))["capabilities"]["expenses"]
    assert (nina["may_submit"], nina["may_approve"]) == (True, False)

    leaver = await add_person(session, auth, acme, "Leo", 6, active=False)
    leo = (await _me(client, leaver.headers))["capabilities"]["expenses"]
    assert (leo["may_submit"], leo["may_approve"]) == (False, False)
    refused = await submit(client, leaver.headers, leaver.id, acme.policies["Small Equipment"], 10)
    assert refused.status_code == 422  # as before: the claim names an inactive employee


@pytest.mark.parametrize("role", [Role.STAFF, Role.MANAGER])
async def test_the_role_does_not_change_what_an_employee_may_do(
    client, session, auth, acme: Org, role
):
    person = await add_person(session, auth, acme, "Rita", 7, role=role)
    created = await submit(client, person.headers, person.id, acme.policies["Small Equipment"], 10)
    assert created.status_code == 201, created.text
    unlinked = await make_account(session, auth, role)
    refused = await submit(client, unlinked, person.id, acme.policies["Small Equipment"], 10)
    assert refused.status_code == 403
    assert refused.json()["code"] == "no_linked_employee"
