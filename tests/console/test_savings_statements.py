"""A customer's statements on the console: the API's figures, and its very files.

The savings services run for real behind the test app (`savings`).
"""

from __future__ import annotations

import pytest

from backoffice.console.savings_statements import month_name
from tests.console.pages import field_error, tables
from tests.console.savings_support import bearer, credit, money, signed, transfer, withdraw

pytestmark = pytest.mark.usefixtures("savings")
STATEMENTS = "/console/savings/statements"


async def _this_month(client, token) -> str:
    balance = (await client.get("/api/v1/savings/balance", headers=token)).json()["data"]
    return str(balance["at"][:7])


async def test_the_statement_is_the_apis(console_customer, client):
    http, email = await console_customer()
    await credit(http, "120.00")
    assert (await withdraw(http, "20.00")).status_code == 303
    assert (await transfer(http, "main", "30.00")).status_code == 303
    token = await bearer(client, email)
    month = await _this_month(client, token)

    page = await http.get(STATEMENTS)
    assert page.status_code == 200
    api = (await client.get(f"/api/v1/savings/statements/{month}", headers=token)).json()["data"]
    assert f"<h1>Statement for {month_name(month)}</h1>" in page.text
    assert f'<option value="{month}" selected>' in page.text
    found = tables(page.text)
    assert found[f"Balances in {month_name(month)}"] == [
        ["Opening", *(money(api["opening"][k]) for k in ("main", "savings", "total"))],
        ["Closing", *(money(api["closing"][k]) for k in ("main", "savings", "total"))],
    ]
    assert found[f"Balances in {month_name(month)}"][1][1:] == ["70.00", "30.00", "100.00"]
    assert f"data-interest>{money(api['interest_earned'])}<" in page.text
    rows = found[f"Entries in {month_name(month)}, oldest first"]
    assert [row[1:7] for row in rows] == [
        [
            e["kind"].capitalize(),
            money(e["amount"]),
            signed(e["main"]),
            signed(e["savings"]),
            money(e["main_balance"]),
            money(e["savings_balance"]),
        ]
        for e in api["entries"]
    ]
    same = await http.get(STATEMENTS, params={"month": month})
    assert tables(same.text) == found

    for suffix, accept in (("csv", "text/csv"), ("pdf", "application/pdf")):
        assert f'href="{STATEMENTS}/{month}.{suffix}" download' in page.text
        mine = await http.get(f"{STATEMENTS}/{month}.{suffix}")
        theirs = await client.get(
            f"/api/v1/savings/statements/{month}", headers={**token, "Accept": accept}
        )
        assert mine.status_code == 200 and theirs.status_code == 200
        # The API's renderer, the same bytes; but the month is running, and a CSV's closing
        # row says the instant each was read at.
        assert steady(mine.content, suffix) == steady(theirs.content, suffix)
        assert mine.headers["content-type"].split(";")[0] == accept
        assert mine.headers["content-disposition"] == (
            f'attachment; filename="statement-{month}.{suffix}"'
        )
    assert mine.content.startswith(b"%PDF")


def steady(document: bytes, suffix: str) -> bytes:
    """A statement document less the instant a running month's CSV was read at."""
    if suffix != "csv":
        return document
    *rows, closing = document.decode().rstrip("\r\n").split("\r\n")
    assert closing.split(",")[2] == "closing"
    return "\r\n".join([*rows, closing.split(",", 1)[1]]).encode()


async def test_statement_entries_page_and_earlier_months_are_listed(
    console_customer, client, monkeypatch
):
    from backoffice.console import savings_statements

    monkeypatch.setattr(savings_statements, "PAGE_SIZE", 2)
    http, email = await console_customer()
    for amount in ("1.00", "2.00", "3.00"):
        await credit(http, amount)
    token = await bearer(client, email)
    month = await _this_month(client, token)
    first = await http.get(STATEMENTS)
    second = await http.get(STATEMENTS, params={"month": month, "offset": "2"})
    caption = f"Entries in {month_name(month)}, oldest first"
    assert [r[2] for r in tables(first.text)[caption]] == ["1.00", "2.00"]
    assert [r[2] for r in tables(second.text)[caption]] == ["3.00"]
    assert f'href="{STATEMENTS}?month={month}&amp;offset=2" rel="next"' in first.text
    # A month before the first entry, asked for by its address: all zeros, in the picker too.
    year, number = map(int, month.split("-"))
    before = f"{year - 1:04d}-{number:02d}"
    old = await http.get(STATEMENTS, params={"month": before})
    assert old.status_code == 200
    assert f'<option value="{before}" selected>' in old.text
    assert tables(old.text)[f"Balances in {month_name(before)}"][0][1:] == ["0.00"] * 3
    assert f"No entries in {month_name(before)}." in old.text


@pytest.mark.parametrize(
    "month", ["9999-99", "9999-12", "1999-12", "2026-13", "2026-1", "\N{SUPERSCRIPT TWO}", "<b>x"]
)
async def test_a_month_that_is_no_statement_is_said_next_to_the_picker(console_customer, month):
    http, _ = await console_customer()
    page = await http.get(STATEMENTS, params={"month": month})
    assert page.status_code == 422
    assert field_error(page.text, "month") == "Choose a month from the list."
    assert "<b>x" not in page.text
    for suffix in ("csv", "pdf"):
        download = await http.get(f"{STATEMENTS}/{month}.{suffix}")
        assert download.status_code in (404, 422), (month, download.status_code)
        assert download.headers["content-type"].startswith("text/html")
