"""`/api/v1/employees`: create, list (filters, sort, pages), get, patch, delete, bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from backoffice.org import service
from tests.payroll.factories import assert_error, make_country, make_employee, snapshot


def employee(**overrides: Any) -> dict[str, Any]:
    return {
        "full_name": "Asha Rao",
        "job_title": "Engineer",
        "country_iso": "in",
        "salary": "1200000.50",
    } | overrides


@pytest.fixture
async def countries(session):
    await make_country(session, "IN")
    await make_country(session, "US", currency="USD", current_deduction=12)


async def test_create_employee(client, admin, countries):
    response = await client.post("/api/v1/employees/create", json=employee(), headers=admin)
    body = response.json()
    assert response.status_code == 201, body
    assert body["status"] == "success" and body["message"] == "Employee created"
    data = body["data"]
    assert data["country_iso"] == "IN"
    assert data["salary"] == 1200000.5
    assert data["is_active"] is True
    assert data["id"] > 0


async def test_get_patch_delete_employee(client, admin, countries):
    created = (await client.post("/api/v1/employees/create", json=employee(), headers=admin)).json()
    eid = created["data"]["id"]
    got = await client.get(f"/api/v1/employees/{eid}", headers=admin)
    assert got.json()["data"]["full_name"] == "Asha Rao"

    patched = await client.patch(
        f"/api/v1/employees/{eid}",
        json={"salary": "99.99", "country_iso": "us", "job_title": "Lead"},
        headers=admin,
    )
    assert patched.status_code == 200, patched.json()
    data = patched.json()["data"]
    assert (data["salary"], data["country_iso"], data["job_title"]) == (99.99, "US", "Lead")
    assert data["full_name"] == "Asha Rao", "fields not sent stay as they were"

    deleted = await client.delete(f"/api/v1/employees/{eid}", headers=admin)
    assert deleted.status_code == 200 and deleted.json()["data"] is None
    assert_error(await client.get(f"/api/v1/employees/{eid}", headers=admin), 404)


async def test_list_filters_sort_and_pagination(client, admin, session, countries):
    await make_employee(session, full_name="Asha Rao", job_title="Engineer", salary=Decimal(100))
    await make_employee(session, full_name="Ravi Kumar", job_title="Engineer", salary=Decimal(300))
    await make_employee(
        session,
        full_name="Emily Carter",
        job_title="Manager",
        country_iso="US",
        salary=Decimal(200),
    )

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/v1/employees/list?{query}", headers=admin)
        assert response.status_code == 200, response.json()
        return [e["full_name"] for e in response.json()["data"]]

    assert await names("sort=-salary") == ["Ravi Kumar", "Emily Carter", "Asha Rao"]
    assert await names("country_iso=us") == ["Emily Carter"]
    assert await names("job_title=Engineer&sort=full_name") == ["Asha Rao", "Ravi Kumar"]
    assert await names("name=RAO") == ["Asha Rao"]
    assert await names("min_salary=150&max_salary=300&sort=salary") == [
        "Emily Carter",
        "Ravi Kumar",
    ]
    page = await client.get("/api/v1/employees/list?limit=1&offset=1&sort=salary", headers=admin)
    body = page.json()
    assert [e["full_name"] for e in body["data"]] == ["Emily Carter"]
    assert body["pagination"] == {"total": 3, "limit": 1, "offset": 1, "has_more": True}


async def test_name_filter_treats_wildcards_literally(client, admin, session, countries):
    await make_employee(session, full_name="Asha Rao")
    response = await client.get("/api/v1/employees/list?name=%25", headers=admin)
    assert response.json()["data"] == []


async def test_employee_with_org_placement(client, admin, session, countries):
    company = await service.create_company(session, {"name": "Acme"})
    team = await service.create_team(session, {"company_id": company.id, "name": "Platform"})
    level = await service.create_level(
        session,
        {"company_id": company.id, "team_id": team.id, "level_number": 2, "level_name": "Lead"},
    )
    response = await client.post(
        "/api/v1/employees/create",
        json=employee(
            company_id=company.id, team_id=team.id, level_id=level.id, email="Asha@Acme.example"
        ),
        headers=admin,
    )
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["email"] == "asha@acme.example"
    duplicate = await client.post(
        "/api/v1/employees/create",
        json=employee(company_id=company.id, email="asha@acme.example"),
        headers=admin,
    )
    assert_error(duplicate, 409, text="email")


async def test_misplaced_team_or_level_is_422(client, admin, session, countries):
    acme = await service.create_company(session, {"name": "Acme"})
    other = await service.create_company(session, {"name": "Other"})
    other_team = await service.create_team(session, {"company_id": other.id, "name": "Ops"})
    acme_team = await service.create_team(session, {"company_id": acme.id, "name": "Platform"})
    acme_team2 = await service.create_team(session, {"company_id": acme.id, "name": "Data"})
    other_level = await service.create_level(
        session, {"company_id": other.id, "level_number": 1, "level_name": "CEO"}
    )
    team_level = await service.create_level(
        session,
        {"company_id": acme.id, "team_id": acme_team2.id, "level_number": 3, "level_name": "IC"},
    )
    before = await snapshot(session)
    cases = [
        ({"company_id": acme.id, "team_id": other_team.id}, "team_id"),
        ({"company_id": acme.id, "level_id": other_level.id}, "level_id"),
        ({"company_id": acme.id, "team_id": acme_team.id, "level_id": team_level.id}, "level_id"),
        ({"team_id": acme_team.id}, "company_id"),
    ]
    missing = [
        ({"company_id": 999999}, "company_id"),
        ({"company_id": acme.id, "team_id": 999999}, "team_id"),
        ({"company_id": acme.id, "level_id": 999999}, "level_id"),
    ]
    for placement, field in cases:
        response = await client.post(
            "/api/v1/employees/create", json=employee(**placement), headers=admin
        )
        assert_error(response, 422, field=field)
    for placement, field in missing:  # a reference to a row that does not exist
        response = await client.post(
            "/api/v1/employees/create", json=employee(**placement), headers=admin
        )
        assert_error(response, 404, field=field)
    assert await snapshot(session) == before


async def test_patch_revalidates_placement_and_country(client, admin, session, countries):
    acme = await service.create_company(session, {"name": "Acme"})
    other = await service.create_company(session, {"name": "Other"})
    team = await service.create_team(session, {"company_id": acme.id, "name": "Platform"})
    worker = await make_employee(session, company_id=acme.id, team_id=team.id)
    before = await snapshot(session)
    response = await client.patch(
        f"/api/v1/employees/{worker.id}", json={"company_id": other.id}, headers=admin
    )
    assert_error(response, 422, field="team_id")
    response = await client.patch(
        f"/api/v1/employees/{worker.id}", json={"country_iso": "FR"}, headers=admin
    )
    assert_error(response, 404, field="country_iso", text="Unknown country")
    for field in ("salary", "full_name", "country_iso"):
        response = await client.patch(
            f"/api/v1/employees/{worker.id}", json={field: None}, headers=admin
        )
        assert_error(response, 422, field=field)
    assert await snapshot(session) == before


# --- bad input: a clear error in the envelope, and nothing written ------------------------------


BAD_EMPLOYEES = [
    pytest.param(
        {"job_title": "E", "country_iso": "IN", "salary": 1}, "full_name", id="missing-name"
    ),
    pytest.param(
        {"full_name": "A", "country_iso": "IN", "salary": 1}, "job_title", id="missing-title"
    ),
    pytest.param(
        {"full_name": "A", "job_title": "E", "salary": 1}, "country_iso", id="missing-country"
    ),
    pytest.param(
        {"full_name": "A", "job_title": "E", "country_iso": "IN"}, "salary", id="missing-salary"
    ),
    pytest.param(employee(salary=0), "salary", id="salary-zero"),
    pytest.param(employee(salary=-10), "salary", id="salary-negative"),
    pytest.param(employee(salary="10.123"), "salary", id="salary-3-decimals"),
    pytest.param(employee(salary="abc"), "salary", id="salary-not-a-number"),
    pytest.param(employee(country_iso="IND"), "country_iso", id="malformed-country"),
    pytest.param(employee(full_name="   "), "full_name", id="blank-name"),
    pytest.param(employee(email="not-an-email"), "email", id="bad-email"),
    pytest.param(employee(account_id=999999), "account_id", id="unknown-account"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_EMPLOYEES)
async def test_bad_employee_input_is_422_and_writes_nothing(
    client, admin, session, countries, payload, field
):
    before = await snapshot(session)
    response = await client.post("/api/v1/employees/create", json=payload, headers=admin)
    status = 404 if payload.get("account_id") == 999999 else 422
    assert_error(response, status, field=field)
    assert await snapshot(session) == before


async def test_unknown_country_message_is_clear(client, admin, countries):
    response = await client.post(
        "/api/v1/employees/create", json=employee(country_iso="FR"), headers=admin
    )
    assert_error(response, 404, field="country_iso", text="Unknown country 'FR'")


async def test_unknown_employee_id_is_404_and_writes_nothing(client, admin, session, countries):
    before = await snapshot(session)
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"salary": 5}} if method == "PATCH" else {}
        response = await client.request(method, "/api/v1/employees/999999", headers=admin, **kwargs)
        assert_error(response, 404, text="Employee 999999 not found")
    assert_error(await client.get("/api/v1/employees/salary-breakdown/999999", headers=admin), 404)
    assert await snapshot(session) == before


async def test_list_bad_query_is_422_and_writes_nothing(client, admin, session, countries):
    before = await snapshot(session)
    for query, field in [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("sort=password", "sort"),
        ("country_iso=IND", "country_iso"),
        ("min_salary=abc", "min_salary"),
        ("min_salary=10&max_salary=5", "min_salary"),
    ]:
        assert_error(await client.get(f"/api/v1/employees/list?{query}", headers=admin), 422, field)
    assert await snapshot(session) == before
