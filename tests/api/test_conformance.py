"""What `schemathesis --checks all` found: the document and the validators disagreed.

Each test holds one rule to both sides: the validator refuses what the document refuses and
accepts what it admits (issue 18, section 7).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from backoffice.savings.keys import signing_key
from backoffice.savings.tokens import TokenSigner
from tests.api.fuzz import schemathesis_toml
from tests.payroll.factories import make_country


def schema_of(app, path: str, method: str, name: str) -> dict[str, Any]:
    """The schema of parameter `name` of an operation."""
    operation = app.openapi()["paths"][path][method]
    return next(p["schema"] for p in operation["parameters"] if p["name"] == name)


def body_property(app, path: str, method: str, name: str) -> dict[str, Any]:
    """The schema of body property `name` of an operation, its `$ref`s resolved."""
    document = app.openapi()
    schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    model = schema["schema"]
    ref = model.get("$ref")
    if ref:
        model = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    found: dict[str, Any] = model["properties"][name]
    return found


def text_branch(schema: dict[str, Any]) -> re.Pattern[str]:
    """The pattern a decimal's string form must match."""
    branch = next(b for b in schema["anyOf"] if b["type"] == "string")
    return re.compile(branch["pattern"])


def customer_header(app) -> dict[str, str]:
    signer = TokenSigner(signing_key(app.state.settings), ttl_seconds=60)
    token, _ = signer.issue(uuid.uuid4(), "someone@example.com")
    return {"Authorization": f"Bearer {token}"}


async def new_company(client, admin, name: str = "Conformance Inc") -> int:
    response = await client.post("/api/v1/org/companies", json={"name": name}, headers=admin)
    assert response.status_code == 201, response.text
    company_id: int = response.json()["data"]["id"]
    return company_id


# --- amounts -----------------------------------------------------------------------------------


def test_a_positive_amount_is_never_zero_in_the_document(app):
    pattern = text_branch(schema_of(app, "/api/v1/countries/{iso}/breakdown", "get", "salary"))
    for zero in ("0", "0.0", "0.00"):
        assert not pattern.search(zero), zero
    for amount in ("0.01", "0.5", "1", "12.50", "999999999999.99"):
        assert pattern.search(amount), amount


@pytest.mark.parametrize(
    "text", ["1e2", " 100", "100 ", "+100", "\u0661\u0660\u0660", "1_000", "007", "100.", ".5"]
)
async def test_an_amount_is_ascii_digits_with_an_optional_point(app, client, admin, session, text):
    await make_country(session, iso_code="GB")
    pattern = text_branch(schema_of(app, "/api/v1/countries/{iso}/breakdown", "get", "salary"))
    assert not pattern.search(text)
    response = await client.get(
        "/api/v1/countries/GB/breakdown", params={"salary": text}, headers=admin
    )
    assert response.status_code == 422, response.text


def test_a_percentage_written_as_text_stays_within_100(app):
    schema = body_property(app, "/api/v1/countries", "post", "current_deduction")
    pattern = text_branch(schema)
    assert not pattern.search("510.0903")
    assert not pattern.search("100.5")
    assert pattern.search("100") and pattern.search("99.9999") and pattern.search("0")


# --- dates and instants ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "0.5", "1700000000", "2026-1-1"])
async def test_a_date_is_not_a_unix_time(client, admin, value):
    response = await client.get("/api/v1/transactions", params={"to": value}, headers=admin)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("value", ["0", "0.5", "1700000000", "2026-01-01"])
async def test_an_instant_is_not_a_unix_time(app, client, value):
    response = await client.get(
        "/api/v1/savings/balance", params={"at": value}, headers=customer_header(app)
    )
    assert response.status_code == 422, response.text


# --- sort ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["", ",", "id,", " id", "id ,name"])
async def test_a_sort_is_a_non_empty_list_of_whitelisted_fields(app, client, admin, sort):
    assert schema_of(app, "/api/v1/org/companies", "get", "sort")["minItems"] == 1
    response = await client.get("/api/v1/org/companies", params={"sort": sort}, headers=admin)
    assert response.status_code == 422, response.text


# --- names: length as sent, no control characters -----------------------------------------------


