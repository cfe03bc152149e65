"""The console's Accounts section: every page and form, as admins, and refused to everyone else.

What the pages show is compared with `/api/v1/auth/accounts` for the same data; every change
goes through `core.auth.accounts`, so the audit trail names the console's admin as the actor.
"""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import pytest
from sqlalchemy import func, select

from backoffice.console import accounts as console_accounts
from backoffice.core.auth import accounts
from backoffice.core.auth.models import Account, AccountEvent
from backoffice.core.auth.service import Role, create_account
from tests.conftest import PASSWORD, basic

API = "/api/v1/auth/accounts"
STRONG = "violet-otter-quarry-17"
ROW = re.compile(
    r'<th scope="row"><a href="/console/accounts/(\d+)">([^<]+)</a>.*?</th>\s*'
    r"<td>(\w+)</td>\s*<td>.*?(active|disabled)</span>",
    re.S,
)


def listed(page: str) -> list[tuple[int, str, str, bool]]:
    """(id, username, role, active) of each row of the accounts list."""
    return [
        (int(i), html.unescape(name), role, status == "active")
        for i, name, role, status in ROW.findall(page)
    ]


def field_error(page: str, field: str) -> str | None:
    """The message shown next to a field of a form (None: none)."""
    found = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


async def _id(session, username: str) -> int:
    found = await session.scalar(select(Account.id).where(Account.username == username))
    assert found is not None, username
    return int(found)


async def _state(session, username: str) -> tuple[str, bool, int] | None:
    row = (
        await session.execute(
            select(Account.role, Account.is_active, Account.auth_version).where(
                Account.username == username
            )
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def _events(session, username: str) -> list[tuple[str, int | None, str]]:
    rows = await session.execute(
        select(AccountEvent.action, AccountEvent.actor_account_id, AccountEvent.actor)
        .where(AccountEvent.username == username)
        .order_by(AccountEvent.id)
    )
    return [(a, b, c) for a, b, c in rows.all()]


@pytest.fixture
async def people(session, auth):
    """Five accounts sharing a unique prefix: two staff, a disabled manager, a manager, an admin."""
    prefix = f"acc{uuid.uuid4().hex[:6]}"
    made = {
        f"{prefix}-ann": Role.STAFF,
        f"{prefix}-bob": Role.STAFF,
        f"{prefix}-cat": Role.MANAGER,
        f"{prefix}-dan": Role.MANAGER,
        f"{prefix}-eli": Role.ADMIN,
    }
    for name, role in made.items():
        await create_account(session, auth, username=name, password=PASSWORD, role=role)
    cat = await accounts.account_named(session, f"{prefix}-cat")
    await accounts.set_active(
        session, auth, accounts.Operator.command_line("tests"), cat, active=False
    )
    await session.flush()
    return prefix


@pytest.fixture
async def signed_in_admin(session, auth, console_client):
    """An admin signed in to the console: (browser, username, account id)."""
    name = f"boss-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.ADMIN)
    http = await console_client(name)
    return http, name, await _id(session, name)


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


# --- creating ------------------------------------------------------------------------------------


async def test_an_admin_creates_an_account_that_then_signs_in(
    client, admin, session, signed_in_admin, console_client
):
    http, boss, boss_id = signed_in_admin
    form = await http.get("/console/accounts/new")
    assert form.status_code == 200
    assert "At least 8 characters" in form.text  # the rule, next to the field
    name = f"new-{uuid.uuid4().hex[:6]}"
    made = await http.form(
        "/console/accounts/new",
        {"username": name, "role": "manager", "password": STRONG, "password_confirm": STRONG},
    )
    assert made.status_code == 303, made.text
    new_id = await _id(session, name)
    assert made.headers["location"] == f"/console/accounts/{new_id}"
    page = await http.get(made.headers["location"])
    assert f"Account {name} created (manager)." in page.text
    assert "created" in page.text and boss in page.text  # the audit trail, with its actor
    assert await _events(session, name) == [("created", boss_id, boss)]
    api = await client.get(f"{API}/{new_id}", headers=admin)
    assert api.json()["data"]["role"] == "manager" and api.json()["data"]["is_active"]
    newcomer = await console_client(name, STRONG)
    assert (await newcomer.get("/console/")).status_code == 200


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password": "password1"}, "password", "one of the most common passwords"),
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"password": "{name}"}, "password", "must not be the username"),
        ({"password": "adminpass"}, "password", "published demo password"),
        ({"password_confirm": "violet-otter-quarry-18"}, "password_confirm", "differ"),
        ({"password": ""}, "password", "Enter the new password"),
        ({"username": "has space"}, "username", "no spaces"),
        ({"username": ""}, "username", "Enter a username"),
        ({"username": "x" * 151}, "username", "At most 150 characters"),
        ({"role": "owner"}, "role", "Choose a role"),
    ],
)
async def test_a_refused_account_is_told_next_to_the_field_and_nothing_is_written(
    session, signed_in_admin, fields, field, message
):
    http, _, _ = signed_in_admin
    name = f"nope-{uuid.uuid4().hex[:6]}"
    data = {"username": name, "role": "staff", "password": STRONG, "password_confirm": STRONG}
    data |= {k: v.format(name=name) for k, v in fields.items()}
    if "password" in fields and "password_confirm" not in fields:
        data["password_confirm"] = data["password"]
    answer = await http.form("/console/accounts/new", data)
    assert answer.status_code == 422, answer.text
    shown = field_error(answer.text, field)
    assert shown is not None and message.lower() in shown.lower(), (shown, answer.text[-2000:])
    assert f'value="{data["username"][:150]}"' in answer.text or field == "username"
    assert await _state(session, name) is None
    assert await _events(session, name) == []


