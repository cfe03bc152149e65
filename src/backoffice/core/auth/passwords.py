"""The password rule shared by platform accounts and savings customers.

A pure function: no I/O beyond loading the common-password list once. The list is zxcvbn's
30,000 most common passwords (a maintained package, so the project ships no word list of its
own); it is compared case-insensitively, since `Password1` is guessed as soon as `password1`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from backoffice.core.errors import ValidationFailed

MIN_LENGTH = 8
# The rule as the OpenAPI document states it beside the schema, which cannot say it.
STRENGTH_RULE = (
    "the password is none of the 30,000 most common passwords, not the username or email,"
    " and not blank (422 weak_password)"
)
MAX_LENGTH = 1024  # argon2 hashes anything, but a bound keeps a request's CPU bounded


class WeakPassword(ValidationFailed):
    """The password breaks the password rule."""

    code = "weak_password"
    default_message = "The password is too weak"


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, lower-cased (loaded on first use: about 2 MB)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, identities: Iterable[str] = ()) -> str | None:
    """Why `password` is refused, or None when it is acceptable.

    Args:
        password: The candidate password, exactly as typed.
        identities: The account's own names (username, email, the email's local part):
            a password equal to any of them, ignoring case and surrounding spaces, is refused.
    """
    if not password.strip():
        return "The password must not be empty or whitespace only"
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters"
    folded = password.strip().casefold()
    for identity in identities:
        name = identity.strip().casefold()
        if name and folded in {name, name.partition("@")[0]}:
            return "The password must not be the username or the email"
    if folded in common_passwords():
        return "The password is one of the most common passwords"
    return None


def check_password(
    password: str, *, identities: Iterable[str] = (), field: str = "password"
) -> None:
    """Raise `WeakPassword` naming `field` when `password_problem` finds a problem."""
    problem = password_problem(password, identities=identities)
    if problem is not None:
        raise WeakPassword(
            problem, errors=[{"field": field, "message": problem, "code": WeakPassword.code}]
        )
