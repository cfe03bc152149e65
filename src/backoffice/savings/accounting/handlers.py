"""The accounting service on NATS: its commands and queries, and the users' events it consumes.

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
from backoffice.core.types import MAX_INT
from backoffice.savings import subjects
from backoffice.savings.accounting.service import AccountingService

log = structlog.get_logger()

Handler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
# The durable consumer's name: one per service, shared by every instance of it.
DURABLE = "savings-accounting"
# The start of time for a range with no `from`.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CreatePlan(MessageModel):
    """`create_plan`."""

    name: str
    kind: str
    value: Decimal


class AssignPlan(MessageModel):
    """`assign_plan`."""

    user_id: UUID
    plan_id: Annotated[int, Field(ge=1, le=MAX_INT)]


class Credit(MessageModel):
    """`credit`: the amount as a decimal string."""

    user_id: UUID
    amount: Decimal
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)]
    request_hash: Annotated[str, Field(min_length=1, max_length=200)]


class Balance(MessageModel):
    """`balance` at an instant (none: now, by the accounting database's clock)."""

    user_id: UUID
    at: datetime | None = None


class Transactions(MessageModel):
    """`transactions` in [from, to), a page of them (no `to`: up to now)."""

    user_id: UUID
    from_: Annotated[datetime | None, Field(alias="from")] = None
    to: datetime | None = None
    limit: Annotated[int, Field(ge=1, le=1000)]
    offset: Annotated[int, Field(ge=0)]


class UserEvent(MessageModel):
    """`savings.users.v1.created|updated` (and `deleted`, which carries no profile)."""

    user_id: UUID
    email: str = ""
    full_name: str = ""


async def register(bus: Bus, service: AccountingService) -> None:
    """Answer the accounting commands and queries on `bus`, in the `savings-accounting` group."""

    async def create_plan(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(CreatePlan, data)
        return await service.create_plan(message.name, message.kind, message.value)

    async def list_plans(data: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"plans": await service.list_plans()}

    async def assign_plan(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(AssignPlan, data)
        return await service.assign_plan(message.user_id, message.plan_id)

    async def credit(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Credit, data)
        return await service.credit(
            message.user_id,
            message.amount,
            idempotency_key=message.idempotency_key,
            request_hash=message.request_hash,
        )

    async def balance(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Balance, data)
        return await service.balance(message.user_id, message.at)

    async def transactions(data: Mapping[str, Any]) -> Mapping[str, Any]:
        message = parse(Transactions, data)
        items, total = await service.transactions(
            message.user_id,
            message.from_ or EPOCH,
            message.to,
            limit=message.limit,
            offset=message.offset,
        )
        return {"items": items, "total": total}

    handlers: dict[str, Handler] = {
        subjects.CREATE_PLAN: create_plan,
        subjects.LIST_PLANS: list_plans,
        subjects.ASSIGN_PLAN: assign_plan,
        subjects.CREDIT: credit,
        subjects.BALANCE: balance,
        subjects.TRANSACTIONS: transactions,
    }
    for subject, handler in handlers.items():
        await bus.serve(subject, subjects.ACCOUNTING_QUEUE, handler)


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
                event.user_id, event.email, event.full_name, msg_id=message.msg_id
            )
        elif message.subject == subjects.USER_DELETED:
            await service.close_account(event.user_id, msg_id=message.msg_id)

    await bus.ensure_stream(subjects.USERS_STREAM, [subjects.USERS_EVENTS])
    await bus.consume(subjects.USERS_STREAM, DURABLE, subjects.USERS_EVENTS, on_event)
