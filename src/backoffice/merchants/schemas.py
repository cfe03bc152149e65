"""Shapes of the analytics (kept exactly as existing clients read them) and of import runs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from backoffice.core.money import MoneyOut


class TopMerchantRead(BaseModel):
    """The merchant with the largest SUCCESS volume (null when nothing is imported)."""

    merchant_id: str | None
    total_volume: MoneyOut


class KycFunnelRead(BaseModel):
    """Distinct merchants with a SUCCESS KYC event of each stage."""

    documents_submitted: int
    verifications_completed: int
    tier_upgrades: int


class FailureRateRead(BaseModel):
    """FAILED / (SUCCESS + FAILED) x 100 for one product, 1 dp."""

    product: str
    failure_rate: float


class ImportRunRead(BaseModel):
    """One attempt to import one file."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    dataset: str
    file_name: str
    file_size: int
    sha256: str | None
    rows_read: int
    inserted: int
    duplicates: int
    rejected: int
    flagged: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
