"""The merchant activity files, described for the ingest engine: rules, dedup key, rollups."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from backoffice.ingest.spec import (
    PARTS,
    Dataset,
    Parts,
    choice_column,
    decimal_column,
    name_date,
    pattern_column,
    text_column,
    utc_timestamp_column,
    uuid_column,
)

if TYPE_CHECKING:
    import polars as pl

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "POS": ("CARD_TRANSACTION", "CASH_WITHDRAWAL", "TRANSFER"),
    "AIRTIME": ("AIRTIME_PURCHASE", "DATA_PURCHASE"),
    "BILLS": ("BETTING", "CABLE_TV", "ELECTRICITY", "INTERNET", "WATER"),
    "CARD_PAYMENT": ("INVOICE_PAYMENT", "SUPPLIER_PAYMENT"),
    "SAVINGS": ("AUTO_SAVE", "DEPOSIT", "INTEREST_CREDIT", "WITHDRAWAL"),
    "MONIEBOOK": ("EXPENSE_LOGGED", "INVENTORY_UPDATE", "SALE_RECORDED"),
    "KYC": ("DOCUMENT_SUBMITTED", "VERIFICATION_COMPLETED", "TIER_UPGRADE"),
}
PRODUCTS = tuple(EVENT_TYPES)
STATUSES = ("SUCCESS", "FAILED", "PENDING")
CHANNELS = ("POS", "APP", "USSD", "WEB", "OFFLINE")
TIERS = ("STARTER", "VERIFIED", "PREMIUM")
MERCHANT_ID_REGEX = r"MRC-[0-9]{6}"
KYC_STAGES = {
    "documents_submitted": "DOCUMENT_SUBMITTED",
    "verifications_completed": "VERIFICATION_COMPLETED",
    "tier_upgrades": "TIER_UPGRADE",
}
FILE_NAME = re.compile(r"activities_([0-9]{8})\.csv")


def file_date(name: str) -> str | None:
    """The `YYYYMMDD` of `activities_YYYYMMDD.csv` (files are applied in its order), or None."""
    return name_date(FILE_NAME, name)


_ALL_EVENT_TYPES = tuple(sorted({t for types in EVENT_TYPES.values() for t in types}))


def _names(values: Iterable[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def _bit(column: str, values: Iterable[str]) -> str:
    """The bit of `column`'s value: 1 << (its position in `values` - 1)."""
    return f"(1 << (array_position({_names(values)}, {column}) - 1))"


# The parts of the rows a group inserted: summed per merchant x product x UTC month (a fifth to a
# seventh as many rows as the group's: the ~55 rows a merchant has in 64 MiB fall into ~8-12
# parts), by the reader thread, vectorised. Every sum adds up (counts, exact decimal amounts), so the
# parts of a duplicate that the key probe finds later can be taken away again; the KYC stages
# are counts of SUCCESS events per stage here, and bits only in the SQL below. Counts are 32-bit
# (a group's parts add up at most `ROLLUP_BYTES` of rows, far fewer than 2**31): a group's
# parts are held in memory until it is rolled up, so their width is the import's memory.
PART_COLUMNS = (
    ("merchant_id", "text"),
    ("product", "text"),
    ("month", "text"),  # the timestamp's first 7 characters, `YYYY-MM` (UTC); NULL without one
    ("events", "bigint"),
    ("success_count", "bigint"),
    ("failed_count", "bigint"),
    ("success_amount", "numeric"),
    ("other_amount", "numeric"),
    *((stage, "bigint") for stage in KYC_STAGES),
)


def summarise(rows: pl.DataFrame) -> pl.DataFrame:
    """Kept rows (stored text values) -> their parts, one per merchant x product x month.

    Each row's contribution first (1 event, 0 or 1 success, its amount as SUCCESS or other),
    then plain sums per part: polars' fast path, unlike a filter inside each group.
    """
    import polars as pl

    status, product, event_type = pl.col("status"), pl.col("product"), pl.col("event_type")
    success = status == "SUCCESS"
    amount = pl.col("amount").str.to_decimal(scale=2)  # exact: stored amounts have <= 2 dp
    kyc = success & (product == "KYC")
    return (
        rows.select(
            "merchant_id",
            "product",
            pl.col("event_timestamp").str.slice(0, 7).alias("month"),
            pl.lit(1, pl.Int32).alias("events"),
            success.cast(pl.Int32).alias("success_count"),
            (status == "FAILED").cast(pl.Int32).alias("failed_count"),
            pl.when(success).then(amount).otherwise(0).alias("success_amount"),
            pl.when(success).then(0).otherwise(amount).alias("other_amount"),
            *(
                (kyc & (event_type == name)).cast(pl.Int32).alias(stage)
                for stage, name in KYC_STAGES.items()
            ),
        )
        .group_by("merchant_id", "product", "month")
        .sum()
    )


