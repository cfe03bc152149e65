"""Driving the console in a real browser: Debian's Chromium through Playwright, offline.

`open_page` gives a page whose every request to a host that is not loopback is refused and
recorded (the caller asserts there were none); `check_page` runs axe-core (bundled by
axe-playwright-python) and writes screenshots of the page at 1280 and 390 px wide under
`build/screenshots/` (`SCREENSHOTS` overrides), the same page both widths.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Request, Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS", Path(__file__).parents[2] / "build" / "screenshots")
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
AXE = Axe()


@dataclass
class Visit:
    """A browser tab on the console and what it tried to reach off the machine."""

    page: Page
    base: str
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base + path, wait_until="load")

    async def sign_in(self, username: str, password: str) -> None:
        """Sign in through the staff form, as a person would."""
        await self.goto("/console/sign-in")
        await self.page.get_by_label("Username").fill(username)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_load_state("load")

    async def sign_out(self) -> None:
        await self.page.get_by_role("button", name="Sign out").click()
        await self.page.wait_for_load_state("load")


def _outside(request: Request) -> bool:
    parts = urlsplit(request.url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK


@asynccontextmanager
async def open_page(browser: Browser, base: str) -> AsyncIterator[Visit]:
    """A new browser context (its own cookies) and page on the console at `base`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    visit = Visit(page, base)

    async def only_loopback(route: Route) -> None:
        if _outside(route.request):
            visit.external.append(route.request.url)
            await route.abort("blockedbyclient")
        else:
            await route.continue_()

    await context.route("**/*", only_loopback)
    # A script error, or a stylesheet, script or image that failed (a page's own status is its
    # test's business: a wrong password is a 401 page).
    page.on("pageerror", lambda error: visit.console_errors.append(str(error)))
    page.on(
        "response",
        lambda r: (
            visit.console_errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    try:
        yield visit
    finally:
        await context.close()


async def check_page(visit: Visit, name: str) -> None:
    """No serious or critical accessibility violation, at both widths; screenshots of each.

    Also: the layout holds at 390 px (nothing wider than the window but scrollable tables),
    and the page reached nothing off the machine.
    """
    page = visit.page
    for label, (width, height) in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": height})
        results = await AXE.run(page)
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{name} at {width}px: {bad}"
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{name} at {width}px is {overflow}px wider than the window"
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    assert visit.external == [], f"{name} reached off the machine: {visit.external}"
    assert visit.console_errors == [], f"{name}: {visit.console_errors}"
