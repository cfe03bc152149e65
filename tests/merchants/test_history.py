"""The run audit's reads the console needs: a file's latest run."""

from __future__ import annotations

import shutil

from backoffice.ingest import history
from backoffice.ingest.pipeline import import_files
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.merchants.conftest import FIXTURES


async def test_the_last_run_of_a_file(merchants_url, session, tmp_path):
    bad = tmp_path / "activities_20240103.csv"
    bad.write_text("not,a,header\n")
    import_files(merchants_url, MERCHANT_ACTIVITIES, [bad])  # a failed run
    shutil.copy(FIXTURES / "activities_20240101.csv", bad)
    import_files(merchants_url, MERCHANT_ACTIVITIES, [bad])  # then a good one
    name = MERCHANT_ACTIVITIES.name
    run = await history.last_run_of_file(session, name, "activities_20240103.csv")
    assert run is not None and run.status == "succeeded" and run.inserted > 0
    assert await history.last_run_of_file(session, name, "activities_20240104.csv") is None
    assert await history.last_run_of_file(session, "transactions", run.file_name) is None
