from backoffice.core.auth.service import Role
from tests.conftest import make_account


async def test_pages_carry_total_and_has_more(probe, session, auth, admin):
    for name in ("page-a", "page-b", "page-c"):
        await make_account(session, auth, Role.STAFF, username=name)
    response = await probe.get(
        "/api/v1/probe/accounts",
        params={"name": "PAGE-", "limit": 2, "sort": "-username"},
        headers=admin,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == ["page-c", "page-b"]
    assert body["pagination"] == {"total": 3, "limit": 2, "offset": 0, "has_more": True}

    last = await probe.get(
        "/api/v1/probe/accounts",
        params={"name": "page-", "limit": 2, "offset": 2, "sort": "-username"},
        headers=admin,
    )
    assert last.json()["data"] == ["page-a"]
    assert last.json()["pagination"]["has_more"] is False


async def test_contains_filter_treats_wildcards_literally(probe, session, auth, admin):
    await make_account(session, auth, Role.STAFF, username="under_score")
    await make_account(session, auth, Role.STAFF, username="underXscore")
    response = await probe.get("/api/v1/probe/accounts", params={"name": "under_"}, headers=admin)
    assert response.json()["data"] == ["under_score"]


async def test_bad_sort_field_and_oversized_page_are_422(probe, admin):
    bad_sort = await probe.get(
        "/api/v1/probe/accounts", params={"sort": "password_hash"}, headers=admin
    )
    assert bad_sort.status_code == 422
    assert bad_sort.json()["errors"][0]["field"] == "sort"
    too_big = await probe.get("/api/v1/probe/accounts", params={"limit": 201}, headers=admin)
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "limit"
    negative = await probe.get("/api/v1/probe/accounts", params={"offset": -1}, headers=admin)
    assert negative.status_code == 422
