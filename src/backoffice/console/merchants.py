"""Merchants: the five analytics as charts, the import runs, and each run's quarantine.

Every figure comes from the same service functions as `/analytics/*` (`merchants.service`,
each reading a maintained rollup row or a handful of them) and the runs and rejected lines from
the same queries as the APIs (`ingest.history`, on their indexes). The upload and the import's
live progress are in `merchants_upload`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console import charts, import_runs
from backoffice.console.access import Access, Reader, may_open, signed_in
from backoffice.console.web import render, with_query
from backoffice.core.db import DbSession
from backoffice.core.pagination import PageParams, Pagination
from backoffice.core.routing import ApiRouter
from backoffice.core.types import IdParam
from backoffice.ingest import history
from backoffice.merchants import service
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES

router = ApiRouter(include_in_schema=False)

DATASET = MERCHANT_ACTIVITIES.name
EXPORT_ROWS = 10_000  # a CSV export holds at most this many rows (the newest, or the first)
KYC_LABELS = {
    "documents_submitted": "Documents submitted",
    "verifications_completed": "Verifications completed",
    "tier_upgrades": "Tier upgrades",
}
RunStatus = Literal["succeeded", "skipped", "failed"]
# The runs' columns: a merchant file has no conflicting duplicates, and is only ever uploaded.
RUN_COLUMNS = import_runs.run_columns(leave_out={"conflicting", "started_by"})


def whole(value: int) -> str:
    """`12345` -> `12,345`."""
    return f"{value:,}"


def money(value: Decimal | int | float) -> str:
    """`1234.5` -> `1,234.50`."""
    return f"{Decimal(value):,.2f}"


def percent(value: Decimal | int | float) -> str:
    """`12.5` -> `12.5%`."""
    return f"{Decimal(str(value)):.1f}%"


# The section's pages (label, url): every reader may open each of them.
PAGES = (
    ("Analytics", "/console/merchants/"),
    ("Import runs", "/console/merchants/imports"),
    ("Upload and progress", "/console/merchants/upload"),
)


@router.get("/console/merchants/")
async def analytics(request: Request, principal: Reader, session: DbSession) -> Response:
    """The five analytics, each a chart with its numbers in a table beside it."""
    monthly = await service.monthly_active_merchants(session)
    adoption = await service.product_adoption(session)
    funnel = await service.kyc_funnel(session)
    failures = await service.failure_rates(session)
    top = await service.top_merchant(session)
    months = list(monthly.items())[-charts.MAX_ITEMS :]
    stages = [(KYC_LABELS[key], count) for key, count in funnel.model_dump().items()]
    rates = [(r.product, Decimal(str(r.failure_rate))) for r in failures]
    sections = [
        _chart(
            charts.line_chart(
                title="Monthly active merchants",
                description="Distinct merchants with a successful event in each month.",
                points=months,
                y_label="Merchants",
                chart_id="monthly-active",
            ),
            "Monthly active merchants",
            ("Month", "Merchants"),
            [(month, whole(n)) for month, n in months],
        ),
        _chart(
            charts.bar_chart(
                title="Product adoption",
                description="Distinct merchants that used each product, most adopted first.",
                bars=list(adoption.items()),
                value_format=lambda v: whole(int(v)),
                chart_id="product-adoption",
            ),
            "Product adoption",
            ("Product", "Merchants"),
            [(product, whole(n)) for product, n in adoption.items()],
        ),
        _chart(
            charts.bar_chart(
                title="KYC funnel",
                description="Distinct merchants with a successful KYC event of each stage, in order.",
                bars=stages,
                value_format=lambda v: whole(int(v)),
                chart_id="kyc-funnel",
            ),
            "KYC funnel",
            ("Stage", "Merchants"),
            [(stage, whole(n)) for stage, n in stages],
        ),
        _chart(
            charts.bar_chart(
                title="Failure rate by product",
                description="Failed events as a share of failed and successful ones, per product.",
                bars=rates,
                value_format=percent,
                chart_id="failure-rates",
            ),
            "Failure rate by product",
            ("Product", "Failure rate"),
            [(product, percent(rate)) for product, rate in rates],
        ),
    ]
    return render(
        request,
        "merchants/analytics.html",
        sections=sections,
        top=top,
        top_volume=money(top.total_volume),
        pages=PAGES,
    )


def _chart(svg: Any, caption: str, header: Sequence[str], rows: list[Any]) -> dict[str, Any]:
    return {"svg": svg, "caption": caption, "header": header, "rows": rows}


StatusFilter = Annotated[RunStatus | None, Query(description="Only runs that ended so")]


@router.get("/console/merchants/imports")
async def imports(
    request: Request,
    principal: Reader,
    session: DbSession,
    page: Pagination,
    status: StatusFilter = None,
) -> Response:
    """The import history of merchant files, most recent first, a page at a time."""
    runs, info = await history.list_runs(session, DATASET, page, status=status)
    return render(
        request,
        "merchants/imports.html",
        runs=runs,
        columns=RUN_COLUMNS,
        page=info,
        status=status or "",
        url=lambda offset: with_query(
            "/console/merchants/imports", {"status": status, "offset": offset, "limit": page.limit}
        ),
        export=with_query("/console/merchants/imports.csv", {"status": status}),
        may_upload=may_open(signed_in(request), Access.CREATE),
        pages=PAGES,
    )


@router.get("/console/merchants/imports.csv")
async def imports_csv(
    principal: Reader, session: DbSession, status: StatusFilter = None
) -> Response:
    """The import history as CSV (the newest `EXPORT_ROWS` runs, the list's filter)."""
    runs, _ = await history.list_runs(session, DATASET, PageParams(EXPORT_ROWS), status=status)
    return import_runs.runs_csv("merchant-imports.csv", RUN_COLUMNS, runs)


@router.get("/console/merchants/imports/{run_id}")
async def run_page(
    request: Request, run_id: IdParam, principal: Reader, session: DbSession, page: Pagination
) -> Response:
    """One run: its counts and how it ended, and the lines its file had refused, a page at a time."""
    run = await history.get_run(session, DATASET, run_id)
    rejects, info = await history.list_rejects(session, DATASET, page, run_id=run_id)
    base = f"/console/merchants/imports/{run_id}"
    return render(
        request,
        "merchants/run.html",
        run=run,
        rejects=rejects,
        page=info,
        url=lambda offset: (
            with_query(base, {"offset": offset, "limit": page.limit}) + "#quarantine"
        ),
        export=f"{base}/rejects.csv",
        pages=PAGES,
    )


@router.get("/console/merchants/imports/{run_id}/rejects.csv")
async def rejects_csv(run_id: IdParam, principal: Reader, session: DbSession) -> Response:
    """A run's rejected lines as CSV (its first `EXPORT_ROWS`, in file order)."""
    rejects, _ = await history.list_rejects(
        session, DATASET, PageParams(EXPORT_ROWS), run_id=run_id
    )
    return import_runs.rejects_csv(f"merchant-run-{run_id}-rejects.csv", rejects)
