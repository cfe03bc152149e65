"""Files share a transaction in groups, each file in a savepoint: a failing file is rolled back
alone, the files before it commit with their rollups, and the run goes on after it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import psycopg

from backoffice.ingest import pipeline, rollups
from backoffice.ingest.pipeline import FileGroup, ImportCancelled, import_files
from backoffice.ingest.results import Counts, FileResult
from backoffice.ingest.rollups import Rollups
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.reference import full_scan_answers
from backoffice.merchants.synth import ActivityGenerator
from backoffice.merchants.tasks import ImportState
from tests.merchants.conftest import FIXTURES, endpoint_answers, reset, snapshot

DAY1 = FIXTURES / "activities_20240101.csv"
DAY2 = FIXTURES / "activities_20240102.csv"


def _five_files(directory: Path) -> list[Path]:
    """Two fixture days, a 400-row third day (several blocks) and two more days."""
    shutil.copy(DAY1, directory)
    shutil.copy(DAY2, directory)
    generator = ActivityGenerator(seed=3)
    for index, day in enumerate((3, 4, 5), 2):
        generator.write_day(directory, date(2024, 1, day), 400, index=index)
    return sorted(directory.iterdir())


class CommittedObserver:
    """Checks, when a file is reported finished, that its run row is visible to others."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.finished: list[tuple[str, str, str | None]] = []

    def file_started(self, name: str, size: int) -> None:
        return None

    def progressed(self, name: str, bytes_done: int, counts: Counts) -> None:
        return None

    def file_finished(self, result: FileResult) -> None:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT status FROM import_runs WHERE file_name = %s ORDER BY id DESC LIMIT 1",
                (result.name,),
            ).fetchone()
        self.finished.append((result.name, result.status, row[0] if row else None))


def _fail_after_loading(monkeypatch, name: str) -> None:
    """The named file fails once all of it is in the database (rows, rollups, its run row)."""
    import_file = pipeline._import_file

    def failing(group: FileGroup, path: Path, size: int, started) -> FileResult:
        result = import_file(group, path, size, started)
        if path.name == name:
            raise OSError("the disk went away")
        return result

    monkeypatch.setattr(pipeline, "_import_file", failing)


def test_a_failing_third_file_keeps_the_others_and_the_run_goes_on(
    merchants_url, settings, database_url, tmp_path, monkeypatch
):
    files = _five_files(tmp_path)
    # The first three files in one group (the first two stay under 5,000 bytes of rows); the
    # third is rolled up every 5,000 bytes of its own rows (several times, the first two files'
    # rows with its first part) before it fails: the savepoint must take all that back.
    monkeypatch.setattr(rollups, "ROLLUP_BYTES", 5_000)
    assert sum(f.stat().st_size for f in files[:2]) < 5_000 < files[2].stat().st_size
    _fail_after_loading(monkeypatch, files[2].name)
    observer = CommittedObserver(merchants_url)

    results = import_files(
        merchants_url, MERCHANT_ACTIVITIES, [tmp_path], observer=observer, chunk_bytes=1024
    )

    assert [(r.name, r.status) for r in results] == [
        (files[0].name, "succeeded"),
        (files[1].name, "succeeded"),
        (files[2].name, "failed"),
        (files[3].name, "succeeded"),  # before: the run stopped at the failed file
        (files[4].name, "succeeded"),
    ]
    assert "the disk went away" in (results[2].error or "")
    # reported finished only once committed (the failed file with its failed run row)
    assert observer.finished[:3] == [
        (files[0].name, "succeeded", "succeeded"),
        (files[1].name, "succeeded", "succeeded"),
        (files[2].name, "failed", "failed"),
    ]
    grouped = snapshot(merchants_url)
    with psycopg.connect(merchants_url) as conn:
        assert endpoint_answers(settings, database_url) == full_scan_answers(conn)

    # the same database as importing the other four files alone, plus the failed run
    reset(merchants_url)
    import_files(merchants_url, MERCHANT_ACTIVITIES, [*files[:2], *files[3:]])
    alone = snapshot(merchants_url)
    failed = [r for r in grouped["import_runs"] if r[9] == "failed"]
    assert [r[1] for r in failed] == [files[2].name]
    grouped["import_runs"] = [r for r in grouped["import_runs"] if r[9] != "failed"]
    assert grouped == alone
    assert len(alone["merchant_activities"]) > 19  # the first two files' rows, and more


