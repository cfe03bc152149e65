"""Merchants in the console: the analytics as charts, the import runs, the quarantine, uploads.

Imports commit on their own connection (as the app's background import does): a test that
imports empties the merchant tables first (`fresh_merchants`; not after: the test's rolled-back
session may still hold locks on them, as in tests/merchants).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI

from backoffice.console import merchants_upload
from backoffice.core.auth.service import Role
from backoffice.ingest.pipeline import import_files, libpq_url
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.console.multipart import MULTIPART, multipart
from tests.merchants.conftest import FIXTURES, reset

PAGE = "/console/merchants/upload"
DAY1 = FIXTURES / "activities_20240101.csv"
DAY2 = FIXTURES / "activities_20240102.csv"


@pytest.fixture
def fresh_merchants(database_url: str) -> str:
    """The test database (libpq URL) with empty merchant tables."""
    url = libpq_url(database_url)
    reset(url)
    return url


@pytest.fixture
def inbox(app: FastAPI, tmp_path: Path) -> Iterator[Path]:
    """The app's DATA_DIR for this test: a folder of its own, not yet there."""
    folder = tmp_path / "inbox"
    settings = app.state.settings
    # Not monkeypatch: its undo deletes what a starlette `State` holds instead of restoring it.
    app.state.settings = settings.model_copy(update={"data_dir": folder})
    yield folder
    app.state.settings = settings


def _cell(label: str, value: str) -> str:
    """A row of a chart's table (the `chart` macro's markup)."""
    return f'<tr><th scope="row">{html.escape(label)}</th><td class="num">{value}</td></tr>'


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def _upload(http, name: str, content: bytes, **kw):
    return await http.post(
        PAGE,
        data={"csrf_token": http.csrf},
        files={"file": (name, content, "text/csv")},
        **kw,
    )


async def _wait_for_import(app: FastAPI) -> None:
    assert await asyncio.to_thread(app.state.merchant_importer.wait, 30)


# --- the pages --------------------------------------------------------------------------------


