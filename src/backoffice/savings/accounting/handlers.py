"""The accounting service on NATS: its commands and queries, and the users' events it consumes.

A command on a customer's account carries the customer's token, never a bare user id: the
responder verifies it with the users service's public key (remembered once verified, so a
credit pays a dictionary lookup) and the service compares its version with the account's.

Responders answer in the service's queue group; the consumer is durable, so events published
while the service was down are delivered when it returns, and each handler is idempotent (the
processed message id commits with the account's events, see `service.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import structlog
from pydantic import Field

from backoffice.core.errors import ValidationFailed
from backoffice.core.messaging import Bus, Message
from backoffice.core.messaging.messages import MessageModel, parse
from backoffice.core.schemagate import SchemaGate
from backoffice.core.types import MAX_INT
from backoffice.savings import subjects
from backoffice.savings.accounting.service import AccountingService
from backoffice.savings.tokens import TOKEN_MAX_LENGTH, TokenVerifier

log = structlog.get_logger()

Handler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
DURABLE = subjects.ACCOUNTING_DURABLE
# The start of time for a range with no `from`.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# The customer's own token: the proof that the gateway verified them.
Token = Annotated[str, Field(min_length=1, max_length=TOKEN_MAX_LENGTH)]


class CreatePlan(MessageModel):
    """`create_plan` (no lock-in and no interest unless given)."""

    name: str
    kind: str
    value: Decimal
    lock_in_days: Annotated[int, Field(ge=0, le=MAX_INT)] = 0
    interest_rate: Decimal = Decimal(0)


class ListPlans(MessageModel):
    """`list_plans`: a customer's token when a customer asks, nothing when an operator does."""

    token: Token | None = None


class PlanCustomers(MessageModel):
    """`plan_customers`: an operator's page of the customers on a plan."""

    plan_id: Annotated[int, Field(ge=1, le=MAX_INT)]
    limit: Annotated[int, Field(ge=1, le=1000)]
    offset: Annotated[int, Field(ge=0, le=MAX_INT)]


class AssignPlan(MessageModel):
    """`assign_plan`."""

    token: Token
    plan_id: Annotated[int, Field(ge=1, le=MAX_INT)]


class Credit(MessageModel):
    """`credit`: the amount as a decimal string."""

    token: Token
    amount: Decimal
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)]
    request_hash: Annotated[str, Field(min_length=1, max_length=200)]


Key = Annotated[str, Field(min_length=1, max_length=200)]


class Withdraw(MessageModel):
    """`withdraw` from main: the amount as a decimal string."""

    token: Token
    amount: Decimal
    idempotency_key: Key
    request_hash: Key


class Transfer(MessageModel):
    """`transfer` from `main` or `savings` to the other."""

    token: Token
    from_: Annotated[str, Field(alias="from", max_length=20)]
    amount: Decimal
    idempotency_key: Key
    request_hash: Key


class Reverse(MessageModel):
    """`reverse` an entry (an operator's)."""

    entry_id: UUID
    reason: Annotated[str, Field(max_length=2000)]
    by: Annotated[str, Field(min_length=1, max_length=200)]
    idempotency_key: Key
    request_hash: Key


class Statement(MessageModel):
    """`statement` of a month (UTC), a page of its entries."""

    token: Token
    year: Annotated[int, Field(ge=1970, le=9998)]
    month: Annotated[int, Field(ge=1, le=12)]
    limit: Annotated[int, Field(ge=1, le=1000)]
    offset: Annotated[int, Field(ge=0, le=MAX_INT)]
    at: datetime | None = None  # the first page's `as_of`, for the pages after it


class AccountQuery(MessageModel):
    """`account`: an operator's look at an account."""

    user_id: UUID


class Balance(MessageModel):
    """`balance` at an instant (none: now, by the accounting database's clock)."""

    token: Token
    at: datetime | None = None


class EntriesRange(MessageModel):
    """Entries in [from, to), of one kind or every kind, a page of them (no `to`: up to now)."""

    from_: Annotated[datetime | None, Field(alias="from")] = None
    to: datetime | None = None
    kind: Annotated[str | None, Field(max_length=20)] = None
    limit: Annotated[int, Field(ge=1, le=1000)]
    offset: Annotated[int, Field(ge=0)]


class Transactions(EntriesRange):
    """`transactions`: the customer's own entries."""

    token: Token


class AccountTransactions(EntriesRange):
    """`account_transactions`: an operator's look at an account's entries."""

    user_id: UUID


class UserEvent(MessageModel):
    """`savings.users.v1.created|updated` (and `deleted`, which carries no profile)."""

    user_id: UUID
    email: str = ""
    full_name: str = ""
    token_version: Annotated[int, Field(ge=1, le=MAX_INT)] = 1


