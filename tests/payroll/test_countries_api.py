"""`/api/v1/countries`: upsert, versioned policies, list, detail, and every bad input."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.payroll.factories import assert_error, make_country, make_employee, snapshot

SLABS = [
    {"from": 0, "to": 10000, "rate": 0},
    {"from": 10000, "to": 40000, "rate": 10},
    {"from": 40000, "to": None, "rate": 30},
]


def country(**overrides: Any) -> dict[str, Any]:
    return {
        "iso_code": "in",
        "name": "India",
        "currency": "inr",
        "current_deduction": 10,
    } | overrides


async def test_create_country_upper_cases_codes_and_adds_version_1(client, admin):
    response = await client.post("/api/v1/countries", json=country(), headers=admin)
    body = response.json()
    assert response.status_code == 201, body
    assert body["status"] == "success" and body["status_code"] == 201
    data = body["data"]
    assert (data["iso_code"], data["name"], data["currency"]) == ("IN", "India", "INR")
    assert data["current_deduction"] == 10
    assert data["current_policy"]["version"] == 1
    assert data["current_policy"]["effective_from"] == date.today().isoformat()
    assert [v["version"] for v in data["policy_history"]] == [1]


async def test_upsert_with_a_changed_policy_adds_a_version_and_keeps_history(client, admin):
    await client.post("/api/v1/countries", json=country(), headers=admin)
    response = await client.post(
        "/api/v1/countries",
        json=country(name="Republic of India", current_deduction=12, tax_slabs=SLABS),
        headers=admin,
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "version 2 added" in body["message"]
    data = body["data"]
    assert data["name"] == "Republic of India"
    history = data["policy_history"]
    assert [(v["version"], v["current_deduction"]) for v in history] == [(1, 10), (2, 12)]
    assert history[0]["tax_slabs"] == []
    assert history[1]["tax_slabs"] == [
        {"from": 0, "to": 10000, "rate": 0},
        {"from": 10000, "to": 40000, "rate": 10},
        {"from": 40000, "to": None, "rate": 30},
    ]
    assert data["current_policy"]["version"] == 2


async def test_upsert_with_the_same_policy_adds_no_version(client, admin, session):
    await client.post("/api/v1/countries", json=country(tax_slabs=SLABS), headers=admin)
    before = await snapshot(session)
    response = await client.post(
        "/api/v1/countries", json=country(current_deduction="10.00"), headers=admin
    )
    assert response.status_code == 200
    assert "unchanged" in response.json()["message"]
    assert response.json()["data"]["current_policy"]["tax_slabs"], "omitted slabs are kept"
    assert (await snapshot(session))["tax_policy_versions"] == before["tax_policy_versions"]


async def test_empty_slab_list_removes_the_slabs(client, admin):
    await client.post("/api/v1/countries", json=country(tax_slabs=SLABS), headers=admin)
    response = await client.post("/api/v1/countries", json=country(tax_slabs=[]), headers=admin)
    assert response.json()["data"]["tax_slabs"] == []
    assert len(response.json()["data"]["policy_history"]) == 2


async def test_future_version_is_scheduled_not_current(client, admin):
    await client.post("/api/v1/countries", json=country(), headers=admin)
    later = (date.today() + timedelta(days=30)).isoformat()
    response = await client.post(
        "/api/v1/countries", json=country(current_deduction=15, effective_from=later), headers=admin
    )
    data = response.json()["data"]
    assert data["current_deduction"] == 10
    assert len(data["policy_history"]) == 2
    in_force = await client.get(f"/api/v1/countries/IN/policy?as_of={later}", headers=admin)
    assert in_force.json()["data"]["current_deduction"] == 15


async def test_standard_deduction_is_stored_and_applied(client, admin):
    response = await client.post(
        "/api/v1/countries", json=country(standard_deduction="50000.00"), headers=admin
    )
    assert response.json()["data"]["standard_deduction"] == 50000
    preview = await client.get("/api/v1/countries/IN/breakdown?salary=150000", headers=admin)
    assert preview.json()["data"]["taxable_income"] == 100000
    assert preview.json()["data"]["annual"]["total_deductions"] == 10000


async def test_list_is_paginated_filtered_and_sorted(client, admin, session):
    await make_country(session, "IN")
    await make_country(session, "US", currency="USD", current_deduction=12)
    await make_country(session, "GB", currency="GBP", current_deduction=0)
    response = await client.get("/api/v1/countries/list?limit=2&sort=-iso_code", headers=admin)
    body = response.json()
    assert [c["iso_code"] for c in body["data"]] == ["US", "IN"]
    assert body["pagination"] == {"total": 3, "limit": 2, "offset": 0, "has_more": True}
    assert body["data"][0]["current_deduction"] == 12
    response = await client.get("/api/v1/countries/list?name=king", headers=admin)
    assert [c["iso_code"] for c in response.json()["data"]] == ["GB"]
    response = await client.get("/api/v1/countries/list?currency=usd", headers=admin)
    assert [c["iso_code"] for c in response.json()["data"]] == ["US"]


async def test_get_country_any_case_and_unknown_is_404(client, admin, session):
    await make_country(session, "IN")
    assert (await client.get("/api/v1/countries/in", headers=admin)).status_code == 200
    assert_error(await client.get("/api/v1/countries/FR", headers=admin), 404, text="FR")


async def test_policy_versions_endpoints(client, admin, session):
    await make_country(session, "IN", effective_from=date(2020, 1, 1))
    await make_country(session, "IN", current_deduction=12, effective_from=date(2024, 1, 1))
    versions = (await client.get("/api/v1/countries/IN/policies", headers=admin)).json()["data"]
    assert [(v["version"], v["effective_from"]) for v in versions] == [
        (1, "2020-01-01"),
        (2, "2024-01-01"),
    ]
    one = await client.get("/api/v1/countries/IN/policies/1", headers=admin)
    assert one.json()["data"]["current_deduction"] == 10
    assert_error(await client.get("/api/v1/countries/IN/policies/9", headers=admin), 404)
    old = await client.get("/api/v1/countries/IN/policy?as_of=2023-06-01", headers=admin)
    assert old.json()["data"]["version"] == 1
    assert_error(
        await client.get("/api/v1/countries/IN/policy?as_of=2019-01-01", headers=admin), 404
    )


async def test_add_policy_version_endpoint(client, admin, session):
    await make_country(session, "IN")
    response = await client.post(
        "/api/v1/countries/IN/policies",
        json={"current_deduction": 5, "tax_slabs": SLABS, "effective_from": "2030-01-01"},
        headers=admin,
    )
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["version"] == 2
    again = await client.post(
        "/api/v1/countries/IN/policies",
        json={"current_deduction": 5, "tax_slabs": SLABS, "effective_from": "2030-01-01"},
        headers=admin,
    )
    assert again.status_code == 200
    assert again.json()["data"]["version"] == 2
    assert_error(await client.post("/api/v1/countries/FR/policies", json={}, headers=admin), 404)


async def test_history_rows_cannot_be_rewritten(session):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await make_country(session, "IN")
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text("UPDATE tax_policy_versions SET flat_rate = 50"))


async def test_delete_country(client, admin, session):
    await make_country(session, "IN")
    await make_country(session, "US", currency="USD")
    await make_employee(session, country_iso="US")
    assert (await client.delete("/api/v1/countries/IN", headers=admin)).status_code == 200
    assert_error(await client.get("/api/v1/countries/IN", headers=admin), 404)
    assert_error(await client.delete("/api/v1/countries/US", headers=admin), 409)


# --- bad input: a clear error in the envelope, and nothing written ------------------------------


BAD_COUNTRIES = [
    pytest.param(
        {"name": "India", "currency": "INR", "current_deduction": 10}, "iso_code", id="missing-iso"
    ),
    pytest.param(
        {"iso_code": "IN", "currency": "INR", "current_deduction": 10}, "name", id="missing-name"
    ),
    pytest.param(
        {"iso_code": "IN", "name": "India", "current_deduction": 10},
        "currency",
        id="missing-currency",
    ),
    pytest.param(
        {"iso_code": "IN", "name": "India", "currency": "INR"},
        "current_deduction",
        id="missing-deduction",
    ),
    pytest.param(country(iso_code="IND"), "iso_code", id="iso-three-letters"),
    pytest.param(country(iso_code="1N"), "iso_code", id="iso-digit"),
    pytest.param(country(iso_code="XX"), "iso_code", id="iso-not-assigned"),
    pytest.param(country(currency="XYZ"), "currency", id="currency-unknown"),
    pytest.param(country(currency="RUPEE"), "currency", id="currency-malformed"),
    pytest.param(country(current_deduction=-1), "current_deduction", id="negative-deduction"),
    pytest.param(country(current_deduction=101), "current_deduction", id="deduction-101"),
    pytest.param(country(name=""), "name", id="empty-name"),
    pytest.param(
        country(
            tax_slabs=[{"from": 0, "to": 100, "rate": 10}, {"from": 50, "to": None, "rate": 20}]
        ),
        "tax_slabs.1.from",
        id="overlapping-slabs",
    ),
    pytest.param(
        country(
            tax_slabs=[{"from": 0, "to": 100, "rate": 10}, {"from": 200, "to": None, "rate": 20}]
        ),
        "tax_slabs.1.from",
        id="gap-between-slabs",
    ),
    pytest.param(
        country(
            tax_slabs=[
                {"from": 0, "to": 100, "rate": 10},
                {"from": 200, "to": None, "rate": 20},
                {"from": 100, "to": 200, "rate": 15},
            ]
        ),
        "tax_slabs.2.from",
        id="slabs-out-of-order",
    ),
    pytest.param(
        country(tax_slabs=[{"from": 0, "to": None, "rate": 101}]),
        "tax_slabs.0.rate",
        id="slab-rate-101",
    ),
    pytest.param(
        country(tax_slabs=[{"from": 0, "to": None, "rate": -5}]),
        "tax_slabs.0.rate",
        id="slab-rate-negative",
    ),
    pytest.param(
        country(tax_slabs=[{"from": 5, "to": None, "rate": 5}]),
        "tax_slabs.0.from",
        id="slabs-not-from-0",
    ),
    pytest.param(
        country(tax_slabs=[{"from": -5, "to": None, "rate": 5}]),
        "tax_slabs.0.from",
        id="slab-negative-from",
    ),
    pytest.param(
        country(tax_slabs=[{"from": 0, "to": 100, "rate": 5}]),
        "tax_slabs.0.to",
        id="last-slab-closed",
    ),
    pytest.param(
        country(standard_deduction=-1), "standard_deduction", id="negative-standard-deduction"
    ),
    pytest.param(country(effective_from="2024-13-01"), "effective_from", id="bad-date"),
    pytest.param(country(unexpected=1), "unexpected", id="unknown-field"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_COUNTRIES)
async def test_bad_country_input_is_422_and_writes_nothing(client, admin, session, payload, field):
    await make_country(session, "US", currency="USD", current_deduction=12)
    before = await snapshot(session)
    response = await client.post("/api/v1/countries", json=payload, headers=admin)
    assert_error(response, 422, field=field)
    assert await snapshot(session) == before


async def test_bad_slabs_on_an_existing_country_write_nothing(client, admin, session):
    await make_country(session, "IN")
    before = await snapshot(session)
    bad = [{"from": 0, "to": 100, "rate": 10}, {"from": 50, "to": None, "rate": 20}]
    response = await client.post(
        "/api/v1/countries", json=country(name="Bharat", tax_slabs=bad), headers=admin
    )
    assert_error(response, 422, field="tax_slabs.1.from", text="overlaps")
    assert await snapshot(session) == before, "the rename must not survive a refused policy"


async def test_duplicate_country_name_is_409_and_writes_nothing(client, admin, session):
    await make_country(session, "IN")
    before = await snapshot(session)
    response = await client.post(
        "/api/v1/countries", json=country(iso_code="US", currency="USD"), headers=admin
    )
    assert_error(response, 409, text="India")
    assert await snapshot(session) == before


async def test_malformed_iso_in_path_is_422(client, admin):
    assert_error(await client.get("/api/v1/countries/IND", headers=admin), 422, field="iso")


async def test_page_size_above_maximum_is_422_and_writes_nothing(client, admin, session):
    before = await snapshot(session)
    assert_error(await client.get("/api/v1/countries/list?limit=201", headers=admin), 422, "limit")
    assert_error(await client.get("/api/v1/countries/list?sort=bogus", headers=admin), 422, "sort")
    assert await snapshot(session) == before
