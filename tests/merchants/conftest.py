"""Merchant tests: imports commit on their own connection, so each test starts from empty tables."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from backoffice.app import create_app
from backoffice.core.config import Settings
from backoffice.ingest.pipeline import libpq_url
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES, TABLES
from tests.conftest import committed_bearer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "merchants"
ENDPOINTS = (
    "top-merchant",
    "monthly-active-merchants",
    "product-adoption",
    "kyc-funnel",
    "failure-rates",
)


def reset(url: str) -> None:
    """Empty every table the merchant import writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(f"TRUNCATE {', '.join(TABLES)}")
        for table in ("import_runs", "import_rejects"):
            conn.execute(f"DELETE FROM {table} WHERE dataset = %s", (MERCHANT_ACTIVITIES.name,))


@pytest.fixture
def merchants_url(database_url: str) -> str:
    """The test database (libpq URL) with empty merchant tables.

    Not emptied afterwards: the test's rolled-back session may still hold locks on them.
    """
    url = libpq_url(database_url)
    reset(url)
    return url


def snapshot(url: str) -> dict[str, Any]:
    """Every row the merchant import writes, in a stable order (run ids and times left out)."""
    out: dict[str, Any] = {}
    stored = ", ".join([*MERCHANT_ACTIVITIES.column_names, "quality_flags"])  # no `ingest_run`
    with psycopg.connect(url) as conn:
        for table in TABLES:
            columns = stored if table == "merchant_activities" else "*"
            out[table] = conn.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2").fetchall()
        out["import_rejects"] = conn.execute(
            "SELECT * FROM import_rejects WHERE dataset = %s ORDER BY 2, 3",
            (MERCHANT_ACTIVITIES.name,),
        ).fetchall()
        out["import_runs"] = conn.execute(
            "SELECT dataset, file_name, file_size, sha256, rows_read, inserted, duplicates,"
            " rejected, flagged, status, error FROM import_runs WHERE dataset = %s ORDER BY 2",
            (MERCHANT_ACTIVITIES.name,),
        ).fetchall()
    return out


def endpoint_answers(settings: Settings, database_url: str) -> dict[str, Any]:
    """Every analytics endpoint's JSON, from a fresh app in its own event loop."""

    async def ask() -> dict[str, Any]:
        app = create_app(settings, database_url=database_url)
        transport = httpx.ASGITransport(app=app)
        try:
            async with (
                committed_bearer(app) as headers,
                httpx.AsyncClient(transport=transport, base_url="http://test") as http,
            ):
                answers = {}
                for name in ENDPOINTS:
                    response = await http.get(f"/analytics/{name}", headers=headers)
                    assert response.status_code == 200, response.text
                    answers[name] = response.json()
                return answers
        finally:
            await app.state.db.dispose()

    # In a thread of its own: its event loop must not touch the test session's loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, ask()).result()