async def register(
    bus: Bus, service: AccountingService, verifier: TokenVerifier, *, gate: SchemaGate | None = None
) -> None:
    """Answer the accounting commands and queries on `bus`, in the `savings-accounting` group.

    While `gate` is closed, every one answers that the database is not migrated.

    Args:
        bus: the connected bus.
        service: the accounting service.
        verifier: verifies the customers' tokens the commands carry.
        gate: the schema gate (None: always open).
    """

    async def create_plan(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(CreatePlan, data)
        return await service.create_plan(
            message.name,
            message.kind,
            message.value,
            lock_in_days=message.lock_in_days,
            interest_rate=message.interest_rate,
        )

    async def list_plans(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(ListPlans, data)
        if message.token is None:
            return {"plans": await service.list_plans()}
        customer = verifier.verify(message.token)
        plans = await service.list_plans(customer.user_id, token_version=customer.version)
        # The customer's own plan beside them (the console's picker shows it chosen).
        return {"plans": plans, "current": await service.current_plan(customer.user_id)}

    async def plan_customers(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(PlanCustomers, data)
        return await service.plan_customers(
            message.plan_id, limit=message.limit, offset=message.offset
        )

    async def assign_plan(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(AssignPlan, data)
        customer = verifier.verify(message.token)
        return await service.assign_plan(
            customer.user_id, message.plan_id, token_version=customer.version
        )

    async def credit(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Credit, data)
        customer = verifier.verify(message.token)
        return await service.credit(
            customer.user_id,
            message.amount,
            idempotency_key=message.idempotency_key,
            request_hash=message.request_hash,
            token_version=customer.version,
        )

    async def withdraw(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Withdraw, data)
        customer = verifier.verify(message.token)
        return await service.withdraw(
            customer.user_id,
            message.amount,
            idempotency_key=message.idempotency_key,
            request_hash=message.request_hash,
            token_version=customer.version,
        )

    async def transfer(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Transfer, data)
        customer = verifier.verify(message.token)
        return await service.transfer(
            customer.user_id,
            message.from_,
            message.amount,
            idempotency_key=message.idempotency_key,
            request_hash=message.request_hash,
            token_version=customer.version,
        )

    async def reverse(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Reverse, data)
        return await service.reverse(
            message.entry_id,
            message.reason,
            by=message.by,
            idempotency_key=message.idempotency_key,
            request_hash=message.request_hash,
        )

    async def statement(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Statement, data)
        customer = verifier.verify(message.token)
        return await service.statement(
            customer.user_id,
            message.year,
            message.month,
            limit=message.limit,
            offset=message.offset,
            at=message.at,
            token_version=customer.version,
        )

    async def account(data: Mapping[str, Any]) -> Mapping[str, Any]:
        return await service.account(parse(AccountQuery, data).user_id)

    async def balance(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Balance, data)
        customer = verifier.verify(message.token)
        return await service.balance(customer.user_id, message.at, token_version=customer.version)

    async def listed(
        user_id: UUID, message: EntriesRange, token_version: int | None
    ) -> Mapping[str, Any]:
        items, total = await service.transactions(
            user_id,
            message.from_ or EPOCH,
            message.to,
            kind=message.kind,
            limit=message.limit,
            offset=message.offset,
            token_version=token_version,
        )
        return {"items": items, "total": total}

    async def transactions(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Transactions, data)
        customer = verifier.verify(message.token)
        return await listed(customer.user_id, message, customer.version)

    async def account_transactions(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(AccountTransactions, data)
        return await listed(message.user_id, message, None)

    handlers: dict[str, Handler] = {
        subjects.CREATE_PLAN: create_plan,
        subjects.LIST_PLANS: list_plans,
        subjects.PLAN_CUSTOMERS: plan_customers,
        subjects.ASSIGN_PLAN: assign_plan,
        subjects.CREDIT: credit,
        subjects.BALANCE: balance,
        subjects.TRANSACTIONS: transactions,
        subjects.WITHDRAW: withdraw,
        subjects.TRANSFER: transfer,
        subjects.REVERSE: reverse,
        subjects.STATEMENT: statement,
        subjects.ACCOUNT: account,
        subjects.ACCOUNT_TRANSACTIONS: account_transactions,
    }
    for subject, handler in handlers.items():
        await bus.serve(
            subject, subjects.ACCOUNTING_QUEUE, gate.guard(handler) if gate else handler
        )


async def consume_user_events(bus: Bus, service: AccountingService) -> None:
    """Open, update and close accounts from the users service's events (a durable consumer)."""

    async def on_event(message: Message) -> None:
        try:
            event = parse(UserEvent, message.data)
        except ValidationFailed as error:
            # Redelivering a malformed event would fail the same way forever: drop it, loudly.
            log.error("malformed user event dropped", subject=message.subject, errors=error.errors)
            return
        if message.subject == subjects.USER_CREATED:
            await service.open_account(
                event.user_id, event.email, event.full_name, msg_id=message.msg_id
            )
        elif message.subject == subjects.USER_UPDATED:
            await service.update_profile(
                event.user_id,
                event.email,
                event.full_name,
                token_version=event.token_version,
                msg_id=message.msg_id,
            )
        elif message.subject == subjects.USER_DELETED:
            await service.close_account(event.user_id, msg_id=message.msg_id)

    await bus.ensure_stream(subjects.USERS_STREAM, [subjects.USERS_EVENTS])
    await bus.consume(subjects.USERS_STREAM, DURABLE, subjects.USERS_EVENTS, on_event)
