"""The five analytics, each answered from a rollup table (never from `merchant_activities`)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.money import to_cents
from backoffice.merchants.dataset import KYC_STAGES
from backoffice.merchants.schemas import FailureRateRead, KycFunnelRead, TopMerchantRead

ONE_DP = Decimal("0.1")


async def top_merchant(session: AsyncSession) -> TopMerchantRead:
    """Largest sum of SUCCESS amounts; ties go to the smaller merchant id (one row)."""
    row = (
        await session.execute(
            text("SELECT merchant_id, success_volume FROM merchant_top WHERE id = 1")
        )
    ).first()
    if row is None:
        return TopMerchantRead(merchant_id=None, total_volume=Decimal("0.00"))
    return TopMerchantRead(merchant_id=row[0], total_volume=to_cents(row[1]))


async def monthly_active_merchants(session: AsyncSession) -> dict[str, int]:
    """Distinct merchants with a SUCCESS event per UTC month, months in order."""
    rows = await session.execute(
        text(
            "SELECT to_char(month, 'YYYY-MM'), merchants FROM merchant_monthly_counts"
            " ORDER BY month"
        )
    )
    return {month: int(count) for month, count in rows}


async def product_adoption(session: AsyncSession) -> dict[str, int]:
    """Distinct merchants per product, by count descending, then product name."""
    rows = await session.execute(
        text(
            "SELECT product, merchants FROM merchant_product_adoption"
            " ORDER BY merchants DESC, product"
        )
    )
    return {product: int(count) for product, count in rows}


async def kyc_funnel(session: AsyncSession) -> KycFunnelRead:
    """Distinct merchants with a SUCCESS KYC event of each stage."""
    rows = await session.execute(text("SELECT event_type, merchants FROM merchant_kyc_funnel"))
    counts = {event_type: int(count) for event_type, count in rows}
    return KycFunnelRead(**{key: counts.get(stage, 0) for key, stage in KYC_STAGES.items()})


def failure_rate(failed: int, succeeded: int) -> Decimal:
    """FAILED / (SUCCESS + FAILED) x 100, rounded half-up to 1 dp (callers skip 0 / 0)."""
    return (Decimal(failed) * 100 / Decimal(failed + succeeded)).quantize(ONE_DP, ROUND_HALF_UP)


async def failure_rates(session: AsyncSession) -> list[FailureRateRead]:
    """Per product with SUCCESS or FAILED events: rate descending, then product name."""
    rows = await session.execute(
        text(
            "SELECT product, failed_count, success_count FROM merchant_product_stats"
            " WHERE failed_count + success_count > 0"
        )
    )
    rates = [(product, failure_rate(int(f), int(s))) for product, f, s in rows]
    rates.sort(key=lambda item: (-item[1], item[0]))
    return [FailureRateRead(product=p, failure_rate=float(r)) for p, r in rates]
