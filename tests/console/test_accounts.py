"""The console's Accounts section, its pages: the list, its export, an account's page; refused
to everyone but admins.

What the pages show is compared with `/api/v1/auth/accounts` for the same data. The changes
(creating, role, status, password, delete) are in test_accounts_changes.py.
"""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import pytest

from backoffice.console import accounts as console_accounts
from backoffice.core.auth.service import Role, create_account
from tests.conftest import PASSWORD
from tests.console.accounts_support import (
    API,
    STRONG,
    events_of,
    every_form,
    field_error,
    id_of,
    listed,
    state_of,
)

# --- the list ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"role": "manager"},
        {"status": "disabled"},
        {"role": "staff", "status": "active"},
    ],
    ids=str,
)
async def test_the_list_shows_what_the_api_lists(client, admin, people, signed_in_admin, query):
    http, _, _ = signed_in_admin
    params = {"username": people.upper(), **query}  # part of the name, any case
    page = await http.get("/console/accounts/", params=params)
    assert page.status_code == 200, page.text
    api_params = {**params, "sort": "username"}
    if "status" in query:
        api_params["is_active"] = "true" if query.pop("status") == "active" else "false"
        del api_params["status"]
    answer = await client.get(API, params=api_params, headers=admin)
    assert answer.status_code == 200, answer.text
    expected = [(a["id"], a["username"], a["role"], a["is_active"]) for a in answer.json()["data"]]
    assert expected, "the filters select someone"
    assert listed(page.text) == expected


async def test_the_list_paginates_and_orders_as_chosen(
    client, admin, people, signed_in_admin, monkeypatch
):
    http, _, _ = signed_in_admin
    monkeypatch.setattr(console_accounts, "PAGE_SIZE", 2)
    seen = []
    url = f"/console/accounts/?username={people}"
    for _ in range(3):
        page = await http.get(url)
        assert page.status_code == 200
        seen += [name for _, name, _, _ in listed(page.text)]
        following = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        if following is None:
            break
        url = html.unescape(following.group(1))
    assert seen == sorted(f"{people}-{n}" for n in ("ann", "bob", "cat", "dan", "eli"))
    assert "5\u20135 of 5" in page.text  # the pager: 5-5 of 5
    for sort, api_sort in (("newest", "-created_at"), ("role", "role,username")):
        page = await http.get("/console/accounts/", params={"username": people, "sort": sort})
        api = await client.get(
            API, params={"username": people, "sort": api_sort, "limit": 2}, headers=admin
        )
        assert [name for _, name, _, _ in listed(page.text)] == [
            a["username"] for a in api.json()["data"]
        ]


async def test_the_csv_export_has_the_filtered_accounts(client, admin, people, signed_in_admin):
    http, _, _ = signed_in_admin
    page = await http.get("/console/accounts/", params={"username": people, "role": "manager"})
    link = re.search(r'<a href="(/console/accounts/export\.csv[^"]*)"', page.text)
    assert link is not None
    exported = await http.get(html.unescape(link.group(1)))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    api = await client.get(API, params={"username": people, "role": "manager"}, headers=admin)
    assert [(r["username"], r["role"], r["status"]) for r in rows] == [
        (a["username"], a["role"], "active" if a["is_active"] else "disabled")
        for a in api.json()["data"]
    ]
    assert {r["status"] for r in rows} == {"active", "disabled"}


@pytest.mark.parametrize(
    ("query", "field"),
    [({"role": "owner"}, "role"), ({"status": "asleep"}, "status"), ({"sort": "salary"}, "sort")],
)
async def test_a_bad_filter_is_told_next_to_it(signed_in_admin, query, field):
    http, _, _ = signed_in_admin
    page = await http.get("/console/accounts/", params=query)
    assert page.status_code == 422
    assert field_error(page.text, field)
    export = await http.get("/console/accounts/export.csv", params=query)
    assert export.status_code == 422
    too_long = await http.get("/console/accounts/", params={"username": "x" * 151})
    assert too_long.status_code == 422 and "<html" in too_long.text


# --- one account's page ------------------------------------------------------------------------


async def test_an_accounts_page_shows_what_the_api_shows(client, admin, session, signed_in_admin):
    http, _, _ = signed_in_admin
    name = f"una-{uuid.uuid4().hex[:6]}"
    made = await client.post(
        API, json={"username": name, "password": STRONG, "role": "staff"}, headers=admin
    )
    account_id = made.json()["data"]["id"]
    await client.patch(f"{API}/{account_id}", json={"role": "manager"}, headers=admin)
    page = await http.get(f"/console/accounts/{account_id}")
    one = (await client.get(f"{API}/{account_id}", headers=admin)).json()["data"]
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", page.text))
    assert facts["Role"] == one["role"] == "manager"
    assert "active" in facts["Status"] and one["is_active"]
    assert facts["Created"] == one["created_at"][:16].replace("T", " ") + " UTC"
    audit = (await client.get(f"{API}/{account_id}/audit", headers=admin)).json()["data"]
    shown = re.findall(r'<th scope="row">([^<]+)</th>\s*<td>([^<]+)</td>', page.text)
    assert shown == [(e["action"].replace("_", " "), e["actor"]) for e in audit]
    assert len(shown) == 2


async def test_the_audit_trail_pages_newest_first(session, auth, signed_in_admin, monkeypatch):
    http, _, _ = signed_in_admin
    name = f"val-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await id_of(session, name)
    for role in ("manager", "admin", "staff"):
        await http.form(f"/console/accounts/{account_id}/role", {"role": role})
    monkeypatch.setattr(console_accounts, "EVENTS_PAGE_SIZE", 2)
    first = await http.get(f"/console/accounts/{account_id}")
    assert re.findall(r"<td>(\w+) → (\w+)</td>", first.text) == [
        ("admin", "staff"),
        ("manager", "admin"),
    ]
    following = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert following is not None
    second = await http.get(html.unescape(following.group(1)))
    assert re.findall(r"<td>(\w+) → (\w+)</td>", second.text) == [("staff", "manager")]
    assert "3\u20133 of 3" in second.text


# --- refused to everyone but admins ------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MANAGER, Role.STAFF])
async def test_managers_and_staff_get_403_everywhere_and_see_no_accounts_link(
    console_as, session, auth, role
):
    http = await console_as(role)
    name = f"lou-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await id_of(session, name)
    home = await http.get("/console/")
    assert home.status_code == 200
    assert 'href="/console/accounts/"' not in home.text
    pages = [
        "/console/accounts/",
        "/console/accounts/export.csv",
        "/console/accounts/new",
        f"/console/accounts/{account_id}",
        "/console/accounts/locks",
    ]
    for path in pages:
        answer = await http.get(path)
        assert answer.status_code == 403, path
        assert "may not open this page" in answer.text
    forms = every_form(account_id, name, f"y{name}")
    for path, data in forms.items():
        assert (await http.form(path, data)).status_code == 403, path
    assert await state_of(session, name) == (Role.STAFF.value, True, 1)
    assert await state_of(session, f"y{name}") is None
    assert await events_of(session, name) == []
