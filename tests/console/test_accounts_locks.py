"""The console's login locks (admins): the locks `GET /api/v1/auth/locks` lists, cleared alike.

The test app does not throttle sign-ins (tests/live.py): these tests install a throttle of
their own (`throttle`, tests/console/conftest.py), and lock a made-up username by failing
sign-ins through the sign-in page.
"""

from __future__ import annotations

import re
import uuid

from backoffice.core.auth.service import Role
from tests.console.conftest import csrf_of


async def _fail_sign_ins(console_clients, username: str, times: int) -> list[int]:
    http = console_clients()
    statuses = []
    for _ in range(times):
        page = await http.get("/console/sign-in")
        answer = await http.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(page.text), "username": username, "password": "nope"},
        )
        statuses.append(answer.status_code)
    return statuses


async def test_an_admin_sees_and_clears_a_login_lock(
    client, admin, console_as, console_clients, throttle
):
    http = await console_as(Role.ADMIN)
    ghost = f"Ghost-{uuid.uuid4().hex[:6]}"  # made up: no such account
    assert await _fail_sign_ins(console_clients, ghost, 4) == [401, 401, 401, 429]
    key = f"platform:{ghost.lower()}"
    page = await http.get("/console/accounts/locks")
    assert page.status_code == 200
    api = (await client.get("/api/v1/auth/locks", headers=admin)).json()["data"]
    assert [lock["key"] for lock in api] == [key]
    assert f'name="key" value="{key}"' in page.text
    row = re.search(
        rf"<th scope=\"row\">{ghost.lower()}</th>\s*<td>account</td>\s*"
        r'<td class="num">(\d+)</td>',
        page.text,
    )
    assert row is not None and int(row.group(1)) == api[0]["failures"] == 3
    assert api[0]["locked_until"][:16].replace("T", " ") in page.text

    cleared = await http.form("/console/accounts/locks/clear", {"key": key})
    assert cleared.status_code == 303
    after = await http.get(cleared.headers["location"])
    assert f"The lock on {ghost.lower()} is cleared" in after.text
    assert "No account or address is locked now." in after.text
    assert (await client.get("/api/v1/auth/locks", headers=admin)).json()["data"] == []
    again = await http.form("/console/accounts/locks/clear", {"key": key})
    assert again.status_code == 404 and "nothing to clear" in again.text
    bad = await http.form("/console/accounts/locks/clear", {"key": "nothing-like-a-key"})
    assert bad.status_code == 422 and "followed by the name" in bad.text
    assert await _fail_sign_ins(console_clients, ghost, 1) == [401]  # may try again


async def test_the_locks_page_says_when_nothing_is_locked(console_as):
    http = await console_as(Role.ADMIN)
    page = await http.get("/console/accounts/locks")
    assert page.status_code == 200
    assert "No account or address is locked now" in page.text
