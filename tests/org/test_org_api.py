"""`/api/v1/org/{companies,teams,levels}` and the org public service functions."""

from __future__ import annotations

import pytest

from backoffice.core.auth.service import Role, create_account
from backoffice.core.errors import Conflict, NotFound
from backoffice.org import employees, service
from tests.payroll.factories import assert_error, make_country, make_employee, snapshot


async def test_company_crud(client, admin):
    created = await client.post("/api/v1/org/companies", json={"name": "Acme"}, headers=admin)
    assert created.status_code == 201, created.json()
    cid = created.json()["data"]["id"]
    assert_error(
        await client.post("/api/v1/org/companies", json={"name": "Acme"}, headers=admin), 409
    )
    await client.post("/api/v1/org/companies", json={"name": "Globex"}, headers=admin)
    listed = await client.get("/api/v1/org/companies?name=acm", headers=admin)
    assert [c["name"] for c in listed.json()["data"]] == ["Acme"]
    assert listed.json()["pagination"]["total"] == 1
    renamed = await client.patch(
        f"/api/v1/org/companies/{cid}", json={"name": "Acme Ltd"}, headers=admin
    )
    assert renamed.json()["data"]["name"] == "Acme Ltd"
    assert (await client.get(f"/api/v1/org/companies/{cid}", headers=admin)).status_code == 200
    assert (await client.delete(f"/api/v1/org/companies/{cid}", headers=admin)).status_code == 200
    assert_error(await client.get(f"/api/v1/org/companies/{cid}", headers=admin), 404)


async def test_team_crud(client, admin, session):
    company = await service.create_company(session, {"name": "Acme"})
    created = await client.post(
        "/api/v1/org/teams", json={"company_id": company.id, "name": "Platform"}, headers=admin
    )
    assert created.status_code == 201, created.json()
    tid = created.json()["data"]["id"]
    assert_error(
        await client.post(
            "/api/v1/org/teams", json={"company_id": company.id, "name": "Platform"}, headers=admin
        ),
        409,
    )
    assert_error(
        await client.post(
            "/api/v1/org/teams", json={"company_id": 999999, "name": "X"}, headers=admin
        ),
        404,
        field="company_id",
    )
    listed = await client.get(f"/api/v1/org/teams?company_id={company.id}", headers=admin)
    assert [t["name"] for t in listed.json()["data"]] == ["Platform"]
    patched = await client.patch(
        f"/api/v1/org/teams/{tid}", json={"is_company_wide": True}, headers=admin
    )
    assert patched.json()["data"]["is_company_wide"] is True
    assert (await client.get(f"/api/v1/org/teams/{tid}", headers=admin)).status_code == 200
    assert (await client.delete(f"/api/v1/org/teams/{tid}", headers=admin)).status_code == 200
    assert_error(await client.delete(f"/api/v1/org/teams/{tid}", headers=admin), 404)


async def test_level_crud(client, admin, session):
    company = await service.create_company(session, {"name": "Acme"})
    created = await client.post(
        "/api/v1/org/levels",
        json={"company_id": company.id, "level_number": 1, "level_name": "Director"},
        headers=admin,
    )
    assert created.status_code == 201, created.json()
    lid = created.json()["data"]["id"]
    assert_error(
        await client.post(
            "/api/v1/org/levels",
            json={"company_id": company.id, "level_number": 1, "level_name": "Dup"},
            headers=admin,
        ),
        409,
    )
    assert_error(
        await client.post(
            "/api/v1/org/levels",
            json={"company_id": company.id, "level_number": 11, "level_name": "Too low"},
            headers=admin,
        ),
        422,
        field="level_number",
    )
    listed = await client.get(f"/api/v1/org/levels?company_id={company.id}", headers=admin)
    assert [lv["level_name"] for lv in listed.json()["data"]] == ["Director"]
    patched = await client.patch(
        f"/api/v1/org/levels/{lid}", json={"level_name": "VP"}, headers=admin
    )
    assert patched.json()["data"]["level_name"] == "VP"
    assert (await client.get(f"/api/v1/org/levels/{lid}", headers=admin)).status_code == 200
    assert (await client.delete(f"/api/v1/org/levels/{lid}", headers=admin)).status_code == 200


