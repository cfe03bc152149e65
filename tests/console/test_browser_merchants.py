"""In a real browser: a manager uploads a merchant file, watches its import, sees the charts change.

The live app is shared by every browser test of the run: the file's date (2031-07-15), its
month and its merchant are this test's alone.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.async_api import expect

from backoffice.demo import DEMO_ACCOUNTS
from tests.console.browser import Visit, check_page

FILE_NAME = "activities_20310715.csv"
MONTH = "2031-07"
MERCHANT = "MRC-931507"
HEADER = (
    "event_id,merchant_id,event_timestamp,product,event_type,amount,status,channel,region,"
    "merchant_tier"
)


def _activity_file(folder: Path) -> Path:
    """Two good lines of this test's merchant and one the import refuses (no such product)."""
    lines = [
        HEADER,
        f"{uuid.uuid4()},{MERCHANT},2031-07-15T09:00:00,POS,CARD_TRANSACTION,1500.00,SUCCESS,"
        "POS,LAGOS,VERIFIED",
        f"{uuid.uuid4()},{MERCHANT},2031-07-15T10:00:00,KYC,DOCUMENT_SUBMITTED,0.00,SUCCESS,"
        "APP,LAGOS,VERIFIED",
        f"{uuid.uuid4()},{MERCHANT},2031-07-15T11:00:00,LOANS,TRANSFER,10.00,SUCCESS,POS,LAGOS,VERIFIED",
    ]
    path = folder / FILE_NAME
    path.write_text("\n".join(lines) + "\n")
    return path


async def _monthly_figure(visit: Visit) -> str | None:
    """The monthly active merchants of this test's month, as the table beside the chart says."""
    row = visit.page.locator("table", has_text="Monthly active merchants").locator(
        "tr", has=visit.page.locator("th", has_text=MONTH)
    )
    if await row.count() == 0:
        return None
    return (await row.locator("td").inner_text()).strip()


async def test_upload_a_merchant_file_and_see_the_charts_change(visit, tmp_path):
    await visit.sign_in("manager", DEMO_ACCOUNTS["manager"])
    await visit.goto("/console/merchants/")
    await check_page(visit, "merchants-analytics")
    assert await _monthly_figure(visit) is None  # no merchant was active that month before

    await visit.page.get_by_role("link", name="Upload and progress").click()
    await visit.page.wait_for_load_state("load")
    await check_page(visit, "merchants-upload")
    await visit.page.get_by_label("Activity file").set_input_files(_activity_file(tmp_path))
    await visit.page.get_by_role("button", name="Upload and import").click()
    await visit.page.wait_for_load_state("load")
    assert visit.page.url.endswith(f"/console/merchants/upload?file={FILE_NAME}")
    await expect(visit.page.get_by_role("status").first).to_contain_text("import has started")
    # The progress block refreshes itself until the import is done.
    progress = visit.page.locator("#import-progress[data-done]")
    await expect(progress).to_contain_text("succeeded", timeout=30_000)
    await expect(progress).to_contain_text(FILE_NAME)
    await check_page(visit, "merchants-progress")

    await progress.get_by_role("link", name=re.compile("see import run")).click()
    await visit.page.wait_for_load_state("load")
    await expect(visit.page.locator("h1")).to_contain_text(FILE_NAME)
    rejected = visit.page.get_by_role("region", name="Rejected lines")
    await expect(rejected).to_contain_text("LOANS")  # the line as sent
    await expect(rejected).to_contain_text("product")  # why: the reason names the column
    await check_page(visit, "merchants-run")

    await visit.goto("/console/merchants/imports")
    await expect(visit.page.get_by_role("region", name="Import runs")).to_contain_text(FILE_NAME)
    await check_page(visit, "merchants-imports")

    await visit.goto("/console/merchants/")
    assert await _monthly_figure(visit) == "1"  # the chart's month appeared, with its merchant
    await check_page(visit, "merchants-analytics-after")


async def test_a_wrong_file_is_refused_next_to_the_field(visit, tmp_path):
    await visit.sign_in("manager", DEMO_ACCOUNTS["manager"])
    await visit.goto("/console/merchants/upload")
    wrong = tmp_path / "activities_20310716.csv"
    wrong.write_text("name,amount\nx,1\n")
    await visit.page.get_by_label("Activity file").set_input_files(wrong)
    await visit.page.get_by_role("button", name="Upload and import").click()
    await visit.page.wait_for_load_state("load")
    error = visit.page.locator("#f-file-error")
    await expect(error).to_contain_text("the header does not match")
    await check_page(visit, "merchants-upload-refused")


async def test_staff_sees_the_imports_but_no_upload_form(visit):
    await visit.sign_in("staff", DEMO_ACCOUNTS["staff"])
    await visit.goto("/console/merchants/upload")
    assert await visit.page.locator('input[type="file"]').count() == 0
    await expect(visit.page.locator("#import-progress")).to_be_visible()
    await check_page(visit, "merchants-upload-staff")
