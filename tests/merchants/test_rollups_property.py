"""Property: whatever the rows and however they are split into files and runs, every endpoint
(answered from rollups) equals the same question answered by a full scan of the activities."""

from __future__ import annotations

import csv
import itertools
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.ingest.pipeline import import_files
from backoffice.merchants.dataset import EVENT_TYPES, MERCHANT_ACTIVITIES
from backoffice.merchants.reference import full_scan_answers
from tests.merchants.conftest import endpoint_answers, reset

IDS = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(40)]  # few ids: many duplicates
PAIRS = [(p, t) for p, types in EVENT_TYPES.items() for t in types]

row = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from([*IDS, "not-a-uuid", IDS[0].upper()]),
        "merchant_id": st.sampled_from(
            ["MRC-000001", "MRC-000002", "MRC-000003", "MRC-000004", "", "MRC-1"]
        ),
        "event_timestamp": st.sampled_from(
            [
                "2024-01-05T10:00:00",
                "2024-01-31T23:59:59",
                "2024-02-01T00:00:00",
                "2024-03-10T12:30:00.250",
                "",
                "NOT-A-DATE",
                "2024-02-30T10:00:00",
            ]
        ),
        "pair": st.sampled_from([*PAIRS, ("POS", "TIER_UPGRADE"), ("LOANS", "DEPOSIT"), ("", "")]),
        "amount": st.one_of(
            st.decimals(0, 100_000, places=3).map(str), st.sampled_from(["INVALID", "", "-5.00"])
        ),
        "status": st.sampled_from(["SUCCESS", "SUCCESS", "FAILED", "PENDING", "REVERSED", ""]),
        "channel": st.sampled_from(["POS", "APP", "USSD", "WEB", "OFFLINE", "FAX", ""]),
        "region": st.sampled_from(["LAGOS", "", "KANO, NORTH", 'A "B"']),
        "merchant_tier": st.sampled_from(["STARTER", "VERIFIED", "PREMIUM", "GOLD", ""]),
        "shape": st.sampled_from(["ok"] * 12 + ["short", "long"]),
    }
)


def _fields(r: dict[str, Any]) -> list[str]:
    product, event_type = r["pair"]
    fields = [r["event_id"], r["merchant_id"], r["event_timestamp"], product, event_type,
              r["amount"], r["status"], r["channel"], r["region"], r["merchant_tier"]]  # fmt: skip
    return {"ok": fields, "short": fields[:-1], "long": [*fields, "X"]}[r["shape"]]


# A random seed each run, even under CI (whose Hypothesis profile derandomizes): with the CI
# profile's fixed seed, a clean-clone `.ci/run` hung for 15 minutes in Hypothesis's mutation
# pass (`generate_mutations_from` duplicating choices the tree already knew, 18 calls in), a
# loop that no call count bounds; random seeds never met it in any other run of the suite.
@settings(
    max_examples=25,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(row, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    runs=st.lists(st.booleans(), min_size=5, max_size=5),
    chunk=st.sampled_from([200, 1000, 1 << 20]),  # blocks of a line or two, a few, a whole file
)
def test_every_endpoint_equals_its_full_scan(
    merchants_url, settings, database_url, rows, cuts, runs, chunk
):
    reset(merchants_url)
    bounds = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for day, (start, end) in enumerate(itertools.pairwise(bounds), 1):
            path = Path(tmp) / f"activities_202401{day:02d}.csv"
            with path.open("w", newline="") as out:
                writer = csv.writer(out, lineterminator="\r\n")
                writer.writerow(MERCHANT_ACTIVITIES.column_names)
                writer.writerows(_fields(r) for r in rows[start:end])
            files.append(path)
        # import the files in random groups of runs, in date order
        group: list[Path] = []
        results = []
        for path, run_now in zip(files, runs, strict=False):
            group.append(path)
            if run_now:
                results += import_files(
                    merchants_url, MERCHANT_ACTIVITIES, group, chunk_bytes=chunk
                )
                group = []
        results += import_files(merchants_url, MERCHANT_ACTIVITIES, files, chunk_bytes=chunk)

    assert all(r.status in ("succeeded", "skipped") for r in results)
    read = sum(r.counts.rows_read for r in results)
    assert read == len(rows)
    assert read == sum(r.counts.inserted + r.counts.duplicates + r.counts.rejected for r in results)
    with psycopg.connect(merchants_url) as conn:
        expected = full_scan_answers(conn)
        stored = conn.execute("SELECT count(*) FROM merchant_activities").fetchone()
    assert stored == (sum(r.counts.inserted for r in results),)
    assert endpoint_answers(settings, database_url) == expected
