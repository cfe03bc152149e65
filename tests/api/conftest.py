"""One live server on a demo database for the whole-API tests (fuzzing, the auth matrix)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from tests.live import live_demo


@pytest.fixture(scope="package")
def api_url(server_url: str) -> Iterator[str]:
    """Base URL of the real app on a committed database loaded with the demo."""
    yield from live_demo(server_url, "backoffice_api")


def basic_header(username: str, password: str) -> str:
    """The value of an `Authorization: Basic` header."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
