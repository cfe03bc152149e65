"""`backoffice merchants import` and `backoffice merchants rejects`, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.merchants.conftest import FIXTURES


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "backoffice", "merchants", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_prints_a_summary_and_rejects_lists_the_quarantine(merchants_url):
    imported = _run(merchants_url, "import", str(FIXTURES))
    assert imported.returncode == 0, imported.stderr
    assert "activities_20240101.csv" in imported.stdout
    total = next(line for line in imported.stdout.splitlines() if "total" in line)
    assert [int(n) for n in total.replace("│", " ").split()[1:6]] == [32, 19, 3, 10, 8]

    rejects = _run(merchants_url, "rejects", "--file", "activities_20240101.csv", "--limit", "3")
    assert rejects.returncode == 0, rejects.stderr
    assert "merchant_id is blank" in rejects.stdout
    assert "event_id is not a UUID" in rejects.stdout
    assert "status is unknown" not in rejects.stdout  # --limit 3: lines 11, 12, 13 only


def test_a_missing_path_is_a_clear_error(merchants_url, tmp_path):
    result = _run(merchants_url, "import", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert "no such file or directory" in result.stdout
