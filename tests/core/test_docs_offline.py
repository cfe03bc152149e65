"""`/docs` and `/redoc` render in a headless Chromium with no request leaving the machine.

A live uvicorn server, Debian's Chromium (`make dev` installs it) driven by Playwright; every
request to a host that is not loopback is recorded and refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Request, Route, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from backoffice.app import create_app
from backoffice.core.config import Settings
from tests.console.browser import CHROMIUM, CHROMIUM_ARGS, LOOPBACK
from tests.live import serve


@pytest.fixture(scope="module")
def live_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make dev` installs it"
    quiet = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("docs") / "none"})
    with serve(create_app(quiet, database_url=settings.database_url)) as url:
        yield url


async def _render(url: str, selector: str) -> tuple[int, list[str], str]:
    """Load `url`; return how many `selector` elements rendered, the external requests, text."""
    external: list[str] = []

    def outside(request: Request) -> bool:
        parts = urlsplit(request.url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOOPBACK

    async def only_loopback(route: Route) -> None:
        if outside(route.request):
            await route.abort("blockedbyclient")
        else:
            await route.continue_()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context()
            context.on("request", lambda r: external.append(r.url) if outside(r) else None)
            await context.route("**/*", only_loopback)
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            with contextlib.suppress(PlaywrightTimeout):  # reported below, with the requests
                await page.wait_for_selector(selector, timeout=20_000)
            await page.wait_for_load_state("networkidle")
            return await page.locator(selector).count(), external, await page.inner_text("body")
        finally:
            await browser.close()


def _operations(live_url: str) -> int:
    """How many operations the schema holds (a page shows each once per tag, at least once)."""
    paths = httpx.get(f"{live_url}/openapi.json").json()["paths"]
    verbs = {"get", "post", "put", "patch", "delete"}
    count = sum(len(verbs & set(operations)) for operations in paths.values())
    assert count >= 50
    return count


async def test_swagger_ui_renders_every_operation_offline(live_url):
    count, external, text = await _render(f"{live_url}/docs", ".opblock")
    assert external == [], "the docs page tried to reach the internet"
    assert count >= _operations(live_url), text[:500]
    assert "/api/v1/auth/token" in text
    assert "/analytics/top-merchant" in text


async def test_redoc_renders_every_operation_offline(live_url):
    count, external, text = await _render(f"{live_url}/redoc", "[data-section-id^='operation/']")
    assert external == [], "the ReDoc page tried to reach the internet"
    assert count >= _operations(live_url), text[:500]
    assert "/api/v1/auth/token" in text


async def test_the_root_redirects_to_the_console(client):
    response = await client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/console/"


def test_the_redoc_bundle_names_no_image_of_redoc_s_site():
    from backoffice.core.docs import BLANK_IMAGE, REDOC_IMAGES, redoc_bundle

    bundle = redoc_bundle()
    assert b"redoc.ly/redoc/logo" not in bundle
    assert BLANK_IMAGE in bundle  # the logo was there, and is now inline
    assert REDOC_IMAGES.search(bundle) is None
