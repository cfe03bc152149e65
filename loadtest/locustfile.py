"""Locust load test of expense approvals against the TechCorp demo data.

Mixed workload, weighted 50% create, 30% approve, 20% status. Every simulated user is one
TechCorp employee (round robin, approvers first) and follows the real workflow: it submits its
own expenses, approves only what waits in its own inbox, and reads the status of its own
expenses, so any failure is a real failure. When several simulated users share an
employee, they split that employee's inbox by expense id, so two of them never race for the
same step (that race is a 409 by design, proven in tests/expenses/test_live_server.py).

Run one preset headless (`loadtest/run.py` runs them all and writes docs/benchmarks.md):

    LOADTEST_PRESET=medium locust -f loadtest/locustfile.py --headless \
        --host http://127.0.0.1:8765 -u 10 -r 2 -t 60s

Environment: LOADTEST_PRESET (light, medium, heavy, spike, closed), or LOADTEST_THINK_SECONDS
and LOADTEST_USERS to override the think time and the user count the inbox split uses.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any

from locust import FastHttpUser, constant, task


@dataclass(frozen=True)
class Preset:
    """A classic scenario: users, duration and think time between requests (ramp-up 5 s)."""

    users: int
    seconds: int
    think: float
    ramp_seconds: int = 5


PRESETS: dict[str, Preset] = {
    "light": Preset(5, 30, 0.2),
    "medium": Preset(10, 60, 0.1),
    "heavy": Preset(25, 120, 0.05),
    "spike": Preset(50, 30, 0.02),
    "closed": Preset(8, 20, 0.0, ramp_seconds=1),  # no think time: closed-loop capacity
}

# TechCorp Solutions (backoffice.expenses.demo): employee id -> (login, password).
EMPLOYEES: dict[int, tuple[str, str]] = {
    1: ("alice", "alice-pass"),
    2: ("bob", "bob-pass"),
    3: ("carol", "carol-pass"),
    4: ("david", "david-pass"),
    5: ("eve", "eve-pass"),
    6: ("frank", "frank-pass"),
    7: ("grace", "grace-pass"),
}
# Who the simulated users are, in order: the approvers every chain needs come first (Frank is
# the Manager of step 1, Eve the SEM, David the AD), so even the 5-user preset decides steps.
IDENTITY_ORDER = (6, 7, 5, 4, 1, 2, 3)
# (policy id, lowest amount, highest amount): Small Equipment, Large Equipment, Business Travel.
POLICIES = ((1, 10, 1999), (2, 2000, 9000), (3, 50, 5000))

PRESET = PRESETS[os.environ.get("LOADTEST_PRESET", "medium")]
THINK = float(os.environ.get("LOADTEST_THINK_SECONDS", PRESET.think))
TOTAL_USERS = int(os.environ.get("LOADTEST_USERS", PRESET.users))
_sequence = itertools.count()
# One token per employee and Locust process: users sharing an employee reuse it, so the
# server hashes each password once per run instead of once per user (a login storm is not
# the workload being measured).
_tokens: dict[int, str] = {}


def _token(host: str, username: str, password: str) -> str:
    """A bearer token (outside Locust's statistics: it is set-up, not workload)."""
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the host is ours
        f"{host}/api/v1/auth/token", method="POST", headers={"Authorization": f"Basic {basic}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
    return str(body["data"]["access_token"])


class Employee(FastHttpUser):
    """One TechCorp employee submitting, approving and checking expenses."""

    wait_time = constant(THINK)

    def on_start(self) -> None:
        index = next(_sequence)
        slot = index % len(IDENTITY_ORDER)
        self.employee_id = IDENTITY_ORDER[slot]
        # Users sharing this employee split its inbox: expense_id % sharers == share.
        sharing = range(slot, max(TOTAL_USERS, index + 1), len(IDENTITY_ORDER))
        self.sharers = max(1, len(sharing))
        self.share = (index // len(IDENTITY_ORDER)) % self.sharers
        username, password = EMPLOYEES[self.employee_id]
        if self.employee_id not in _tokens:
            _tokens[self.employee_id] = _token(str(self.host), username, password)
        token = _tokens[self.employee_id]
        self.auth = {"Authorization": f"Bearer {token}"}
        self.mine: deque[int] = deque(maxlen=50)

    @task(50)
    def create(self) -> None:
        policy_id, low, high = random.choice(POLICIES)  # noqa: S311 - not crypto
        amount = f"{random.uniform(low, high):.2f}"  # noqa: S311
        with self.client.post(
            "/api/expenses",
            json={
                "user_id": self.employee_id,
                "policy_id": policy_id,
                "amount": float(amount),
                "description": "load test",
            },
            name="POST /api/expenses",
            headers=self.auth,
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            self.mine.append(response.json()["expense_id"])

    @task(30)
    def approve(self) -> None:
        with self.client.get(
            "/api/approvals/pending?limit=20",
            name="GET /api/approvals/pending",
            headers=self.auth,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            items = [
                i for i in response.json()["items"] if i["expense_id"] % self.sharers == self.share
            ]
        if not items:
            return
        with self.client.post(
            "/api/expenses/approve",
            json={
                "expense_id": items[0]["expense_id"],
                "approver_id": self.employee_id,
                "comments": "approved under load",
            },
            name="POST /api/expenses/approve",
            headers=self.auth,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(20)
    def status(self) -> None:
        if not self.mine:
            self.client.get("/api/expenses?limit=10", name="GET /api/expenses", headers=self.auth)
            return
        expense_id = random.choice(self.mine)  # noqa: S311
        with self.client.get(
            f"/api/expenses/{expense_id}/status",
            name="GET /api/expenses/{id}/status",
            headers=self.auth,
            catch_response=True,
        ) as response:
            if response.status_code != 200 or response.json()["id"] != expense_id:
                response.failure(f"{response.status_code}: {response.text[:200]}")


class Baseline(FastHttpUser):
    """The no-op baseline of the same run: `GET /health` (run it by naming this class)."""

    wait_time = constant(THINK)

    @task
    def health(self) -> None:
        self.client.get("/health", name="GET /health (baseline)")
