"""Account management on the live server (real pools, committed transactions)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.conftest import _restore_demo_logins
from tests.live import LIVE_DATABASES

ADMIN = httpx.BasicAuth("admin", "adminpass")
MANAGER = httpx.BasicAuth("manager", "managerpass")


def _account_id(http: httpx.Client, username: str) -> int:
    listed = http.get("/api/v1/auth/accounts", params={"username": username}, auth=ADMIN)
    assert listed.status_code == 200, listed.text
    found: int = next(a["id"] for a in listed.json()["data"] if a["username"] == username)
    return found


def test_disabling_ends_a_token_and_the_demo_logins_are_restored_after(api_url):
    with httpx.Client(base_url=api_url, timeout=30) as http:
        token = http.post("/api/v1/auth/token", auth=MANAGER).json()["data"]["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert http.get("/api/v1/auth/me", headers=bearer).status_code == 200
        manager = _account_id(http, "manager")

        disabled = http.patch(
            f"/api/v1/auth/accounts/{manager}", json={"is_active": False}, auth=ADMIN
        )
        assert disabled.status_code == 200, disabled.text
        assert http.get("/api/v1/auth/me", headers=bearer).status_code == 401
        assert http.get("/api/v1/auth/me", auth=MANAGER).status_code == 401
        trail = http.get(f"/api/v1/auth/accounts/{manager}/audit", auth=ADMIN).json()["data"]
        assert (trail[0]["action"], trail[0]["actor"]) == ("disabled", "admin")

        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _restore_demo_logins(LIVE_DATABASES[api_url])).result()
        assert http.get("/api/v1/auth/me", auth=MANAGER).status_code == 200
        assert http.get("/api/v1/auth/me", headers=bearer).status_code == 401  # stays ended
