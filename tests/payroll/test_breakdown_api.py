"""`GET /api/v1/employees/salary-breakdown/{id}`: the policy in force on `as_of`, and errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tests.payroll.factories import assert_error, make_country, make_employee, snapshot

UK_2022: list[dict[str, Any]] = [
    {"from": 0, "to": 12570, "rate": 0},
    {"from": 12570, "to": 50270, "rate": 20},
    {"from": 50270, "to": 150000, "rate": 40},
    {"from": 150000, "to": None, "rate": 45},
]
UK_2023: list[dict[str, Any]] = [
    *UK_2022[:2],
    {"from": 50270, "to": 125140, "rate": 40},
    {"from": 125140, "to": None, "rate": 45},
]


async def test_flat_tds_breakdown(client, admin, session):
    await make_country(session, "IN", current_deduction=10)
    worker = await make_employee(session, salary=Decimal("1200000.00"))
    response = await client.get(f"/api/v1/employees/salary-breakdown/{worker.id}", headers=admin)
    body = response.json()
    assert response.status_code == 200, body
    data = body["data"]
    assert data["employee_id"] == worker.id
    assert data["currency"] == "INR"
    assert data["as_of"] == date.today().isoformat()
    assert data["policy"]["version"] == 1
    assert data["annual"] == {
        "gross": 1200000.0,
        "deductions": [
            {
                "name": "TDS (flat)",
                "kind": "flat",
                "basis": 1200000.0,
                "rate": 10.0,
                "amount": 120000.0,
            }
        ],
        "total_deductions": 120000.0,
        "net": 1080000.0,
    }
    assert data["monthly"]["gross"] == 100000.0
    assert data["monthly"]["net"] == 90000.0


async def test_as_of_picks_the_version_in_force(client, admin, session):
    await make_country(
        session,
        "GB",
        currency="GBP",
        current_deduction=0,
        tax_slabs=UK_2022,
        effective_from=date(2022, 4, 6),
    )
    await make_country(
        session,
        "GB",
        currency="GBP",
        current_deduction=0,
        tax_slabs=UK_2023,
        effective_from=date(2023, 4, 6),
    )
    worker = await make_employee(session, country_iso="GB", salary=Decimal("140000.00"))
    url = f"/api/v1/employees/salary-breakdown/{worker.id}"

    old = (await client.get(f"{url}?as_of=2023-01-01", headers=admin)).json()["data"]
    new = (await client.get(f"{url}?as_of=2024-01-01", headers=admin)).json()["data"]
    assert (old["policy"]["version"], old["policy"]["effective_from"]) == (1, "2022-04-06")
    assert (new["policy"]["version"], new["policy"]["effective_from"]) == (2, "2023-04-06")
    assert old["annual"]["total_deductions"] == 43432.0
    assert new["annual"]["total_deductions"] == 44175.0
    assert [d["rate"] for d in new["annual"]["deductions"]] == [0.0, 20.0, 40.0, 45.0]
    for split in (old["annual"], old["monthly"], new["annual"], new["monthly"]):
        total = sum(Decimal(str(d["amount"])) for d in split["deductions"])
        assert Decimal(str(split["total_deductions"])) == total
        assert Decimal(str(split["gross"])) == total + Decimal(str(split["net"]))

    before = await snapshot(session)
    no_policy = await client.get(f"{url}?as_of=2020-01-01", headers=admin)
    assert_error(no_policy, 404, field="as_of", text="no tax policy in force on 2020-01-01")
    assert_error(await client.get(f"{url}?as_of=2024-02-30", headers=admin), 422, field="as_of")
    assert await snapshot(session) == before


async def test_breakdown_reproduces_past_results_after_a_policy_change(client, admin, session):
    await make_country(session, "IN", current_deduction=10, effective_from=date(2020, 1, 1))
    worker = await make_employee(session, salary=Decimal("1000.00"))
    url = f"/api/v1/employees/salary-breakdown/{worker.id}?as_of=2021-01-01"
    first = (await client.get(url, headers=admin)).json()["data"]
    await client.post(
        "/api/v1/countries",
        json={"iso_code": "IN", "name": "India", "currency": "INR", "current_deduction": 20},
        headers=admin,
    )
    assert (await client.get(url, headers=admin)).json()["data"] == first
    today = (
        await client.get(f"/api/v1/employees/salary-breakdown/{worker.id}", headers=admin)
    ).json()
    assert today["data"]["annual"]["total_deductions"] == 200.0


async def test_monthly_split_adds_up_to_the_cent(client, admin, session):
    await make_country(session, "IN", current_deduction="7.77")
    worker = await make_employee(session, salary=Decimal("1000.01"))
    data = (
        await client.get(f"/api/v1/employees/salary-breakdown/{worker.id}", headers=admin)
    ).json()["data"]
    monthly = data["monthly"]
    assert monthly["gross"] == 83.33
    assert monthly["deductions"][0]["amount"] == 6.48  # 77.700777 / 12 = 6.4750.. -> 6.48
    assert monthly["net"] == 76.85


async def test_preview_breakdown_for_any_salary(client, admin, session):
    await make_country(session, "IN", current_deduction=10)
    response = await client.get("/api/v1/countries/IN/breakdown?salary=1000", headers=admin)
    assert response.json()["data"]["annual"]["net"] == 900.0
    assert response.json()["data"]["employee_id"] is None
    assert_error(
        await client.get("/api/v1/countries/IN/breakdown?salary=0", headers=admin), 422, "salary"
    )