async def test_a_taken_username_is_told_next_to_it(session, signed_in_admin, people):
    http, _, _ = signed_in_admin
    taken = f"{people}-ANN"  # another case of an existing name
    before = await session.scalar(select(func.count()).select_from(AccountEvent))
    answer = await http.form(
        "/console/accounts/new",
        {"username": taken, "role": "staff", "password": STRONG, "password_confirm": STRONG},
    )
    assert answer.status_code == 409
    assert "This username is taken" in (field_error(answer.text, "username") or "")
    assert await session.scalar(select(func.count()).select_from(AccountEvent)) == before


# --- changing an account -------------------------------------------------------------------------


async def test_role_status_password_and_delete_through_the_console_are_audited(
    client, admin, session, auth, signed_in_admin
):
    http, boss, boss_id = signed_in_admin
    name = f"tom-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await _id(session, name)
    page = await http.get(f"/console/accounts/{account_id}")
    assert page.status_code == 200
    for action in ("role", "disable", "password", "delete"):
        assert f'action="/console/accounts/{account_id}/{action}"' in page.text
    assert 'data-confirm="Delete' in page.text

    moved = await http.form(f"/console/accounts/{account_id}/role", {"role": "manager"})
    assert moved.status_code == 303
    api = (await client.get(f"{API}/{account_id}", headers=admin)).json()["data"]
    assert api["role"] == "manager"
    off = await http.form(f"/console/accounts/{account_id}/disable")
    assert off.status_code == 303
    shown = await http.get(off.headers["location"])
    assert "is disabled; their sessions have ended." in shown.text
    assert f'action="/console/accounts/{account_id}/enable"' in shown.text
    assert (await client.get(f"{API}/{account_id}", headers=admin)).json()["data"][
        "is_active"
    ] is False
    on = await http.form(f"/console/accounts/{account_id}/enable")
    assert on.status_code == 303
    reset = await http.form(
        f"/console/accounts/{account_id}/password",
        {"password": STRONG, "password_confirm": STRONG},
    )
    assert reset.status_code == 303
    assert (await client.get("/api/v1/auth/me", headers=basic(name, STRONG))).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=basic(name))).status_code == 401

    trail = await http.get(f"/console/accounts/{account_id}")
    for shown_action in ("role changed", "disabled", "enabled", "password reset"):
        assert shown_action in trail.text
    assert "staff → manager" in trail.text
    audit = await client.get(f"{API}/{account_id}/audit", headers=admin)
    assert [e["action"] for e in audit.json()["data"]] == [
        "password_reset",
        "enabled",
        "disabled",
        "role_changed",
    ]
    assert {(e["actor_account_id"], e["actor"]) for e in audit.json()["data"]} == {(boss_id, boss)}

    gone = await http.form(f"/console/accounts/{account_id}/delete")
    assert gone.status_code == 303 and gone.headers["location"] == "/console/accounts/"
    assert "deleted; its audit trail is kept" in (await http.get("/console/accounts/")).text
    assert await _state(session, name) is None
    assert (await _events(session, name))[-1] == ("deleted", boss_id, boss)
    assert (await http.get(f"/console/accounts/{account_id}")).status_code == 404


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
    account_id = await _id(session, name)
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


async def test_a_weak_or_mismatched_new_password_is_told_next_to_the_field(
    session, auth, signed_in_admin
):
    http, _, _ = signed_in_admin
    name = f"pat-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await _id(session, name)
    before = await _state(session, name)
    weak = await http.form(
        f"/console/accounts/{account_id}/password",
        {"password": "password1", "password_confirm": "password1"},
    )
    assert weak.status_code == 422
    assert "most common passwords" in (field_error(weak.text, "password") or "")
    differ = await http.form(
        f"/console/accounts/{account_id}/password",
        {"password": STRONG, "password_confirm": STRONG + "!"},
    )
    assert differ.status_code == 422
    assert "differ" in (field_error(differ.text, "password_confirm") or "")
    no_role = await http.form(f"/console/accounts/{account_id}/role", {"role": "root"})
    assert no_role.status_code == 422 and "Choose a role" in (
        field_error(no_role.text, "role") or ""
    )
    assert await _state(session, name) == before
    assert await _events(session, name) == []