async def test_every_page_opens_for_a_reader(console_as, fresh_merchants):
    import_files(fresh_merchants, MERCHANT_ACTIVITIES, [FIXTURES])
    http = await console_as(Role.STAFF)
    for path in (
        "/console/merchants/",
        "/console/merchants/imports",
        "/console/merchants/imports?status=failed",
        PAGE,
        "/console/merchants/progress",
    ):
        answer = await http.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")
    export = await http.get("/console/merchants/imports.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("id,file_name,status")
    assert len(lines) == 3  # the header and the two fixture files


async def test_a_bad_query_is_a_page_not_a_crash(console_as):
    http = await console_as(Role.STAFF)
    for path in (
        "/console/merchants/imports?limit=100000",
        "/console/merchants/imports?status=nonsense",
        "/console/merchants/imports/99999999999999999999999",
        f"{PAGE}?file=../../etc/passwd",
    ):
        answer = await http.get(path)
        assert answer.status_code in (404, 422), (path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
    missing = await http.get("/console/merchants/imports/987654321")
    assert missing.status_code == 404


async def test_the_figures_are_the_apis(console_as, client, staff, fresh_merchants):
    import_files(fresh_merchants, MERCHANT_ACTIVITIES, [FIXTURES])
    http = await console_as(Role.STAFF)
    page = (await http.get("/console/merchants/")).text

    async def api(name: str):
        answer = await client.get(f"/analytics/{name}", headers=staff)
        assert answer.status_code == 200
        return answer.json()

    monthly = await api("monthly-active-merchants")
    assert monthly  # the fixtures have successful events
    for month, count in monthly.items():
        assert _cell(month, f"{count:,}") in page
    for product, count in (await api("product-adoption")).items():
        assert _cell(product, f"{count:,}") in page
    funnel = await api("kyc-funnel")
    stages = ("Documents submitted", "Verifications completed", "Tier upgrades")
    for label, key in zip(stages, funnel, strict=True):
        assert _cell(label, f"{funnel[key]:,}") in page
    # the stages in the funnel's order
    assert page.index(_cell(stages[0], "")[:-30]) < page.index(_cell(stages[2], "")[:-30])
    for rate in await api("failure-rates"):
        assert _cell(rate["product"], f"{rate['failure_rate']:.1f}%") in page
    top = await api("top-merchant")
    assert top["merchant_id"] in page
    assert f"{Decimal(top['total_volume']):,.2f}" in page
    assert page.count("<svg") == 4 and page.count("<caption>") == 4


async def test_an_empty_database_draws_empty_charts(console_as, fresh_merchants):
    http = await console_as(Role.STAFF)
    page = await http.get("/console/merchants/")
    assert page.status_code == 200
    assert "No merchant activity has been imported yet." in page.text


async def test_a_run_page_shows_its_counts_and_its_rejected_lines(
    console_as, client, staff, fresh_merchants
):
    import_files(fresh_merchants, MERCHANT_ACTIVITIES, [DAY1])
    runs = (await client.get("/api/v1/merchants/imports", headers=staff)).json()["data"]
    (run,) = runs
    http = await console_as(Role.STAFF)
    listing = (await http.get("/console/merchants/imports")).text
    assert f'href="/console/merchants/imports/{run["id"]}"' in listing
    page = (await http.get(f"/console/merchants/imports/{run['id']}")).text
    assert run["file_name"] in page and "succeeded" in page
    assert f"<dd>{run['rows_read']:,}</dd>" in page
    assert f"<dd>{run['rejected']:,}</dd>" in page
    lines = re.findall(r'<th scope="row" class="num">(\d+)</th>', page)
    assert len(lines) == run["rejected"] > 0
    assert lines == sorted(lines, key=int)  # in file order
    # a page of them, and the next page
    first = (await http.get(f"/console/merchants/imports/{run['id']}?limit=2")).text
    assert len(re.findall(r'<th scope="row" class="num">', first)) == 2
    assert 'rel="next"' in first
    export = await http.get(f"/console/merchants/imports/{run['id']}/rejects.csv")
    assert export.status_code == 200
    assert len(export.text.strip().splitlines()) == run["rejected"] + 1


# --- uploads ----------------------------------------------------------------------------------


async def test_a_good_file_lands_in_the_inbox_and_is_imported(
    fresh_merchants, app, console_as, client, staff, inbox
):
    http = await console_as(Role.MANAGER)
    form = await http.get(PAGE)
    assert 'type="file"' in form.text
    before = (await client.get("/analytics/top-merchant", headers=staff)).json()
    assert before["merchant_id"] is None
    answer = await _upload(http, "activities_20240101.csv", DAY1.read_bytes())
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"] == f"{PAGE}?file=activities_20240101.csv"
    assert _files(inbox) == ["activities_20240101.csv"]
    assert (inbox / "activities_20240101.csv").read_bytes() == DAY1.read_bytes()
    await _wait_for_import(app)
    after = (await client.get("/analytics/top-merchant", headers=staff)).json()
    assert after["merchant_id"] is not None
    done = await http.get(answer.headers["location"])
    assert "is in the inbox; its import has started." in done.text
    assert "succeeded" in done.text and "data-done" in done.text
    block = await http.get("/console/merchants/progress?file=activities_20240101.csv")
    assert block.text.lstrip().startswith("<section")  # the block alone, no layout
    assert "succeeded" in block.text and "<nav" not in block.text
    health = (await client.get("/health")).json()["data"]["background"]["merchant_import"]
    assert health["state"] == "idle" and health["inserted"] >= 9


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("activities.csv", DAY1.read_bytes(), "only takes files named activities_YYYYMMDD.csv"),
        ("activities_20241340.csv", DAY1.read_bytes(), "YYYYMMDD a real day"),
        ("../activities_20240101.csv", DAY1.read_bytes(), None),  # the path is dropped: lands
        ("activities_20240105.csv", b"", "empty (0 bytes)"),
        ("activities_20240105.csv", b"id,name\n1,x\n", "the header does not match"),
        ("activities_20240105.csv", b"\xff\xfe\n", "not valid UTF-8"),
    ],
)
async def test_a_refused_file_leaves_nothing_in_the_inbox(
    app, console_as, inbox, name, content, message, monkeypatch
):
    started = []
    monkeypatch.setattr(app.state.merchant_importer, "request", lambda *a: started.append(a))
    http = await console_as(Role.MANAGER)
    answer = await _upload(http, name, content)
    if message is None:
        assert answer.status_code == 303
        assert _files(inbox) == ["activities_20240101.csv"]
        return
    assert answer.status_code == 422, answer.text[:300]
    assert message in html.unescape(answer.text)
    assert 'id="f-file-error"' in answer.text  # next to the field
    assert _files(inbox) == []  # not even the partial file
    assert started == []


