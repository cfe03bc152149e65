"""The background importer: one run at a time, once more when asked while it runs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from backoffice.merchants import tasks
from backoffice.merchants.tasks import Importer, ImportState


def test_asked_while_running_it_runs_once_more_after(monkeypatch, tmp_path):
    started, release = threading.Event(), threading.Event()
    runs: list[Path] = []

    def fake_run(url: str, data_dir: Path, state: ImportState, stop: threading.Event) -> None:
        state.state = "running"
        runs.append(data_dir)
        started.set()
        release.wait(10)
        state.run_ended()

    monkeypatch.setattr(tasks, "run_import", fake_run)
    importer = Importer(ImportState())
    importer.request("postgresql://x", tmp_path / "a")
    assert importer.busy() and importer.state.state == "running"
    assert started.wait(10)
    importer.request("postgresql://x", tmp_path / "b")  # while the first runs
    importer.request("postgresql://x", tmp_path / "b")  # asked twice: still once more
    release.set()
    assert importer.wait(10)
    assert runs == [tmp_path / "a", tmp_path / "b"]
    assert not importer.busy() and importer.state.state == "idle"


def test_after_stop_nothing_more_runs(monkeypatch, tmp_path):
    runs: list[Path] = []
    monkeypatch.setattr(tasks, "run_import", lambda url, d, state, stop: runs.append(d))
    importer = Importer(ImportState())
    importer.stop.set()
    importer.request("postgresql://x", tmp_path)
    assert importer.wait(10)
    assert runs == [] and importer.state.state == "idle"


@pytest.mark.parametrize("failure", [RuntimeError("boom")])
def test_a_failed_run_leaves_the_importer_ready(monkeypatch, tmp_path, failure):
    calls = []

    def failing(url: str, data_dir: Path, state: ImportState, stop: threading.Event) -> None:
        calls.append(data_dir)
        if len(calls) == 1:
            state.last_error = str(failure)
        state.run_ended()

    monkeypatch.setattr(tasks, "run_import", failing)
    importer = Importer(ImportState())
    importer.request("postgresql://x", tmp_path)
    assert importer.wait(10)
    importer.request("postgresql://x", tmp_path)
    assert importer.wait(10)
    assert len(calls) == 2 and importer.state.last_error == "boom"
