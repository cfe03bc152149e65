import asyncio
import base64
import time

import jwt
from sqlalchemy import select

from backoffice.core.auth.models import Account
from backoffice.core.auth.service import Role, update_account
from tests.conftest import PASSWORD, basic, make_account


async def test_missing_credentials_is_401_with_challenge(probe):
    response = await probe.get("/api/v1/probe/read")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    body = response.json()
    assert body["status"] == "error"
    assert body["status_code"] == 401
    assert body["data"] is None


async def test_wrong_password_and_unknown_user_are_401(probe, staff):
    username = base64.b64decode(staff["Authorization"].split()[1]).decode().split(":")[0]
    wrong = await probe.get("/api/v1/probe/read", headers=basic(username, "not-the-password"))
    unknown = await probe.get("/api/v1/probe/read", headers=basic("nobody-here", PASSWORD))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"] == "Invalid credentials"


async def test_malformed_and_unsupported_authorization_are_401(probe):
    for header in (
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Digest x",
    ):
        response = await probe.get("/api/v1/probe/read", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_unknown_user_costs_a_hash_verification_like_a_wrong_password(
    probe, auth, monkeypatch
):
    calls = []
    original = auth._verify

    def counting_verify(stored, password):
        calls.append(stored)
        return original(stored, password)

    monkeypatch.setattr(auth, "_verify", counting_verify)
    response = await probe.get("/api/v1/probe/read", headers=basic("ghost", "whatever-pass"))
    assert response.status_code == 401
    assert len(calls) == 1


async def test_successful_verification_is_remembered_and_dropped_on_password_change(
    probe, session, auth, monkeypatch
):
    headers = await make_account(session, auth, Role.STAFF, username="cached-user")
    calls = []
    original = auth._verify

    def counting_verify(stored, password):
        calls.append(stored)
        return original(stored, password)

    monkeypatch.setattr(auth, "_verify", counting_verify)

    for _ in range(3):
        assert (await probe.get("/api/v1/probe/read", headers=headers)).status_code == 200
    assert len(calls) == 1, "later requests must not re-hash"

    account_id = auth._cache[auth._digest("cached-user", PASSWORD)][1].account_id
    await update_account(session, auth, account_id, password="a-brand-new-password")
    assert (await probe.get("/api/v1/probe/read", headers=headers)).status_code == 401
    fresh = basic("cached-user", "a-brand-new-password")
    assert (await probe.get("/api/v1/probe/read", headers=fresh)).status_code == 200


async def test_cache_never_holds_the_password(probe, auth, staff):
    await probe.get("/api/v1/probe/read", headers=staff)
    assert auth._cache
    for key in auth._cache:
        assert PASSWORD.encode() not in key


async def test_role_change_applies_at_once(probe, session, auth):
    headers = await make_account(session, auth, Role.STAFF, username="promoted")
    assert (await probe.delete("/api/v1/probe/delete", headers=headers)).status_code == 403
    account_id = await session.scalar(select(Account.id).where(Account.username == "promoted"))
    await update_account(session, auth, account_id, role=Role.ADMIN)
    assert (await probe.delete("/api/v1/probe/delete", headers=headers)).status_code == 200


async def test_role_matrix(probe, admin, manager, staff):
    item = {"name": "pen", "quantity": 2}
    expected = {
        "admin": (200, 201, 200),
        "manager": (200, 201, 403),
        "staff": (200, 403, 403),
    }
    for role, headers in (("admin", admin), ("manager", manager), ("staff", staff)):
        got = (
            (await probe.get("/api/v1/probe/read", headers=headers)).status_code,
            (await probe.post("/api/v1/probe/create", json=item, headers=headers)).status_code,
            (await probe.delete("/api/v1/probe/delete", headers=headers)).status_code,
        )
        assert got == expected[role], role
    forbidden = await probe.delete("/api/v1/probe/delete", headers=staff)
    assert forbidden.json()["errors"][0]["code"] == "forbidden"


async def test_bearer_token_is_accepted_instead_of_basic(probe, client, manager):
    issued = await client.post("/api/v1/auth/token", headers=manager)
    assert issued.status_code == 200
    token = issued.json()["data"]["access_token"]
    assert issued.json()["data"]["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/v1/auth/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["data"]["role"] == "manager"
    assert me.json()["data"]["permissions"] == ["create", "read", "update"]
    assert (
        await probe.post("/api/v1/probe/create", json={"name": "x", "quantity": 1}, headers=bearer)
    ).status_code == 201


async def test_tampered_or_expired_token_is_401(client, settings, manager):
    token = (await client.post("/api/v1/auth/token", headers=manager)).json()["data"][
        "access_token"
    ]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tampered}"})
    ).status_code == 401

    claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
    claims["exp"] = int(time.time()) - 5
    expired = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401

    forged = jwt.encode(
        {**claims, "exp": int(time.time()) + 60, "role": "admin"},
        "another-key-entirely-of-forty-bytes-long!",
        algorithm="HS256",
    )
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401


async def test_concurrent_requests_share_one_verification(probe, session, auth, monkeypatch):
    import asyncio

    headers = await make_account(session, auth, Role.STAFF, username="stampede")
    calls = []
    original = auth._verify

    def slow_verify(stored, password):
        calls.append(stored)
        time.sleep(0.05)
        return original(stored, password)

    monkeypatch.setattr(auth, "_verify", slow_verify)
    responses = await asyncio.gather(
        *(probe.get("/api/v1/probe/read", headers=headers) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [200] * 8
    assert len(calls) == 1


async def test_openapi_declares_both_schemes_and_public_probes(client):
    schema = (await client.get("/openapi.json")).json()
    assert {"basic", "bearer"} <= set(schema["components"]["securitySchemes"])
    assert schema["security"] == [{"basic": []}, {"bearer": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []


async def test_a_remembered_token_still_expires(client, settings, auth, manager):
    token = (await client.post("/api/v1/auth/token", headers=manager)).json()["data"][
        "access_token"
    ]
    claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
    # Whole seconds (JWT's): 3 of them, so that a slow first request (a loaded machine) still
    # finds it valid; `+ 1` left as little as a few milliseconds.
    expires = int(time.time()) + 3
    short = jwt.encode({**claims, "exp": expires}, settings.secret_key, algorithm="HS256")
    bearer = {"Authorization": f"Bearer {short}"}
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 200
    assert short in auth._tokens  # verified once, then remembered

    await asyncio.sleep(expires + 1.05 - time.time())
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
