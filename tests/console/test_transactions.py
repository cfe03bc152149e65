"""The transactions section's pages: the figures shown are the API's, bad input is a message.

The ETL's runs, a run with its task events, its rejects, and a user's summary and transactions
by date range, each compared with what the API answers for the same rows (inside the test's
rolled-back transaction).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.service import Role
from backoffice.ingest.models import ImportReject, ImportTaskEvent
from tests.transactions.factories import make_transaction, new_user_id
from tests.transactions.test_runs_api import make_run

BASE = "/console/transactions"
DASH = "\u2013"  # the pager's "1-50 of 60"


def cells(html: str, attribute: str) -> dict[str, str]:
    """The figures a page marks with `data-<attribute>="name"`, by name (commas dropped)."""
    found = re.findall(rf'data-{attribute}="([a-z_]+)">([^<]*)<', html)
    return {name: value.replace(",", "") for name, value in found}


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def api(client: Any, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_runs_page_lists_the_apis_runs_with_their_counts(
    console_as, client, admin, session
):
    older = await make_run(session, rows_read=1234, inserted=1200, rejected=30)
    newer = await make_run(session, status="failed", error="boom", rows_read=0, inserted=0)
    http = await console_as(Role.STAFF)
    page = await http.get(f"{BASE}/")
    assert page.status_code == 200, page.text
    listed = (await api(client, "/api/v1/transactions/runs", admin))["data"]
    for run in listed[:2]:
        assert f'href="{BASE}/runs/{run["id"]}"' in page.text
        assert run["file_name"] in page.text
    assert page.text.index(f"#{newer.id}<") < page.text.index(f"#{older.id}<")
    assert "1,234" in page.text and "1,200" in page.text
    assert f'href="{BASE}/runs/{older.id}/rejects">30<' in page.text

    failed = await http.get(f"{BASE}/?status=failed")
    api_failed = await api(client, "/api/v1/transactions/runs?status=failed", admin)
    shown = set(map(int, re.findall(rf'href="{BASE}/runs/(\d+)"', failed.text)))
    assert shown == {r["id"] for r in api_failed["data"]}
    assert older.id not in shown

    exported = await http.get(f"{BASE}/runs.csv?status=failed")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = csv_rows(exported.text)
    assert [int(r["id"]) for r in rows] == [r["id"] for r in api_failed["data"]]
    assert rows[0]["error"] == "boom"


async def test_an_unknown_status_is_a_message_next_to_the_filter(console_as):
    http = await console_as(Role.STAFF)
    page = await http.get(f"{BASE}/?status=running")
    assert page.status_code == 422
    assert 'id="f-status-error"' in page.text
    assert "Choose one of: succeeded, skipped, failed." in page.text


async def test_a_run_page_shows_the_apis_counts_and_task_events(console_as, client, admin, session):
    run = await make_run(
        session,
        started_by="airflow",
        dag_run_id=f"manual__{uuid.uuid4().hex}",
        rows_read=4321,
        inserted=4000,
        duplicates=11,
        conflicting=3,
        rejected=310,
    )
    session.add_all(
        [
            ImportTaskEvent(
                dataset="transactions", dag_run_id=run.dag_run_id, task="extract",
                level="info", message="staged 1 files",
            ),
            ImportTaskEvent(
                dataset="transactions", import_run_id=run.id, task="load",
                level="warning", message="slow <disk>",
            ),
        ]
    )  # fmt: skip
    await session.flush()
    http = await console_as(Role.STAFF)
    page = await http.get(f"{BASE}/runs/{run.id}")
    assert page.status_code == 200, page.text
    detail = (await api(client, f"/api/v1/transactions/runs/{run.id}", admin))["data"]
    shown = cells(page.text, "count")
    for name in ("rows_read", "inserted", "duplicates", "conflicting", "rejected"):
        assert int(shown[name]) == detail[name], name
    for event in detail["events"]:
        assert f"<td>{event['task']}</td>" in page.text
    assert "slow &lt;disk&gt;" in page.text  # escaped, as every value
    assert run.dag_run_id in page.text
    missing = await http.get(f"{BASE}/runs/2147483647")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    bad = await http.get(f"{BASE}/runs/abc")
    assert bad.status_code == 422


async def test_the_rejects_of_a_run_page_by_page_with_their_reasons(
    console_as, client, admin, session
):
    run = await make_run(session, rejected=60)
    session.add_all(
        ImportReject(
            dataset="transactions",
            file_name=run.file_name,
            line_number=line,
            raw_line=f"TXN{line},x,1,2024-01-01",
            reason="user_id_invalid" if line % 2 else "amount_invalid",
        )
        for line in range(2, 62)
    )
    await session.flush()
    http = await console_as(Role.STAFF)
    first = await http.get(f"{BASE}/runs/{run.id}/rejects")
    assert first.status_code == 200, first.text
    listed = await api(client, f"/api/v1/transactions/rejects?run_id={run.id}&limit=50", admin)
    lines = [int(n) for n in re.findall(r'<th scope="row" class="num">(\d+)</th>', first.text)]
    assert lines == [r["line_number"] for r in listed["data"]]
    assert f"1{DASH}50 of 60" in first.text
    assert "user_id_invalid" in first.text and "amount_invalid" in first.text
    assert "rejects?offset=50" in first.text
    second = await http.get(f"{BASE}/runs/{run.id}/rejects?offset=50")
    rest = [int(n) for n in re.findall(r'<th scope="row" class="num">(\d+)</th>', second.text)]
    assert rest == list(range(52, 62))
    exported = await http.get(f"{BASE}/runs/{run.id}/rejects.csv")
    rows = csv_rows(exported.text)
    assert len(rows) == 60
    assert rows[0] == {
        "file_name": run.file_name,
        "line_number": "2",
        "reason": "amount_invalid",
        "raw_line": "TXN2,x,1,2024-01-01",
        "first_version": "",
    }


async def test_a_users_summary_and_transactions_are_the_apis(console_as, client, admin, session):
    user = new_user_id()
    for day, amount in ((1, "1500.25"), (5, "-20.10"), (9, "0.01"), (20, "99.99")):
        await make_transaction(
            session, user_id=user, amount=Decimal(amount), transaction_date=date(2024, 3, day)
        )
    await make_transaction(session, amount=Decimal("5.00"))  # someone else's
    http = await console_as(Role.STAFF)
    page = await http.get(f"{BASE}/users?user_id={user}&from=2024-03-02&to=2024-03-10")
    assert page.status_code == 200, page.text

    summary = await api(client, f"/transactions/{user}/summary", admin)
    shown = cells(page.text, "figure")
    assert int(shown["total_transactions"]) == summary["total_transactions"] == 4
    for name in ("total_amount", "average_transaction_amount"):
        assert Decimal(shown[name]) == Decimal(str(summary[name])), name

    listed = await api(
        client, f"/api/v1/transactions?user_id={user}&from=2024-03-02&to=2024-03-10", admin
    )
    ids = re.findall(r"<td>(TXN-[0-9a-f]+)</td>", page.text)
    assert ids == [t["transaction_id"] for t in listed["data"]]
    assert len(ids) == 2  # the 9th and the 5th, newest first
    assert "-20.10" in page.text and "1,500.25" not in page.text.split("<table>")[1]

    exported = await http.get(f"{BASE}/users.csv?user_id={user}&from=2024-03-02&to=2024-03-10")
    rows = csv_rows(exported.text)
    assert [r["transaction_id"] for r in rows] == ids
    assert [Decimal(r["amount"]) for r in rows] == [
        Decimal(str(t["amount"])) for t in listed["data"]
    ]


async def test_bad_user_input_is_a_message_next_to_its_field(console_as):
    http = await console_as(Role.STAFF)
    cases = {
        "user_id=abc": ("user_id", "A user id is a whole number from 1 to 2147483647."),
        "user_id=0": ("user_id", "A user id is a whole number from 1 to 2147483647."),
        "user_id=99999999999": ("user_id", "A user id is a whole number"),
        "user_id=7&from=2024-13-01": ("from", "Write the date as YYYY-MM-DD"),
        "user_id=7&to=yesterday": ("to", "Write the date as YYYY-MM-DD"),
        "user_id=7&from=2024-03-10&to=2024-03-01": ("from", "The start must be on or before"),
    }
    for query, (field, message) in cases.items():
        page = await http.get(f"{BASE}/users?{query}")
        assert page.status_code == 422, (query, page.status_code)
        error = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', page.text)
        assert error is not None and message in error.group(1), (query, page.text[-800:])
        assert "<table>" not in page.text
    refused = await http.get(f"{BASE}/users.csv?user_id=abc")
    assert refused.status_code == 422
    nobody = await http.get(f"{BASE}/users?user_id=2147483646")
    assert nobody.status_code == 200
    assert "User 2147483646 has no transactions." in nobody.text
    blank = await http.get(f"{BASE}/users")
    assert blank.status_code == 200 and "Enter a user id" in blank.text


async def test_paging_through_a_users_transactions(console_as, session: AsyncSession):
    user = new_user_id()
    for n in range(55):
        await make_transaction(session, user_id=user, transaction_date=date(2023, 1, 1 + n % 28))
    http = await console_as(Role.STAFF)
    first = await http.get(f"{BASE}/users?user_id={user}")
    assert f"1{DASH}50 of 55" in first.text
    assert f"user_id={user}&amp;offset=50" in first.text
    second = await http.get(f"{BASE}/users?user_id={user}&offset=50")
    assert len(re.findall(r"<td>TXN-", second.text)) == 5
    odd = await http.get(f"{BASE}/users?user_id={user}&offset=-3")  # a link's offset: page 1
    assert f"1{DASH}50 of 55" in odd.text


async def test_staff_see_no_upload_and_managers_do(console_as):
    staff = await console_as(Role.STAFF)
    page = await staff.get(f"{BASE}/")
    assert f'href="{BASE}/upload"' not in page.text
    manager = await console_as(Role.MANAGER)
    assert f'href="{BASE}/upload"' in (await manager.get(f"{BASE}/")).text
