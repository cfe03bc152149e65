"""Account management: `/api/v1/auth/accounts` for admins, audited; tokens end with the account."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from backoffice.core import migrations
from backoffice.core.auth import accounts
from backoffice.core.auth.models import Account, AccountEvent
from backoffice.core.auth.service import (
    Authenticator,
    Principal,
    Role,
    create_account,
    update_account,
)
from backoffice.core.db import Database
from backoffice.core.errors import Unauthorized
from tests.conftest import PASSWORD, basic, make_account

ACCOUNTS = "/api/v1/auth/accounts"
STRONG = "violet-otter-quarry-17"


async def _account_id(session, username: str) -> int:
    found: int | None = await session.scalar(select(Account.id).where(Account.username == username))
    assert found is not None
    return found


async def _token(client, headers: dict[str, str]) -> dict[str, str]:
    issued = await client.post("/api/v1/auth/token", headers=headers)
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['data']['access_token']}"}


async def test_a_token_stops_working_when_the_role_changes(client, session, auth):
    headers = await make_account(session, auth, Role.ADMIN, username="demoted-admin")
    bearer = await _token(client, headers)
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 200
    await update_account(
        session, auth, await _account_id(session, "demoted-admin"), role=Role.STAFF
    )
    stale = await client.get(f"{ACCOUNTS}", headers=bearer)
    assert stale.status_code == 401, "a token issued before a role change still works"
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    fresh = await _token(client, headers)
    me = await client.get("/api/v1/auth/me", headers=fresh)
    assert me.json()["data"]["role"] == "staff"


async def test_admin_creates_lists_and_reads_accounts(client, session, admin):
    created = await client.post(
        ACCOUNTS,
        json={"username": "ops.jane", "password": STRONG, "role": "manager"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()["data"]
    assert body["username"] == "ops.jane"
    assert body["role"] == "manager"
    assert body["is_active"] is True
    assert "password" not in str(body)
    jane = basic("ops.jane", STRONG)
    assert (await client.get("/api/v1/auth/me", headers=jane)).json()["data"]["role"] == "manager"

    listed = await client.get(
        ACCOUNTS, params={"username": "JANE", "sort": "-username"}, headers=admin
    )
    assert listed.status_code == 200, listed.text
    assert [a["username"] for a in listed.json()["data"]] == ["ops.jane"]
    assert listed.json()["pagination"]["total"] == 1
    one = await client.get(f"{ACCOUNTS}/{body['id']}", headers=admin)
    assert one.json()["data"]["username"] == "ops.jane"
    by_role = await client.get(
        ACCOUNTS, params={"role": "manager", "is_active": "true"}, headers=admin
    )
    assert "ops.jane" in {a["username"] for a in by_role.json()["data"]}


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (ACCOUNTS, "GET", None),
        (ACCOUNTS, "POST", {"username": "sneaky", "password": STRONG, "role": "admin"}),
        (f"{ACCOUNTS}/1", "GET", None),
        (f"{ACCOUNTS}/1", "PATCH", {"role": "admin"}),
        (f"{ACCOUNTS}/1/password", "PUT", {"password": STRONG}),
        (f"{ACCOUNTS}/1/audit", "GET", None),
    ],
)
async def test_managers_and_staff_get_403(client, session, manager, staff, path, method, body):
    for headers in (manager, staff):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, response.text
        assert response.json()["errors"][0]["code"] == "forbidden"
    assert await session.scalar(select(Account.id).where(Account.username == "sneaky")) is None


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("weakling", "password1", "common"),
        ("weakling", "Weakling", "username"),
        ("weakling", "          ", "whitespace"),
        ("weakling", "adminpass", "published demo"),
        ("weakling", "short", "at least"),
    ],
)
async def test_a_weak_password_is_422_and_creates_nothing(
    client, session, admin, username, password, reason
):
    response = await client.post(
        ACCOUNTS, json={"username": username, "password": password, "role": "staff"}, headers=admin
    )
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "password"
    assert error["code"] == "weak_password"
    assert reason in error["message"]
    assert await session.scalar(select(Account.id).where(Account.username == username)) is None
    assert (
        await session.scalar(
            select(func.count()).select_from(AccountEvent).where(AccountEvent.username == username)
        )
        == 0
    )


@pytest.mark.parametrize(
    "username", ["with space", "col:on", "newline\n", "", "-dash-first", "é" * 3, "x" * 151]
)
async def test_a_username_that_could_not_log_in_is_422(client, admin, username):
    response = await client.post(
        ACCOUNTS, json={"username": username, "password": STRONG, "role": "staff"}, headers=admin
    )
    assert response.status_code == 422, response.text


async def test_a_taken_username_in_any_case_is_409(client, session, auth, admin):
    await make_account(session, auth, Role.STAFF, username="taken-name")
    response = await client.post(
        ACCOUNTS,
        json={"username": "Taken-Name", "password": STRONG, "role": "staff"},
        headers=admin,
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "username_taken"


async def test_disabling_ends_basic_and_bearer_at_once_and_enabling_restores_basic(
    client, session, auth, admin
):
    headers = await make_account(session, auth, Role.STAFF, username="leaver")
    bearer = await _token(client, headers)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200  # cached
    leaver = await _account_id(session, "leaver")

    disabled = await client.patch(f"{ACCOUNTS}/{leaver}", json={"is_active": False}, headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["data"]["is_active"] is False
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    assert (await client.post("/api/v1/auth/token", headers=headers)).status_code == 401

    enabled = await client.patch(f"{ACCOUNTS}/{leaver}", json={"is_active": True}, headers=admin)
    assert enabled.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401


async def test_a_password_reset_ends_the_old_password_and_tokens(client, session, auth, admin):
    headers = await make_account(session, auth, Role.MANAGER, username="forgetful")
    bearer = await _token(client, headers)
    target = await _account_id(session, "forgetful")
    reset = await client.put(
        f"{ACCOUNTS}/{target}/password", json={"password": STRONG}, headers=admin
    )
    assert reset.status_code == 200, reset.text
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    assert (
        await client.get("/api/v1/auth/me", headers=basic("forgetful", STRONG))
    ).status_code == 200
    weak = await client.put(
        f"{ACCOUNTS}/{target}/password", json={"password": "forgetful"}, headers=admin
    )
    assert weak.status_code == 422
    assert (
        await client.get("/api/v1/auth/me", headers=basic("forgetful", STRONG))
    ).status_code == 200


async def test_a_role_change_through_the_api_applies_to_basic_and_ends_tokens(
    client, session, auth, admin
):
    headers = await make_account(session, auth, Role.STAFF, username="promoted-one")
    bearer = await _token(client, headers)
    target = await _account_id(session, "promoted-one")
    changed = await client.patch(f"{ACCOUNTS}/{target}", json={"role": "admin"}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["role"] == "admin"
    assert (await client.get(ACCOUNTS, headers=headers)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401


async def test_an_admin_cannot_change_their_own_account(client, session, auth):
    headers = await make_account(session, auth, Role.ADMIN, username="self-admin")
    me = await _account_id(session, "self-admin")
    for method, path, body in (
        ("PATCH", f"{ACCOUNTS}/{me}", {"role": "staff"}),
        ("PATCH", f"{ACCOUNTS}/{me}", {"is_active": False}),
        ("PUT", f"{ACCOUNTS}/{me}/password", {"password": STRONG}),
    ):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 409, response.text
        assert response.json()["errors"][0]["code"] == "own_account"
    assert (await client.get(ACCOUNTS, headers=headers)).status_code == 200


async def test_the_last_active_admin_stays(session, auth):
    await make_account(session, auth, Role.ADMIN, username="only-admin")
    await session.execute(
        update(Account)
        .where(Account.role == "admin", Account.username != "only-admin")
        .values(is_active=False)
    )
    only = await accounts.account_named(session, "only-admin")
    cli = accounts.Operator.command_line("root")
    for change in (
        accounts.set_active(session, auth, cli, only, False),
        accounts.change_role(session, auth, cli, only, Role.MANAGER),
        accounts.delete_account(session, auth, cli, only),
    ):
        with pytest.raises(accounts.LastAdmin):
            await change
    await session.refresh(only)
    assert (only.role, only.is_active) == ("admin", True)
    other = await accounts.open_account(
        session, auth, cli, username="second-admin", password=STRONG, role=Role.ADMIN
    )
    await accounts.set_active(session, auth, cli, only, False)
    assert other.is_active and not only.is_active


async def test_unknown_accounts_are_404(client, admin):
    for method, path, body in (
        ("GET", f"{ACCOUNTS}/2147483647", None),
        ("PATCH", f"{ACCOUNTS}/2147483647", {"role": "staff"}),
        ("PUT", f"{ACCOUNTS}/2147483647/password", {"password": STRONG}),
        ("GET", f"{ACCOUNTS}/2147483647/audit", None),
    ):
        response = await client.request(method, path, json=body, headers=admin)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["errors"][0]["code"] == "account_not_found"


async def test_a_bad_sort_or_field_is_422(client, admin):
    assert (
        await client.get(ACCOUNTS, params={"sort": "password_hash"}, headers=admin)
    ).status_code == 422
    extra = await client.patch(f"{ACCOUNTS}/1", json={"password_hash": "x"}, headers=admin)
    assert extra.status_code == 422


async def test_every_change_is_audited_newest_first_and_outlives_the_account(client, session, auth):
    admin = await make_account(session, auth, Role.ADMIN, username="auditor-admin")
    created = await client.post(
        ACCOUNTS, json={"username": "audited", "password": STRONG, "role": "staff"}, headers=admin
    )
    target = created.json()["data"]["id"]
    await client.patch(f"{ACCOUNTS}/{target}", json={"role": "manager"}, headers=admin)
    await client.put(
        f"{ACCOUNTS}/{target}/password", json={"password": STRONG + "!"}, headers=admin
    )
    await client.patch(f"{ACCOUNTS}/{target}", json={"is_active": False}, headers=admin)
    await client.patch(f"{ACCOUNTS}/{target}", json={"is_active": False}, headers=admin)  # no-op

    trail = await client.get(f"{ACCOUNTS}/{target}/audit", headers=admin)
    assert trail.status_code == 200, trail.text
    events = trail.json()["data"]
    assert [e["action"] for e in events] == [
        "disabled",
        "password_reset",
        "role_changed",
        "created",
    ]
    assert {e["actor"] for e in events} == {"auditor-admin"}
    assert {e["actor_account_id"] for e in events} == {await _account_id(session, "auditor-admin")}
    assert events[2]["details"] == {"from": "staff", "to": "manager"}
    assert STRONG not in trail.text

    account = await accounts.get_account(session, target)
    await accounts.delete_account(session, auth, accounts.Operator.command_line("ops"), account)
    after = await client.get(f"{ACCOUNTS}/{target}/audit", headers=admin)
    assert after.status_code == 200
    assert [e["action"] for e in after.json()["data"]][:2] == ["deleted", "disabled"]
    assert after.json()["data"][0]["actor"] == "cli:ops"
    assert (await client.get(f"{ACCOUNTS}/{target}", headers=admin)).status_code == 404


async def test_a_failed_change_writes_nothing(client, session, auth, admin):
    await make_account(session, auth, Role.STAFF, username="unchanged")
    target = await _account_id(session, "unchanged")
    # A refused password changes nothing and records nothing.
    refused = await client.put(
        f"{ACCOUNTS}/{target}/password", json={"password": "unchanged"}, headers=admin
    )
    assert refused.status_code == 422
    assert (
        await client.get("/api/v1/auth/me", headers=basic("unchanged", PASSWORD))
    ).status_code == 200
    count = await session.scalar(
        select(func.count()).select_from(AccountEvent).where(AccountEvent.account_id == target)
    )
    assert count == 0


async def test_a_version_read_while_the_change_commits_is_not_remembered(
    empty_database_url, settings
):
    """A token checked between the change and its commit sees the old version; the commit
    forgets it again, so the token stops at once, not a TTL later."""
    migrations.upgrade(empty_database_url)
    database = Database(empty_database_url)
    auth = Authenticator(settings)
    try:
        async with database.unit_of_work() as session:
            account = await create_account(
                session, auth, username="racer", password=PASSWORD, role=Role.STAFF
            )
        principal = Principal(account.id, "racer", Role.STAFF, account.auth_version)
        assert await auth.check_current(database.sessionmaker, principal) == principal
        async with database.unit_of_work() as session:
            racer = await accounts.account_named(session, "racer")
            await accounts.set_active(
                session, auth, accounts.Operator.command_line("ops"), racer, False
            )
            # Another request, before the commit: the committed version still says active.
            assert await auth.check_current(database.sessionmaker, principal) == principal
        with pytest.raises(Unauthorized):
            await auth.check_current(database.sessionmaker, principal)
    finally:
        await database.dispose()
