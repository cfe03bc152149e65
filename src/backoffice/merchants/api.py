"""The five analytics (`/analytics/*`, shapes kept for existing clients) and the import history."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from backoffice.core.auth.dependencies import CanRead
from backoffice.core.contexts import Context
from backoffice.core.db import DbSession
from backoffice.core.envelope import Envelope, ok
from backoffice.core.errors import AUTH_ERRORS, error_responses
from backoffice.core.pagination import Pagination
from backoffice.core.routing import ApiRouter
from backoffice.ingest import history
from backoffice.merchants import service
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from backoffice.merchants.schemas import (
    FailureRateRead,
    ImportRunRead,
    KycFunnelRead,
    TopMerchantRead,
)
from backoffice.merchants.tasks import Importer, ImportState, background_import

AUTH_ONLY = error_responses(*AUTH_ERRORS)

analytics = ApiRouter(prefix="/analytics", tags=["merchant analytics"], responses=AUTH_ONLY)
imports = ApiRouter(prefix="/api/v1/merchants", tags=["merchant analytics"], responses=AUTH_ONLY)


@analytics.get("/top-merchant", response_model=TopMerchantRead)
async def top_merchant(session: DbSession, _: CanRead) -> TopMerchantRead:
    """The merchant with the largest SUCCESS volume (ties: the smaller id)."""
    return await service.top_merchant(session)


@analytics.get("/monthly-active-merchants", response_model=dict[str, int])
async def monthly_active_merchants(session: DbSession, _: CanRead) -> dict[str, int]:
    """`{"2024-01": 9847, ...}`: distinct merchants with a SUCCESS event, months in order."""
    return await service.monthly_active_merchants(session)


@analytics.get("/product-adoption", response_model=dict[str, int])
async def product_adoption(session: DbSession, _: CanRead) -> dict[str, int]:
    """`{"BILLS": 4379, ...}`: distinct merchants per product, most adopted first."""
    return await service.product_adoption(session)


@analytics.get("/kyc-funnel", response_model=KycFunnelRead)
async def kyc_funnel(session: DbSession, _: CanRead) -> KycFunnelRead:
    """Distinct merchants with a SUCCESS KYC event of each stage."""
    return await service.kyc_funnel(session)


@analytics.get("/failure-rates", response_model=list[FailureRateRead])
async def failure_rates(session: DbSession, _: CanRead) -> list[FailureRateRead]:
    """FAILED / (SUCCESS + FAILED) x 100 per product (PENDING excluded), highest first."""
    return await service.failure_rates(session)


@imports.get("/imports", response_model=Envelope[list[ImportRunRead]])
async def list_imports(
    session: DbSession, _: CanRead, page: Pagination
) -> Envelope[list[ImportRunRead]]:
    """The `import_runs` history of merchant files, most recent first (paginated)."""
    runs, info = await history.list_runs(session, MERCHANT_ACTIVITIES.name, page)
    return ok([ImportRunRead.model_validate(r) for r in runs], pagination=info)


def _keep_import_state(app: FastAPI) -> None:
    app.state.merchant_import = ImportState()
    app.state.merchant_importer = Importer(app.state.merchant_import)


def _report_import(app: FastAPI) -> dict[str, Any]:
    state: ImportState = app.state.merchant_import
    return state.report()


# The routes, the import of `DATA_DIR` in the background while the app serves (at startup, and
# after each upload: `console.merchants_upload`), and its progress in `/health`.
context = Context(
    "merchants",
    routers=(analytics, imports),
    setup=_keep_import_state,
    lifespan=(background_import,),
    health={"merchant_import": _report_import},
)
