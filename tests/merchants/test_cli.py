"""`backoffice merchants import` and `backoffice merchants rejects`, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.merchants.conftest import FIXTURES


def _run(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "backoffice", "merchants", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
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
    assert "no such file or directory" in result.stderr


def test_a_refused_file_is_an_error_on_stderr_and_exit_1(merchants_url, tmp_path):
    bad = tmp_path / "activities_bad_name.csv"
    bad.write_bytes((FIXTURES / "activities_20240102.csv").read_bytes())
    result = _run(merchants_url, "import", str(bad))
    assert result.returncode == 1
    assert "activities_bad_name.csv: ImportRefused:" in result.stderr  # before: stdout, exit 0
    assert "activities_YYYYMMDD.csv" in result.stderr


def test_the_progress_bar_shows_each_files_status():
    """Rich markup must not swallow `[succeeded]`: it is text, not a style."""
    import io

    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from backoffice.ingest.console import ProgressObserver
    from backoffice.ingest.results import Counts, FileResult

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    progress = Progress(TextColumn("{task.description}"), console=console, auto_refresh=False)
    observer = ProgressObserver(progress)
    with progress:
        for name, status in (("a.csv", "succeeded"), ("b.csv", "failed"), ("c.csv", "skipped")):
            observer.file_started(name, 10)
            observer.file_finished(FileResult(name, status, Counts(3, 2, 1, 0, 0)))  # type: ignore[arg-type]
        progress.refresh()
    text = out.getvalue()
    assert "a.csv [succeeded]" in text
    assert "b.csv [failed]" in text
    assert "c.csv [skipped]" in text


def test_output_that_is_not_a_terminal_gets_one_plain_line_per_file(merchants_url):
    imported = _run(merchants_url, "import", str(FIXTURES))
    assert imported.returncode == 0, imported.stderr
    lines = imported.stdout.splitlines()
    assert (
        "activities_20240101.csv: succeeded, read 26, inserted 15, duplicates 1, rejected 10, flagged 8"
        in lines
    )
    assert (
        "activities_20240102.csv: succeeded, read 6, inserted 4, duplicates 2, rejected 0, flagged 0"
        in lines
    )
    bars = [line for line in lines if line.startswith("activities_") and "━" in line]
    assert not bars, "no progress bars in a pipe"
    assert "\x1b[" not in imported.stdout, "no terminal control sequences in a pipe"


def test_an_import_into_a_database_that_is_not_migrated_exits_at_once_with_one_line(
    empty_database_url,
):
    result = _run(empty_database_url, "import", str(FIXTURES), timeout=30)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "not migrated" in line
    assert "backoffice db upgrade" in line


def test_an_import_into_an_unreachable_database_exits_at_once_with_one_line():
    from backoffice.core.embedded import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/backoffice"
    result = _run(url, "import", str(FIXTURES), timeout=30)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "cannot connect to the database" in line