async def test_a_file_already_in_the_inbox_is_not_replaced(app, console_as, inbox, monkeypatch):
    monkeypatch.setattr(app.state.merchant_importer, "request", lambda *a: None)
    inbox.mkdir()
    (inbox / "activities_20240101.csv").write_bytes(b"the original")
    http = await console_as(Role.ADMIN)
    answer = await _upload(http, "activities_20240101.csv", DAY1.read_bytes())
    assert answer.status_code == 422
    assert "already in the inbox" in answer.text
    assert (inbox / "activities_20240101.csv").read_bytes() == b"the original"
    assert _files(inbox) == ["activities_20240101.csv"]


async def test_a_file_over_the_limit_is_refused(app, console_as, inbox, monkeypatch):
    http = await console_as(Role.MANAGER)
    # Declared too long: refused before anything is read (core.bodylimit).
    declared = await http.post(
        PAGE,
        content=b"x" * 10,
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(merchants_upload.MAX_BODY_BYTES + 1),
        },
    )
    assert declared.status_code == 413
    assert "larger than" in declared.text
    # Streamed past the file's limit: what was written is removed.
    monkeypatch.setattr(merchants_upload, "MAX_FILE_BYTES", 1000)
    answer = await _upload(http, "activities_20240105.csv", DAY1.read_bytes() * 3)
    assert answer.status_code == 413
    assert "The file is larger than 1,000 bytes." in answer.text
    assert _files(inbox) == []


async def test_a_file_over_the_apps_own_body_limit_is_taken(app, console_as, inbox, monkeypatch):
    """The route declares its own limit: a file larger than MAX_BODY_BYTES (1 MiB) lands."""
    monkeypatch.setattr(app.state.merchant_importer, "request", lambda *a: None)
    http = await console_as(Role.MANAGER)
    header, first = DAY1.read_bytes().split(b"\n")[:2]
    big = header + b"\n" + (first + b"\n") * (3 * (1 << 20) // len(first))
    assert len(big) > 2 * app.state.settings.max_body_bytes
    answer = await _upload(http, "activities_20240106.csv", big)
    assert answer.status_code == 303, answer.text[:300]
    assert (inbox / "activities_20240106.csv").stat().st_size == len(big)


async def test_csrf_is_checked_before_the_file_is_read(app, console_as, inbox, monkeypatch):
    started = []
    monkeypatch.setattr(app.state.merchant_importer, "request", lambda *a: started.append(a))
    http = await console_as(Role.MANAGER)
    good = DAY1.read_bytes()
    # How the page wires the reader's check (every refusal: tests/console/test_uploads.py).
    body = multipart(("csrf_token", None, b"forged"), ("file", "activities_20240101.csv", good))
    answer = await http.post(PAGE, content=body, headers=MULTIPART)
    assert answer.status_code == 403, answer.text[:300]
    assert "came from another site" in answer.text
    # another site's page, even with the token
    body = multipart(
        ("csrf_token", None, http.csrf.encode()), ("file", "activities_20240101.csv", good)
    )
    elsewhere = {**MULTIPART, "Origin": "https://evil.example"}
    assert (await http.post(PAGE, content=body, headers=elsewhere)).status_code == 403
    assert _files(inbox) == [] and started == []
    # the same body from this page goes through
    answer = await http.post(PAGE, content=body, headers=MULTIPART)
    assert answer.status_code == 303
    assert _files(inbox) == ["activities_20240101.csv"]


async def test_no_file_or_not_a_form(app, console_as, inbox):
    http = await console_as(Role.MANAGER)
    empty_choice = await _upload(http, "", b"")
    assert empty_choice.status_code == 422
    assert "Choose a file to upload." in empty_choice.text
    plain = await http.form(PAGE, {"file": "activities_20240101.csv"})
    assert plain.status_code == 422
    cut = await http.post(
        PAGE,
        content=multipart(("csrf_token", None, http.csrf.encode()))[:-10],
        headers=MULTIPART,
    )
    assert cut.status_code == 422
    assert "cut off" in cut.text and 'id="f-file-error"' in cut.text  # next to the field
    assert _files(inbox) == []


async def test_staff_may_watch_but_not_upload(app, console_as, inbox):
    http = await console_as(Role.STAFF)
    page = await http.get(PAGE)
    assert page.status_code == 200
    assert 'type="file"' not in page.text and "Upload and import" not in page.text
    assert "Import progress" in page.text
    answer = await _upload(http, "activities_20240101.csv", DAY1.read_bytes())
    assert answer.status_code == 403
    assert _files(inbox) == []
