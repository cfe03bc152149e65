"""Every console page and form, for every kind of visitor: who gets in, who is refused.

Derived from the routes themselves (`console.access.access_of`): a page added later is in the
matrix with no extra work, and a page whose path takes parameters must name a sample here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from backoffice.console.access import CUSTOMER_SIGN_IN, STAFF_SIGN_IN, Access, access_of
from backoffice.core.auth.service import Role
from backoffice.core.routing import route_contexts
from tests.console.conftest import sign_up_customer

# A concrete path for every console route whose path has parameters.
SAMPLES = {
    "/console/static/{name}": "/console/static/console.css",
    "/console/{rest}": "/console/no-such-page",
    "/console/approvals/{expense_id}/approve": "/console/approvals/1/approve",
    "/console/approvals/{expense_id}/reject": "/console/approvals/1/reject",
    "/console/approvals/expenses/{expense_id}": "/console/approvals/expenses/1",
    # An account that does not exist: the matrix changes no real account.
    "/console/accounts/{account_id}": "/console/accounts/2147483647",
    "/console/accounts/{account_id}/role": "/console/accounts/2147483647/role",
    "/console/accounts/{account_id}/disable": "/console/accounts/2147483647/disable",
    "/console/accounts/{account_id}/enable": "/console/accounts/2147483647/enable",
    "/console/accounts/{account_id}/password": "/console/accounts/2147483647/password",
    "/console/accounts/{account_id}/delete": "/console/accounts/2147483647/delete",
    "/console/merchants/imports/{run_id}": "/console/merchants/imports/1",
    "/console/merchants/imports/{run_id}/rejects.csv": "/console/merchants/imports/1/rejects.csv",
    # Plan 1 is the demo's first plan (the savings services start with the demo's plans).
    "/console/savings/plans/{plan_id}": "/console/savings/plans/1",
    "/console/savings/plans/{plan_id}/customers.csv": "/console/savings/plans/1/customers.csv",
    # A month gone by (the customer's statement of it is all zeros), and nobody's account.
    "/console/savings/statements/{month}.csv": "/console/savings/statements/2025-01.csv",
    "/console/savings/statements/{month}.pdf": "/console/savings/statements/2025-01.pdf",
    "/console/savings/accounts/{user_id}": "/console/savings/accounts/00000000-0000-4000-8000-000000000000",
    "/console/payroll/employees/{employee_id}": "/console/payroll/employees/1",
    "/console/payroll/countries/{iso}": "/console/payroll/countries/GB",
    "/console/transactions/runs/{run_id}": "/console/transactions/runs/1",
    "/console/transactions/runs/{run_id}/rejects": "/console/transactions/runs/1/rejects",
    "/console/transactions/runs/{run_id}/rejects.csv": "/console/transactions/runs/1/rejects.csv",
    "/console/transactions/uploads/{name}": "/console/transactions/uploads/t_20000101.csv",
    "/console/transactions/uploads/{name}/status": "/console/transactions/uploads/t_20000101.csv/status",
}
VISITORS = ("anonymous", "customer", Role.STAFF, Role.MANAGER, Role.ADMIN)
# Which visitors each access lets in.
ALLOWED: dict[Access, set[object]] = {
    Access.PUBLIC: set(VISITORS),
    Access.STAFF: {Role.STAFF, Role.MANAGER, Role.ADMIN},
    Access.EMPLOYEE: set(),  # the matrix's accounts are linked to no employee
    Access.READ: {Role.STAFF, Role.MANAGER, Role.ADMIN},
    Access.CREATE: {Role.MANAGER, Role.ADMIN},
    Access.UPDATE: {Role.MANAGER, Role.ADMIN},
    Access.ADMIN: {Role.ADMIN},
    Access.CUSTOMER: {"customer"},
}


def console_routes(app: FastAPI) -> list[tuple[str, str, Access]]:
    """(method, sample path, access) of every console route."""
    found: list[tuple[str, str, Access]] = []
    for served in route_contexts(app):
        route, template = served.original_route, served.path_format or ""
        if isinstance(route, APIRoute) and template.startswith("/console"):
            path = SAMPLES.get(template, template)
            for method in sorted(set(served.methods or ()) - {"HEAD"}):
                found.append((method, path, access_of(route)))
    return found


def test_every_console_route_with_parameters_has_a_sample(app):
    routes = console_routes(app)
    assert len(routes) >= 6
    unnamed = [path for _, path, _ in routes if re.search(r"\{", path)]
    assert not unnamed, f"name a sample path for each of {unnamed} in SAMPLES"


def test_every_page_but_sign_in_and_assets_needs_someone_signed_in(app):
    public = {
        (method, path) for method, path, access in console_routes(app) if access is Access.PUBLIC
    }
    assert {path for _, path in public} <= {
        STAFF_SIGN_IN,
        CUSTOMER_SIGN_IN,
        "/console/sign-out",
        "/console/static/console.css",
        "/console/no-such-page",
        "/console/savings/sign-up",
    }, public


async def _visitor(kind: object, console_as: Any, console_clients: Any) -> Any:
    if kind == "anonymous":
        return console_clients()
    if kind == "customer":  # a real customer, signed up through the console's own form
        http = console_clients()
        await sign_up_customer(http)
        return http
    return await console_as(kind)


@pytest.mark.parametrize("kind", VISITORS, ids=str)
async def test_the_console_auth_matrix(app, kind, console_as, console_clients, savings):
    http = await _visitor(kind, console_as, console_clients)
    refused = []
    # Signing out last: it ends the session the other requests need.
    routes = sorted(console_routes(app), key=lambda r: r[1] == "/console/sign-out")
    for method, path, access in routes:
        if method == "GET":
            answer = await http.get(path)
        else:
            answer = await http.form(path) if method == "POST" else await http.request(method, path)
        location = answer.headers.get("location", "")
        if kind in ALLOWED[access]:
            # A public form posted without its own token (the sign-in's) is a CSRF refusal.
            csrf = access is Access.PUBLIC and "came from another site" in answer.text
            assert answer.status_code != 403 or csrf, (method, path, answer.text[:300])
            assert not (answer.status_code == 303 and "sign-in?next" in location), (method, path)
            assert answer.status_code < 500, (method, path)
        elif kind == "anonymous":
            page = CUSTOMER_SIGN_IN if access is Access.CUSTOMER else STAFF_SIGN_IN
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert location.startswith(page), (method, path, location)
            refused.append(path)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html")
            refused.append(path)
    expected = [path for _, path, access in routes if kind not in ALLOWED[access]]
    assert refused == expected
    if kind in ("anonymous", "customer"):
        assert refused, "the staff's home is refused to visitors who are not staff"
