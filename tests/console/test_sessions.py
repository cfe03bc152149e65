"""Signing in to the console: sessions kept on the server, cookies, CSRF, and their ends."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from backoffice.core.auth import accounts
from backoffice.core.auth.models import WebSession
from backoffice.core.auth.service import Role, create_account
from backoffice.core.auth.websessions import Customer, digest, start
from tests.conftest import PASSWORD
from tests.console.conftest import csrf_of


async def test_sign_in_sets_a_locked_down_cookie_and_leads_where_the_visitor_was_going(
    console_clients, session, auth
):
    ada = f"ada-{uuid.uuid4().hex[:8]}"
    await create_account(session, auth, username=ada, password=PASSWORD, role=Role.STAFF)
    http = console_clients()
    first = await http.get("/console/", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/console/sign-in?next=%2Fconsole%2F"
    page = await http.get(first.headers["location"])
    assert 'name="next" value="/console/"' in page.text
    answer = await http.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "username": ada,
            "password": PASSWORD,
            "next": "/console/",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "backoffice_console=" in c)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development: plain http on loopback
    token = cookie.split("=", 1)[1].split(";", 1)[0]
    stored = await session.scalar(select(WebSession).where(WebSession.token_hash == digest(token)))
    assert stored is not None and stored.account_id is not None
    home = await http.get("/console/")
    assert home.status_code == 200 and ada in home.text


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/docs", "/console\\x"]
)
async def test_sign_in_never_leads_off_the_console(console_clients, session, auth, target):
    ben = f"ben-{uuid.uuid4().hex[:8]}"
    await create_account(session, auth, username=ben, password=PASSWORD, role=Role.STAFF)
    http = console_clients()
    page = await http.get("/console/sign-in")
    answer = await http.post(
        "/console/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "username": ben,
            "password": PASSWORD,
            "next": target,
        },
    )
    assert answer.headers["location"] == "/console/"


async def test_a_sign_in_never_keeps_a_planted_session(
    console_client, console_clients, session, auth
):
    cy = f"cy-{uuid.uuid4().hex[:8]}"
    await create_account(session, auth, username=cy, password=PASSWORD, role=Role.STAFF)
    planted = (await console_client(cy)).cookies["backoffice_console"]
    victim = console_clients()
    page = await victim.get("/console/sign-in")
    victim.cookies.set("backoffice_console", planted, path="/console")
    answer = await victim.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(page.text), "username": cy, "password": PASSWORD},
    )
    assert answer.status_code == 303
    given = next(c for c in answer.headers.get_list("set-cookie") if "backoffice_console=" in c)
    assert planted not in given
    gone = (
        select(func.count()).select_from(WebSession).where(WebSession.token_hash == digest(planted))
    )
    assert await session.scalar(gone) == 0


async def test_wrong_password_and_lockout_are_told_in_plain_words(
    console_clients, session, auth, throttle
):
    dee = f"dee-{uuid.uuid4().hex[:8]}"
    await create_account(session, auth, username=dee, password=PASSWORD, role=Role.STAFF)
    http = console_clients()
    statuses = []
    for _ in range(4):
        page = await http.get("/console/sign-in")
        answer = await http.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(page.text), "username": dee, "password": "wrong guess"},
        )
        statuses.append(answer.status_code)
    assert statuses == [401, 401, 401, 429]
    assert "Too many failed sign-ins. Try again in 30 seconds." in answer.text
    assert answer.headers["retry-after"] == "30"
    assert "backoffice_console=" not in answer.headers.get("set-cookie", "")


async def test_the_sign_in_form_needs_its_own_token(console_clients, session, auth):
    eve2 = f"eve2-{uuid.uuid4().hex[:8]}"
    await create_account(session, auth, username=eve2, password=PASSWORD, role=Role.STAFF)
    http = console_clients()
    await http.get("/console/sign-in")
    forged = await http.post(
        "/console/sign-in", data={"csrf_token": "x" * 64, "username": eve2, "password": PASSWORD}
    )
    assert forged.status_code == 403 and "expired or came from another site" in forged.text
    assert "backoffice_console=" not in forged.headers.get("set-cookie", "")


async def test_forms_without_the_session_token_or_from_another_origin_are_refused(console_as):
    http = await console_as(Role.STAFF)
    no_token = await http.post("/console/sign-out", data={})
    assert no_token.status_code == 403
    other_site = await http.form("/console/sign-out", headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
    still_in = await http.get("/console/")
    assert still_in.status_code == 200


async def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(console_as, console_clients):
    http = await console_as(Role.STAFF)
    stolen = console_clients()
    stolen.cookies.set("backoffice_console", http.cookies["backoffice_console"], path="/console")
    assert (await stolen.get("/console/")).status_code == 200
    out = await http.form("/console/sign-out")
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert (await stolen.get("/console/", follow_redirects=False)).status_code == 303
    signed_out = await http.get("/console/sign-in")
    assert "You are signed out." in signed_out.text


async def test_a_password_change_or_a_disabled_account_ends_the_session_at_once(
    console_client, session, auth
):
    fay = f"fay-{uuid.uuid4().hex[:8]}"
    gus = f"gus-{uuid.uuid4().hex[:8]}"
    for name in (fay, gus):
        await create_account(session, auth, username=name, password=PASSWORD, role=Role.STAFF)
    browsers = [await console_client(fay), await console_client(gus)]
    operator = accounts.Operator.command_line("tester")
    account = await accounts.account_named(session, fay)
    await accounts.reset_password(session, auth, operator, account, "a brand new passphrase 42")
    account = await accounts.account_named(session, gus)
    await accounts.set_active(session, auth, operator, account, False)
    await session.flush()
    for http in browsers:
        answer = await http.get("/console/", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/console/sign-in"
        )


async def test_an_idle_session_ends(console_as, session):
    http = await console_as(Role.STAFF)
    token = http.cookies["backoffice_console"]
    await session.execute(
        update(WebSession)
        .where(WebSession.token_hash == digest(token))
        .values(last_seen_at=func.now() - timedelta(minutes=31))
    )
    for _ in range(2):  # refused, and not brought back to life by being asked
        answer = await http.get("/console/", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/sign-in?next=%2Fconsole%2F"


async def test_pages_are_locked_down_and_errors_are_pages_with_the_request_id(console_as):
    http = await console_as(Role.STAFF)
    home = await http.get("/console/")
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["cache-control"] == "no-store"
    missing = await http.get("/console/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert missing.headers["x-request-id"] in missing.text
    assert 'href="/console/"' in missing.text  # the navigation is still there


async def test_a_staff_page_refuses_a_savings_customer(console_clients, session):
    token, _ = await start(
        session,
        lifetime=timedelta(hours=1),
        customer=Customer("c0ffee", "saver@example.com", "not-checked-here"),
    )
    http = console_clients()
    http.cookies.set("backoffice_console", token, path="/console")
    answer = await http.get("/console/")
    assert answer.status_code == 403
    assert "for the back office&#39;s staff" in answer.text


async def test_the_root_leads_to_the_console_and_assets_are_served_from_the_package(client):
    root = await client.get("/", follow_redirects=False)
    assert root.headers["location"] == "/console/"
    css = await client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    again = await client.get(
        "/console/static/console.css", headers={"If-None-Match": css.headers["etag"]}
    )
    assert again.status_code == 304
    for name in ("..%2Fweb.py", "nope.css", "console.py"):
        assert (await client.get(f"/console/static/{name}")).status_code == 404


async def test_a_session_for_an_account_gone_since_its_password_was_checked_is_refused(session):
    from backoffice.core.auth.service import Principal
    from backoffice.core.errors import Unauthorized

    ghost = Principal(2_000_000_000, "ghost", Role.STAFF, 1)
    with pytest.raises(Unauthorized):
        await start(session, lifetime=timedelta(hours=1), principal=ghost)
    # The transaction lives on (the insert ran in a savepoint): the sign-in page can answer.
    assert await session.scalar(select(func.count()).select_from(WebSession)) is not None


async def test_an_unexpected_failure_is_a_500_page_with_the_request_id_and_no_trace(
    console_as, monkeypatch
):
    from backoffice.ingest import history

    http = await console_as(Role.STAFF)

    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(history, "list_runs", broken)
    answer = await http.get("/console/")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-request-id"] in answer.text
    assert "secret detail" not in answer.text and "Traceback" not in answer.text


def test_the_session_cookie_is_secure_in_production():
    from types import SimpleNamespace

    from starlette.responses import Response

    from backoffice.console.signin import open_session

    for production in (True, False):
        settings = SimpleNamespace(is_production=production)
        request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)))
        response = open_session(request, Response(), "token")  # type: ignore[arg-type]
        cookie = next(
            c for c in response.headers.getlist("set-cookie") if c.startswith("backoffice_console=")
        )
        assert ("Secure" in cookie) is production
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
