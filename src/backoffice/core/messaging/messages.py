"""Messages checked on arrival: a bad one fails the way a bad HTTP request body does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from backoffice.core.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


class MessageModel(BaseModel):
    """Base of a message's model: frozen, and unknown fields ignored.

    A newer sender may send more than this version reads.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)


def parse(model: type[M], data: Mapping[str, Any]) -> M:
    """Validate a message, failing the way request validation fails over HTTP.

    Args:
        model: the message's pydantic model.
        data: the decoded message.

    Returns:
        The validated message.

    Raises:
        ValidationFailed: listing every field at fault as `{"field", "message", "code"}`.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(part) for part in e["loc"]) or "request",
                "message": e["msg"],
                "code": e["type"],
            }
            for e in exc.errors()
        ]
        raise ValidationFailed(errors=errors) from exc
