"""The ETL's audit over HTTP: its runs, one run with its task events, and the quarantine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.ingest.models import ImportReject, ImportRun, ImportTaskEvent

T0 = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)


async def make_run(session: AsyncSession, **fields: Any) -> ImportRun:
    data: dict[str, Any] = {
        "dataset": "transactions",
        "file_name": f"tx_{uuid.uuid4().hex}.csv",
        "file_size": 100,
        "sha256": "0" * 64,
        "rows_read": 10,
        "inserted": 7,
        "duplicates": 1,
        "conflicting": 1,
        "rejected": 2,
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=2),
        "status": "succeeded",
        "started_by": "cli",
    } | fields
    run = ImportRun(**data)
    session.add(run)
    await session.flush()
    return run


async def test_runs_are_listed_most_recent_first_and_only_the_datasets(client, admin, session):
    older = await make_run(session)
    newer = await make_run(session, status="failed", error="boom")
    merchants = await make_run(session, dataset="merchant_activities")
    response = await client.get("/api/v1/transactions/runs", headers=admin)
    assert response.status_code == 200, response.text
    ids = [r["id"] for r in response.json()["data"]]
    assert ids[:2] == [newer.id, older.id]
    assert merchants.id not in ids
    first = response.json()["data"][0]
    assert (first["status"], first["error"], first["started_by"]) == ("failed", "boom", "cli")
    failed = await client.get("/api/v1/transactions/runs?status=failed", headers=admin)
    assert [r["id"] for r in failed.json()["data"]] == [newer.id]
    bad = await client.get("/api/v1/transactions/runs?status=running", headers=admin)
    assert bad.status_code == 422


async def test_a_run_comes_with_its_own_and_its_dag_runs_events(client, admin, session):
    run = await make_run(session, started_by="airflow", dag_run_id="scheduled__2026-12-04")
    other = await make_run(session)
    session.add_all(
        [
            ImportTaskEvent(
                dataset="transactions",
                import_run_id=run.id,
                task="load",
                level="info",
                message="loaded 7",
            ),
            ImportTaskEvent(
                dataset="transactions",
                dag_run_id="scheduled__2026-12-04",
                task="extract",
                level="warning",
                message="one file skipped",
            ),
            ImportTaskEvent(
                dataset="transactions",
                import_run_id=other.id,
                task="load",
                level="info",
                message="not this run's",
            ),
        ]
    )
    await session.flush()
    response = await client.get(f"/api/v1/transactions/runs/{run.id}", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    assert body["dag_run_id"] == "scheduled__2026-12-04"
    assert sorted(e["message"] for e in body["events"]) == ["loaded 7", "one file skipped"]


async def test_an_unknown_run_or_another_datasets_is_404(client, admin, session):
    merchants = await make_run(session, dataset="merchant_activities")
    for run_id in (merchants.id, 2**31 - 1):
        response = await client.get(f"/api/v1/transactions/runs/{run_id}", headers=admin)
        assert response.status_code == 404, response.text
        assert response.json()["errors"][0]["code"] == "run_not_found"
    too_big = await client.get(f"/api/v1/transactions/runs/{2**31}", headers=admin)
    assert too_big.status_code == 422


async def test_the_quarantine_of_one_run_in_file_order(client, admin, session):
    run = await make_run(session)
    name = run.file_name
    session.add_all(
        [
            ImportReject(
                dataset="transactions",
                file_name=name,
                line_number=5,
                raw_line="TXN2,1,$-5,2024-01-01",
                reason="amount_invalid",
            ),
            ImportReject(
                dataset="transactions",
                file_name=name,
                line_number=3,
                raw_line="TXN1,2,7,2024-01-02",
                reason="conflicting_duplicate",
                first_version="TXN1,1,7.00,2024-01-02",
            ),
            ImportReject(
                dataset="transactions",
                file_name="elsewhere.csv",
                line_number=2,
                raw_line="x",
                reason="date_missing",
            ),
        ]
    )
    await session.flush()
    response = await client.get(f"/api/v1/transactions/rejects?run_id={run.id}", headers=admin)
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert [(r["line_number"], r["reason"]) for r in rows] == [
        (3, "conflicting_duplicate"),
        (5, "amount_invalid"),
    ]
    assert rows[0]["first_version"] == "TXN1,1,7.00,2024-01-02"
    everything = await client.get("/api/v1/transactions/rejects", headers=admin)
    assert everything.json()["pagination"]["total"] >= 3
    missing = await client.get("/api/v1/transactions/rejects?run_id=2147483647", headers=admin)
    assert missing.status_code == 404


async def test_the_audit_needs_credentials(client):
    for path in (
        "/api/v1/transactions/runs",
        "/api/v1/transactions/runs/1",
        "/api/v1/transactions/rejects",
    ):
        assert (await client.get(path)).status_code == 401


async def test_the_quarantine_answers_each_line_bounded_to_4_kib(client, admin, session):
    """A line quarantined whole before issue 18 (1 MB) is answered with its first 4 KiB."""
    run = await make_run(session)
    session.add(
        ImportReject(
            dataset="transactions",
            file_name=run.file_name,
            line_number=2,
            raw_line="x" * (1 << 20),
            reason="date_invalid",
        )
    )
    await session.flush()
    response = await client.get(f"/api/v1/transactions/rejects?run_id={run.id}", headers=admin)
    assert response.status_code == 200, response.text
    (line,) = response.json()["data"]
    assert line["raw_line"] == "x" * 4096  # before: the whole megabyte
    assert len(response.content) < 6000
