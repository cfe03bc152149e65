"""The parts the import sums up in Python (vectorised) equal the same sums recomputed in SQL from
the rows it stored, duplicates of earlier blocks and files taken away."""

from __future__ import annotations

from datetime import date

import polars as pl
import psycopg

from backoffice.ingest import rollups
from backoffice.ingest.classify import KEY
from backoffice.ingest.pipeline import import_files
from backoffice.ingest.rollups import Rollups, parts_without
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES, MERCHANT_PARTS, summarise
from backoffice.merchants.synth import ActivityGenerator, DefectRates

PARTS_SQL = """
    SELECT merchant_id, product, to_char(event_timestamp AT TIME ZONE 'UTC', 'YYYY-MM'),
        count(*), count(*) FILTER (WHERE status = 'SUCCESS'),
        count(*) FILTER (WHERE status = 'FAILED'),
        coalesce(sum(amount) FILTER (WHERE status = 'SUCCESS'), 0),
        coalesce(sum(amount) FILTER (WHERE status <> 'SUCCESS'), 0),
        count(*) FILTER (WHERE status = 'SUCCESS' AND event_type = 'DOCUMENT_SUBMITTED'),
        count(*) FILTER (WHERE status = 'SUCCESS' AND event_type = 'VERIFICATION_COMPLETED'),
        count(*) FILTER (WHERE status = 'SUCCESS' AND event_type = 'TIER_UPGRADE')
    FROM merchant_activities
    GROUP BY 1, 2, 3
"""


def _rows(frame: pl.DataFrame) -> set[tuple[object, ...]]:
    return set(frame.rows())


def test_the_parts_rolled_up_equal_a_recomputation_from_the_stored_rows(
    merchants_url, tmp_path, monkeypatch
):
    # Many duplicates within and across files, so that the key probe finds some in most blocks,
    # and repaired rows (no timestamp, amount 0) beside the clean ones.
    rates = DefectRates(
        duplicate_in_file=0.02,
        duplicate_across_files=0.02,
        blank_timestamp=0.01,
        not_a_date=0.01,
        invalid_amount=0.01,
        quoted_comma=0.01,
    )
    generator = ActivityGenerator(seed=11, merchants=300, rates=rates)
    for index, day in enumerate((date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1))):
        generator.write_day(tmp_path, day, 3_000, index=index)
    rolled_up: list[pl.DataFrame] = []
    flush, combine = Rollups.flush, Rollups._combine

    def flush_and_keep(self: Rollups) -> None:
        frames = list(self.frames)
        flush(self)
        if frames:
            rolled_up.append(combine(self, frames))

    monkeypatch.setattr(Rollups, "flush", flush_and_keep)
    # Small blocks and groups: parts cross blocks, files and rollups.
    monkeypatch.setattr(rollups, "ROLLUP_BYTES", 200_000)

    results = import_files(merchants_url, MERCHANT_ACTIVITIES, [tmp_path], chunk_bytes=32_768)

    assert [r.status for r in results] == ["succeeded"] * 3
    assert sum(r.counts.duplicates for r in results) > 100
    assert sum(r.counts.flagged for r in results) > 100
    total = Rollups(None, MERCHANT_ACTIVITIES)._combine(rolled_up)  # type: ignore[arg-type]
    total = total.filter(pl.col("events") != 0)
    with psycopg.connect(merchants_url) as conn:
        expected = {tuple(r) for r in conn.execute(PARTS_SQL).fetchall()}
    assert _rows(total) == expected


def _frame(rows: list[tuple[str | None, ...]]) -> pl.DataFrame:
    names = [KEY, *MERCHANT_PARTS.reads]
    return pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")


def test_the_parts_of_duplicates_are_taken_away():
    rows = _frame(
        [
            ("a", "MRC-000001", "2024-01-05T10:00:00", "KYC", "TIER_UPGRADE", "0", "SUCCESS"),
            ("b", "MRC-000001", "2024-01-06T10:00:00", "POS", "TRANSFER", "10.5", "SUCCESS"),
            ("c", "MRC-000001", "2024-01-07T10:00:00", "POS", "TRANSFER", "2.25", "FAILED"),
            ("d", "MRC-000002", None, "POS", "TRANSFER", "1", "PENDING"),
        ]
    )
    parts = summarise(rows)

    left = parts_without(parts, rows, {"a", "c", "x"}, MERCHANT_PARTS)

    combined = Rollups(None, MERCHANT_ACTIVITIES)._combine([left])  # type: ignore[arg-type]
    combined = combined.filter(pl.col("events") != 0)
    expected = summarise(rows.filter(pl.col(KEY).is_in(["b", "d"])))
    assert _rows(combined) == _rows(expected)
    assert parts_without(parts, rows, {"x"}, MERCHANT_PARTS) is parts
