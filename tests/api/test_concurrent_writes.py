"""Writes racing on one row answer 200, 404 or 409, never a 500 (found by the auth matrix).

An update and a delete of the same row, sent at once: whichever commits second must find the
row gone (404) or changed (409), not an UPDATE that matched nothing. Two creates with the same
unique name: one 201, one 409. Against a live server of their own (the auth matrix may link
the demo admin to an employee, which would scope it to one company), so that the requests
really overlap.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import live_demo

ADMIN = httpx.BasicAuth("admin", "adminpass")
ROUNDS = 8


@pytest.fixture(scope="module")
def races_url(server_url: str) -> Iterator[str]:
    yield from live_demo(server_url, "backoffice_races")


async def _create(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> int:
    response = await http.post(path, json=body)
    assert response.status_code == 201, response.text
    row_id: int = response.json()["data"]["id"]
    return row_id


async def _company(http: httpx.AsyncClient) -> int:
    return await _create(http, "/api/v1/org/companies", {"name": f"Race {uuid.uuid4().hex}"})


async def _race(http: httpx.AsyncClient, path: str, change: dict[str, Any]) -> list[int]:
    answers = await asyncio.gather(
        http.patch(path, json=change), http.delete(path), http.delete(path), http.get(path)
    )
    return [answer.status_code for answer in answers]


async def test_an_update_and_deletes_of_one_row_never_fail(races_url):
    async with httpx.AsyncClient(base_url=races_url, auth=ADMIN, timeout=30) as http:
        seen: set[int] = set()
        for n in range(ROUNDS):
            company = await _company(http)
            team = await _create(http, "/api/v1/org/teams", {"company_id": company, "name": "T"})
            level = await _create(
                http,
                "/api/v1/org/levels",
                {"company_id": company, "level_number": 1, "level_name": "L"},
            )
            policy = await _create(
                http,
                "/api/v1/expense-policies",
                {"company_id": company, "category": "travel", "name": "P", "steps": []},
            )
            step = await _create(
                http,
                f"/api/v1/expense-policies/{policy}/steps",
                {"step_order": 1, "required_level": 1},
            )
            for path, change in (
                (f"/api/v1/approval-steps/{step}", {"step_order": 2}),
                (f"/api/v1/expense-policies/{policy}", {"name": f"P{n}"}),
                (f"/api/v1/org/levels/{level}", {"level_number": 2 + n % 8}),
                (f"/api/v1/org/teams/{team}", {"name": f"T{n}"}),
                (f"/api/v1/org/companies/{company}", {"name": f"Renamed {uuid.uuid4().hex}"}),
            ):
                statuses = await _race(http, path, change)
                assert set(statuses) <= {200, 404, 409}, (path, statuses)
                seen.update(statuses)
        assert 404 in seen  # the races did happen: a request found its row deleted


async def test_two_creates_of_one_name_give_one_201_and_one_409(races_url):
    async with httpx.AsyncClient(base_url=races_url, auth=ADMIN, timeout=30) as http:
        for _ in range(ROUNDS):
            name = f"Twin {uuid.uuid4().hex}"
            answers = await asyncio.gather(
                *(http.post("/api/v1/org/companies", json={"name": name}) for _ in range(2))
            )
            assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