def test_a_cancelled_run_rolls_back_its_open_group(merchants_url, tmp_path):
    files = _five_files(tmp_path)  # one group: all five files are small

    class StopAtThird(CommittedObserver):
        def file_started(self, name: str, size: int) -> None:
            self.stop = name == files[2].name

    observer = StopAtThird(merchants_url)
    observer.stop = False
    try:
        import_files(
            merchants_url,
            MERCHANT_ACTIVITIES,
            [tmp_path],
            observer=observer,
            should_stop=lambda: observer.stop,
        )
    except ImportCancelled:
        pass
    else:
        raise AssertionError("the run was not cancelled")
    assert observer.finished == []  # nothing committed, nothing reported finished
    after = snapshot(merchants_url)
    assert all(rows == [] for rows in after.values())


def test_health_counts_files_once_their_group_commits():
    state = ImportState()
    state.file_started("a.csv", 10)
    state.progressed("a.csv", 10, Counts(rows_read=5, inserted=5))
    state.file_started("b.csv", 10)
    state.progressed("b.csv", 4, Counts(rows_read=2, inserted=1, duplicates=1))
    report = state.report()
    assert (report["files_done"], report["rows_read"], report["current_file"]) == (0, 7, "b.csv")

    state.file_finished(FileResult("a.csv", "succeeded", Counts(rows_read=5, inserted=5)))
    state.file_finished(FileResult("b.csv", "succeeded", Counts(rows_read=3, inserted=2)))
    report = state.report()
    assert (report["files_done"], report["rows_read"], report["current_file"]) == (2, 8, None)

    state.file_started("c.csv", 10)  # then cancelled: its group never commits
    state.progressed("c.csv", 4, Counts(rows_read=4))
    state.run_ended()
    report = state.report()
    assert (report["files_done"], report["rows_read"], report["state"]) == (2, 8, "idle")


def test_a_group_whose_rollups_fail_keeps_nothing_and_reports_every_file_failed(
    merchants_url, tmp_path, monkeypatch
):
    files = _five_files(tmp_path)
    flush = Rollups.flush

    def failing(self: Rollups) -> None:
        flush(self)
        raise psycopg.errors.DiskFull("no space left for the rollups")

    monkeypatch.setattr(Rollups, "flush", failing)
    results = import_files(merchants_url, MERCHANT_ACTIVITIES, [tmp_path])

    assert [r.status for r in results] == ["failed"] * 5
    assert all("the group's commit failed: DiskFull" in (r.error or "") for r in results)
    after = snapshot(merchants_url)
    assert [(r[1], r[9]) for r in after.pop("import_runs")] == [(f.name, "failed") for f in files]
    assert all(rows == [] for rows in after.values())


def test_a_file_the_reader_left_unread_is_read_when_the_checks_want_it(
    merchants_url, tmp_path, monkeypatch
):
    # The reader thread leaves alone the files imported before the group started; if such a
    # run row is gone by the time the file's turn comes, the file is read then, in line.
    first = import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES])
    assert [r.status for r in first] == ["succeeded"] * 2
    expected = snapshot(merchants_url)
    reset(merchants_url)
    monkeypatch.setattr(FileGroup, "_imported_names", lambda self: {DAY2.name})
    results = import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES])
    assert [r.status for r in results] == ["succeeded"] * 2
    assert snapshot(merchants_url) == expected
