"""In a real browser: a savings customer signs up, credits three times and sees the chart;
an admin creates a plan and sees who is on one."""

from __future__ import annotations

import uuid

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

    chart = await _table(visit, "Balances after each of your latest credits")
    assert [row[1:] for row in chart] == [
        ["90.00", "10.00", "100.00"],
        ["135.00", "15.00", "150.00"],
        ["157.95", "17.55", "175.50"],
    ]
    assert await page.locator("svg#savings-balance, #savings-balance").count() >= 1
    credits = await _table(visit, "Your credits, newest first")
    assert [row[1:] for row in credits] == [
        ["25.50", "22.95", "2.55"],
        ["50.00", "45.00", "5.00"],
        ["100.00", "90.00", "10.00"],
    ]
    assert await page.locator('[data-balance="total"]').inner_text() == "175.50"
    await check_page(visit, "savings-home")

    # A reload of the page after a credit credits nothing more.
    await page.reload(wait_until="load")
    assert len(await _table(visit, "Your credits, newest first")) == 3

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
    await page.get_by_role("button", name="Create the plan").click()
    await page.wait_for_load_state("load")
    assert await page.get_by_role("status").inner_text() == f"Plan {name} created."
    assert [name, "Percentage", "12.50%", f"Who is on {name}"] in await _table(
        visit, "Plans, oldest first"
    )
    await page.get_by_role("link", name=f"Who is on {name}").click()
    await page.wait_for_load_state("load")
    assert "No customer is on this plan." in await page.inner_text("main")
    await check_page(visit, "savings-plan-empty")
    await visit.goto("/console/savings/plans")
    await page.get_by_role("link", name="Who is on Save 10%").click()
    await page.wait_for_load_state("load")
    assert await page.locator("h1").inner_text() == "Plan Save 10%"
    await check_page(visit, "savings-plan")
