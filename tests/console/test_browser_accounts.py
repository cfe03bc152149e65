"""In a real browser, as the demo admin: an account's life in the console, and the login locks.

The live app is shared with the other browser tests: the accounts made here have names of
their own, and the demo accounts are never changed.
"""

from __future__ import annotations

import re
import uuid

from backoffice.demo import DEMO_ACCOUNTS
from tests.console.browser import Visit, check_page

STRONG = "violet-otter-quarry-17"
OTHER = "amber-heron-lantern-42"


async def _notice(visit: Visit) -> str:
    return await visit.page.get_by_role("status").inner_text()


async def test_an_admin_creates_changes_resets_and_disables_an_account(visit):
    page = visit.page
    name = f"web-{uuid.uuid4().hex[:8]}"
    await visit.sign_in("admin", DEMO_ACCOUNTS["admin"])
    await (
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Accounts").click()
    )
    await page.wait_for_load_state("load")
    assert page.url.endswith("/console/accounts/")
    assert await page.get_by_role("link", name="admin", exact=True).is_visible()
    await check_page(visit, "accounts-list")

    await page.get_by_role("link", name="Create an account").click()
    await page.wait_for_load_state("load")
    await check_page(visit, "accounts-new")
    await page.get_by_label("Username").fill(name)
    await page.get_by_label("Role").select_option("staff")
    await page.get_by_label("Password", exact=True).fill("password1")
    await page.get_by_label("Password again").fill("password1")
    await page.get_by_role("button", name="Create the account").click()
    await page.wait_for_load_state("load")
    error = page.locator("#f-password-error")
    assert await error.inner_text() == "The password is one of the most common passwords"
    assert await page.get_by_label("Username").input_value() == name  # kept
    await check_page(visit, "accounts-new-refused")
    await page.get_by_label("Password", exact=True).fill(STRONG)
    await page.get_by_label("Password again").fill(STRONG)
    await page.get_by_role("button", name="Create the account").click()
    await page.wait_for_load_state("load")
    assert re.search(r"/console/accounts/\d+$", page.url), page.url
    assert await _notice(visit) == f"Account {name} created (staff)."
    assert await page.get_by_role("heading", level=1).inner_text() == name
    await check_page(visit, "accounts-account")

    await page.get_by_label("New role").select_option("manager")
    await page.get_by_role("button", name="Change the role").click()
    await page.wait_for_load_state("load")
    assert await _notice(visit) == f"{name} is now manager; their sessions have ended."

    await page.get_by_label("New password", exact=True).fill(OTHER)
    await page.get_by_label("New password again").fill(OTHER)
    await page.get_by_role("button", name="Set the new password").click()
    await page.wait_for_load_state("load")
    assert await _notice(visit) == f"{name} has a new password; their sessions have ended."

    asked: list[str] = []

    async def accept(dialog) -> None:  # the data-confirm question
        asked.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)
    await page.get_by_role("button", name="Disable the account").click()
    await page.wait_for_load_state("load")
    assert asked and asked[0].startswith(f"Disable {name}?")
    assert await _notice(visit) == f"{name} is disabled; their sessions have ended."
    assert await page.get_by_role("button", name="Enable the account").is_visible()
    trail = page.get_by_role("region", name=f"Audit trail of {name}")
    rows = await trail.get_by_role("row").all_inner_texts()
    actions = [row.split("\t")[1] for row in rows[1:]]
    assert actions == ["disabled", "password reset", "role changed", "created"]
    assert all("\tadmin\t" in row for row in rows[1:])
    await check_page(visit, "accounts-account-disabled")

    await visit.goto(f"/console/accounts/?username={name}&status=disabled")
    listed = page.get_by_role("region", name="Accounts")
    assert await listed.get_by_role("link", name=name).is_visible()
    assert "manager" in await listed.inner_text()
    await check_page(visit, "accounts-list-filtered")

    # The disabled account cannot sign in, with either password.
    await visit.sign_out()
    await visit.sign_in(name, OTHER)
    assert await page.get_by_role("alert").inner_text() == "Wrong username or password."


async def test_an_admin_sees_the_login_locks(visit):
    page = visit.page
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"  # made up: no such account
    for _ in range(4):
        await visit.sign_in(ghost, "not the password")
    said = await page.get_by_role("alert").inner_text()
    assert said in ("Wrong username or password.", "") or said.startswith("Too many failed")
    await visit.sign_in("admin", DEMO_ACCOUNTS["admin"])
    await visit.goto("/console/accounts/")
    await page.get_by_role("link", name="Login locks").click()
    await page.wait_for_load_state("load")
    assert page.url.endswith("/console/accounts/locks")
    await check_page(visit, "accounts-locks")
    row = page.get_by_role("row").filter(has_text=ghost)
    if await row.count():  # the live app throttles sign-ins: clear the lock
        await row.get_by_role("button", name="Clear this lock").click()
        await page.wait_for_load_state("load")
        assert await _notice(visit) == f"The lock on {ghost} is cleared: it may sign in again now."
        assert await page.get_by_role("row").filter(has_text=ghost).count() == 0
    else:  # tests/live.py turns throttling off (clearing is tested in test_accounts.py)
        main = await page.inner_text("main")
        assert "No account or address is locked now" in main