async def test_max_length_counts_the_name_as_sent(app, client, admin):
    schema = body_property(app, "/api/v1/org/companies", "post", "name")
    assert schema["maxLength"] == 200
    too_long = "x" * 200 + " "
    response = await client.post("/api/v1/org/companies", json={"name": too_long}, headers=admin)
    assert response.status_code == 422, response.text
    padded = await client.post("/api/v1/org/companies", json={"name": "  Pad  "}, headers=admin)
    assert padded.status_code == 201, padded.text
    assert padded.json()["data"]["name"] == "Pad"


@pytest.mark.parametrize("name", ["A\tB", "A\nB", "A\u0007B", "A\u009fB", "\u0085", "   "])
async def test_a_name_has_no_control_character_and_is_not_blank(app, client, admin, name):
    pattern = re.compile(body_property(app, "/api/v1/org/companies", "post", "name")["pattern"])
    assert not pattern.search(name)
    response = await client.post("/api/v1/org/companies", json={"name": name}, headers=admin)
    assert response.status_code == 422, response.text


async def test_prose_keeps_line_breaks_but_no_other_control_character(client, admin, session):
    await make_country(session, iso_code="GB")
    company_id = await new_company(client, admin)
    policy = {"company_id": company_id, "category": "travel", "name": "Trips"}
    ok = await client.post(
        "/api/v1/expense-policies", json={**policy, "description": "a\nb\tc"}, headers=admin
    )
    assert ok.status_code == 201, ok.text
    bell = await client.post(
        "/api/v1/expense-policies",
        json={**policy, "category": "meals", "description": "a\u0007b"},
        headers=admin,
    )
    assert bell.status_code == 422, bell.text


# --- integers ------------------------------------------------------------------------------------


