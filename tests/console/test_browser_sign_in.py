"""In a real browser: signing in and out of the console, and its error pages, offline."""

from __future__ import annotations

from backoffice.demo import DEMO_ACCOUNTS
from tests.console.browser import check_page


async def test_sign_in_home_and_sign_out(visit):
    await visit.goto("/console/")
    assert visit.page.url.endswith("/console/sign-in?next=%2Fconsole%2F")
    await check_page(visit, "sign-in")
    await visit.sign_in("admin", "wrong password")
    assert await visit.page.get_by_role("alert").inner_text() == "Wrong username or password."
    await visit.sign_in("admin", DEMO_ACCOUNTS["admin"])
    assert visit.page.url.endswith("/console/")
    assert await visit.page.get_by_role("navigation", name="Sections").is_visible()
    await check_page(visit, "home")
    await visit.sign_out()
    assert visit.page.url.endswith("/console/sign-in")
    assert "You are signed out." in await visit.page.inner_text("main")


async def test_the_not_found_page(visit):
    await visit.sign_in("staff", DEMO_ACCOUNTS["staff"])
    await visit.goto("/console/no/such/page")
    assert await visit.page.locator("h1").inner_text() == "Not Found"
    await check_page(visit, "not-found")