MERCHANT_PARTS = Parts(
    columns=PART_COLUMNS,
    keys=("merchant_id", "product", "month"),
    count="events",
    reads=("merchant_id", "event_timestamp", "product", "event_type", "amount", "status"),
    summarise=summarise,
)

# The rollups of a group of files: one set-based statement over the parts of the rows the group
# inserted (`PARTS`), whatever their number; each rollup table is touched once per group (once
# per 64 MiB of a big file: the statement adds up, so parts applied in turn give the same
# tables). The data-modifying CTEs below each run once and write different tables:
# - merchant x month (a set; ON CONFLICT DO NOTHING returns only new members) feeds the
#   monthly active counter (a merchant is active in a month iff one of its parts of that month
#   has a SUCCESS event);
# - per product, status counts and sums (statuses are validated: not SUCCESS or FAILED is
#   PENDING);
# - one row per merchant holds the SUCCESS volume, counts and the sets of products used and
#   KYC stages passed as bitmasks; the bits a group newly sets feed the adoption and funnel
#   counters, and the best merchant it touched competes for the single top row.
# So every endpoint reads a handful of rows.
_KYC_BITS = " | ".join(
    f"CASE WHEN {stage} > 0 THEN {1 << index} ELSE 0 END" for index, stage in enumerate(KYC_STAGES)
)
_PARTS_SQL = f"""
parts AS MATERIALIZED (
    SELECT merchant_id, product, month, events, success_count, failed_count, success_amount,
        other_amount, {_KYC_BITS} AS kyc_stages
    FROM {PARTS}
)"""  # noqa: S608 - built from constants only
_MONTHS_SQL = """
new_months AS (
    INSERT INTO merchant_month_actives (merchant_id, month)
    SELECT DISTINCT merchant_id, (month || '-01')::date FROM parts
    WHERE success_count > 0 AND month IS NOT NULL
    ON CONFLICT DO NOTHING RETURNING month
),
monthly AS (
    INSERT INTO merchant_monthly_counts AS t (month, merchants)
    SELECT month, count(*) FROM new_months GROUP BY month
    ON CONFLICT (month) DO UPDATE SET merchants = t.merchants + excluded.merchants
)"""
_STATS_SQL = """
stats AS (
    INSERT INTO merchant_product_stats AS t (product, events, success_count, failed_count,
        pending_count, success_amount, total_amount)
    SELECT product, sum(events), sum(success_count), sum(failed_count),
        sum(events - success_count - failed_count), sum(success_amount),
        sum(success_amount + other_amount)
    FROM parts GROUP BY product
    ON CONFLICT (product) DO UPDATE SET events = t.events + excluded.events,
        success_count = t.success_count + excluded.success_count,
        failed_count = t.failed_count + excluded.failed_count,
        pending_count = t.pending_count + excluded.pending_count,
        success_amount = t.success_amount + excluded.success_amount,
        total_amount = t.total_amount + excluded.total_amount
)"""
# `input` joins each merchant's row as it was before this statement (every CTE sees the same
# snapshot), so `gained` holds the bits this group sets for the first time and the new volume.
# Known merchants are updated through a hash join (cheaper than INSERT ... ON CONFLICT DO UPDATE,
# which probes the index per row); new ones are inserted (the advisory lock: one importer).
_TOTALS_SQL = f"""
file AS (
    SELECT merchant_id, sum(success_amount) AS success_volume, sum(events)::bigint AS events,
        sum(success_count)::bigint AS success_count,
        bit_or({_bit("product", PRODUCTS)}) AS products, bit_or(kyc_stages) AS kyc_stages
    FROM parts GROUP BY merchant_id
),
input AS (
    SELECT u.*, t.merchant_id IS NOT NULL AS known,
        coalesce(t.products, 0) AS old_products, coalesce(t.kyc_stages, 0) AS old_kyc,
        coalesce(t.success_volume, 0) + u.success_volume AS new_volume
    FROM file AS u
    LEFT JOIN merchant_totals t USING (merchant_id)
),
updated AS (
    UPDATE merchant_totals AS t SET
        success_volume = t.success_volume + i.success_volume,
        events = t.events + i.events,
        success_count = t.success_count + i.success_count,
        products = t.products | i.products,
        kyc_stages = t.kyc_stages | i.kyc_stages
    FROM input AS i WHERE i.known AND t.merchant_id = i.merchant_id
),
added AS (
    INSERT INTO merchant_totals
        (merchant_id, success_volume, events, success_count, products, kyc_stages)
    SELECT merchant_id, success_volume, events, success_count, products, kyc_stages
    FROM input WHERE NOT known
),
gained AS (
    SELECT merchant_id, new_volume, products & ~old_products AS products,
        kyc_stages & ~old_kyc AS kyc_stages
    FROM input
),
adoption AS (
    INSERT INTO merchant_product_adoption AS t (product, merchants)
    SELECT p.name, count(*) FROM gained
    JOIN unnest({_names(PRODUCTS)}) WITH ORDINALITY AS p(name, bit)
        ON gained.products & (1 << (p.bit::int - 1)) <> 0
    WHERE gained.products <> 0
    GROUP BY p.name
    ON CONFLICT (product) DO UPDATE SET merchants = t.merchants + excluded.merchants
),
funnel AS (
    INSERT INTO merchant_kyc_funnel AS t (event_type, merchants)
    SELECT k.name, count(*) FROM gained
    JOIN unnest({_names(KYC_STAGES.values())}) WITH ORDINALITY AS k(name, bit)
        ON gained.kyc_stages & (1 << (k.bit::int - 1)) <> 0
    WHERE gained.kyc_stages <> 0
    GROUP BY k.name
    ON CONFLICT (event_type) DO UPDATE SET merchants = t.merchants + excluded.merchants
)
INSERT INTO merchant_top AS t (id, merchant_id, success_volume)
SELECT 1, merchant_id, new_volume FROM gained
ORDER BY new_volume DESC, merchant_id LIMIT 1
ON CONFLICT (id) DO UPDATE SET merchant_id = excluded.merchant_id,
    success_volume = excluded.success_volume
WHERE excluded.success_volume > t.success_volume
    OR (excluded.success_volume = t.success_volume AND excluded.merchant_id < t.merchant_id)
"""  # noqa: S608 - built from constants only
ROLLUPS = (f"WITH {_PARTS_SQL},{_MONTHS_SQL},{_STATS_SQL},{_TOTALS_SQL}",)

MERCHANT_ACTIVITIES = Dataset(
    name="merchant_activities",
    table="merchant_activities",
    columns=(
        uuid_column("event_id"),
        pattern_column("merchant_id", MERCHANT_ID_REGEX),
        utc_timestamp_column("event_timestamp"),
        choice_column("product", PRODUCTS),
        choice_column("event_type", _ALL_EVENT_TYPES, parent="product", allowed=EVENT_TYPES),
        decimal_column("amount"),
        choice_column("status", STATUSES),
        choice_column("channel", CHANNELS, on_invalid="flag"),
        text_column("region"),
        choice_column("merchant_tier", TIERS, on_invalid="flag"),
    ),
    key="event_id",
    key_type="uuid",
    rollups=ROLLUPS,
    parts=MERCHANT_PARTS,
    file_date=file_date,
    dated_names=True,
    file_name_hint="activities_YYYYMMDD.csv",
    file_pattern="activities_*.csv",
)

# Tables the merchant import writes (tests and benchmarks empty them).
TABLES = (
    "merchant_activities",
    "merchant_month_actives",
    "merchant_monthly_counts",
    "merchant_product_adoption",
    "merchant_kyc_funnel",
    "merchant_product_stats",
    "merchant_totals",
    "merchant_top",
)
