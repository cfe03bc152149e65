"""Pure rules for customers' fields: normalising and checking them. No I/O here.

The password rule is the platform's own (`core.auth.passwords`), shared with its accounts.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from backoffice.core.errors import ValidationFailed

EMAIL_MAX_LENGTH: Final = 254  # RFC 5321's limit on a forward path
FULL_NAME_MAX_LENGTH: Final = 200


def _has_control_character(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def normalise_email(raw: str) -> str:
    """The canonical form of an email address: the one stored, compared and put in tokens.

    NFKC folds look-alike forms (full-width letters, ligatures) and lower case makes the
    comparison case-insensitive; NFKC runs again after lowering because lowering can undo it,
    so normalising is idempotent. Only the shape is checked (one `@`, a local part, a dotted
    domain, no whitespace or control character): whether the mailbox exists is not a rule.

    Args:
        raw: the address as the customer typed it.

    Returns:
        The normalised address.

    Raises:
        ValidationFailed: the address is not acceptable (field `email`).
    """
    email = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).lower()).strip()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationFailed.field(
            "email", f"Email must be at most {EMAIL_MAX_LENGTH} characters"
        )
    if any(char.isspace() for char in email) or _has_control_character(email):
        raise ValidationFailed.field("email", "Email must not contain spaces or control characters")
    local, at, domain = email.partition("@")
    if not at or not local or "@" in domain or "." not in domain:
        raise ValidationFailed.field("email", "Email must look like name@example.com")
    return email


def normalise_full_name(raw: str) -> str:
    """A customer's full name, stripped, checked for length and control characters.

    Args:
        raw: the name as given.

    Returns:
        The name without surrounding whitespace.

    Raises:
        ValidationFailed: it is empty, longer than 200 characters or holds a control character
            (field `full_name`).
    """
    name = raw.strip()
    if not 1 <= len(name) <= FULL_NAME_MAX_LENGTH:
        raise ValidationFailed.field(
            "full_name", f"Full name must be 1 to {FULL_NAME_MAX_LENGTH} characters"
        )
    if _has_control_character(name):
        raise ValidationFailed.field("full_name", "Full name must not contain control characters")
    return name
