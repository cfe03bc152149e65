"""The savings pages' forms: the API's own schemas read from a form, errors in plain words.

A form is checked by the same Pydantic models as the gateway's JSON bodies
(`savings.gateway.schemas`), so a value the API refuses is refused here too; the console only
says why in words a customer or an operator reads next to the field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import FormData

from backoffice.savings.gateway.schemas import PlanRead

M = TypeVar("M")

# What each field takes, said plainly (shown when the schema refuses the field).
FIELD_HELP = {
    "email": "Enter an email address like name@example.com.",
    "password": "Use 8 to 1024 characters.",
    "full_name": "Enter your name (at most 200 characters, no control characters).",
    "amount": "Enter an amount above 0 with at most two decimals, like 25.50.",
    "name": "Enter a name of 1 to 100 characters.",
    "kind": "Choose a percentage or a flat amount.",
    "value": (
        "For a percentage, 0 to 100 with at most two decimals; for a flat amount, an amount"
        " above 0 with at most two decimals."
    ),
    "plan_id": "Choose a plan.",
    "lock_in_days": "Enter a whole number of days from 0 to 3650 (0: no lock-in).",
    "interest_rate": "Enter a yearly rate from 0 to 25 with at most four decimals, like 2.5.",
    "from": "Choose the balance the money leaves.",
    "reason": "Enter a reason of 1 to 500 characters, without control characters.",
}
# Text fields are bounded before the schema sees them (a form never carries a novel).
MAX_FIELD = 1024
# An idempotency key as the API takes it (`gateway.api.KEY_RULES`): visible ASCII, 1 to 200.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")


def new_key() -> str:
    """A fresh idempotency key for a form (rendered in a hidden field)."""
    return str(uuid.uuid4())


def posted_key(form: FormData, name: str = "idempotency_key") -> str | None:
    """The form's idempotency key, or None when it is missing or not one the API would take."""
    value = form.get(name)
    return value if isinstance(value, str) and KEY_PATTERN.fullmatch(value) else None


def fields(form: FormData, *names: str) -> dict[str, str]:
    """The named text fields of a form (absent: ''), each cut at `MAX_FIELD` characters."""
    found: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        found[name] = value[:MAX_FIELD] if isinstance(value, str) else ""
    return found


def problems(error: ValidationError) -> dict[str, str]:
    """A schema's refusal as a plain message per field (the first problem of each)."""
    found: dict[str, str] = {}
    for item in error.errors():
        names = [str(part) for part in item.get("loc", ()) if isinstance(part, str)]
        field = names[-1] if names else "form"
        found.setdefault(field, FIELD_HELP.get(field, "Check this value."))
    return found


def parse(adapter: TypeAdapter[M], values: Mapping[str, Any]) -> M:
    """`values` as the adapter's type (a gateway schema), or `FormProblems`."""
    try:
        return adapter.validate_python(dict(values))
    except ValidationError as error:
        raise FormProblems(problems(error)) from None


class FormProblems(Exception):
    """A form's fields are wrong: the messages by field, drawn next to each."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def money(value: Decimal | float | int) -> str:
    """An amount as people write it: 1,234.50."""
    return f"{Decimal(str(value)):,.2f}"


def signed(value: Decimal | float | int) -> str:
    """A change to a balance as people read it: +1,234.50, -5.00, and 0.00 without a sign."""
    amount = Decimal(str(value))
    return money(amount) if amount == 0 else f"{amount:+,.2f}"


def rate_label(rate: Decimal) -> str:
    """A plan's yearly interest rate in percent, as written: "2.5% a year", or "None"."""
    if rate == 0:
        return "None"
    return f"{rate.normalize():f}% a year"


def lock_in_label(days: int) -> str:
    """A plan's lock-in: "30 days", "1 day", or "None"."""
    if days == 0:
        return "None"
    return f"{days} day{'' if days == 1 else 's'}"


def readable_instant(instant: datetime) -> str:
    """An instant in UTC as a person reads it: "7 December 2026 at 14:03:27 UTC"."""
    at = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    return f"{at.day} {at:%B %Y} at {at:%H:%M:%S} UTC"


def unlock_message(unlocks_at: object) -> str:
    """The refusal of a transfer out of locked-in savings, saying when the amount unlocks.

    Args:
        unlocks_at: The error's `unlocks_at` (ISO 8601), as the accounting service sends it;
            anything else (missing, malformed) gives the message without a date.

    Returns:
        The message shown next to the amount.
    """
    text = "Your plan still locks in these savings"
    try:
        when = datetime.fromisoformat(unlocks_at) if isinstance(unlocks_at, str) else None
    except ValueError:
        when = None
    if when is None:
        return f"{text}: try a smaller amount or a later date."
    return f"{text}: this amount can leave your savings from {readable_instant(when)}."


def plan_label(plan: PlanRead) -> str:
    """A plan as a customer chooses it: its name and what it saves of each credit."""
    if plan.kind == "percentage":
        return f"{plan.name} ({Decimal(plan.value):f}% of each credit saved)"
    return f"{plan.name} ({money(plan.value)} of each credit saved)"
