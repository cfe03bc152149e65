"""The transactions endpoints: the seed's summary shape and the list in the envelope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import on_both_pools
from tests.payroll.factories import assert_error
from tests.transactions.factories import make_transaction, new_user_id


@on_both_pools
async def test_summary_has_exactly_the_seed_keys_and_rounds_the_average_half_up_once(
    client, staff, session
):
    user = new_user_id()
    for amount in ("10.00", "10.00", "0.01"):  # 20.01 / 3 = 6.67
        await make_transaction(session, user_id=user, amount=Decimal(amount))
    response = await client.get(f"/transactions/{user}/summary", headers=staff)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": user,
        "total_transactions": 3,
        "total_amount": 20.01,
        "average_transaction_amount": 6.67,
    }


@on_both_pools
async def test_summary_average_rounds_half_up_and_negatives_away_from_zero(client, staff, session):
    up, down = new_user_id(), new_user_id()
    for amount in ("0.01", "0.00"):  # 0.005 -> 0.01
        await make_transaction(session, user_id=up, amount=Decimal(amount))
    for amount in ("-0.01", "0.00"):  # -0.005 -> -0.01
        await make_transaction(session, user_id=down, amount=Decimal(amount))
    got_up = (await client.get(f"/transactions/{up}/summary", headers=staff)).json()
    got_down = (await client.get(f"/transactions/{down}/summary", headers=staff)).json()
    assert (got_up["total_amount"], got_up["average_transaction_amount"]) == (0.01, 0.01)
    assert (got_down["total_amount"], got_down["average_transaction_amount"]) == (-0.01, -0.01)


async def test_summary_reads_exact_cents_in_the_json_text(client, staff, session):
    user = new_user_id()
    await make_transaction(session, user_id=user, amount=Decimal("-3437.55"))
    await make_transaction(session, user_id=user, amount=Decimal("4990.00"))
    response = await client.get(f"/transactions/{user}/summary", headers=staff)
    body = response.json(parse_float=Decimal)
    assert body["total_amount"] == Decimal("1552.45")
    assert body["average_transaction_amount"] == Decimal("776.23")  # 776.225 half-up, not 776.22


@on_both_pools
async def test_summary_of_a_user_with_no_transactions_is_a_404_detail(client, staff):
    response = await client.get(f"/transactions/{new_user_id()}/summary", headers=staff)
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "user_has_no_transactions"


@pytest.mark.parametrize("user", ["0", "-1", "2147483648", "99999999999999999999", "abc", "1.5"])
async def test_summary_of_an_id_that_is_not_a_positive_int4_is_a_422_detail(client, staff, user):
    response = await client.get(f"/transactions/{user}/summary", headers=staff)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and "detail" in body
    assert body["errors"][0]["field"] == "user_id"


async def test_summary_needs_credentials(client):
    response = await client.get("/transactions/1/summary")
    assert response.status_code == 401
    assert "detail" in response.json()


async def test_list_is_newest_first_in_the_envelope_with_filters(client, staff, session):
    user, other = new_user_id(), new_user_id()
    days = [date(2024, 1, 5), date(2024, 3, 1), date(2024, 2, 10), date(2024, 3, 1)]
    made = [
        await make_transaction(session, user_id=user, transaction_date=d, amount=Decimal("-12.5"))
        for d in days
    ]
    await make_transaction(session, user_id=other, transaction_date=date(2024, 2, 1))

    response = await client.get(f"/api/v1/transactions?user_id={user}&limit=3", headers=staff)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "success"
    assert body["pagination"] == {"total": 4, "limit": 3, "offset": 0, "has_more": True}
    ids = [row["id"] for row in body["data"]]
    assert ids == [made[3].id, made[1].id, made[2].id]  # newest date first; same day: later id
    assert body["data"][0] == {
        "id": made[3].id,
        "transaction_id": made[3].transaction_id,
        "user_id": user,
        "amount": -12.5,
        "transaction_date": "2024-03-01",
    }

    ranged = await client.get(
        f"/api/v1/transactions?user_id={user}&from=2024-01-06&to=2024-02-29", headers=staff
    )
    assert [r["id"] for r in ranged.json()["data"]] == [made[2].id]
    assert ranged.json()["pagination"]["total"] == 1

    by_date = await client.get("/api/v1/transactions?from=2024-02-01&to=2024-02-01", headers=staff)
    assert [r["user_id"] for r in by_date.json()["data"]] == [other]

    oldest = await client.get(
        f"/api/v1/transactions?user_id={user}&sort=transaction_date,id", headers=staff
    )
    assert [r["id"] for r in oldest.json()["data"]] == [
        m.id for m in (made[0], made[2], made[1], made[3])
    ]


async def test_list_counts_a_whole_user_from_the_summary(client, staff, session):
    user = new_user_id()
    for _ in range(5):
        await make_transaction(session, user_id=user)
    page = (
        await client.get(f"/api/v1/transactions?user_id={user}&limit=2&offset=2", headers=staff)
    ).json()
    assert page["pagination"] == {"total": 5, "limit": 2, "offset": 2, "has_more": True}
    past = (
        await client.get(f"/api/v1/transactions?user_id={user}&limit=2&offset=10", headers=staff)
    ).json()
    assert past["data"] == [] and past["pagination"]["total"] == 5


async def test_list_refuses_from_after_to(client, staff):
    response = await client.get("/api/v1/transactions?from=2024-02-02&to=2024-02-01", headers=staff)
    assert_error(response, 422, field="from")


@pytest.mark.parametrize(
    "query",
    [
        "user_id=0",
        "user_id=2147483648",
        "from=2024-02-30",
        "to=yesterday",
        "sort=user_id",
        "limit=201",
    ],
)
async def test_list_refuses_bad_input(client, staff, query):
    response = await client.get(f"/api/v1/transactions?{query}", headers=staff)
    assert_error(response, 422)
