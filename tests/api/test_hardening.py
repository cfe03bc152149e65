"""Inputs a fuzz run turned into 500s, undocumented answers or wrong 405s; each stays fixed.

Lists of operations come from the OpenAPI document, so a route added later is held to the
same rules.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from backoffice.core.types import EMAIL_PATTERN
from backoffice.org.models import Company, Team
from backoffice.savings.keys import signing_key
from backoffice.savings.tokens import TokenSigner
from tests.payroll.factories import make_country, make_employee

BEYOND_INT = 2**31
BEYOND_BIGINT = 2**63


def operations(app) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


def list_operations(app) -> list[str]:
    return [
        path
        for method, path, operation in operations(app)
        if method == "GET" and any(p["name"] == "offset" for p in operation.get("parameters", []))
    ]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/employees/{BEYOND_INT}",
        f"/api/v1/employees/salary-breakdown/{BEYOND_INT}",
        f"/api/v1/org/companies/{BEYOND_INT}",
        f"/api/v1/org/teams/{BEYOND_INT}",
        f"/api/v1/org/levels/{BEYOND_INT}",
        f"/api/v1/countries/GB/policies/{BEYOND_INT}",
        f"/api/v1/employees/list?company_id={BEYOND_INT}",
        f"/api/v1/employees/list?team_id={BEYOND_INT}",
        f"/api/v1/org/teams?company_id={BEYOND_INT}",
        f"/api/v1/org/levels?team_id={BEYOND_INT}",
        f"/api/v1/expense-policies?company_id={BEYOND_INT}",
    ],
)
async def test_ids_beyond_postgres_integer_are_422(client, admin, path):
    response = await client.get(path, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["status"] == "error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/org/teams", {"company_id": BEYOND_INT, "name": "T"}),
        ("/api/v1/org/levels", {"company_id": BEYOND_INT, "level_number": 1, "level_name": "L"}),
        (
            "/api/v1/employees/create",
            {
                "full_name": "A",
                "job_title": "B",
                "country_iso": "GB",
                "salary": 1,
                "level_id": BEYOND_INT,
            },
        ),
    ],
)
async def test_foreign_keys_beyond_postgres_integer_are_422(client, admin, session, path, body):
    await make_country(session, iso_code="GB")  # so that only the foreign key can be at fault
    response = await client.post(path, json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] in ("company_id", "level_id"), response.text


async def test_account_id_beyond_postgres_integer_is_422(client, admin, session):
    await make_country(session, iso_code="GB")
    employee = await make_employee(session, country_iso="GB")
    response = await client.put(
        f"/api/v1/employees/{employee.id}/account", json={"account_id": BEYOND_INT}, headers=admin
    )
    assert response.status_code == 422, response.text


async def test_every_list_refuses_an_offset_past_bigint(app, client, admin):
    # A savings customer's own lists take a customer's token (an operator's is a 403 there).
    signer = TokenSigner(signing_key(app.state.settings), ttl_seconds=60)
    token, _ = signer.issue(uuid.uuid4(), "someone@example.com")
    customer = {"Authorization": f"Bearer {token}"}
    # Each path's parameters filled in as a client would: only the offset is at fault.
    filled = {"{account_id}": "1", "{month}": "2026-01", "{user_id}": str(uuid.uuid4())}
    operator_only = ("/api/v1/savings/accounts/",)
    lists = list_operations(app)
    assert len(lists) >= 9
    for path in lists:
        for placeholder, value in filled.items():
            path = path.replace(placeholder, value)
        assert "{" not in path, f"fill in {path}'s parameter"
        savings = path.startswith("/api/v1/savings/") and not path.startswith(operator_only)
        headers = customer if savings else admin
        response = await client.get(path, params={"offset": BEYOND_BIGINT}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == "offset", (path, response.text)


@pytest.mark.parametrize("value", ["1e20", "0.001", "123456789012345.5", "NaN", "Infinity"])
async def test_decimal_filters_beyond_the_column_are_422(client, admin, value):
    for name in ("min_salary", "max_salary"):
        response = await client.get("/api/v1/employees/list", params={name: value}, headers=admin)
        assert response.status_code == 422, (name, value, response.text)
    preview = await client.get(
        "/api/v1/countries/GB/breakdown", params={"salary": value}, headers=admin
    )
    assert preview.status_code == 422, (value, preview.text)


async def test_nul_in_a_text_field_is_422_and_writes_nothing(client, admin, session):
    company = Company(name="Nul Inc")
    session.add(company)
    await session.flush()
    before = await session.scalar(select(func.count()).select_from(Team))
    response = await client.post(
        "/api/v1/org/teams", json={"company_id": company.id, "name": "G\u0000"}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "name"
    assert await session.scalar(select(func.count()).select_from(Team)) == before


async def test_nul_in_a_nested_field_and_a_key_is_422(client, admin):
    slabs = {"current_deduction": 0, "tax_slabs": [{"from": 0, "to": None, "rate": 0}]}
    response = await client.post(
        "/api/v1/countries",
        json={"iso_code": "KE", "name": "Ken\u0000ya", "currency": "KES", **slabs},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    keyed = await client.post("/api/v1/org/companies", json={"na\u0000me": "x"}, headers=admin)
    assert keyed.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/employees/list?name=a%00b",
        "/api/v1/org/companies?name=%00",
        "/api/expenses?status=%00",
    ],
)
async def test_nul_in_a_filter_is_422(client, admin, path):
    response = await client.get(path, headers=admin)
    assert response.status_code == 422, response.text


async def test_nul_in_the_basic_username_is_401(client):
    token = base64.b64encode(b"adm\x00in:adminpass").decode()
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/org/companies"),
        ("PATCH", "/api/v1/org/teams/1"),
        ("POST", "/api/expenses"),
        ("POST", "/api/expenses/approve"),
        ("PUT", "/api/v1/employees/1/account"),
        # The savings gateway's: a customer's token, a customer's or an operator's, an admin's.
        ("PUT", "/api/v1/savings/plan"),
        ("POST", "/api/v1/savings/credits"),
        ("POST", "/api/v1/savings/plans"),
    ],
)
@pytest.mark.parametrize(
    "body", [b"\xff\xfe#\x17", b"{not json", b'{"name": "x"', b'{"name": "x\\u0000"}']
)
async def test_authentication_comes_before_the_body(client, method, path, body):
    response = await client.request(
        method, path, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text
    assert "WWW-Authenticate" in response.headers


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize(
    ("path", "style", "credentials"),
    [
        ("/api/v1/savings/signup", "envelope", False),
        ("/api/v1/org/companies", "envelope", True),
        ("/api/expenses", "detail", True),
    ],
)
async def test_a_body_that_is_not_declared_json_is_422_saying_so(
    client, admin, content_type, path, style, credentials
):
    # What `curl -d '{...}'` sends without `-H 'Content-Type: application/json'`.
    headers = {**(admin if credentials else {})}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post(path, content=b'{"name": "x"}', headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    message = body["message"] if style == "envelope" else body["detail"]
    assert "Content-Type: application/json" in message, response.text
    assert body["errors"][0]["field"] == "Content-Type"


async def test_a_json_content_type_with_parameters_or_a_json_suffix_is_json(client, admin):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/api/v1/org/companies",
            content=b'{"name": 1}',
            headers={**admin, "Content-Type": content_type},
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "name"  # parsed, then validated


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/countries/list", "GET"),
        ("PATCH", "/api/v1/employees/create", "POST"),
        ("PATCH", "/api/v1/employees/list", "GET"),
        ("PUT", "/api/v1/employees/1", "DELETE, GET, PATCH"),
        ("OPTIONS", "/api/v1/org/companies", "GET, POST"),
        ("DELETE", "/api/expenses", "GET, POST"),
        ("PUT", "/api/v1/countries/GB", "DELETE, GET"),
    ],
)
async def test_an_undeclared_method_is_405_with_allow(client, admin, method, path, allow):
    response = await client.request(method, path, headers=admin)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow


async def test_every_status_core_answers_is_documented(app):
    for method, path, operation in operations(app):
        documented = operation["responses"].keys()
        if "requestBody" in operation:
            assert "400" in documented, (method, path)
        if operation.get("parameters") or "requestBody" in operation:
            assert "422" in documented, (method, path)
        if operation.get("security") != []:
            assert {"401", "403"} <= documented, (method, path)


def _schema_of(app, path: str, method: str, parameter: str) -> dict[str, Any]:
    operation = app.openapi()["paths"][path][method]
    return next(p for p in operation["parameters"] if p["name"] == parameter)


async def test_sort_whitelists_are_enums(app):
    for _, path, operation in operations(app):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "sort":
                items = parameter["schema"]["items"]
                assert "enum" in items, path
                assert parameter["style"] == "form" and parameter["explode"] is False
    sort = _schema_of(app, "/api/v1/employees/list", "get", "sort")
    assert {"salary", "-salary", "full_name"} <= set(sort["schema"]["items"]["enum"])


async def test_money_is_a_pattern_or_a_bounded_number(app):
    components = app.openapi()["components"]["schemas"]
    salary = components["EmployeeCreate"]["properties"]["salary"]
    number, text = salary["anyOf"]
    assert number["type"] == "number" and number["maximum"] < 10**12
    assert text["type"] == "string" and text["pattern"]
    min_salary = _schema_of(app, "/api/v1/employees/list", "get", "min_salary")["schema"]
    assert any("pattern" in s for s in min_salary["anyOf"])


async def test_email_is_formatted_and_booleans_are_strict(app, client, admin, session):
    components = app.openapi()["components"]["schemas"]
    email = components["EmployeeCreate"]["properties"]["email"]
    assert any(s.get("pattern") == EMAIL_PATTERN for s in email["anyOf"])
    await make_country(session, iso_code="GB")
    body = {"full_name": "A", "job_title": "B", "country_iso": "GB", "salary": 1}
    for flag in (1, 0, "true"):
        response = await client.post(
            "/api/v1/employees/create", json={**body, "is_active": flag}, headers=admin
        )
        assert response.status_code == 422, (flag, response.text)
    listed = await client.get("/api/v1/employees/list", params={"is_active": "1"}, headers=admin)
    assert listed.status_code == 422


async def test_no_path_or_query_parameter_is_nullable(app):
    for method, path, operation in operations(app):
        for parameter in operation.get("parameters", []):
            assert "null" not in str(parameter["schema"]), (method, path, parameter["name"])
    company = _schema_of(app, "/api/v1/employees/list", "get", "company_id")["schema"]
    assert company["type"] == "integer" and company["maximum"] == 2**31 - 1


async def test_fields_that_refuse_null_are_not_nullable(app):
    update = app.openapi()["components"]["schemas"]["EmployeeUpdate"]["properties"]
    for name in ("full_name", "job_title", "country_iso", "salary", "is_active"):
        assert "null" not in str(update[name]), name
    assert "null" in str(update["team_id"])  # clearing a placement is allowed