async def test_your_own_account_is_refused_in_plain_words(session, signed_in_admin):
    http, boss, boss_id = signed_in_admin
    page = await http.get(f"/console/accounts/{boss_id}")
    assert "This is your own account" in page.text
    assert f'action="/console/accounts/{boss_id}/role"' not in page.text  # not shown...
    before = await _state(session, boss)
    for action, data in (
        ("role", {"role": "staff"}),
        ("disable", {}),
        ("password", {"password": STRONG, "password_confirm": STRONG}),
        ("delete", {}),
    ):
        answer = await http.form(f"/console/accounts/{boss_id}/{action}", data)  # ...nor accepted
        assert answer.status_code == 409, action
        assert "This is your own account: another admin must change" in answer.text
    assert await _state(session, boss) == before
    assert await _events(session, boss) == []


async def test_the_last_admin_is_refused_in_plain_words(
    session, auth, signed_in_admin, monkeypatch
):
    http, _, _ = signed_in_admin
    name = f"ivy-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.ADMIN)
    account_id = await _id(session, name)

    # While this admin signs in, another can be the last one only by a race: the service is
    # made to answer as it would then.
    async def last(*args, **kwargs):
        raise accounts.LastAdmin()

    monkeypatch.setattr(accounts, "set_active", last)
    answer = await http.form(f"/console/accounts/{account_id}/disable")
    assert answer.status_code == 409
    assert "This is the last active admin: create or enable another admin first." in answer.text
    assert await _state(session, name) == (Role.ADMIN.value, True, 1)


async def test_forms_without_the_csrf_token_are_refused_and_write_nothing(
    session, auth, signed_in_admin
):
    http, _, _ = signed_in_admin
    name = f"kim-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await _id(session, name)
    posts = {
        "/console/accounts/new": {
            "username": f"x{name}",
            "role": "admin",
            "password": STRONG,
            "password_confirm": STRONG,
        },
        f"/console/accounts/{account_id}/role": {"role": "admin"},
        f"/console/accounts/{account_id}/disable": {},
        f"/console/accounts/{account_id}/password": {
            "password": STRONG,
            "password_confirm": STRONG,
        },
        f"/console/accounts/{account_id}/delete": {},
        "/console/accounts/locks/clear": {"key": f"platform:{name}"},
    }
    for path, data in posts.items():
        missing = await http.post(path, data=data)
        assert missing.status_code == 403, path
        assert "expired or came from another site" in missing.text
        wrong = await http.post(path, data={**data, "csrf_token": "x" * 43})
        assert wrong.status_code == 403, path
    assert await _state(session, name) == (Role.STAFF.value, True, 1)
    assert await _state(session, f"x{name}") is None
    assert await _events(session, name) == []


@pytest.mark.parametrize("role", [Role.MANAGER, Role.STAFF])
async def test_managers_and_staff_get_403_everywhere_and_see_no_accounts_link(
    console_as, session, auth, role
):
    http = await console_as(role)
    name = f"lou-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await _id(session, name)
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
    forms = {
        "/console/accounts/new": {
            "username": f"y{name}",
            "role": "admin",
            "password": STRONG,
            "password_confirm": STRONG,
        },
        f"/console/accounts/{account_id}/role": {"role": "admin"},
        f"/console/accounts/{account_id}/disable": {},
        f"/console/accounts/{account_id}/enable": {},
        f"/console/accounts/{account_id}/password": {
            "password": STRONG,
            "password_confirm": STRONG,
        },
        f"/console/accounts/{account_id}/delete": {},
        "/console/accounts/locks/clear": {"key": f"platform:{name}"},
    }
    for path, data in forms.items():
        assert (await http.form(path, data)).status_code == 403, path
    assert await _state(session, name) == (Role.STAFF.value, True, 1)
    assert await _state(session, f"y{name}") is None
    assert await _events(session, name) == []


# --- sessions end with the change --------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("role", {"role": "manager"}),
        ("password", {"password": STRONG, "password_confirm": STRONG}),
        ("disable", {}),
    ],
)
async def test_a_change_in_the_console_ends_that_accounts_console_sessions_at_once(
    session, auth, signed_in_admin, console_client, action, data
):
    http, _, _ = signed_in_admin
    name = f"sam-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    theirs = await console_client(name)
    assert (await theirs.get("/console/")).status_code == 200
    changed = await http.form(f"/console/accounts/{await _id(session, name)}/{action}", data)
    assert changed.status_code == 303, changed.text
    refused = await theirs.get("/console/", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/console/sign-in")
    assert (await http.get("/console/")).status_code == 200  # the admin's own goes on
