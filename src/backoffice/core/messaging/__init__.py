"""Messaging between services over NATS: streams, consumers, request-reply, outbox and inbox."""

from backoffice.core.messaging.bus import Bus, Message, MessagingUnavailable, RemoteError
from backoffice.core.messaging.inbox import first_time, processed_messages_table
from backoffice.core.messaging.outbox import OutboxRelay, enqueue, outbox_table

__all__ = [
    "Bus",
    "Message",
    "MessagingUnavailable",
    "OutboxRelay",
    "RemoteError",
    "enqueue",
    "first_time",
    "outbox_table",
    "processed_messages_table",
]
