"""The users service's NATS responders: one per command, in the service's queue group.

Each responder checks the message with a pydantic model, runs the service in one transaction
and, once a change has committed, wakes the outbox relay so its event leaves at once (the
relay's own timer would deliver it anyway). A `DomainError` raised here becomes an error reply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backoffice.core.messaging import Bus, OutboxRelay
from backoffice.core.messaging.messages import MessageModel, parse
from backoffice.core.schemagate import SchemaGate
from backoffice.savings.subjects import (
    DELETE_USER,
    GET_USER,
    LOGIN,
    SIGNUP,
    UPDATE_USER,
    USERS_QUEUE,
)
from backoffice.savings.tokens import TokenSigner
from backoffice.savings.users import service
from backoffice.savings.users.models import Customer
from backoffice.savings.users.passwords import Hasher

Handler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


class SignupMessage(MessageModel):
    """`savings.users.v1.cmd.signup`."""

    email: str
    password: str
    full_name: str


class LoginMessage(MessageModel):
    """`savings.users.v1.cmd.login`."""

    email: str
    password: str


class UserMessage(MessageModel):
    """`savings.users.v1.cmd.get` and `.cmd.delete`."""

    user_id: UUID


class UpdateMessage(MessageModel):
    """`savings.users.v1.cmd.update`: only the fields given change."""

    user_id: UUID
    email: str | None = None
    full_name: str | None = None
    password: str | None = None


def customer_reply(customer: Customer) -> dict[str, Any]:
    """What the users service says about a customer: `{user_id, email, full_name}`.

    Args:
        customer: the customer.

    Returns:
        The reply's data.
    """
    return {"user_id": str(customer.id), "email": customer.email, "full_name": customer.full_name}


async def register(
    bus: Bus,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay: OutboxRelay,
    hasher: Hasher,
    signer: TokenSigner,
    *,
    gate: SchemaGate | None = None,
) -> None:
    """Answer the users service's commands on `bus`, in the queue group `savings-users`.

    Args:
        bus: the connected bus.
        sessionmaker: sessions on the users database.
        relay: the outbox relay, woken after each committed change.
        hasher: hashes and verifies passwords.
        signer: signs login tokens.
        gate: while closed, every command answers that the database is not migrated.
    """

    async def signup(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(SignupMessage, data)
        async with sessionmaker() as session, session.begin():
            customer = await service.create_customer(
                session,
                hasher,
                email=message.email,
                password=message.password,
                full_name=message.full_name,
            )
            reply = customer_reply(customer)
        relay.wake()
        return reply

    async def login(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(LoginMessage, data)
        async with sessionmaker() as session, session.begin():
            token, expires_in = await service.authenticate(
                session, hasher, signer, email=message.email, password=message.password
            )
        return {"access_token": token, "token_type": "bearer", "expires_in": expires_in}

    async def get(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(UserMessage, data)
        async with sessionmaker() as session, session.begin():
            return customer_reply(await service.get_customer(session, message.user_id))

    async def update(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(UpdateMessage, data)
        async with sessionmaker() as session, session.begin():
            customer = await service.update_customer(
                session,
                hasher,
                message.user_id,
                email=message.email,
                full_name=message.full_name,
                password=message.password,
            )
            reply = customer_reply(customer)
        relay.wake()
        return reply

    async def delete(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(UserMessage, data)
        async with sessionmaker() as session, session.begin():
            await service.delete_customer(session, message.user_id)
        relay.wake()
        return {"user_id": str(message.user_id)}

    handlers: dict[str, Handler] = {
        SIGNUP: signup,
        LOGIN: login,
        GET_USER: get,
        UPDATE_USER: update,
        DELETE_USER: delete,
    }
    for subject, handler in handlers.items():
        await bus.serve(subject, USERS_QUEUE, gate.guard(handler) if gate else handler)
