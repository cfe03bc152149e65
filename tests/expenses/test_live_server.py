"""Against a real uvicorn server on a fresh, committed database loaded with the demo.

Proves the README walkthroughs (TechCorp's ids 1..7, policies 1..3) and that concurrent
decisions on one step give one success and one 409, with nothing decided twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from backoffice.expenses.demo import credentials
from tests.live import live_demo

ALICE, BOB, CAROL, DAVID, EVE, FRANK, GRACE = range(1, 8)
NAMES = [
    "Alice Chen",
    "Bob Smith",
    "Carol Johnson",
    "David Wilson",
    "Eve Davis",
    "Frank Miller",
    "Grace Taylor",
]


def login(employee_id: int) -> httpx.BasicAuth:
    return httpx.BasicAuth(*credentials(NAMES[employee_id - 1]))


@pytest.fixture(scope="module")
def live_url(server_url: str) -> Iterator[str]:
    yield from live_demo(server_url, "expenses_live")


async def test_the_readme_walkthroughs_on_a_fresh_demo_database(live_url):
    async with httpx.AsyncClient(base_url=live_url) as http:
        small = await http.post(
            "/api/expenses",
            json={"user_id": GRACE, "policy_id": 1, "amount": 800.00, "description": "Monitor"},
            auth=login(GRACE),
        )
        assert small.status_code == 201, small.text
        assert small.json()["approvals_required"] == [
            {"step": 1, "approver": "Frank Miller", "level": "Manager", "level_number": 6}
        ]
        expense_id = small.json()["expense_id"]
        approved = await http.post(
            "/api/expenses/approve",
            json={"expense_id": expense_id, "approver_id": FRANK, "comments": "OK"},
            auth=login(FRANK),
        )
        assert approved.json()["expense_status"] == "approved"
        status = (await http.get(f"/api/expenses/{expense_id}/status", auth=login(GRACE))).json()
        assert (status["status"], status["user_name"], status["policy_name"]) == (
            "approved",
            "Grace Taylor",
            "Small Equipment",
        )

        large = await http.post(
            "/api/expenses",
            json={"user_id": GRACE, "policy_id": 2, "amount": 4000.00, "description": "Server"},
            auth=login(GRACE),
        )
        assert large.status_code == 201, large.text
        assert [a["approver"] for a in large.json()["approvals_required"]] == [
            "Frank Miller",
            "Eve Davis",
            "David Wilson",
        ]
        expense_id = large.json()["expense_id"]
        for approver in (FRANK, EVE, DAVID):
            response = await http.post(
                "/api/expenses/approve",
                json={"expense_id": expense_id, "approver_id": approver, "comments": "OK"},
                auth=login(approver),
            )
            assert response.status_code == 200, response.text
        status = (await http.get(f"/api/expenses/{expense_id}/status", auth=login(GRACE))).json()
        assert status["status"] == "approved"
        assert [a["approver_name"] for a in status["approvals"]] == [
            "Frank Miller",
            "Eve Davis",
            "David Wilson",
        ]
        assert [a["approver_level"] for a in status["approvals"]] == ["Manager", "SEM", "AD"]
        travel = await http.get("/api/v1/expense-policies/3", auth=("admin", "adminpass"))
        assert travel.json()["data"]["name"] == "Business Travel"


async def test_concurrent_decisions_on_one_step_give_one_success_and_one_409(live_url):
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=live_url, limits=limits, timeout=30) as http:
        expense_ids = []
        for _ in range(12):
            response = await http.post(
                "/api/expenses",
                json={"user_id": GRACE, "policy_id": 2, "amount": "2500.00", "description": "x"},
                auth=login(GRACE),
            )
            assert response.status_code == 201, response.text
            expense_ids.append(response.json()["expense_id"])

        async def decide(expense_id: int, action: str) -> httpx.Response:
            body = {"expense_id": expense_id, "approver_id": FRANK, "comments": "mine"}
            return await http.post(f"/api/expenses/{action}", json=body, auth=login(FRANK))

        # Half the expenses get two approvals at once, half an approval racing a rejection.
        actions = [
            (eid, ("approve", "approve") if i % 2 == 0 else ("approve", "reject"))
            for i, eid in enumerate(expense_ids)
        ]
        requests = [decide(eid, action) for eid, pair in actions for action in pair]
        responses = await asyncio.gather(*requests)

        for index, (expense_id, _) in enumerate(actions):
            pair = responses[2 * index : 2 * index + 2]
            codes = sorted(r.status_code for r in pair)
            assert codes == [200, 409], [r.text for r in pair]
            loser = next(r for r in pair if r.status_code == 409)
            assert loser.json()["code"] in {"step_already_decided", "expense_already_decided"}
            status = (
                await http.get(f"/api/expenses/{expense_id}/status", auth=login(GRACE))
            ).json()
            first = status["approvals"][0]
            assert first["status"] in {"approved", "rejected"}
            trail = (await http.get(f"/api/expenses/{expense_id}/audit", auth=login(GRACE))).json()[
                "events"
            ]
            step_one = [e for e in trail if e["step_number"] == 1]
            assert len(step_one) == 1, trail
            if first["status"] == "approved":
                assert status["status"] == "pending"
                assert [a["status"] for a in status["approvals"]] == [
                    "approved",
                    "pending",
                    "pending",
                ]
            else:
                assert status["status"] == "rejected"
