"""The README's savings walkthrough, run by bash and curl as written, against a live server."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backoffice.services import SAVINGS_ACCOUNTING
from tests.live import LIVE_SAVINGS, live_demo

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


def test_the_readme_walkthrough_works_with_curl_as_written(live_url, tmp_path):
    assert shutil.which("curl"), "the walkthrough is curl"
    script = walkthrough().replace(DEFAULT_BASE, live_url)
    assert DEFAULT_BASE not in script
    # The CLI of this checkout, on the live app's accounting database.
    script = script.replace(".venv/bin/backoffice", str(Path(sys.executable).parent / "backoffice"))
    accounting = LIVE_SAVINGS[live_url][SAVINGS_ACCOUNTING.service]
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SAVINGS_ACCOUNTING_DATABASE_URL": accounting},
    )
    assert result.returncode == 0, result.stderr
    # The first credit and the withdrawal, through `tee /dev/stderr`.
    first, withdrawal = documents(result.stderr)
    out = result.stdout
    csv_at = out.index("at,entry_id,kind")
    (
        signup,
        plans,
        chosen,
        second,
        third,
        now,
        then,
        page,
        again,
        other,
        chosen_3,
        into_savings,
        locked,
        reversal,
        withdrawals,
        statement,
    ) = documents(out[:csv_at])
    assert signup["status_code"] == 201
    assert signup["data"]["email"] == "ada@example.com"
    assert [p["name"] for p in plans["data"]] == [
        "Save 10%",
        "Save 5 a credit",
        "Save 20% at 2%, 30 days locked",
    ]
    assert (plans["data"][2]["lock_in_days"], plans["data"][2]["interest_rate"]) == (30, 2)
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
    assert chosen_3["data"]["id"] == 3
    assert (withdrawal["data"]["kind"], withdrawal["data"]["main"]) == ("withdrawal", -40.0)
    assert (into_savings["data"]["main"], into_savings["data"]["savings"]) == (-13.04, 13.04)
    error = locked["errors"][0]
    assert (locked["status_code"], error["code"]) == (422, "savings_locked")
    unlocks = datetime.fromisoformat(error["unlocks_at"])
    assert unlocks == datetime.fromisoformat(into_savings["data"]["at"]) + timedelta(days=30)
    assert (reversal["data"]["reverses"], reversal["data"]["main"]) == (
        withdrawal["data"]["entry_id"],
        40.0,
    )
    assert [e["entry_id"] for e in withdrawals["data"]] == [withdrawal["data"]["entry_id"]]
    assert "0 accounts, 0 months settled" in out  # Ada's first month is not over yet
    data = statement["data"]
    assert data["opening"] == {"main": 0, "savings": 0, "total": 0}
    assert data["closing"] == {"main": 140.0, "savings": 30.05, "total": 170.05}
    assert [e["kind"] for e in data["entries"]] == [
        "credit",
        "credit",
        "credit",
        "withdrawal",
        "transfer",
        "reversal",
    ]
    rows = list(csv.DictReader(io.StringIO(out[csv_at:].split("\n\n")[0])))
    assert [r["kind"] for r in rows][0::7] == ["opening", "closing"]
    (pdf,) = tmp_path.glob("statement-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
