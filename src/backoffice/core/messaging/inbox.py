"""Idempotent consumers: the ids of the messages a consumer has applied, kept with its effect.

Delivery is at-least-once (a redelivery after a lost ack, a republished outbox row beyond the
broker's duplicate window). A consumer records the message id in the transaction of its effect
(`first_time`): a second delivery finds the id and skips, and a crash before the commit leaves
neither the id nor the effect, so the redelivery applies it.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, func, literal_column
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


def processed_messages_table(metadata: MetaData) -> Table:
    """Declare the `processed_messages` table in a service's metadata (its migration creates it).

    Args:
        metadata: The service's metadata.

    Returns:
        The table: `consumer`, `msg_id` (together the primary key), `processed_at`.
    """
    return Table(
        "processed_messages",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("msg_id", Text, primary_key=True),
        Column("processed_at", DateTime(timezone=True), server_default=func.now()),
    )


async def first_time(session: AsyncSession, table: Table, consumer: str, msg_id: str) -> bool:
    """Record that `consumer` processes `msg_id`, in the session's transaction.

    Args:
        session: The session in which the consumer applies the message's effect.
        table: The service's processed-messages table.
        consumer: The consumer's name (one table may serve several consumers).
        msg_id: The message's id (its `Nats-Msg-Id`).

    Returns:
        True the first time: apply the effect in this same transaction. False when the id is
        already recorded: skip the message (and ack it).
    """
    statement = (
        insert(table)
        .values(consumer=consumer, msg_id=msg_id)
        .on_conflict_do_nothing()
        .returning(literal_column("1", Integer))
    )
    return (await session.execute(statement)).first() is not None
