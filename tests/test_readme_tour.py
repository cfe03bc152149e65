"""The README's first tour, run by bash and curl as written, against a live server on demo data."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.app import create_app
from backoffice.savings.accounting.demo import load_demo_plans
from backoffice.services import SAVINGS_ACCOUNTING
from tests.live import demo_database, own_nats, savings_databases, serve, settings_for

ROOT = Path(__file__).parents[1]
DEFAULT_BASE = "http://127.0.0.1:8000"


def tour() -> str:
    """The README's first `sh` block after the two commands."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme.split("\n## ", 1)[0], re.S)
    assert len(blocks) == 2, "the two commands, then the tour, before the first section"
    return str(blocks[1])


@pytest.fixture(scope="module")
def live(server_url: str) -> Iterator[tuple[str, str]]:
    """`make run`'s app on fresh demo databases: its base URL and its main database's URL."""
    for url in demo_database(server_url, "readme_tour"):
        for savings in savings_databases(server_url, "readme_tour"):
            asyncio.run(load_demo_plans(savings[SAVINGS_ACCOUNTING.service]))
            with own_nats("readme_tour") as nats:
                settings = settings_for(url, savings=savings, nats=nats)
                with serve(create_app(settings, database_url=url)) as base:
                    yield base, url


def documents(text: str) -> list[Any]:
    """The JSON documents curl printed, in order (bodies end without a newline)."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while match := re.compile(r"[\[{]").search(text, at):
        document, at = decoder.raw_decode(text, match.start())
        found.append(document)
    return found


def test_the_readme_tour_works_as_written(live, tmp_path):
    assert shutil.which("curl"), "the tour is curl"
    base, database = live
    script = (
        tour().replace(DEFAULT_BASE, base).replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    )
    assert DEFAULT_BASE not in script
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": database,
            "COLUMNS": "200",
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    me, by_country, expense, top, monthly, adoption, kyc, failures, summary, plans = documents(
        result.stdout
    )
    assert me["data"]["username"] == "staff"
    assert {row["country_iso"] for row in by_country["data"]} >= {"IN", "US", "GB"}
    assert expense["status"] == "pending"
    assert [step["approver"] for step in expense["approvals_required"]] == ["Frank Miller"]
    assert top["merchant_id"] is not None and top["total_volume"] > 0
    assert monthly and all(count > 0 for count in monthly.values())
    assert adoption and kyc.keys() == {
        "documents_submitted",
        "verifications_completed",
        "tier_upgrades",
    }
    assert failures and {"product", "failure_rate"} <= failures[0].keys()
    assert summary == {
        "user_id": 1001,
        "total_transactions": 4,
        "total_amount": 2574.06,
        "average_transaction_amount": 643.52,
    }
    assert [plan["name"] for plan in plans["data"]] == [
        "Save 10%",
        "Save 5 a credit",
        "Save 20% at 2%, 30 days locked",
    ]


def test_the_migration_section_covers_each_original_system_and_its_seed_routes():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Migrating from the original systems", 1)[1].split("\n## ", 1)[0]
    for system in ("Payroll", "Expense approvals", "Merchant analytics", "Transactions", "Savings"):
        assert f"**{system}" in section, system
    for route in (
        "POST /api/expenses`",
        "POST /api/expenses/approve",
        "GET /api/expenses/{id}/status",
        "/analytics/",
        "GET /transactions/{user_id}/summary",
        "/api/v1/savings/",
        "/api/v1/employees",
    ):
        assert route in section, route
    assert "credentials" in section
    assert "400 `amount_outside_policy`" in section
