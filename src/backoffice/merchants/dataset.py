"""The merchant activity files, described for the ingest engine: rules, dedup key, rollups."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from backoffice.ingest.spec import (
    SEPARATOR,
    Dataset,
    Row,
    choice_column,
    decimal_column,
    pattern_column,
    text_column,
    utc_timestamp_column,
    uuid_column,
)

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
FILE_NAME = re.compile(r"^activities_(\d{8})\.csv$")


def file_date(name: str) -> str:
    """The `YYYYMMDD` of `activities_YYYYMMDD.csv` (files sort by it); else the name itself."""
    match = FILE_NAME.match(name)
    return match.group(1) if match else name


_ALL_EVENT_TYPES = tuple(sorted({t for types in EVENT_TYPES.values() for t in types}))

# Columns of a stored row (the dataset's column order).
_MERCHANT, _TIMESTAMP, _PRODUCT, _EVENT_TYPE, _AMOUNT, _STATUS = 1, 2, 3, 4, 5, 6


PRODUCT_BITS = {product: 1 << i for i, product in enumerate(PRODUCTS)}
KYC_BITS = {stage: 1 << i for i, stage in enumerate(KYC_STAGES.values())}


class MerchantRollups:
    """One file's rollups, in memory (bounded by merchants x months), written before commit.

    Three statements:

    - merchant x month (a set; ON CONFLICT DO NOTHING returns only new members) feeds the
      monthly active counter;
    - one row per merchant holds the SUCCESS volume, counts and the sets of products used and
      KYC stages passed as bitmasks; the bits a file newly sets feed the adoption and funnel
      counters, and the best merchant it touched competes for the single top row;
    - per product, status counts and sums.
    So every endpoint reads a handful of rows.
    """

    def __init__(self) -> None:
        self.months: set[tuple[str, str]] = set()
        # product -> [events, success, failed, pending, success amount, total amount]
        self.stats: dict[str, list[Any]] = {}
        # merchant -> [success volume, events, success events, product bits, kyc bits]
        self.merchants: dict[str, list[Any]] = {}

    def add_rows(self, rows: Iterable[Row]) -> None:
        # The hot loop of the import (one pass per inserted row): names bound locally.
        months, stats_of, totals_of = self.months, self.stats, self.merchants
        product_bits, kyc_bits, decimal = PRODUCT_BITS, KYC_BITS, Decimal
        for row in rows:
            merchant, product, status = row[_MERCHANT], row[_PRODUCT], row[_STATUS]
            amount = decimal(row[_AMOUNT])
            stats = stats_of.get(product)
            if stats is None:
                stats = stats_of[product] = [0, 0, 0, 0, decimal(0), decimal(0)]
            totals = totals_of.get(merchant)
            if totals is None:
                totals = totals_of[merchant] = [decimal(0), 0, 0, 0, 0]
            stats[0] += 1
            stats[5] += amount
            totals[1] += 1
            totals[3] |= product_bits[product]
            if status == "SUCCESS":
                stats[1] += 1
                stats[4] += amount
                totals[0] += amount
                totals[2] += 1
                timestamp = row[_TIMESTAMP]
                if timestamp:
                    months.add((merchant, timestamp[:7]))
                if product == "KYC":
                    totals[4] |= kyc_bits[row[_EVENT_TYPE]]
            elif status == "FAILED":
                stats[2] += 1
            else:
                stats[3] += 1

    def flush(self, cursor: Any) -> None:
        if self.months:
            merchants, months = zip(*self.months, strict=True)
            cursor.execute(_MONTHS_SQL, (_joined(merchants), _joined(months)))
        if self.stats:
            columns = [_joined(c) for c in zip(*self.stats.values(), strict=True)]
            cursor.execute(_STATS_SQL, (_joined(self.stats), *columns))
        if self.merchants:
            columns = [_joined(c) for c in zip(*self.merchants.values(), strict=True)]
            cursor.execute(_TOTALS_SQL, (_joined(self.merchants), *columns))


def _joined(values: Iterable[object]) -> str:
    # One text parameter split by PostgreSQL: much cheaper than adapting a list element-wise.
    return SEPARATOR.join(map(str, values))


def _arrays(*types: str) -> str:
    return ", ".join(f"string_to_array(%s, chr(31))::{t}[]" for t in types)


def _names(values: Iterable[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


_MONTHS_SQL = f"""
WITH new AS (
    INSERT INTO merchant_month_actives (merchant_id, month)
    SELECT m, (mo || '-01')::date FROM unnest({_arrays("text", "text")}) AS u(m, mo)
    ON CONFLICT DO NOTHING RETURNING month
)
INSERT INTO merchant_monthly_counts AS t (month, merchants)
SELECT month, count(*) FROM new GROUP BY month
ON CONFLICT (month) DO UPDATE SET merchants = t.merchants + excluded.merchants
"""  # noqa: S608 - built from constants only
_STATS_SQL = f"""
INSERT INTO merchant_product_stats AS t (product, events, success_count, failed_count,
    pending_count, success_amount, total_amount)
SELECT * FROM unnest({_arrays("text", "bigint", "bigint", "bigint", "bigint", "numeric", "numeric")})
ON CONFLICT (product) DO UPDATE SET events = t.events + excluded.events,
    success_count = t.success_count + excluded.success_count,
    failed_count = t.failed_count + excluded.failed_count,
    pending_count = t.pending_count + excluded.pending_count,
    success_amount = t.success_amount + excluded.success_amount,
    total_amount = t.total_amount + excluded.total_amount
"""  # noqa: S608 - built from constants only
# `input` joins each merchant's row as it was before this statement (every CTE sees the same
# snapshot), so `gained` holds the bits this file sets for the first time and the new volume.
_TOTALS_SQL = f"""
WITH input AS (
    SELECT u.*, coalesce(t.products, 0) AS old_products, coalesce(t.kyc_stages, 0) AS old_kyc,
        coalesce(t.success_volume, 0) + u.success_volume AS new_volume
    FROM unnest({_arrays("text", "numeric", "bigint", "bigint", "int", "int")})
        AS u(merchant_id, success_volume, events, success_count, products, kyc_stages)
    LEFT JOIN merchant_totals t USING (merchant_id)
),
up AS (
    INSERT INTO merchant_totals AS t
        (merchant_id, success_volume, events, success_count, products, kyc_stages)
    SELECT merchant_id, success_volume, events, success_count, products, kyc_stages FROM input
    ON CONFLICT (merchant_id) DO UPDATE SET
        success_volume = t.success_volume + excluded.success_volume,
        events = t.events + excluded.events,
        success_count = t.success_count + excluded.success_count,
        products = t.products | excluded.products,
        kyc_stages = t.kyc_stages | excluded.kyc_stages
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
    GROUP BY p.name
    ON CONFLICT (product) DO UPDATE SET merchants = t.merchants + excluded.merchants
),
funnel AS (
    INSERT INTO merchant_kyc_funnel AS t (event_type, merchants)
    SELECT k.name, count(*) FROM gained
    JOIN unnest({_names(KYC_STAGES.values())}) WITH ORDINALITY AS k(name, bit)
        ON gained.kyc_stages & (1 << (k.bit::int - 1)) <> 0
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
    aggregator=MerchantRollups,
    file_order=file_date,
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
