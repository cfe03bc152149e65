"""The users service over a real NATS: its responders, and its events relayed to JetStream."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from backoffice.core.messaging import Message, RemoteError
from backoffice.savings.subjects import (
    DELETE_USER,
    GET_USER,
    LOGIN,
    SIGNUP,
    UPDATE_USER,
    USER_CREATED,
    USER_DELETED,
    USER_UPDATED,
)
from backoffice.savings.tokens import TokenVerifier
from backoffice.savings.users.models import OUTBOX, Customer
from tests.savings.users.conftest import EVENTS_FILTER, UsersService, unique_email

PASSWORD = "correct-horse-battery"
# Well under the relay's 5 s poll: an event arriving this fast was sent because of wake().
EVENT_WAIT = 3.0


async def _signup(users: UsersService, email: str) -> dict[str, Any]:
    return await users.client.request(
        SIGNUP, {"email": email, "password": PASSWORD, "full_name": " Ada Lovelace "}
    )


async def _outbox_drained(users: UsersService, msg_id: str) -> bool:
    deadline = asyncio.get_running_loop().time() + EVENT_WAIT
    while True:
        async with users.database.sessionmaker() as session:
            left = await session.scalar(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.msg_id == msg_id)
            )
        if left == 0 or asyncio.get_running_loop().time() > deadline:
            return left == 0
        await asyncio.sleep(0.05)


class Events:
    """The users events of one customer, read from the stream by a consumer of this test."""

    def __init__(self, users: UsersService, user_id: str) -> None:
        self.users = users
        self.user_id = user_id
        self.queue: asyncio.Queue[Message] = asyncio.Queue()

    async def start(self) -> None:
        async def handle(message: Message) -> None:
            if message.data.get("user_id") == self.user_id:
                await self.queue.put(message)

        durable = f"users-test-{uuid.uuid4().hex[:8]}"
        await self.users.client.consume(self.users.stream, durable, EVENTS_FILTER, handle)

    async def next(self) -> Message:
        return await asyncio.wait_for(self.queue.get(), EVENT_WAIT)


async def test_signup_replies_and_its_event_is_relayed(users_service: UsersService) -> None:
    email = unique_email()
    reply = await _signup(users_service, email.upper())
    assert set(reply) == {"user_id", "email", "full_name"}
    assert (reply["email"], reply["full_name"]) == (email, "Ada Lovelace")

    events = Events(users_service, reply["user_id"])
    await events.start()
    created = await events.next()
    assert created.subject == USER_CREATED
    assert created.data["email"] == email
    assert created.data["full_name"] == "Ada Lovelace"
    assert created.msg_id is not None and uuid.UUID(created.msg_id)
    assert created.deliveries == 1
    # The relay deletes the row in the transaction that published it, committed just after.
    assert await _outbox_drained(users_service, created.msg_id)


async def test_login_token_verifies_with_the_public_key_alone(
    users_service: UsersService, verifier: TokenVerifier
) -> None:
    email = unique_email()
    user = await _signup(users_service, email)
    reply = await users_service.client.request(LOGIN, {"email": email, "password": PASSWORD})
    assert reply["token_type"] == "bearer"
    assert reply["expires_in"] == 900
    claims = verifier.verify(reply["access_token"])
    assert (str(claims.user_id), claims.email) == (user["user_id"], email)


async def test_login_with_a_wrong_password_or_unknown_email_is_one_401(
    users_service: UsersService,
) -> None:
    email = unique_email()
    await _signup(users_service, email)
    messages = set()
    for credentials in (
        {"email": email, "password": "wrong-password"},
        {"email": unique_email(), "password": PASSWORD},
    ):
        with pytest.raises(RemoteError) as caught:
            await users_service.client.request(LOGIN, credentials)
        assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")
        messages.add(caught.value.message)
    assert len(messages) == 1


async def test_a_bad_message_is_a_422_with_every_field_at_fault(
    users_service: UsersService,
) -> None:
    with pytest.raises(RemoteError) as caught:
        await users_service.client.request(SIGNUP, {"email": 42, "full_name": "Ada"})
    error = caught.value
    assert (error.status_code, error.code) == (422, "validation_error")
    assert error.errors is not None
    by_field = {e["field"]: e for e in error.errors}
    assert set(by_field) == {"email", "password"}
    assert by_field["email"]["code"] == "string_type"
    assert by_field["password"]["code"] == "missing"
    assert all(set(e) == {"field", "message", "code"} and e["message"] for e in error.errors)

    with pytest.raises(RemoteError) as rule:
        await users_service.client.request(
            SIGNUP, {"email": "not-an-email", "password": PASSWORD, "full_name": "Ada"}
        )
    assert rule.value.status_code == 422
    assert rule.value.errors is not None and rule.value.errors[0]["field"] == "email"

    # A bare user id is no proof of anything: the command needs the customer's token.
    with pytest.raises(RemoteError) as bare_id:
        await users_service.client.request(GET_USER, {"user_id": str(uuid.uuid4())})
    assert bare_id.value.status_code == 422
    assert bare_id.value.errors is not None and bare_id.value.errors[0]["field"] == "token"


async def test_a_duplicate_email_is_a_409_and_writes_nothing(users_service: UsersService) -> None:
    await users_service.relay.stop()  # the outbox keeps what both signups enqueued
    email = unique_email()
    await _signup(users_service, email)
    with pytest.raises(RemoteError) as caught:
        await _signup(users_service, f"  {email.upper()} ")
    assert (caught.value.status_code, caught.value.code) == (409, "email_taken")
    async with users_service.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.email == email)
        )
        events = await session.scalar(
            select(func.count())
            .select_from(OUTBOX)
            .where(OUTBOX.c.payload["email"].astext == email)
        )
    assert count == 1
    assert events == 1  # the first signup's event; the refused one enqueued none


async def _login(users: UsersService, email: str, password: str = PASSWORD) -> str:
    reply = await users.client.request(LOGIN, {"email": email, "password": password})
    token: str = reply["access_token"]
    return token


async def test_get_update_delete_round_trip_with_their_events(
    users_service: UsersService,
) -> None:
    email = unique_email()
    user = await _signup(users_service, email)
    user_id = user["user_id"]
    token = await _login(users_service, email)
    events = Events(users_service, user_id)
    await events.start()
    assert (await events.next()).subject == USER_CREATED

    assert await users_service.client.request(GET_USER, {"token": token}) == user

    new_email = unique_email("countess")
    updated = await users_service.client.request(
        UPDATE_USER, {"token": token, "email": new_email.upper(), "full_name": "Augusta"}
    )
    assert updated == {"user_id": user_id, "email": new_email, "full_name": "Augusta"}
    changed = await events.next()
    assert changed.subject == USER_UPDATED
    assert (changed.data["email"], changed.data["full_name"]) == (new_email, "Augusta")
    assert changed.data["token_version"] == 1, "a new email leaves the tokens good"

    assert await users_service.client.request(DELETE_USER, {"token": token}) == {"user_id": user_id}
    gone = await events.next()
    assert gone.subject == USER_DELETED
    assert set(gone.data) == {"user_id", "at"}

    # The customer is gone: their token is refused, as any stale token is.
    for subject in (GET_USER, DELETE_USER, UPDATE_USER):
        with pytest.raises(RemoteError) as caught:
            await users_service.client.request(subject, {"token": token})
        assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")


async def _customers_with(users: UsersService, email: str) -> int:
    async with users.database.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.email == email)
        )
    return int(count or 0)


async def test_a_signup_retried_with_its_key_returns_the_first_customer(
    users_service: UsersService,
) -> None:
    email = unique_email()
    body = {"email": email, "password": PASSWORD, "full_name": "Ada"}
    key = f"signup-{uuid.uuid4().hex}"
    first = await users_service.client.request(SIGNUP, {**body, "idempotency_key": key})
    # The retry of a signup whose reply was lost: the same key, the same body (email in any case).
    again = await users_service.client.request(
        SIGNUP, {**body, "email": email.upper(), "idempotency_key": key}
    )
    assert again == first
    assert await _customers_with(users_service, email) == 1
    # Without the key, a taken email is still a 409.
    with pytest.raises(RemoteError) as taken:
        await users_service.client.request(SIGNUP, body)
    assert taken.value.code == "email_taken"


@pytest.mark.parametrize(
    "change",
    [{"password": "another-good-passphrase"}, {"full_name": "Someone Else"}, {"email": "x"}],
)
async def test_a_signup_key_used_with_another_body_is_a_409(
    users_service: UsersService, change: dict[str, str]
) -> None:
    key = f"signup-{uuid.uuid4().hex}"
    body = {"email": unique_email(), "password": PASSWORD, "full_name": "Ada"}
    await users_service.client.request(SIGNUP, {**body, "idempotency_key": key})
    other = {**body, **change}
    if "email" in change:
        other["email"] = unique_email("other")
    with pytest.raises(RemoteError) as caught:
        await users_service.client.request(SIGNUP, {**other, "idempotency_key": key})
    assert (caught.value.status_code, caught.value.code) == (409, "idempotency_key_reused")
    if "email" in change:
        assert await _customers_with(users_service, other["email"]) == 0


async def test_ten_signups_with_one_key_at_once_make_one_customer(
    users_service: UsersService,
) -> None:
    key = f"signup-{uuid.uuid4().hex}"
    body = {
        "email": unique_email(),
        "password": PASSWORD,
        "full_name": "Ada",
        "idempotency_key": key,
    }
    replies = await asyncio.gather(*(users_service.client.request(SIGNUP, body) for _ in range(10)))
    assert len({reply["user_id"] for reply in replies}) == 1
    assert await _customers_with(users_service, body["email"]) == 1


async def test_a_password_change_ends_every_token_issued_before(
    users_service: UsersService, verifier: TokenVerifier
) -> None:
    email = unique_email()
    user = await _signup(users_service, email)
    old, other_old = await _login(users_service, email), await _login(users_service, email)
    assert verifier.verify(old).version == 1
    events = Events(users_service, user["user_id"])
    await events.start()
    assert (await events.next()).subject == USER_CREATED

    await users_service.client.request(
        UPDATE_USER, {"token": old, "password": "a-whole-new-secret"}
    )
    changed = await events.next()
    assert (changed.subject, changed.data["token_version"]) == (USER_UPDATED, 2)
    for token in (old, other_old):
        with pytest.raises(RemoteError) as caught:
            await users_service.client.request(GET_USER, {"token": token})
        assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")
    fresh = await _login(users_service, email, "a-whole-new-secret")
    assert verifier.verify(fresh).version == 2
    assert (await users_service.client.request(GET_USER, {"token": fresh}))["email"] == email


async def test_a_forged_or_foreign_token_is_refused(users_service: UsersService) -> None:
    for token in ("not-a-token", "a.b.c"):
        with pytest.raises(RemoteError) as caught:
            await users_service.client.request(
                UPDATE_USER, {"token": token, "password": "a-whole-new-secret"}
            )
        assert (caught.value.status_code, caught.value.code) == (401, "unauthorized")
