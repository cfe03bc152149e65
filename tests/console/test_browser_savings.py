"""In a real browser: a savings customer signs up, credits three times and sees the chart;
moves money both ways, is refused, downloads a statement; an admin creates a plan and sees
who is on one."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from backoffice.demo import DEMO_ACCOUNTS
from tests.conftest import PASSWORD
from tests.console.browser import Visit, check_page


async def _table(visit: Visit, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as cell texts."""
    table = visit.page.locator("table", has=visit.page.locator("caption", has_text=caption))
    rows = await table.locator("tbody tr").all()
    return [
        [" ".join(t.split()) for t in await r.locator("th, td").all_inner_texts()] for r in rows
    ]


async def _credit(visit: Visit, amount: str) -> None:
    await visit.page.get_by_label("Amount", exact=True).fill(amount)
    await visit.page.get_by_role("button", name="Credit", exact=True).click()
    await visit.page.wait_for_load_state("load")
    assert f"Credited {amount}" in await visit.page.get_by_role("status").inner_text()


async def test_a_customer_signs_up_credits_three_times_and_sees_the_chart(visit: Visit):
    page = visit.page
    email = f"browser-saver-{uuid.uuid4().hex[:10]}@example.com"
    await visit.goto("/console/savings/")
    assert page.url.endswith("/console/savings/sign-in?next=%2Fconsole%2Fsavings%2F")
    await check_page(visit, "savings-sign-in")
    await page.get_by_role("link", name="New here? Open a savings account").click()
    await page.wait_for_load_state("load")
    await check_page(visit, "savings-sign-up")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Full name", exact=True).fill("Browser Saver")
    await page.get_by_label("Password", exact=True).fill("short")
    await page.get_by_role("button", name="Open my account").click()
    await page.wait_for_load_state("load")
    assert "8" in await page.locator("#f-password-error").inner_text()  # next to the field
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Open my account").click()
    await page.wait_for_load_state("load")
    assert page.url.endswith("/console/savings/")
    assert "your savings account is open" in await page.get_by_role("status").inner_text()
    await check_page(visit, "savings-home-new")

    await page.get_by_label("Plan", exact=True).select_option(
        label="Save 10% (10.00% of each credit saved)"
    )
    await page.get_by_role("button", name="Choose this plan").click()
    await page.wait_for_load_state("load")
    assert "Your plan is now Save 10%" in await page.get_by_role("status").inner_text()
    for amount in ("100.00", "50.00", "25.50"):
        await _credit(visit, amount)

    chart = await _table(visit, "Balances after each of your latest entries")
    assert [row[1:] for row in chart] == [
        ["90.00", "10.00", "100.00"],
        ["135.00", "15.00", "150.00"],
        ["157.95", "17.55", "175.50"],
    ]
    assert await page.locator("svg#savings-balance, #savings-balance").count() >= 1
    credits = await _table(visit, "Your entries, newest first")
    assert [row[1:5] for row in credits] == [
        ["Credit", "25.50", "+22.95", "+2.55"],
        ["Credit", "50.00", "+45.00", "+5.00"],
        ["Credit", "100.00", "+90.00", "+10.00"],
    ]
    assert await page.locator('[data-balance="total"]').inner_text() == "175.50"
    await check_page(visit, "savings-home")

    # A reload of the page after a credit credits nothing more.
    await page.reload(wait_until="load")
    assert len(await _table(visit, "Your entries, newest first")) == 3

    await visit.sign_out()
    assert page.url.endswith("/console/savings/sign-in")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("load")
    assert page.url.endswith("/console/savings/")
    assert await page.locator('[data-balance="savings"]').inner_text() == "17.55"


async def test_an_admin_creates_a_plan_and_sees_who_is_on_one(visit: Visit):
    page = visit.page
    await visit.sign_in("admin", DEMO_ACCOUNTS["admin"])
    await page.get_by_role("link", name="Savings plans").click()
    await page.wait_for_load_state("load")
    assert page.url.endswith("/console/savings/plans")
    await check_page(visit, "savings-plans")
    name = f"Browser plan {uuid.uuid4().hex[:6]}"
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Kind", exact=True).select_option("percentage")
    await page.get_by_label("Value", exact=True).fill("101")
    await page.get_by_role("button", name="Create the plan").click()
    await page.wait_for_load_state("load")
    assert "0 to 100" in await page.locator("#f-value-error").inner_text()
    await check_page(visit, "savings-plans-error")
    await page.get_by_label("Value", exact=True).fill("12.5")
    await page.get_by_label("Lock-in (days)", exact=True).fill("7")
    await page.get_by_label("Interest (% a year)", exact=True).fill("1.25")
    await page.get_by_role("button", name="Create the plan").click()
    await page.wait_for_load_state("load")
    assert await page.get_by_role("status").inner_text() == f"Plan {name} created."
    row = [name, "Percentage", "12.50%", "7 days", "1.25% a year", f"Who is on {name}"]
    assert row in await _table(visit, "Plans, oldest first")
    await page.get_by_role("link", name=f"Who is on {name}").click()
    await page.wait_for_load_state("load")
    assert "No customer is on this plan." in await page.inner_text("main")
    await check_page(visit, "savings-plan-empty")
    await visit.goto("/console/savings/plans")
    await page.get_by_role("link", name="Who is on Save 10%").click()
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "Plan Save 10%"
    await check_page(visit, "savings-plan")


async def _move(visit: Visit, label: str, amount: str, button: str) -> None:
    await visit.page.get_by_label(label, exact=True).fill(amount)
    await visit.page.get_by_role("button", name=button, exact=True).click()
    await visit.page.wait_for_load_state("load")


