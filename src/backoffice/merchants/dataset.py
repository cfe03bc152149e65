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

# The rollups of a group of files: set-based statements over the parts of the rows the group
# inserted or, for a late file, took away (`PARTS`), whatever their number; each rollup table is
# touched once per group (once per 64 MiB of a big file: the statements add up, so parts
# applied in turn give the same tables). The data-modifying CTEs below each run once and write
# different tables; every one of them counts, so a part taken away (negative) undoes its own:
# - merchant x month counts SUCCESS events; the monthly active counter moves by the merchants
#   whose count left or reached zero (each CTE joins the rows as they were before the
#   statement: every CTE sees the same snapshot);
# - per product, status counts and sums (statuses are validated: not SUCCESS or FAILED is
#   PENDING);
# - merchant x product (events) and merchant x KYC stage (SUCCESS events) in `merchant_usage`:
#   the adoption and funnel counters move by the merchants whose count left or reached zero;
# - one row per merchant holds the SUCCESS volume and counts; the best merchant a group touched
#   competes for the single top row (the second statement reads the top again when a group
#   took volume away, and drops the counts that came back to zero).
# So every endpoint reads a handful of rows.
_STAGE_ITEMS = ", ".join(f"('{name}', {stage})" for stage, name in KYC_STAGES.items())
_CROSSED = (
    "sum(CASE WHEN old <= 0 AND old + n > 0 THEN 1 WHEN old > 0 AND old + n <= 0 THEN -1"
    " ELSE 0 END)"
)
_PARTS_SQL = f"""
parts AS MATERIALIZED (SELECT * FROM {PARTS})"""  # noqa: S608 - built from constants only
_MONTHS_SQL = f"""
month_input AS (
    SELECT d.merchant_id, d.month, d.n, coalesce(t.successes, 0) AS old
    FROM (
        SELECT merchant_id, (month || '-01')::date AS month, sum(success_count) AS n FROM parts
        WHERE month IS NOT NULL GROUP BY 1, 2 HAVING sum(success_count) <> 0
    ) AS d
    LEFT JOIN merchant_month_actives t USING (merchant_id, month)
),
month_rows AS (
    INSERT INTO merchant_month_actives AS t (merchant_id, month, successes)
    SELECT merchant_id, month, n FROM month_input
    ON CONFLICT (merchant_id, month) DO UPDATE SET successes = t.successes + excluded.successes
),
monthly AS (
    INSERT INTO merchant_monthly_counts AS t (month, merchants)
    SELECT month, {_CROSSED} FROM month_input GROUP BY month HAVING {_CROSSED} <> 0
    ON CONFLICT (month) DO UPDATE SET merchants = t.merchants + excluded.merchants
)"""  # noqa: S608 - built from constants only
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
_USAGE_SQL = f"""
usage_input AS (
    SELECT d.merchant_id, d.item, d.n, coalesce(u.events, 0) AS old
    FROM (
        SELECT merchant_id, product AS item, sum(events) AS n FROM parts GROUP BY 1, 2
        HAVING sum(events) <> 0
        UNION ALL
        SELECT p.merchant_id, k.item, sum(k.n) FROM parts p
        CROSS JOIN LATERAL (VALUES {_STAGE_ITEMS}) AS k(item, n)
        GROUP BY 1, 2 HAVING sum(k.n) <> 0
    ) AS d
    LEFT JOIN merchant_usage u USING (merchant_id, item)
),
usage_rows AS (
    INSERT INTO merchant_usage AS u (merchant_id, item, events)
    SELECT merchant_id, item, n FROM usage_input
    ON CONFLICT (merchant_id, item) DO UPDATE SET events = u.events + excluded.events
),
crossed AS (
    SELECT item, {_CROSSED} AS merchants FROM usage_input GROUP BY item
    HAVING {_CROSSED} <> 0
),
adoption AS (
    INSERT INTO merchant_product_adoption AS t (product, merchants)
    SELECT item, merchants FROM crossed WHERE item = ANY({_names(PRODUCTS)})
    ON CONFLICT (product) DO UPDATE SET merchants = t.merchants + excluded.merchants
),
funnel AS (
    INSERT INTO merchant_kyc_funnel AS t (event_type, merchants)
    SELECT item, merchants FROM crossed WHERE item = ANY({_names(KYC_STAGES.values())})
    ON CONFLICT (event_type) DO UPDATE SET merchants = t.merchants + excluded.merchants
)"""  # noqa: S608 - built from constants only
# `input` joins each merchant's row as it was before this statement, for its new volume.
# Known merchants are updated through a hash join (cheaper than INSERT ... ON CONFLICT DO UPDATE,
# which probes the index per row); new ones are inserted (the advisory lock: one importer).
_TOTALS_SQL = """
file AS (
    SELECT merchant_id, sum(success_amount) AS success_volume, sum(events)::bigint AS events,
        sum(success_count)::bigint AS success_count
    FROM parts GROUP BY merchant_id
),
input AS (
    SELECT u.*, t.merchant_id IS NOT NULL AS known,
        coalesce(t.success_volume, 0) + u.success_volume AS new_volume
    FROM file AS u
    LEFT JOIN merchant_totals t USING (merchant_id)
),
updated AS (
    UPDATE merchant_totals AS t SET
        success_volume = t.success_volume + i.success_volume,
        events = t.events + i.events,
        success_count = t.success_count + i.success_count
    FROM input AS i WHERE i.known AND t.merchant_id = i.merchant_id
),
added AS (
    INSERT INTO merchant_totals (merchant_id, success_volume, events, success_count)
    SELECT merchant_id, success_volume, events, success_count
    FROM input WHERE NOT known
)
INSERT INTO merchant_top AS t (id, merchant_id, success_volume)
SELECT 1, merchant_id, new_volume FROM input
ORDER BY new_volume DESC, merchant_id LIMIT 1
ON CONFLICT (id) DO UPDATE SET merchant_id = excluded.merchant_id,
    success_volume = excluded.success_volume
WHERE excluded.success_volume > t.success_volume
    OR (excluded.success_volume = t.success_volume AND excluded.merchant_id < t.merchant_id)
"""
# After a group that took something away (a late file): the top read again, and the counts that
# came back to zero dropped (as if never counted). Costs nothing when nothing was taken away.
_ANY_TAKEN = " OR ".join(f"{name} < 0" for name, _ in PART_COLUMNS[3:])
_TAKEN_SQL = f"""
WITH taken AS MATERIALIZED (
    SELECT EXISTS (SELECT 1 FROM {PARTS} WHERE {_ANY_TAKEN}) AS happened
),
top AS (
    INSERT INTO merchant_top AS t (id, merchant_id, success_volume)
    SELECT 1, merchant_id, success_volume FROM merchant_totals
    WHERE (SELECT happened FROM taken) AND events > 0
    ORDER BY success_volume DESC, merchant_id LIMIT 1
    ON CONFLICT (id) DO UPDATE SET merchant_id = excluded.merchant_id,
        success_volume = excluded.success_volume
),
months AS (
    DELETE FROM merchant_month_actives t USING {PARTS} p
    WHERE (SELECT happened FROM taken) AND t.merchant_id = p.merchant_id
        AND t.month = (p.month || '-01')::date AND t.successes = 0
),
usage AS (
    DELETE FROM merchant_usage u USING {PARTS} p
    WHERE (SELECT happened FROM taken) AND u.merchant_id = p.merchant_id AND u.events = 0
),
monthly AS (
    DELETE FROM merchant_monthly_counts WHERE (SELECT happened FROM taken) AND merchants = 0
),
adoption AS (
    DELETE FROM merchant_product_adoption WHERE (SELECT happened FROM taken) AND merchants = 0
),
stats AS (
    DELETE FROM merchant_product_stats WHERE (SELECT happened FROM taken) AND events = 0
),
totals AS (
    DELETE FROM merchant_totals t USING {PARTS} p
    WHERE (SELECT happened FROM taken) AND t.merchant_id = p.merchant_id AND t.events = 0
)
DELETE FROM merchant_kyc_funnel WHERE (SELECT happened FROM taken) AND merchants = 0
"""  # noqa: S608 - built from constants only
ROLLUPS = (
    f"WITH {_PARTS_SQL},{_MONTHS_SQL},{_STATS_SQL},{_USAGE_SQL},{_TOTALS_SQL}",
    _TAKEN_SQL,
)

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
    late_files=True,
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
    "merchant_usage",
)
