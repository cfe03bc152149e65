"""The accounting service's errors a client may see (beside the rules' validation errors)."""

from __future__ import annotations

from backoffice.core.errors import Conflict, NotFound, Unauthorized
from backoffice.savings.tokens import INVALID_TOKEN


class AccountNotFound(NotFound):
    """No open account for this user (not opened yet, or closed)."""

    code = "account_not_found"
    default_message = "Account not found"


class AccountClosed(AccountNotFound):
    """The user's account was closed (the user was deleted): it takes nothing more."""

    code = "account_closed"
    default_message = "Account closed"


class PlanNotFound(NotFound):
    """No plan with this id."""

    code = "plan_not_found"
    default_message = "Plan not found"


class EntryNotFound(NotFound):
    """No ledger entry with this id."""

    code = "entry_not_found"
    default_message = "Entry not found"


class EntryNotReversible(Conflict):
    """A reversal, or an entry reversed already: a reversal is made once, of a movement."""

    code = "entry_not_reversible"
    default_message = "This entry was reversed already"


class PlanNameTaken(Conflict):
    """Another plan has this name."""

    code = "plan_name_taken"
    default_message = "A plan with this name already exists"


class IdempotencyKeyReused(Conflict):
    """The idempotency key was used before for a different request."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request"


class AccountBusy(Conflict):
    """Concurrent writes to the account kept winning over this one; the client may retry."""

    code = "account_busy"
    default_message = "The account is busy; retry the request with the same Idempotency-Key"


class TokenRefused(Unauthorized):
    """The customer's token predates a password change, or the customer was deleted.

    Answered as any bad token is (the same code and message): a 401 that says no more.
    """

    default_message = INVALID_TOKEN
