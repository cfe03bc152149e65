"""SIGKILL the importer in the middle of a group of files, run it again: same database as one
clean run (which groups the files differently)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date

import psycopg

from backoffice.ingest.pipeline import import_files
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.synth import ActivityGenerator
from tests.merchants.conftest import reset, snapshot

# Groups close at 1 MB of rows in the child: two 5,000-row files (~0.6 MB each) make one group,
# and the 60,000-row file is a group of its own, rolled up every 1 MB.
SMALL_GROUPS = "1000000"


def _importer(url: str, directory) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "BACKOFFICE_INGEST_ROLLUP_BYTES": SMALL_GROUPS}
    return subprocess.Popen(
        [sys.executable, "-m", "backoffice", "merchants", "import", str(directory)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _succeeded(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM import_runs WHERE dataset = %s AND status = 'succeeded'",
            (MERCHANT_ACTIVITIES.name,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_killed_import_rerun_ends_identical_to_an_uninterrupted_one(merchants_url, tmp_path):
    generator = ActivityGenerator(seed=7)
    generator.write_day(tmp_path, date(2024, 3, 1), 5_000)
    generator.write_day(tmp_path, date(2024, 3, 2), 5_000, index=1)
    generator.write_day(tmp_path, date(2024, 3, 3), 60_000, index=2)

    child = _importer(merchants_url, tmp_path)
    deadline = time.monotonic() + 60
    while _succeeded(merchants_url) < 2:  # the first group (two files) is committed ...
        assert child.poll() is None, "the importer ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(random.uniform(0.05, 0.3))  # ... and the second group is under way
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert _succeeded(merchants_url) == 2, "the kill came too late to interrupt the second group"

    rerun = _importer(merchants_url, tmp_path)
    assert rerun.wait(timeout=120) == 0
    interrupted = snapshot(merchants_url)

    reset(merchants_url)
    results = import_files(merchants_url, MERCHANT_ACTIVITIES, [tmp_path])  # one group of three
    assert [r.status for r in results] == ["succeeded"] * 3
    assert snapshot(merchants_url) == interrupted
    assert len(interrupted["merchant_activities"]) > 69_000
