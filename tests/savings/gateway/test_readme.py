"""The README's savings walkthrough, run by bash and curl as written, against a live server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import live_demo

README = Path(__file__).resolve().parents[3] / "README.md"
DEFAULT_BASE = "http://127.0.0.1:8000"


def walkthrough() -> str:
    """The first `sh` block of the README's "Savings scheme" section."""
    section = README.read_text().split("## Savings scheme", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1)


@pytest.fixture(scope="module")
def live_url(server_url: str) -> Iterator[str]:
    yield from live_demo(server_url, "savings_readme")


def documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents curl printed one after the other (bodies end without a newline)."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while (at := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def test_the_readme_walkthrough_works_with_curl_as_written(live_url):
    assert shutil.which("curl"), "the walkthrough is curl"
    script = walkthrough().replace(DEFAULT_BASE, live_url)
    assert DEFAULT_BASE not in script
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (first,) = documents(result.stderr)  # the first credit, through `tee /dev/stderr`
    signup, plans, chosen, second, third, now, then, page, again, other = documents(result.stdout)
    assert signup["status_code"] == 201
    assert signup["data"]["email"] == "ada@example.com"
    assert [p["name"] for p in plans["data"]] == ["Save 10%", "Save 5 a credit"]
    assert chosen["data"]["kind"] == "percentage"
    splits = [(c["data"]["main"], c["data"]["savings"]) for c in (first, second, third)]
    assert splits == [(90.0, 10.0), (45.04, 5.01), (18.0, 2.0)]
    assert (now["data"]["main"], now["data"]["savings"], now["data"]["total"]) == (
        153.04,
        17.01,
        170.05,
    )
    assert (then["data"]["main"], then["data"]["savings"], then["data"]["total"]) == (
        90.0,
        10.0,
        100.0,
    )
    assert [c["amount"] for c in page["data"]] == [100.0, 50.05]
    assert page["pagination"]["total"] == 3
    assert again["data"] == first["data"], "the same key returns the first credit"
    assert other["status_code"] == 409