async def test_an_integral_float_is_an_integer(client, admin):
    company_id = await new_company(client, admin)
    body = {"company_id": float(company_id), "level_number": 3.0, "level_name": "Lead"}
    response = await client.post("/api/v1/org/levels", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["level_number"] == 3


@pytest.mark.parametrize("level_number", [3.5, "3", True])
async def test_an_integer_is_not_a_fraction_a_string_or_a_boolean(client, admin, level_number):
    company_id = await new_company(client, admin)
    body = {"company_id": company_id, "level_number": level_number, "level_name": "Lead"}
    response = await client.post("/api/v1/org/levels", json=body, headers=admin)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("spelling", ["0{id}", "+{id}", "%20{id}", "{id}.5", "{id}%20", "{id}e0"])
async def test_a_path_id_is_canonical(app, client, admin, spelling):
    company_id = await new_company(client, admin)
    assert schema_of(app, "/api/v1/org/companies/{company_id}", "get", "company_id")["pattern"]
    path = "/api/v1/org/companies/" + spelling.format(id=company_id)
    response = await client.get(path, headers=admin)
    assert response.status_code == 422, (path, response.text)
    canonical = await client.get(f"/api/v1/org/companies/{company_id}", headers=admin)
    assert canonical.status_code == 200
    integral = await client.get(f"/api/v1/org/companies/{company_id}.0", headers=admin)
    assert integral.status_code == 200  # JSON Schema's integer admits 7.0


@pytest.mark.parametrize("limit", ["07", "+7", "7.5", " 7", "7e0", "7.00"])
async def test_a_page_size_is_canonical(client, admin, limit):
    response = await client.get("/api/v1/org/companies", params={"limit": limit}, headers=admin)
    assert response.status_code == 422, response.text


# --- JSON bodies ---------------------------------------------------------------------------------


async def test_a_key_given_twice_is_422_and_writes_nothing(client, admin):
    body = b'{"name": "First", "name": "Second"}'
    response = await client.post(
        "/api/v1/org/companies",
        content=body,
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "name"
    listed = await client.get("/api/v1/org/companies", params={"limit": 200}, headers=admin)
    assert {"First", "Second"}.isdisjoint(c["name"] for c in listed.json()["data"])


async def test_a_duplicated_key_answers_in_the_route_s_error_style(client, admin):
    body = b'{"user_id": 1, "user_id": 1, "policy_id": 1, "amount": 5, "description": "x"}'
    response = await client.post(
        "/api/expenses", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"  # the seed's `detail` style


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(client, admin, constant):
    body = f'{{"name": "N", "extra": {constant}}}'.encode()
    response = await client.post(
        "/api/v1/org/companies", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "not a JSON number" in response.text


# --- what the document says about NUL and unknown properties -------------------------------------


def request_strings(app) -> list[tuple[str, dict[str, Any]]]:
    """Every string schema a request can carry, with where it is."""
    document = app.openapi()
    components = document["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()

    def visit(node: Any, at: str) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, at)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref not in seen:
                seen.add(ref)
                visit(components[ref.rsplit("/", 1)[1]], ref)
            if node.get("type") == "string":
                found.append((at, node))
            for key, value in node.items():
                if key not in ("enum", "default", "examples", "const"):
                    visit(value, f"{at}/{key}")

    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                visit(parameter["schema"], f"{method} {path} {parameter['name']}")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                visit(media["schema"], f"{method} {path} body")
    return found


def test_every_request_string_documents_that_nul_is_refused(app):
    strings = request_strings(app)
    assert len(strings) > 50
    for where, schema in strings:
        if "enum" in schema or "const" in schema:
            continue
        if "format" in schema:
            continue  # a date, an instant, a UUID: no NUL fits the format
        assert not re.search(schema["pattern"], "a\u0000b"), where


async def test_an_email_with_nul_is_refused_where_the_document_refuses_it(app, client):
    email = body_property(app, "/api/v1/savings/login", "post", "email")
    assert not re.search(email["pattern"], "f@x.c\u0000")
    response = await client.post(
        "/api/v1/savings/login", json={"email": "f@x.c\u0000", "password": "whatever1"}
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("email", ["000", "a@b", "a b@c.d", "a\u00b4@b.c", "a@b\uff20c.d"])
async def test_a_signup_email_has_the_documented_shape(app, client, email):
    pattern = re.compile(body_property(app, "/api/v1/savings/signup", "post", "email")["pattern"])
    assert not pattern.search(email)
    body = {"email": email, "password": "a-long-passphrase-9", "full_name": "Asha Rao"}
    response = await client.post("/api/v1/savings/signup", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "email"


async def test_a_plan_s_kind_decides_its_value_in_the_document(app, client, admin):
    document = app.openapi()
    body = document["paths"]["/api/v1/savings/plans"]["post"]["requestBody"]
    assert "oneOf" in body["content"]["application/json"]["schema"]
    percentage = {"name": "Too much", "kind": "percentage", "value": 150}
    response = await client.post("/api/v1/savings/plans", json=percentage, headers=admin)
    assert response.status_code == 422, response.text
    flat = {"name": "Nothing", "kind": "flat-amount", "value": 0}
    response = await client.post("/api/v1/savings/plans", json=flat, headers=admin)
    assert response.status_code == 422, response.text


def test_a_country_code_in_a_body_is_an_assigned_one(app):
    iso = re.compile(body_property(app, "/api/v1/countries", "post", "iso_code")["pattern"])
    assert iso.search("GB") and iso.search("gb") and iso.search("In")
    assert not iso.search("AA") and not iso.search("G")
    currency = re.compile(body_property(app, "/api/v1/countries", "post", "currency")["pattern"])
    assert currency.search("GBP") and not currency.search("AAA")


# --- semantic answers the document admits --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/org/teams", {"company_id": 2147483646, "name": "T"}),
        ("/api/v1/org/levels", {"company_id": 2147483646, "level_number": 1, "level_name": "L"}),
    ],
)
async def test_a_reference_to_a_missing_row_is_404(client, admin, path, body):
    response = await client.post(path, json=body, headers=admin)
    assert response.status_code == 404, response.text
    assert response.json()["errors"][0]["field"] == "company_id"


def test_rules_beyond_the_schema_are_in_the_document(app):
    operation = app.openapi()["paths"]["/api/v1/employees/list"]["get"]
    assert operation["x-rules"]["status"] == 422
    assert "min_salary must not exceed max_salary" in operation["description"]


def test_the_cli_s_config_lists_every_rule_beyond_the_schema(app):
    """`schemathesis run --checks all` from the repository reads the same exemptions."""
    written = (Path(__file__).parents[2] / "schemathesis.toml").read_text()
    assert written == schemathesis_toml(app.openapi())
    assert written.count("[[operations]]") == len(
        [op for item in app.openapi()["paths"].values() for op in item.values() if "x-rules" in op]
    )
