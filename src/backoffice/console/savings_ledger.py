"""A savings customer's movements of money: withdrawals from main, transfers between balances.

Both forms live on the customer's home (`savings_account`) and post here. Each is checked by
the API's own schema (`WithdrawalCreate`, `TransferCreate`) and sent through the gateway's
functions (`service.withdraw`, `service.transfer`), with the idempotency key the page drew in
the form, so a double submit moves the money once. A refusal is drawn next to the field in
plain words: more than the balance holds (`insufficient_funds`), savings still locked in by
the plan (`savings_locked`, with the instant the amount unlocks, in UTC).

The fields are named after their form (`withdraw_amount`, `transfer_amount`, `transfer_from`),
so that the three amounts of the home have an id and an error of their own.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import SavingsCustomer
from backoffice.console.savings_account import (
    HOME,
    SOURCES,
    TRANSFERS,
    WITHDRAWALS,
    CustomerGone,
    asked,
    csrf_of,
    home_page,
    signed_out,
)
from backoffice.console.savings_forms import (
    FIELD_HELP,
    FormProblems,
    fields,
    money,
    parse,
    posted_key,
    unlock_message,
)
from backoffice.console.web import read_form, redirect
from backoffice.core.db import DbSession
from backoffice.core.errors import DomainError
from backoffice.core.routing import ApiRouter
from backoffice.savings.gateway import service
from backoffice.savings.gateway.schemas import MovementRead, TransferCreate, WithdrawalCreate

router = ApiRouter(include_in_schema=False)

_WITHDRAWAL = TypeAdapter(WithdrawalCreate)
_TRANSFER = TypeAdapter(TransferCreate)
EXPIRED = "This form has expired: reload the page."
# What a refusal says, by the balance the money would leave.
TOO_LITTLE = {
    "main": "Your main balance holds less than this amount.",
    "savings": "Your savings hold less than this amount.",
}


def refusal(error: DomainError, source: str) -> str:
    """A refusal of a movement out of `source` ("main" or "savings"), in plain words.

    Args:
        error: The service's error (a 4xx).
        source: The balance the money would have left.

    Returns:
        The message drawn next to the amount (or the form, for a reused key).
    """
    if error.code == "insufficient_funds":
        return TOO_LITTLE.get(source, TOO_LITTLE["main"])
    if error.code == "savings_locked":
        first = (error.errors or [{}])[0]
        return unlock_message(first.get("unlocks_at"))
    if error.code == "idempotency_key_reused":
        return "This form was sent already with other values: check your entries below."
    if error.errors:  # another rule of the service's: its own words about the field
        return str(error.errors[0].get("message") or error.message)
    return error.message


async def _moved(
    request: Request,
    customer: Any,
    session: DbSession,
    *,
    form: str,
    values: dict[str, str],
    source: str,
    key: str | None,
    move: Any,
) -> Response:
    """Run `move()` (the parsed form's call), or draw the home with the form's error.

    `form` names the form ("withdraw" or "transfer"), its fields `<form>_amount` etc.
    """
    amount_field = f"{form}_amount"
    try:
        try:
            if key is None:
                raise FormProblems({"form": EXPIRED})
            made: MovementRead = await asked(move())
        except FormProblems as problems:
            errors = {
                f"{form}_{name}" if name != "form" else name: message
                for name, message in problems.errors.items()
            }
            return await _again(request, customer, form, errors, values, key)
        except DomainError as error:
            if not 400 <= error.status_code < 500:
                raise
            if error.code == "idempotency_key_reused":
                return await _again(
                    request, customer, form, {"form": refusal(error, source)}, values, None
                )
            return await _again(
                request, customer, form, {amount_field: refusal(error, source)}, values, key
            )
    except CustomerGone:
        return await signed_out(request, session)
    return redirect(HOME, notice=_notice(made, source))


async def _again(
    request: Request,
    customer: Any,
    form: str,
    errors: dict[str, str],
    values: dict[str, str],
    key: str | None,
) -> Response:
    """The home again, with the form's errors, what was typed, and its key (None: a new one)."""
    shown = {name: value[:40] for name, value in values.items()}
    return await home_page(
        request, customer, status_code=422, errors=errors, values=shown, keys={form: key}
    )


def _notice(made: MovementRead, source: str) -> str:
    """What was done, in a sentence."""
    if made.kind == "withdrawal":
        return f"Withdrew {money(made.amount)} from your main balance."
    where = "from your main balance to your savings"
    if source == "savings":
        where = "from your savings to your main balance"
    return f"Moved {money(made.amount)} {where}."


@router.post(WITHDRAWALS)
async def withdraw(request: Request, customer: SavingsCustomer, session: DbSession) -> Response:
    """Take the amount out of the main balance once (the form's key): never below zero."""
    form = await read_form(request, csrf_of(request))
    amount = fields(form, "withdraw_amount")["withdraw_amount"].strip()
    key = posted_key(form)

    async def move() -> MovementRead:
        body = parse(_WITHDRAWAL, {"amount": amount})
        assert key is not None  # checked before the move
        return await service.withdraw(request, customer.token, body.amount, key)

    return await _moved(
        request,
        customer,
        session,
        form="withdraw",
        values={"withdraw_amount": amount},
        source="main",
        key=key,
        move=move,
    )


@router.post(TRANSFERS)
async def transfer(request: Request, customer: SavingsCustomer, session: DbSession) -> Response:
    """Move the amount between main and savings once (the form's key), under the lock-in."""
    form = await read_form(request, csrf_of(request))
    values = fields(form, "transfer_from", "transfer_amount")
    values = {name: value.strip() for name, value in values.items()}
    source = values["transfer_from"]
    key = posted_key(form)

    async def move() -> MovementRead:
        if source not in dict(SOURCES):
            raise FormProblems({"from": FIELD_HELP["from"]})
        body = parse(_TRANSFER, {"from": source, "amount": values["transfer_amount"]})
        assert key is not None  # checked before the move
        return await service.transfer(request, customer.token, body.from_, body.amount, key)

    return await _moved(
        request,
        customer,
        session,
        form="transfer",
        values=values,
        source=source,
        key=key,
        move=move,
    )
