"""The users service's NATS responders: one per command, in the service's queue group.

A command about a customer (get, update, delete) carries the customer's own token, not their
id: the responder verifies it and refuses a token of a deleted customer or one that predates a
password change (401), so a process that reaches the bus cannot act for a customer it only
knows the id of.

Each responder checks the message with a pydantic model, runs the service in one transaction
and, once a change has committed, wakes the outbox relay so its event leaves at once (the
relay's own timer would deliver it anyway). A `DomainError` raised here becomes an error reply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backoffice.core.errors import Conflict
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
from backoffice.savings.tokens import TOKEN_MAX_LENGTH, TokenSigner
from backoffice.savings.users import service
from backoffice.savings.users.models import Customer
from backoffice.savings.users.passwords import Hasher

Handler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


class SignupMessage(MessageModel):
    """`savings.users.v1.cmd.signup`: with the client's Idempotency-Key, if it sent one."""

    email: str
    password: str
    full_name: str
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class LoginMessage(MessageModel):
    """`savings.users.v1.cmd.login`."""

    email: str
    password: str


# The customer's own token, which the service verifies again: never a bare user id.
Token = Annotated[str, Field(min_length=1, max_length=TOKEN_MAX_LENGTH)]


class UserMessage(MessageModel):
    """`savings.users.v1.cmd.get` and `.cmd.delete`: the customer's token names them."""

    token: Token


class UpdateMessage(MessageModel):
    """`savings.users.v1.cmd.update`: only the fields given change."""

    token: Token
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
        signer: signs login tokens (and verifies those the other commands carry).
        gate: while closed, every command answers that the database is not migrated.
    """
    verifier = signer.verifier()

    async def first_signup(message: SignupMessage) -> dict[str, Any] | None:
        """The reply to the signup first made with the message's key, if it was this one."""
        if message.idempotency_key is None:
            return None
        async with sessionmaker() as session, session.begin():
            customer = await service.signup_made_with(
                session,
                hasher,
                message.idempotency_key,
                email=message.email,
                password=message.password,
                full_name=message.full_name,
            )
            return None if customer is None else customer_reply(customer)

    async def signup(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(SignupMessage, data)
        # A retry (its first reply lost, the client answered 503) finds what the first made.
        first = await first_signup(message)
        if first is not None:
            return first
        try:
            async with sessionmaker() as session, session.begin():
                customer = await service.create_customer(
                    session,
                    hasher,
                    email=message.email,
                    password=message.password,
                    full_name=message.full_name,
                    idempotency_key=message.idempotency_key,
                )
                reply = customer_reply(customer)
        except Conflict:
            # A signup with the same key may have committed since the look-up (a retry racing
            # its first attempt): its answer, if it was this same signup.
            first = await first_signup(message)
            if first is None:
                raise
            return first
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
        claims = verifier.verify(message.token)
        async with sessionmaker() as session, session.begin():
            return customer_reply(await service.customer_of(session, claims))

    async def update(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(UpdateMessage, data)
        claims = verifier.verify(message.token)
        async with sessionmaker() as session, session.begin():
            await service.customer_of(session, claims)
            customer = await service.update_customer(
                session,
                hasher,
                claims.user_id,
                email=message.email,
                full_name=message.full_name,
                password=message.password,
            )
            reply = customer_reply(customer)
        relay.wake()
        return reply

    async def delete(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(UserMessage, data)
        claims = verifier.verify(message.token)
        async with sessionmaker() as session, session.begin():
            await service.customer_of(session, claims)
            await service.delete_customer(session, claims.user_id)
        relay.wake()
        return {"user_id": str(claims.user_id)}

    handlers: dict[str, Handler] = {
        SIGNUP: signup,
        LOGIN: login,
        GET_USER: get,
        UPDATE_USER: update,
        DELETE_USER: delete,
    }
    for subject, handler in handlers.items():
        await bus.serve(subject, USERS_QUEUE, gate.guard(handler) if gate else handler)
