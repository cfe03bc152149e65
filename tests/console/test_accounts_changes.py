"""The console's Accounts section, its changes: creating an account, then its role, status,
password and deletion, as admins; refusals told in plain words with nothing written.

Every change goes through `core.auth.accounts`, so the audit trail names the console's admin
as the actor. The pages (the list, an account's page) are in test_accounts.py.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from backoffice.core.auth import accounts
from backoffice.core.auth.models import AccountEvent
from backoffice.core.auth.service import Role, create_account
from tests.conftest import PASSWORD, basic
from tests.console.accounts_support import (
    API,
    STRONG,
    events_of,
    every_form,
    field_error,
    id_of,
    state_of,
)

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
    new_id = await id_of(session, name)
    assert made.headers["location"] == f"/console/accounts/{new_id}"
    page = await http.get(made.headers["location"])
    assert f"Account {name} created (manager)." in page.text
    assert "created" in page.text and boss in page.text  # the audit trail, with its actor
    assert await events_of(session, name) == [("created", boss_id, boss)]
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
    assert await state_of(session, name) is None
    assert await events_of(session, name) == []


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
    account_id = await id_of(session, name)
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
    assert await state_of(session, name) is None
    assert (await events_of(session, name))[-1] == ("deleted", boss_id, boss)
    assert (await http.get(f"/console/accounts/{account_id}")).status_code == 404


async def test_a_weak_or_mismatched_new_password_is_told_next_to_the_field(
    session, auth, signed_in_admin
):
    http, _, _ = signed_in_admin
    name = f"pat-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await id_of(session, name)
    before = await state_of(session, name)
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
    assert await state_of(session, name) == before
    assert await events_of(session, name) == []


async def test_your_own_account_is_refused_in_plain_words(session, signed_in_admin):
    http, boss, boss_id = signed_in_admin
    page = await http.get(f"/console/accounts/{boss_id}")
    assert "This is your own account" in page.text
    assert f'action="/console/accounts/{boss_id}/role"' not in page.text  # not shown...
    before = await state_of(session, boss)
    for action, data in (
        ("role", {"role": "staff"}),
        ("disable", {}),
        ("password", {"password": STRONG, "password_confirm": STRONG}),
        ("delete", {}),
    ):
        answer = await http.form(f"/console/accounts/{boss_id}/{action}", data)  # ...nor accepted
        assert answer.status_code == 409, action
        assert "This is your own account: another admin must change" in answer.text
    assert await state_of(session, boss) == before
    assert await events_of(session, boss) == []


async def test_the_last_admin_is_refused_in_plain_words(
    session, auth, signed_in_admin, monkeypatch
):
    http, _, _ = signed_in_admin
    name = f"ivy-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.ADMIN)
    account_id = await id_of(session, name)

    # While this admin signs in, another can be the last one only by a race: the service is
    # made to answer as it would then.
    async def last(*args, **kwargs):
        raise accounts.LastAdmin()

    monkeypatch.setattr(accounts, "set_active", last)
    answer = await http.form(f"/console/accounts/{account_id}/disable")
    assert answer.status_code == 409
    assert "This is the last active admin: create or enable another admin first." in answer.text
    assert await state_of(session, name) == (Role.ADMIN.value, True, 1)


async def test_forms_without_the_csrf_token_are_refused_and_write_nothing(
    session, auth, signed_in_admin
):
    http, _, _ = signed_in_admin
    name = f"kim-{uuid.uuid4().hex[:6]}"
    await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    account_id = await id_of(session, name)
    posts = every_form(account_id, name, f"x{name}")
    for path, data in posts.items():
        missing = await http.post(path, data=data)
        assert missing.status_code == 403, path
        assert "expired or came from another site" in missing.text
        wrong = await http.post(path, data={**data, "csrf_token": "x" * 43})
        assert wrong.status_code == 403, path
    assert await state_of(session, name) == (Role.STAFF.value, True, 1)
    assert await state_of(session, f"x{name}") is None
    assert await events_of(session, name) == []


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
    changed = await http.form(f"/console/accounts/{await id_of(session, name)}/{action}", data)
    assert changed.status_code == 303, changed.text
    refused = await theirs.get("/console/", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/console/sign-in")
    assert (await http.get("/console/")).status_code == 200  # the admin's own goes on
