"""Every console page and form, for every kind of visitor: who gets in, who is refused.

Derived from the routes themselves (`console.access.access_of`): a page added later is in the
matrix with no extra work, and a page whose path takes parameters must name a sample here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from backoffice.console.access import CUSTOMER_SIGN_IN, STAFF_SIGN_IN, Access, access_of
from backoffice.core.auth.service import Role
from backoffice.core.auth.websessions import Customer, start
from backoffice.core.routing import route_contexts

# A concrete path for every console route whose path has parameters.
SAMPLES = {
    "/console/static/{name}": "/console/static/console.css",
    "/console/{rest}": "/console/no-such-page",
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


async def _visitor(kind: object, console_as: Any, console_clients: Any, session: Any) -> Any:
    if kind == "anonymous":
        return console_clients()
    if kind == "customer":
        token, csrf = await start(
            session,
            lifetime=timedelta(hours=1),
            customer=Customer("00000000-0000-0000-0000-000000000000", "saver@example.com", "t"),
        )
        http = console_clients()
        http.cookies.set("backoffice_console", token, path="/console")
        http.csrf = csrf
        return http
    return await console_as(kind)


@pytest.mark.parametrize("kind", VISITORS, ids=str)
async def test_the_console_auth_matrix(app, kind, console_as, console_clients, session):
    http = await _visitor(kind, console_as, console_clients, session)
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
