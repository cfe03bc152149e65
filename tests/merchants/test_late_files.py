"""Issue 18, loaders: a late merchant file is loaded, and the database is what date order gives:
the kept version of each event id, every rollup (so every endpoint) and the quarantine."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.ingest.pipeline import import_files
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.reference import full_scan_answers
from tests.merchants.conftest import endpoint_answers, reset, snapshot
from tests.merchants.test_rollups_property import _fields, row


def _write(folder: Path, files: list[list[dict[str, Any]]]) -> list[Path]:
    paths = []
    for day, rows in enumerate(files, start=1):
        path = folder / f"activities_202401{day:02d}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(MERCHANT_ACTIVITIES.column_names)
            writer.writerows(_fields(r) for r in rows)
        paths.append(path)
    return paths


def _database(url: str) -> dict[str, Any]:
    """Every row the import writes but the runs (they say when, not what), and the answers."""
    out = snapshot(url)
    out.pop("import_runs")
    with psycopg.connect(url) as conn:
        out["answers"] = full_scan_answers(conn)
    return out


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.lists(st.lists(row, max_size=15), min_size=2, max_size=4),
    seed=st.integers(0, 1000),
    chunk=st.sampled_from([300, 1 << 20]),
)
def test_files_in_any_order_give_the_database_and_answers_of_date_order(
    merchants_url, settings, database_url, tmp_path_factory, files, seed, chunk
):
    paths = _write(tmp_path_factory.mktemp("late"), files)
    reset(merchants_url)
    results = import_files(merchants_url, MERCHANT_ACTIVITIES, paths, chunk_bytes=chunk)
    assert [r.status for r in results] == ["succeeded"] * len(paths), [r.error for r in results]
    in_date_order = _database(merchants_url)

    reset(merchants_url)
    for path in random.Random(seed).sample(paths, len(paths)):  # a run per file, any order
        (result,) = import_files(merchants_url, MERCHANT_ACTIVITIES, [path], chunk_bytes=chunk)
        assert result.status == "succeeded", result.error  # before: refused as "older"

    assert _database(merchants_url) == in_date_order
    # the endpoints (the rollups) equal their full scans
    assert endpoint_answers(settings, database_url) == in_date_order["answers"]


def test_a_late_file_takes_back_its_events_and_every_rollup_follows(
    merchants_url, settings, database_url, tmp_path
):
    header = ",".join(MERCHANT_ACTIVITIES.column_names)
    event = "11111111-1111-4111-8111-000000000001"
    day1 = tmp_path / "activities_20240101.csv"
    day2 = tmp_path / "activities_20240102.csv"
    day1.write_text(f"{header}\n{event},MRC-000001,2024-01-05T10:00:00,KYC,TIER_UPGRADE,10.00,SUCCESS,APP,LAGOS,STARTER\n")  # fmt: skip
    day2.write_text(f"{header}\n{event},MRC-000002,2024-02-05T10:00:00,POS,TRANSFER,99.00,SUCCESS,APP,LAGOS,STARTER\n")  # fmt: skip
    import_files(merchants_url, MERCHANT_ACTIVITIES, [day2])
    (late,) = import_files(merchants_url, MERCHANT_ACTIVITIES, [day1])
    assert late.status == "succeeded", late.error
    with psycopg.connect(merchants_url) as conn:
        kept = conn.execute("SELECT merchant_id FROM merchant_activities").fetchall()
        answers = full_scan_answers(conn)
    assert kept == [("MRC-000001",)]
    assert endpoint_answers(settings, database_url) == answers
