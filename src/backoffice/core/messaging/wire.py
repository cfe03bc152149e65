"""What travels between services: events as `Message`, JSON bodies, and the reply envelope.

A reply is `{"ok": true, "data": {...}}` or `{"ok": false, "error": {"status", "code",
"message", "errors"}}`; the requester re-raises an error reply as a `RemoteError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backoffice.core.errors import DomainError, ServiceUnavailable


class RemoteError(DomainError):
    """An error another service replied with, re-raised here as that same error.

    Its `status_code` and `code` are instance attributes holding the remote values: the error
    handlers read them from the instance, so the error renders exactly as it did remotely.
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, errors=errors)
        # `DomainError` declares these as class variables; these shadow them for this instance.
        vars(self).update(status_code=status_code, code=code)


@dataclass(frozen=True)
class Message:
    """An event delivered by a JetStream consumer.

    Attributes:
        subject: The subject it was published on.
        msg_id: Its `Nats-Msg-Id` header (the outbox row's id), or None without one.
        data: The decoded JSON body.
        deliveries: How many times it has been delivered, 1 the first time.
    """

    subject: str
    msg_id: str | None
    data: dict[str, Any]
    deliveries: int


def encode(payload: Mapping[str, Any]) -> bytes:
    """Encode a payload as compact JSON; what JSON cannot hold (Decimal, UUID) becomes a string.

    Args:
        payload: The mapping to encode.

    Returns:
        The UTF-8 JSON bytes.
    """
    return json.dumps(payload, default=str, separators=(",", ":")).encode()


def error_reply(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The reply envelope of an error.

    Args:
        status: Its HTTP status.
        code: Its stable code.
        message: What a client may read.
        errors: The fields at fault, if any.

    Returns:
        `{"ok": false, "error": {...}}`.
    """
    error = {"status": status, "code": code, "message": message, "errors": errors}
    return {"ok": False, "error": error}


def parse_reply(subject: str, body: bytes) -> dict[str, Any]:
    """The data of a reply envelope, or its error raised.

    Args:
        subject: The subject the request went to (for the error message).
        body: The reply's raw body.

    Returns:
        The `data` of an ok reply.

    Raises:
        RemoteError: The reply is an error (its status, code, message and errors).
        ServiceUnavailable: The reply is not an envelope.
    """
    try:
        reply = json.loads(body)
        if reply["ok"]:
            return dict(reply["data"])
        error = reply["error"]
        remote = RemoteError(
            int(error["status"]), error["code"], error["message"], error.get("errors")
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise ServiceUnavailable(f"Malformed reply on {subject}") from exc
    raise remote
