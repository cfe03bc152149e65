"""The five questions answered by full scans of `merchant_activities` (tests and benchmarks).

The API never runs these: they are the definition the rollups are checked against.
"""

from __future__ import annotations

from typing import Any

FULL_SCAN_SQL: dict[str, str] = {
    "top-merchant": """
        SELECT merchant_id, coalesce(sum(amount) FILTER (WHERE status = 'SUCCESS'), 0) AS v
        FROM merchant_activities GROUP BY merchant_id ORDER BY v DESC, merchant_id LIMIT 1""",
    "monthly-active-merchants": """
        SELECT to_char(date_trunc('month', event_timestamp AT TIME ZONE 'UTC'), 'YYYY-MM') AS m,
            count(DISTINCT merchant_id)
        FROM merchant_activities
        WHERE status = 'SUCCESS' AND event_timestamp IS NOT NULL
        GROUP BY m ORDER BY m""",
    "product-adoption": """
        SELECT product, count(DISTINCT merchant_id) AS n FROM merchant_activities
        GROUP BY product ORDER BY n DESC, product""",
    "kyc-funnel": """
        SELECT event_type, count(DISTINCT merchant_id) FROM merchant_activities
        WHERE product = 'KYC' AND status = 'SUCCESS' GROUP BY event_type""",
    "failure-rates": """
        SELECT product, round(100.0 * count(*) FILTER (WHERE status = 'FAILED')
            / count(*) FILTER (WHERE status IN ('SUCCESS', 'FAILED')), 1) AS rate
        FROM merchant_activities GROUP BY product
        HAVING count(*) FILTER (WHERE status IN ('SUCCESS', 'FAILED')) > 0
        ORDER BY rate DESC, product""",
}

KYC_KEYS = {
    "DOCUMENT_SUBMITTED": "documents_submitted",
    "VERIFICATION_COMPLETED": "verifications_completed",
    "TIER_UPGRADE": "tier_upgrades",
}


def shape(question: str, rows: list[tuple[Any, ...]]) -> Any:
    """The rows of a full-scan query in the JSON shape of the matching endpoint."""
    if question == "top-merchant":
        if not rows:
            return {"merchant_id": None, "total_volume": 0.0}
        return {"merchant_id": rows[0][0], "total_volume": float(rows[0][1])}
    if question in ("monthly-active-merchants", "product-adoption"):
        return {key: int(count) for key, count in rows}
    if question == "kyc-funnel":
        counts = {KYC_KEYS[t]: int(n) for t, n in rows}
        return {key: counts.get(key, 0) for key in KYC_KEYS.values()}
    return [{"product": p, "failure_rate": float(r)} for p, r in rows]


def full_scan_answers(conn: Any) -> dict[str, Any]:
    """Every question answered by a full scan (`conn` is a psycopg connection)."""
    return {q: shape(q, conn.execute(sql).fetchall()) for q, sql in FULL_SCAN_SQL.items()}