async def test_org_rows_in_use_cannot_be_deleted(client, admin, session):
    await make_country(session, "IN")
    company = await service.create_company(session, {"name": "Acme"})
    team = await service.create_team(session, {"company_id": company.id, "name": "Platform"})
    level = await service.create_level(
        session, {"company_id": company.id, "level_number": 1, "level_name": "Lead"}
    )
    await make_employee(session, company_id=company.id, team_id=team.id, level_id=level.id)
    before = await snapshot(session)
    for path in (
        f"/api/v1/org/companies/{company.id}",
        f"/api/v1/org/teams/{team.id}",
        f"/api/v1/org/levels/{level.id}",
    ):
        assert_error(await client.delete(path, headers=admin), 409)
    assert await snapshot(session) == before


async def test_org_bad_input_writes_nothing(client, admin, session):
    before = await snapshot(session)
    for path, payload, field in [
        ("/api/v1/org/companies", {}, "name"),
        ("/api/v1/org/companies", {"name": ""}, "name"),
        ("/api/v1/org/teams", {"name": "T"}, "company_id"),
        ("/api/v1/org/levels", {"company_id": 1, "level_name": "L"}, "level_number"),
    ]:
        assert_error(await client.post(path, json=payload, headers=admin), 422, field=field)
    for path in ("/api/v1/org/companies", "/api/v1/org/teams", "/api/v1/org/levels"):
        assert_error(await client.get(f"{path}?limit=500", headers=admin), 422, field="limit")
        assert_error(await client.get(f"{path}/999999", headers=admin), 404)
    assert await snapshot(session) == before


# --- the public service functions other contexts call -------------------------------------------


async def test_service_functions_for_other_contexts(session, auth):
    await make_country(session, "IN")
    company = await service.create_company(session, {"name": "Acme"})
    team = await service.create_team(session, {"company_id": company.id, "name": "Ops"})
    level = await service.create_level(
        session, {"company_id": company.id, "level_number": 2, "level_name": "Manager"}
    )
    worker = await employees.create_employee(
        session,
        {
            "full_name": "Mia Wong",
            "job_title": "Manager",
            "country_iso": "in",
            "salary": "1000.00",
            "company_id": company.id,
            "team_id": team.id,
            "level_id": level.id,
            "email": "mia@acme.example",
        },
    )
    assert (await employees.get_employee(session, worker.id)).full_name == "Mia Wong"
    assert (await service.get_team(session, team.id)).company_id == company.id
    assert (await service.get_level(session, level.id)).level_number == 2
    assert (await service.get_company(session, company.id)).name == "Acme"

    account = await create_account(
        session, auth, username="mia", password="long-password", role=Role.STAFF
    )
    assert await employees.get_employee_by_account(session, account.id) is None
    await employees.link_account(session, worker.id, account.id)
    linked = await employees.get_employee_by_account(session, account.id)
    assert linked is not None and linked.id == worker.id

    other = await make_employee(session)
    with pytest.raises(Conflict):
        await employees.link_account(session, other.id, account.id)
    with pytest.raises(NotFound):
        await employees.link_account(session, other.id, 999999)
    await employees.link_account(session, worker.id, None)
    assert await employees.get_employee_by_account(session, account.id) is None

    with pytest.raises(NotFound):
        await employees.get_employee(session, 999999)
    await employees.delete_employee(session, other.id)
    with pytest.raises(NotFound):
        await employees.get_employee(session, other.id)


async def test_link_account_endpoint(client, admin, session, auth):
    await make_country(session, "IN")
    worker = await make_employee(session)
    account = await create_account(
        session, auth, username="linkme", password="long-password", role=Role.STAFF
    )
    response = await client.put(
        f"/api/v1/employees/{worker.id}/account", json={"account_id": account.id}, headers=admin
    )
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["account_id"] == account.id
