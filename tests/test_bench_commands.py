"""The benchmarks as docs/benchmarks.md writes them: each command starts on a fresh clone, and a
bench stops the embedded servers it starts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"


def documented_scripts() -> list[str]:
    """Every `bench/*.py` and `loadtest/*.py` a command of the document runs."""
    text = DOCS.read_text()
    return sorted(set(re.findall(r"python ((?:bench|loadtest)/[a-z_]+\.py)", text)))


def test_the_documented_commands_use_the_clones_virtualenv():
    text = DOCS.read_text()
    for match in re.finditer(r"(\S*)python ((?:bench|loadtest)/\S+\.py)", text):
        assert match[1].endswith(".venv/bin/"), f"a fresh clone has no bare `python`: {match[0]}"
    assert documented_scripts(), "no command found"


@pytest.mark.parametrize("script", documented_scripts())
def test_each_documented_script_starts(script):
    assert (ROOT / script).is_file(), f"{script} is documented but missing"
    result = subprocess.run(
        [sys.executable, script, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


# What a bench does to its home: resolve the database (which starts the embedded PostgreSQL and
# leaves it running, as for `make run`), then fail.
BENCH = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, "bench")
    from embedded_home import stop_at_exit
    from backoffice.core.config import Settings
    from backoffice.core.embedded import resolve_database_url

    home = Path(sys.argv[1])
    stop_at_exit(home)
    resolve_database_url(Settings(BACKOFFICE_HOME=home, DATABASE_URL=None))
    assert (home / "pgdata" / "postmaster.pid").exists()
    raise RuntimeError("the bench failed half-way")
    """
)


def test_a_bench_that_fails_still_stops_the_postgresql_it_started(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", BENCH, str(tmp_path / "home")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert "the bench failed half-way" in result.stderr
    assert "stopped the embedded PostgreSQL" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "home" / "pgdata" / "postmaster.pid").exists()
