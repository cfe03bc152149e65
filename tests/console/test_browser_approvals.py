"""In a real browser: Grace claims 4000.00 on Large Equipment, Frank, Eve and David approve it
from their inboxes in turn, and Grace sees it approved with its timeline. Offline, and every
approvals page checked (axe-core, both widths, screenshots).

The live app is shared with the other browser tests: this expense is found by its own id,
never as "the first one".
"""

from __future__ import annotations

import re
import uuid

from playwright.async_api import expect

from backoffice.expenses.demo import DEMO_ACCOUNTS
from tests.console.browser import Visit, check_page

# TechCorp's chain for Large Equipment, for Grace (expenses/demo.py): Manager, SEM, AD.
APPROVERS = (("frank", "Frank Miller"), ("eve", "Eve Davis"), ("david", "David Wilson"))
MAX_INBOX_PAGES = 20


async def sign_in(visit: Visit, username: str) -> None:
    await visit.sign_in(username, DEMO_ACCOUNTS[username])
    assert visit.page.url.endswith("/console/"), visit.page.url


async def find_in_inbox(visit: Visit, expense_id: int) -> None:
    """Open the inbox at the page that holds the expense (oldest first: it may be a later one)."""
    await visit.goto("/console/approvals/")
    for _ in range(MAX_INBOX_PAGES):
        if await visit.page.locator(f"#expense-{expense_id}").count():
            return
        following = visit.page.locator('.pager a[rel="next"]')
        assert await following.count(), f"expense {expense_id} is not in the inbox"
        await following.click()
        await visit.page.wait_for_load_state("load")
    raise AssertionError(f"expense {expense_id} is not in the first {MAX_INBOX_PAGES} pages")


async def test_grace_claims_and_frank_eve_and_david_approve_in_turn(visit: Visit):
    page = visit.page
    description = f"A 4K monitor and a dock ({uuid.uuid4().hex[:8]})"
    await sign_in(visit, "grace")
    await page.get_by_role("link", name="Approvals", exact=True).click()
    await page.get_by_role("link", name="Submit an expense").click()
    await page.wait_for_load_state("load")
    await check_page(visit, "approvals-submit")

    await page.get_by_label("Category and policy").select_option(
        label="Large Equipment (equipment, 2000.00 or more)"
    )
    await page.get_by_label("Amount").fill("4000.00")
    await page.get_by_label("Amount").press("Tab")  # leaving the field: a change event
    await page.get_by_label("Description").fill(description)
    chain = page.locator(".chain-preview li")
    expected = [
        f"Step {n}: {name}, {level} (level {number})"
        for n, ((_, name), level, number) in enumerate(
            zip(APPROVERS, ("Manager", "SEM", "AD"), (6, 5, 4), strict=True), start=1
        )
    ]
    # The form's script shows the chain as soon as the amount is typed (a change event)...
    await expect(chain).to_have_text(expected, timeout=15_000)
    # ... and without it the button does the same, on the server.
    await page.get_by_role("button", name="Preview approvers").click()
    await page.wait_for_load_state("load")
    assert await chain.all_inner_texts() == expected
    assert await page.get_by_label("Amount").input_value() == "4000.00"
    await check_page(visit, "approvals-submit-preview")

    await page.get_by_role("button", name="Submit the expense").click()
    await page.wait_for_load_state("load")
    found = re.search(r"/console/approvals/expenses/(\d+)$", page.url)
    assert found is not None, page.url
    expense_id = int(found.group(1))
    notice = await page.get_by_role("status").inner_text()
    assert f"Expense {expense_id} submitted (pending); it waits for Frank Miller" in notice
    assert await page.locator("#expense-status").inner_text() == "pending"
    await check_page(visit, "approvals-expense-pending")
    await visit.sign_out()

    for number, (username, _) in enumerate(APPROVERS, start=1):
        await sign_in(visit, username)
        await find_in_inbox(visit, expense_id)
        item = page.locator(f"#expense-{expense_id}")
        assert description in await item.inner_text()
        if number == 1:
            await check_page(visit, "approvals-inbox")
        await item.get_by_label(f"Comment on expense {expense_id}").fill(f"Fine ({username})")
        await item.get_by_role("button", name=f"Approve expense {expense_id}").click()
        await page.wait_for_load_state("load")
        said = await page.get_by_role("status").inner_text()
        if number < len(APPROVERS):
            assert said == f"Expense {expense_id}: your step {number} is approved; it moves on."
        else:
            assert said == f"Expense {expense_id} approved: it is now fully approved."
        assert await page.locator(f"#expense-{expense_id}").count() == 0
        await visit.sign_out()

    await sign_in(visit, "grace")
    await page.get_by_role("link", name="Approvals", exact=True).click()
    await page.get_by_role("link", name="My expenses").click()
    await page.wait_for_load_state("load")
    await check_page(visit, "approvals-my-expenses")
    await page.get_by_role("link", name=f"Expense {expense_id}", exact=True).click()
    await page.wait_for_load_state("load")
    assert page.url.endswith(f"/console/approvals/expenses/{expense_id}")
    assert await page.locator("#expense-status").inner_text() == "approved"
    steps = await page.locator("ol.timeline > li").all_inner_texts()
    assert len(steps) == 3
    for step, (username, name) in zip(steps, APPROVERS, strict=True):
        assert f"Approved by {name} on " in step
        assert f"Fine ({username})" in step
    await check_page(visit, "approvals-expense")
