"""One live server on a demo database for the whole-API tests (fuzzing, the auth matrix)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import pytest

from backoffice.app import create_app
from tests.live import demo_database, live_settings, serve


@pytest.fixture(scope="package")
def api_url(server_url: str) -> Iterator[str]:
    """Base URL of the real app on a committed database loaded with the demo."""
    with (
        demo_database(server_url, f"backoffice_api_{uuid.uuid4().hex[:8]}") as url,
        serve(create_app(live_settings(url), database_url=url)) as base,
    ):
        yield base


def basic_header(username: str, password: str) -> str:
    """The value of an `Authorization: Basic` header."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
