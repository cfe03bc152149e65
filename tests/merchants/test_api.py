"""The analytics and import-history endpoints, `/health`, and the background import at startup."""

from __future__ import annotations

import asyncio
import shutil

from backoffice.app import create_app
from backoffice.ingest.pipeline import import_files
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.merchants.conftest import ENDPOINTS, FIXTURES


async def test_every_endpoint_requires_authentication(client):
    for path in [f"/analytics/{name}" for name in ENDPOINTS] + ["/api/v1/merchants/imports"]:
        response = await client.get(path)
        assert response.status_code == 401, path
        assert response.json()["status"] == "error"


async def test_empty_database_answers_with_empty_shapes(client, staff, merchants_url):
    expected = {
        "top-merchant": {"merchant_id": None, "total_volume": 0.0},
        "monthly-active-merchants": {},
        "product-adoption": {},
        "kyc-funnel": {"documents_submitted": 0, "verifications_completed": 0, "tier_upgrades": 0},
        "failure-rates": [],
    }
    for name, body in expected.items():
        response = await client.get(f"/analytics/{name}", headers=staff)
        assert response.status_code == 200
        assert response.json() == body


async def test_shapes_are_the_ones_clients_read(client, staff, merchants_url):
    import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES])
    adoption = (await client.get("/analytics/product-adoption", headers=staff)).json()
    counts = list(adoption.values())
    assert counts == sorted(counts, reverse=True)
    assert set(adoption) == {
        "POS",
        "AIRTIME",
        "BILLS",
        "CARD_PAYMENT",
        "SAVINGS",
        "MONIEBOOK",
        "KYC",
    }
    rates = (await client.get("/analytics/failure-rates", headers=staff)).json()
    assert rates[0] == {"product": "AIRTIME", "failure_rate": 100.0}  # 2 FAILED, 0 SUCCESS
    assert [r["failure_rate"] for r in rates] == sorted(
        (r["failure_rate"] for r in rates), reverse=True
    )
    months = (await client.get("/analytics/monthly-active-merchants", headers=staff)).json()
    assert list(months) == ["2024-01", "2024-03"]


async def test_import_history_is_paginated_in_the_envelope(client, staff, merchants_url):
    import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES])
    response = await client.get("/api/v1/merchants/imports?limit=1", headers=staff)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["pagination"] == {"total": 2, "limit": 1, "offset": 0, "has_more": True}
    (run,) = body["data"]
    assert run["file_name"] == "activities_20240102.csv"  # most recent first
    assert (run["rows_read"], run["inserted"], run["duplicates"]) == (6, 4, 2)
    assert (
        await client.get("/api/v1/merchants/imports?limit=500", headers=staff)
    ).status_code == 422


async def test_health_reports_the_import_from_memory(client):
    body = (await client.get("/health")).json()
    report = body["data"]["background"]["merchant_import"]
    assert report["state"] == "idle"
    assert {"files_done", "rows_read", "inserted", "duplicates", "rejected", "flagged"} <= set(
        report
    )


async def test_health_and_the_import_history_name_the_counts_alike(client, staff, merchants_url):
    """One count, one name: `/health` says what `/api/v1/merchants/imports` says."""
    import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES])
    health = (await client.get("/health")).json()["data"]["background"]["merchant_import"]
    run = (await client.get("/api/v1/merchants/imports", headers=staff)).json()["data"][0]
    counts = {"rows_read", "inserted", "duplicates", "rejected", "flagged"}
    assert counts <= set(run)
    assert counts <= set(health), sorted(set(health) - set(run))
    assert not {"duplicate"} & set(health)


async def test_startup_imports_data_dir_in_the_background(
    settings, database_url, merchants_url, tmp_path
):
    shutil.copytree(FIXTURES, tmp_path / "data")
    app = create_app(
        settings.model_copy(update={"data_dir": tmp_path / "data"}), database_url=database_url
    )
    try:
        async with app.router.lifespan_context(app):
            report = app.state.health_reporters["merchant_import"]
            for _ in range(500):
                if report()["files_done"] == 2 and report()["state"] == "idle":
                    break
                await asyncio.sleep(0.02)
            assert report()["inserted"] == 19
            assert report()["rejected"] == 10
    finally:
        await app.state.db.dispose()


async def test_startup_without_data_dir_skips_cleanly(settings, database_url, tmp_path):
    app = create_app(
        settings.model_copy(update={"data_dir": tmp_path / "missing"}), database_url=database_url
    )
    try:
        async with app.router.lifespan_context(app):
            assert app.state.health_reporters["merchant_import"]()["state"] == "idle"
    finally:
        await app.state.db.dispose()
