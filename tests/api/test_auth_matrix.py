"""Every operation of the OpenAPI document x anonymous / staff / manager / admin.

Generated from the document by schemathesis, so a route added later joins the matrix with no
extra work. Staff and manager are the demo's plain logins (no employee behind them).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response

from tests.api.conftest import basic_header
from tests.api.fuzz import config, operation_count, run

PUBLIC = frozenset({"/health", "/ready"})
# Open to anyone, whatever their platform credentials: a savings customer signs up, and trades
# their own email and password (in the body) for a token. A wrong one there is a 401 for
# anyone, and a signup creates a customer, not a record of the platform's roles.
OPEN = frozenset({"/api/v1/savings/signup", "/api/v1/savings/login"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that change nothing: exchanging your own credentials for a token.
NOT_WRITES = frozenset({"/api/v1/auth/token"})


def _is_success(response: Response) -> bool:
    return 200 <= response.status_code < 300


def _refused_for_role(response: Response) -> bool:
    """A 403 because of the caller's role (code `forbidden`), not their identity (an expense
    inbox of a login with no employee behind it is `no_linked_employee`)."""
    if response.status_code != 403:
        return False
    body: Any = response.json()
    code: str = body.get("code") or body["errors"][0]["code"]
    return code == "forbidden"


@schemathesis.check
def anonymous_gets_401(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    if case.operation.path in OPEN:
        return None
    if case.operation.path in PUBLIC:
        assert response.status_code in (200, 503), "a public probe answers anyone"
    else:
        assert response.status_code == 401, "anonymous must get 401"
        assert "www-authenticate" in {name.lower() for name in response.headers}
    return None


@schemathesis.check
def staff_never_writes(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    if case.operation.path in OPEN:
        return None
    assert response.status_code != 401, "valid staff credentials were refused"
    if case.method.upper() in WRITES and case.operation.path not in NOT_WRITES:
        assert not _is_success(response), "staff succeeded at a write"
    return None


@schemathesis.check
def manager_never_deletes(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    if case.operation.path in OPEN:
        return None
    assert response.status_code != 401, "valid manager credentials were refused"
    if case.method.upper() == "DELETE":
        assert not _is_success(response), "a manager deleted"
    return None


@schemathesis.check
def admin_is_never_refused(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    if case.operation.path in OPEN:
        return None
    assert response.status_code != 401, "valid admin credentials were refused"
    assert not _refused_for_role(response), "an admin was refused for their role"
    return None


@schemathesis.check
def errors_under_api_v1_are_enveloped(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    if case.operation.path.startswith("/api/v1") and response.status_code >= 400:
        body: Any = response.json()
        assert body["status"] == "error", "an /api/v1 error outside the envelope"
        assert body["status_code"] == response.status_code
        assert body["errors"], "an /api/v1 error without its reasons"
    return None


ROLES = {
    "anonymous": (None, "anonymous_gets_401"),
    "staff": (("staff", "staffpass"), "staff_never_writes"),
    "manager": (("manager", "managerpass"), "manager_never_deletes"),
    "admin": (("admin", "adminpass"), "admin_is_never_refused"),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_operation_for_every_role(api_url, role):
    credentials, rule = ROLES[role]
    headers = {"Authorization": basic_header(*credentials)} if credentials else {}
    settings = config(
        api_url,
        headers,
        max_examples=4,
        seed=1,
        checks=(rule, "errors_under_api_v1_are_enveloped", "not_a_server_error"),
        phases=("examples", "fuzzing"),
        mode="positive",
    )
    run(f"{api_url}/openapi.json", settings).assert_clean(operations=operation_count(api_url))
