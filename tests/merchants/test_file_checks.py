"""Issue 18, loaders: no file can block the import, whatever its name, size, kind or lines."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from backoffice.ingest.pipeline import import_files
from backoffice.ingest.results import FileResult
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.merchants.conftest import FIXTURES

DAY1 = FIXTURES / "activities_20240101.csv"
DAY2 = FIXTURES / "activities_20240102.csv"
HEADER = DAY2.read_bytes().split(b"\n")[0].rstrip(b"\r")


def _import(url: str, *paths: Path, **options: int) -> list[FileResult]:
    return import_files(url, MERCHANT_ACTIVITIES, list(paths), **options)  # type: ignore[arg-type]


def _runs(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT file_name, status FROM import_runs WHERE dataset = %s ORDER BY id",
            (MERCHANT_ACTIVITIES.name,),
        ).fetchall()


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM merchant_activities").fetchone()
    assert row is not None
    return int(row[0])


def test_a_name_without_the_date_is_refused_and_blocks_no_later_file(merchants_url, tmp_path):
    bad = tmp_path / "activities_bad_name.csv"
    shutil.copy(DAY1, bad)
    (refused,) = _import(merchants_url, bad)
    assert refused.status == "failed"
    assert "activities_YYYYMMDD.csv" in (refused.error or "")
    assert _count(merchants_url) == 0
    assert _runs(merchants_url) == [("activities_bad_name.csv", "failed")]
    # the correctly named files load after it (before: refused as "older" than it)
    results = _import(merchants_url, DAY1, DAY2)
    assert [r.status for r in results] == ["succeeded", "succeeded"]


def test_a_date_that_is_no_day_is_refused(merchants_url, tmp_path):
    bad = tmp_path / "activities_20241340.csv"
    shutil.copy(DAY2, bad)
    (refused,) = _import(merchants_url, bad)
    assert refused.status == "failed" and "activities_YYYYMMDD.csv" in (refused.error or "")


def test_an_empty_file_is_refused_and_a_header_only_file_loads_nothing(merchants_url, tmp_path):
    (tmp_path / "activities_20240101.csv").write_bytes(b"")
    (refused,) = _import(merchants_url, tmp_path / "activities_20240101.csv")
    assert refused.status == "failed"
    assert "empty (0 bytes)" in (refused.error or "")
    assert _runs(merchants_url) == [("activities_20240101.csv", "failed")]
    (tmp_path / "activities_20240102.csv").write_bytes(HEADER + b"\n")
    (header_only,) = _import(merchants_url, tmp_path / "activities_20240102.csv")
    assert (header_only.status, header_only.counts.rows_read) == ("succeeded", 0)


def test_a_fifo_is_refused_at_once_without_being_opened(merchants_url, tmp_path):
    fifo = tmp_path / "activities_20240101.csv"
    os.mkfifo(fifo)
    results: list[FileResult] = []
    worker = threading.Thread(target=lambda: results.extend(_import(merchants_url, fifo)))
    worker.start()
    worker.join(60)
    if worker.is_alive():  # today: the reader blocks in open() until a writer comes
        with fifo.open("wb"):
            pass
        worker.join(60)
        pytest.fail("the import waited on the FIFO")
    (refused,) = results
    assert refused.status == "failed" and "not a regular file" in (refused.error or "")


def test_a_directory_named_like_a_file_says_so(merchants_url, tmp_path):
    (tmp_path / "activities_20240101.csv").mkdir()
    results = _import(merchants_url, tmp_path)
    assert [r.status for r in results] == ["failed"]
    assert "activities_20240101.csv is a directory" in (results[0].error or "")


def test_a_header_longer_than_the_bound_refuses_the_file_in_one_line(merchants_url, tmp_path):
    path = tmp_path / "activities_20240101.csv"
    path.write_bytes(HEADER + b"," + b"x" * 3 * (1 << 20) + b"\n")
    (refused,) = _import(merchants_url, path)
    assert refused.status == "failed"
    assert "header is longer than 1048576 bytes" in (refused.error or "")
    assert "\n" not in (refused.error or "")
    assert _runs(merchants_url) == [("activities_20240101.csv", "failed")]


def test_a_long_line_is_quarantined_with_its_first_4_kib_and_its_length(merchants_url, tmp_path):
    lines = DAY2.read_bytes().replace(b"\r\n", b"\n").splitlines()
    long = lines[1][:-1] + b"y" * (3 << 20)  # line 2: 3 MiB in its last column
    path = tmp_path / "activities_20240102.csv"
    path.write_bytes(b"\n".join([lines[0], long, *lines[2:]]) + b"\n")
    (result,) = _import(merchants_url, path, chunk_bytes=64 << 10)
    assert result.status == "succeeded"
    assert result.counts.rejected == 1 and result.counts.rows_read == 6  # as without it
    with psycopg.connect(merchants_url) as conn:
        ((line, raw, reason),) = conn.execute(
            "SELECT line_number, raw_line, reason FROM import_rejects"
        ).fetchall()
    assert line == 2 and raw.encode() == long[:4096]
    assert f"{len(long)} bytes" in reason and "longer than 1048576 bytes" in reason
    # a smaller bound (the setting) applies as well; any quarantined line keeps 4 KiB at most
    medium = lines[1][:-1] + b"z" * 10_000
    other = tmp_path / "activities_20240103.csv"
    other.write_bytes(b"\n".join([lines[0], medium]) + b"\n")
    (result,) = _import(merchants_url, other, max_line=5_000)
    assert result.counts.rejected == 1
    with psycopg.connect(merchants_url) as conn:
        (raw,) = conn.execute(
            "SELECT raw_line FROM import_rejects WHERE file_name = %s", (other.name,)
        ).fetchone() or ("",)
    assert raw.encode() == medium[:4096]
