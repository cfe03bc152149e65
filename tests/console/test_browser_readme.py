"""The README's console walkthrough, steps 5 and 6, with the very files it names.

(Steps 2-4 are tests/console/test_browser_approvals.py, step 8 test_browser_savings.py, step 9
test_browser_accounts.py and test_browser_savings.py.) The live app is shared by every browser
test of the run: these two files' dates are used by no other test.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from backoffice.demo import DEMO_ACCOUNTS

ROOT = Path(__file__).resolve().parents[2]
MERCHANT_FILE = ROOT / "tests/fixtures/merchants/activities_20240101.csv"
TRANSACTIONS_FILE = ROOT / "samples/transactions/transactions_20240618.csv"


async def test_readme_step_5_a_merchant_file_draws_the_charts(visit):
    await visit.sign_in("manager", DEMO_ACCOUNTS["manager"])
    await visit.goto("/console/merchants/")
    await visit.page.get_by_role("link", name="Upload and progress").click()
    await visit.page.get_by_label("Activity file").set_input_files(MERCHANT_FILE)
    await visit.page.get_by_role("button", name="Upload and import").click()
    progress = visit.page.locator("#import-progress[data-done]")
    await expect(progress).to_contain_text("succeeded", timeout=30_000)
    await visit.page.get_by_role("link", name="Analytics").click()
    table = visit.page.locator("table", has_text="Monthly active merchants")
    await expect(
        table.locator("tr", has=visit.page.locator("th", has_text="2024-01"))
    ).to_have_count(1)
    assert await visit.page.locator("svg[role=img]").count() >= 4


async def test_readme_step_6_a_day_of_transactions_and_a_users_summary(visit):
    await visit.sign_in("manager", DEMO_ACCOUNTS["manager"])
    await visit.goto("/console/transactions/")
    await visit.page.get_by_role("link", name="Upload a day's export").click()
    await visit.page.get_by_label("CSV file").set_input_files(TRANSACTIONS_FILE)
    await visit.page.get_by_role("button", name="Upload and run").click()
    await expect(visit.page.get_by_role("link", name="Its rejected lines")).to_be_visible(
        timeout=30_000
    )
    await visit.page.get_by_role("link", name="A user's transactions").click()
    await visit.page.get_by_label("User id").fill("1001")
    await visit.page.get_by_role("button", name="Show").click()
    await expect(visit.page.locator("main")).to_contain_text("2,574.06")