async def test_a_customer_moves_money_and_downloads_a_statement(visit: Visit):
    page = visit.page
    email = f"browser-mover-{uuid.uuid4().hex[:10]}@example.com"
    await visit.goto("/console/savings/sign-up")
    await page.get_by_label("Email", exact=True).fill(email)
    await page.get_by_label("Full name", exact=True).fill("Browser Mover")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Open my account").click()
    await page.wait_for_load_state("load")
    await page.get_by_label("Plan", exact=True).select_option(
        label="Save 20% at 2%, 30 days locked (20.00% of each credit saved)"
    )
    await page.get_by_role("button", name="Choose this plan").click()
    await page.wait_for_load_state("load")

    await _credit(visit, "100.00")
    await check_page(visit, "savings-ledger-credit")
    await page.get_by_label("Direction", exact=True).select_option("main")
    await _move(visit, "Amount to move", "30.00", "Move")
    status = await page.get_by_role("status").inner_text()
    assert status == "Moved 30.00 from your main balance to your savings."
    await check_page(visit, "savings-ledger-transfer")
    await _move(visit, "Amount to withdraw", "15.25", "Withdraw")
    assert await page.get_by_role("status").inner_text() == "Withdrew 15.25 from your main balance."
    await check_page(visit, "savings-ledger-withdrawal")
    assert await page.locator('[data-balance="main"]').inner_text() == "34.75"
    assert await page.locator('[data-balance="savings"]').inner_text() == "50.00"
    entries = await _table(visit, "Your entries, newest first")
    assert [row[1:5] for row in entries] == [
        ["Withdrawal", "15.25", "-15.25", "0.00"],
        ["Transfer", "30.00", "-30.00", "+30.00"],
        ["Credit", "100.00", "+80.00", "+20.00"],
    ]

    await _move(visit, "Amount to withdraw", "1000.00", "Withdraw")
    error = page.locator("#f-withdraw_amount-error")
    assert await error.inner_text() == "Your main balance holds less than this amount."
    assert await page.get_by_label("Amount to withdraw", exact=True).input_value() == "1000.00"
    await check_page(visit, "savings-ledger-refused")
    await page.get_by_label("Direction", exact=True).select_option("savings")
    await _move(visit, "Amount to move", "10.00", "Move")
    locked = await page.locator("#f-transfer_amount-error").inner_text()
    assert locked.startswith("Your plan still locks in these savings: this amount can leave")
    assert locked.endswith(" UTC.")
    await page.get_by_label("Kind", exact=True).select_option("transfer")
    await page.get_by_role("button", name="Show", exact=True).click()
    await page.wait_for_load_state("load")
    assert [row[1] for row in await _table(visit, "Your entries, newest first")] == ["Transfer"]

    await page.get_by_role("link", name="Your monthly statements").click()
    await page.wait_for_load_state("load")
    assert (await page.locator("h1").inner_text()).startswith("Statement for ")
    balances = await _table(visit, "Balances in")
    assert balances[1] == ["Closing", "34.75", "50.00", "84.75"]
    await check_page(visit, "savings-statement")
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Download as CSV").click()
    download = await csv_download.value
    assert download.suggested_filename.startswith("statement-")
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    assert text.splitlines()[0].startswith("at,entry_id,kind,amount")
    assert [line.split(",")[2] for line in text.splitlines()[1:]] == [
        "opening",
        "credit",
        "transfer",
        "withdrawal",
        "closing",
    ]
    async with page.expect_download() as pdf_download:
        await page.get_by_role("link", name="Download as PDF").click()
    pdf = await pdf_download.value
    pdf_bytes = await asyncio.to_thread(Path(await pdf.path()).read_bytes)
    assert pdf_bytes.startswith(b"%PDF")
    withdrawal = next(line.split(",")[1] for line in text.splitlines() if ",withdrawal," in line)

    # An admin finds the account from the plan's customers and reverses the withdrawal.
    await visit.sign_out()
    await visit.sign_in("admin", DEMO_ACCOUNTS["admin"])
    await visit.goto("/console/savings/plans")
    await page.get_by_role("link", name="Who is on Save 20% at 2%, 30 days locked").click()
    await page.wait_for_load_state("load")
    await page.get_by_role("link", name=email).click()
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "Savings account of Browser Mover"
    assert await page.locator('[data-balance="main"]').inner_text() == "34.75"
    await check_page(visit, "savings-account")
    await page.get_by_label("Entry id", exact=True).fill(withdrawal)
    await page.get_by_label("Reason", exact=True).fill("Withdrawn twice by <mistake>")
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "Confirm the reversal"
    assert await page.locator("[data-reason]").inner_text() == "Withdrawn twice by <mistake>"
    await check_page(visit, "savings-reversal-confirm")
    await page.get_by_role("button", name="Reverse the entry").click()
    await page.wait_for_load_state("load")
    status = await page.get_by_role("status").inner_text()
    assert status.startswith(f"Entry {withdrawal} reversed by entry ")
    assert await page.locator('[data-balance="main"]').inner_text() == "50.00"
    await page.get_by_label("Entry id", exact=True).fill(withdrawal)
    await page.get_by_label("Reason", exact=True).fill("Again")
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_load_state("load")
    await page.get_by_role("button", name="Reverse the entry").click()
    await page.wait_for_load_state("load")
    assert "reversed already" in await page.locator("#f-entry_id-error").inner_text()
    await check_page(visit, "savings-reversal-refused")
