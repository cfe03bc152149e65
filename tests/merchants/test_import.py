"""Importing the fixture files: every rule of the issue, counted and stored exactly."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import psycopg

from backoffice.ingest import rollups
from backoffice.ingest.key_probe import KeyProbe
from backoffice.ingest.pipeline import import_files
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.reference import full_scan_answers
from tests.merchants.conftest import FIXTURES, endpoint_answers, reset, snapshot

DAY1 = FIXTURES / "activities_20240101.csv"
DAY2 = FIXTURES / "activities_20240102.csv"


def _import(url: str, *paths: Path):
    return import_files(url, MERCHANT_ACTIVITIES, list(paths))


def test_counts_of_every_kind_of_row(merchants_url):
    day1, day2 = _import(merchants_url, FIXTURES)
    assert (day1.name, day1.status) == ("activities_20240101.csv", "succeeded")
    c = day1.counts
    assert (c.rows_read, c.inserted, c.duplicates, c.rejected, c.flagged) == (26, 15, 1, 10, 8)
    c = day2.counts
    assert (c.rows_read, c.inserted, c.duplicates, c.rejected, c.flagged) == (6, 4, 2, 0, 0)
    with psycopg.connect(merchants_url) as conn:
        runs = conn.execute(
            "SELECT file_name, rows_read, inserted, duplicates, rejected, flagged, status, sha256"
            " FROM import_runs WHERE dataset = %s ORDER BY file_name",
            (MERCHANT_ACTIVITIES.name,),
        ).fetchall()
    assert [r[:7] for r in runs] == [
        ("activities_20240101.csv", 26, 15, 1, 10, 8, "succeeded"),
        ("activities_20240102.csv", 6, 4, 2, 0, 0, "succeeded"),
    ]
    assert all(len(r[7]) == 64 for r in runs)


def test_rejected_lines_are_quarantined_with_line_number_raw_line_and_reason(merchants_url):
    _import(merchants_url, DAY1)
    with psycopg.connect(merchants_url) as conn:
        rejects = conn.execute(
            "SELECT line_number, reason, raw_line FROM import_rejects ORDER BY line_number"
        ).fetchall()
    reasons = {line: reason for line, reason, _ in rejects}
    assert reasons == {
        11: "merchant_id is blank",
        12: "merchant_id is malformed",
        13: "event_id is not a UUID",
        14: "product is unknown; event_type is unknown for its product",
        15: "event_type is unknown for its product",
        16: "status is unknown",
        17: "status is missing",
        18: "wrong field count: 11 (expected 10)",
        19: "wrong field count: 9 (expected 10)",
        24: "product is missing; event_type is unknown for its product",
    }
    raw = {line: text for line, _, text in rejects}
    assert raw[13].startswith("not-a-uuid,MRC-000001,")
    assert raw[18].endswith(",VERIFIED,EXTRA")  # the line as it was, without its CRLF


def test_kept_rows_are_repaired_and_flagged(merchants_url):
    _import(merchants_url, DAY1)
    with psycopg.connect(merchants_url) as conn:
        rows = {
            str(r[0])[-2:]: r[1:]
            for r in conn.execute(
                "SELECT event_id, event_timestamp, amount, channel, merchant_tier, region,"
                " quality_flags FROM merchant_activities"
            )
        }
    assert rows["03"][0] is None and rows["03"][5] == ["event_timestamp_missing"]
    assert rows["04"][0] is None and rows["04"][5] == ["event_timestamp_invalid"]
    assert rows["05"][1] == Decimal("0.00") and rows["05"][5] == ["amount_not_a_number"]
    assert rows["06"][1] == Decimal("0.00") and rows["06"][5] == ["amount_missing"]
    assert rows["07"][1] == Decimal("0.00") and rows["07"][5] == ["amount_negative"]
    assert rows["08"][2] is None and rows["08"][5] == ["channel_unknown"]
    assert rows["09"][3] is None and rows["09"][5] == ["merchant_tier_unknown"]
    assert rows["22"][0] is None and rows["22"][5] == ["event_timestamp_invalid"]  # 30 February
    assert rows["21"][1] == Decimal("10.01") and rows["21"][5] is None  # half-up to cents
    assert rows["20"][4] == 'LAGOS, "ISLAND"' and rows["20"][5] is None  # RFC 4180 quoting
    assert rows["01"][0].isoformat() == "2024-01-01T10:00:00+00:00"  # read as UTC
    assert rows["01"][2:4] == ("POS", "VERIFIED") and rows["01"][5] is None


def test_first_occurrence_wins_within_and_across_files(merchants_url):
    _import(merchants_url, FIXTURES)
    with psycopg.connect(merchants_url) as conn:
        owners: dict[str, str] = dict(
            conn.execute(
                "SELECT right(event_id::text, 2), merchant_id FROM merchant_activities"
                " WHERE event_id::text IN ('11111111-1111-4111-8111-000000000001',"
                " '11111111-1111-4111-8111-000000000002', '22222222-2222-4222-8222-00000000000a')"
            ).fetchall()
        )
    # earliest line of the first file, earliest file, and upper/lower case are one UUID
    assert owners == {"01": "MRC-000001", "02": "MRC-000002", "0a": "MRC-000007"}


def test_blocks_of_any_size_import_the_same_database(merchants_url):
    """However the files are cut into blocks, a key repeated in a later block is a duplicate
    (and its parts are taken away again)."""
    _import(merchants_url, FIXTURES)
    whole = snapshot(merchants_url)
    for chunk in (300, 1_000, 1_300, 2_000):
        reset(merchants_url)
        results = import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES], chunk_bytes=chunk)
        assert [r.status for r in results] == ["succeeded", "succeeded"], chunk
        assert snapshot(merchants_url) == whole, chunk


def test_keys_are_deduplicated_alike_with_or_without_the_groups_filter(merchants_url, monkeypatch):
    """Keys of the group's earlier blocks are found through its Bloom filter, committed keys on
    the second connection; past the filter's capacity (0: from the start, 40: mid-group), every
    key is probed on the group's connection. Same database every way, duplicates across files
    of one group, across groups and across blocks included."""
    _import(merchants_url, FIXTURES)
    whole = snapshot(merchants_url)
    for capacity in (0, 40):
        monkeypatch.setattr(KeyProbe, "CAPACITY", capacity)
        reset(merchants_url)
        results = import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES], chunk_bytes=300)
        assert [r.status for r in results] == ["succeeded", "succeeded"], capacity
        assert snapshot(merchants_url) == whole, capacity
    reset(merchants_url)
    import_files(merchants_url, MERCHANT_ACTIVITIES, [DAY1], chunk_bytes=300)
    second = import_files(merchants_url, MERCHANT_ACTIVITIES, [DAY2], chunk_bytes=300)
    # one key of DAY1 (a committed row) and one repeated inside DAY2 (upper and lower case)
    assert second[0].counts.duplicates == 2
    assert snapshot(merchants_url) == whole


def test_a_quoted_field_may_span_lines(merchants_url):
    _import(merchants_url, FIXTURES)
    with psycopg.connect(merchants_url) as conn:
        region = conn.execute(
            "SELECT region FROM merchant_activities"
            " WHERE event_id = '22222222-2222-4222-8222-000000000003'"
        ).fetchone()
    assert region == ("PORT\nHARCOURT",)


def test_rollups_equal_full_scans_and_the_endpoints_serve_them(
    merchants_url, settings, database_url
):
    _import(merchants_url, FIXTURES)
    with psycopg.connect(merchants_url) as conn:
        expected = full_scan_answers(conn)
    assert endpoint_answers(settings, database_url) == expected
    assert expected["top-merchant"] == {"merchant_id": "MRC-000003", "total_volume": 1800.25}
    assert expected["monthly-active-merchants"] == {"2024-01": 6, "2024-03": 1}
    assert expected["kyc-funnel"] == {
        "documents_submitted": 1,
        "verifications_completed": 1,
        "tier_upgrades": 1,
    }


def test_a_big_file_rolled_up_in_parts_gives_the_same_rollups(
    merchants_url, settings, database_url, monkeypatch
):
    _import(merchants_url, FIXTURES)
    whole = snapshot(merchants_url)
    reset(merchants_url)
    monkeypatch.setattr(rollups, "ROLLUP_BYTES", 1)  # roll up after every block
    import_files(merchants_url, MERCHANT_ACTIVITIES, [FIXTURES], chunk_bytes=256)
    assert snapshot(merchants_url) == whole
    with psycopg.connect(merchants_url) as conn:
        assert endpoint_answers(settings, database_url) == full_scan_answers(conn)


def test_a_file_imported_twice_is_skipped_and_changes_nothing(merchants_url, tmp_path):
    _import(merchants_url, FIXTURES)
    before = snapshot(merchants_url)
    again = _import(merchants_url, FIXTURES)
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert snapshot(merchants_url) == before


def test_same_name_with_another_hash_is_an_error_and_writes_nothing(merchants_url, tmp_path):
    _import(merchants_url, DAY1)
    before = snapshot(merchants_url)
    changed = tmp_path / DAY1.name
    changed.write_bytes(DAY1.read_bytes().replace(b"1000.00", b"1000.01", 1))
    (result,) = _import(merchants_url, changed)
    assert result.status == "failed"
    assert "already imported with sha256" in (result.error or "")
    after = snapshot(merchants_url)
    failed = [r for r in after.pop("import_runs") if r[9] == "failed"]
    assert len(failed) == 1 and "Rename it" in failed[0][10]
    before.pop("import_runs")
    assert after == before


def test_an_older_file_after_a_newer_one_is_applied_as_in_date_order(merchants_url):
    _import(merchants_url, DAY1, DAY2)
    in_date_order = snapshot(merchants_url)
    reset(merchants_url)
    _import(merchants_url, DAY2)
    (result,) = _import(merchants_url, DAY1)  # before: refused as older
    assert result.status == "succeeded", result.error
    late = snapshot(merchants_url)
    for runs in (late, in_date_order):
        runs.pop("import_runs")  # what each run did differs: the day-2 run had no duplicates
    assert late == in_date_order


def test_a_bad_header_fails_the_file_and_the_later_file_still_loads(merchants_url, tmp_path):
    bad = tmp_path / "activities_20240101.csv"
    bad.write_text("event_id,merchant,when\n1,2,3\n")
    shutil.copy(DAY2, tmp_path / DAY2.name)
    results = _import(merchants_url, tmp_path)
    assert [r.status for r in results] == ["failed", "succeeded"]  # before: the run stopped
    assert "header does not match" in (results[0].error or "")
    with psycopg.connect(merchants_url) as conn:
        assert conn.execute("SELECT count(*) FROM merchant_activities").fetchone() == (5,)
    # fixed, it comes in late and is applied as in date order
    shutil.copy(DAY1, bad)
    (late,) = _import(merchants_url, bad)
    assert late.status == "succeeded"
    with psycopg.connect(merchants_url) as conn:
        assert conn.execute("SELECT count(*) FROM merchant_activities").fetchone() == (19,)
