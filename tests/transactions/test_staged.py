"""A staged run (extract, transform, load in three steps, files between) = the chained path."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.ingest.audit import RunOrigin
from backoffice.ingest.pipeline import import_files
from backoffice.ingest.staging import (
    Manifest,
    StagingError,
    extract_run,
    load_run,
    transform_run,
)
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.transactions.dataset import TRANSACTIONS
from tests.transactions.conftest import reset_etl
from tests.transactions.test_dataset import (
    EXAMPLES,
    ORDERS,
    ROWS,
    _assert_summary_is_recomputed,
    _rejects,
    _stored,
    _write,
)

ORIGIN = RunOrigin("airflow", "manual__test", None)


def _staged(url: str, paths: list[Path], directory: Path, chunk_bytes: int = 1 << 20):
    with psycopg.connect(url, autocommit=True) as conn:
        extract_run(conn, TRANSACTIONS, paths, directory, ORIGIN, chunk_bytes)
    transform_run(TRANSACTIONS, directory)
    return load_run(url, TRANSACTIONS, directory, ORIGIN)[1]


@EXAMPLES
@given(files=ROWS, order=ORDERS, crlf=st.booleans(), chunk=st.sampled_from([40, 200, 1 << 20]))
def test_a_staged_run_loads_and_quarantines_what_the_chained_path_does(
    etl_database, tmp_path_factory, files, order, crlf, chunk
):
    tmp = tmp_path_factory.mktemp("staged")
    paths = _write(tmp, files, order, crlf=crlf)
    reset_etl(etl_database)
    chained = import_files(etl_database, TRANSACTIONS, paths, chunk_bytes=chunk)
    expected = (_stored(etl_database), _rejects(etl_database))
    reset_etl(etl_database)

    staged = _staged(etl_database, paths, tmp / "run", chunk)

    assert (_stored(etl_database), _rejects(etl_database)) == expected
    assert [(r.name, r.status, r.counts) for r in staged] == [
        (r.name, r.status, r.counts) for r in chained
    ]
    _assert_summary_is_recomputed(etl_database)


def test_a_file_seen_before_is_not_staged_and_its_skip_is_recorded(etl_url, tmp_path):
    [path] = _write(tmp_path, [[["T1", "1", "2.00", "2024-01-01"]]], [0, 1, 2, 3])
    _staged(etl_url, [path], tmp_path / "first")

    with psycopg.connect(etl_url, autocommit=True) as conn:
        manifest = extract_run(conn, TRANSACTIONS, [path], tmp_path / "second", ORIGIN)
        runs = conn.execute("SELECT status, started_by, dag_run_id FROM import_runs ORDER BY id")

        assert (manifest.files, manifest.skipped) == ([], [path.name])
        assert runs.fetchall() == [
            ("succeeded", "airflow", "manual__test"),
            ("skipped", "airflow", "manual__test"),
        ]


def test_a_file_with_a_bad_header_is_staged_and_fails_at_the_load(etl_url, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("transaction_id,user\nT1,1\n")

    [result] = _staged(etl_url, [path], tmp_path / "run")

    assert result.status == "failed"
    assert result.error == (
        "FileFormatError: the header does not match:"
        " missing ['amount', 'transaction_date', 'user_id'], unknown ['user']"
    )


def test_each_step_needs_the_one_before(etl_url, tmp_path):
    with pytest.raises(StagingError, match="run extract first"):
        transform_run(TRANSACTIONS, tmp_path / "nothing")
    [path] = _write(tmp_path, [[["T1", "1", "2.00", "2024-01-01"]]], [0, 1, 2, 3])
    with psycopg.connect(etl_url, autocommit=True) as conn:
        extract_run(conn, TRANSACTIONS, [path], tmp_path / "run", ORIGIN)
    with pytest.raises(StagingError, match="was not transformed: run transform first"):
        load_run(etl_url, TRANSACTIONS, tmp_path / "run", ORIGIN)


def test_a_transform_run_again_goes_on_where_it_stopped(etl_url, tmp_path):
    paths = _write(
        tmp_path, [[["T1", "1", "2.00", "2024-01-01"]], [["T2", "2", "3", "x"]]], [0, 1, 2, 3]
    )
    with psycopg.connect(etl_url, autocommit=True) as conn:
        extract_run(conn, TRANSACTIONS, paths, tmp_path / "run", ORIGIN)
    first = Manifest.load(tmp_path / "run")
    first.files[0].transformed = True  # as if killed after the first file
    first.save(tmp_path / "run")

    manifest = transform_run(TRANSACTIONS, tmp_path / "run")

    assert [f.transformed for f in manifest.files] == [True, True]
    assert Manifest.load(tmp_path / "run") == manifest


def test_the_merchants_dataset_cannot_be_staged(etl_url, tmp_path):
    with (
        psycopg.connect(etl_url, autocommit=True) as conn,
        pytest.raises(ValueError, match="a staged run needs `conflicts`"),
    ):
        extract_run(conn, MERCHANT_ACTIVITIES, [], tmp_path, ORIGIN)
