"""Domain errors of the transactions context."""

from __future__ import annotations

from backoffice.core.errors import NotFound


class UserHasNoTransactions(NotFound):
    """The summary of a user with no transactions (none loaded, or all deleted)."""

    code = "user_has_no_transactions"
    default_message = "No transactions for this user"
