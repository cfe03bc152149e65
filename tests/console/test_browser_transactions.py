"""In a real browser: the demo manager uploads a day's export, watches its run, reads it back.

The live app is shared with the other browser tests: the file, its transaction ids and its
users are this run's own (a day in 1987, user ids drawn at random in a range of their own).
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from backoffice.demo import DEMO_ACCOUNTS
from tests.console.browser import check_page


async def test_a_manager_uploads_a_days_export_and_follows_its_run(visit, tmp_path: Path):
    tag = uuid.uuid4().hex[:8]
    user, other = (random.randint(870_000_000, 879_999_999) for _ in range(2))
    export = tmp_path / f"browser_{tag}_19870314.csv"
    export.write_text(
        "transaction_id,user_id,amount,transaction_date\n"
        f"B{tag}-1,{user},100.00,1987-03-14\n"
        f"B{tag}-2,{user},-25.50,1987/03/14\n"
        f"B{tag}-3,{other},$12.00,03/14/1987\n"
        f"B{tag}-4,{user},1.00,1987-02-30\n"  # no such day: rejected
    )
    page = visit.page
    await visit.sign_in("manager", DEMO_ACCOUNTS["manager"])

    await visit.goto("/console/transactions/")
    assert await page.locator("h1").inner_text() == "Transactions: ETL runs"
    await check_page(visit, "transactions-runs")

    await page.get_by_role("link", name="Upload a day's export").click()
    await page.wait_for_load_state("load")
    await check_page(visit, "transactions-upload")
    await page.get_by_label("CSV file").set_input_files(str(export))
    await page.get_by_role("button", name="Upload and run").click()
    await page.wait_for_load_state("load")
    assert page.url.endswith(f"/console/transactions/uploads/{export.name}")
    assert "its run has started" in await page.locator(".notice").inner_text()

    # The status block refreshes itself until the run is over.
    done = page.locator("section.tx-status[data-done]")
    await done.wait_for(timeout=60_000)
    figures = {
        name: await done.locator(f'[data-count="{name}"]').inner_text()
        for name in ("rows_read", "inserted", "rejected")
    }
    assert figures == {"rows_read": "4", "inserted": "3", "rejected": "1"}
    await check_page(visit, "transactions-upload-status")

    await page.get_by_role("link", name="Its rejected lines").click()
    await page.wait_for_load_state("load")
    rejects = await page.locator("table tbody").inner_text()
    assert f"B{tag}-4" in rejects and "date_impossible" in rejects
    await check_page(visit, "transactions-rejects")

    await page.get_by_role("link", name="Run #").first.click()
    await page.wait_for_load_state("load")
    assert await page.locator('[data-count="inserted"]').inner_text() == "3"
    assert "console upload" in await page.locator("main").inner_text()
    await check_page(visit, "transactions-run")

    await page.get_by_role("link", name="A user's transactions").click()
    await page.wait_for_load_state("load")
    await page.get_by_label("User id").fill("not a number")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_load_state("load")
    assert "A user id is a whole number" in await page.locator("#f-user_id-error").inner_text()
    await check_page(visit, "transactions-user-error")

    await page.get_by_label("User id").fill(str(user))
    await page.get_by_label("From (included)").fill("1987-03-01")
    await page.get_by_label("To (included)").fill("1987-03-31")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_load_state("load")
    assert await page.locator('[data-figure="total_transactions"]').inner_text() == "2"
    assert await page.locator('[data-figure="total_amount"]').inner_text() == "74.50"
    assert await page.locator('[data-figure="average_transaction_amount"]').inner_text() == "37.25"
    assert await page.locator("table tbody tr").count() == 2
    await check_page(visit, "transactions-user")
