"""A savings account for platform admins: look it up, read it, reverse one of its entries.

As on the API (`GET /api/v1/savings/accounts/{user_id}`, `POST .../entries/{id}/reversal`),
only an admin opens these pages, and they call the gateway's functions (`service.account`,
`service.reverse`). The account page shows what `account()` answers: who, status, plan,
interest posted through, balances now; and the account's latest entries
(`service.account_transactions`, as `GET /api/v1/savings/accounts/{id}/transactions`), each
with a link that fills the reversal form with its id.

A reversal takes two posts: the form (entry id and reason) leads to a confirmation page that
repeats them; only its button reverses. The confirmation carries an idempotency key drawn
with it, so a double click reverses once. The reversal adds a compensating entry and edits
nothing; the account page then says what moved.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Admin, signed_in
from backoffice.console.savings_account import KIND_NAMES, STAMP
from backoffice.console.savings_forms import (
    FormProblems,
    fields,
    lock_in_label,
    money,
    new_key,
    parse,
    posted_key,
    rate_label,
    readable_instant,
    signed,
)
from backoffice.console.web import read_form, redirect, render, with_query
from backoffice.core.errors import DomainError
from backoffice.core.routing import ApiRouter
from backoffice.savings.gateway import service
from backoffice.savings.gateway.schemas import ReversalCreate, ReversalRead, TransactionRead

ACCOUNTS = "/console/savings/accounts"
# The entries an account's page lists, newest first (the API lists them all, a page at a time).
LATEST = 50
REVERSALS = "/console/savings/reversals"
NOT_AN_ID = "Enter the id as the API shows it, like 123e4567-e89b-12d3-a456-426614174000."
# What the services' refusals of a reversal say, in plain words, and next to which field.
REFUSALS = {
    "entry_not_found": ("entry_id", "No entry has this id."),
    "entry_not_reversible": (
        "entry_id",
        "This entry cannot be reversed: it is a reversal itself, or was reversed already.",
    ),
    "insufficient_funds": (
        "form",
        "Reversing this entry would take a balance below zero: nothing was changed.",
    ),
    "idempotency_key_reused": (
        "form",
        "This confirmation was used for another reversal: check the values and confirm again.",
    ),
}

router = ApiRouter(include_in_schema=False)

_REVERSAL = TypeAdapter(ReversalCreate)
UserId = Annotated[uuid.UUID, Path()]


def an_id(text: str) -> uuid.UUID | None:
    """`text` as a UUID in its usual written form (36 characters), else None."""
    if len(text) != 36:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@router.get(ACCOUNTS)
async def find_account(
    request: Request, principal: Admin, user_id: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    """The look-up form; a customer's id leads to their account."""
    found = an_id(user_id.strip())
    if found is not None:
        return redirect(f"{ACCOUNTS}/{found}")
    errors = {"user_id": NOT_AN_ID} if user_id else {}
    return render(
        request,
        "savings/account.html",
        status_code=422 if errors else 200,
        account=None,
        errors=errors,
        user_id=user_id[:100],
        action=ACCOUNTS,
    )


async def latest_entries(request: Request, user_id: uuid.UUID) -> list[TransactionRead]:
    """The account's latest `LATEST` entries, newest first."""
    _, total = await service.account_transactions(request, user_id, limit=1, offset=0)
    first = max(total - LATEST, 0)
    if not total:
        return []
    entries, _ = await service.account_transactions(
        request, user_id, limit=total - first, offset=first
    )
    return entries[::-1]


@router.get(ACCOUNTS + "/{user_id}")
async def account_page(request: Request, principal: Admin, user_id: UserId) -> Response:
    """An account's holder, status, plan, interest posted and balances, its latest entries."""
    found = await service.account(request, user_id)
    entries = await latest_entries(request, user_id)
    plans = {plan.id: plan for plan in await service.list_plans(request)}
    plan = plans.get(found.plan_id) if found.plan_id is not None else None
    return render(
        request,
        "savings/account.html",
        account=found,
        plan=plan,
        errors={},
        user_id=str(user_id),
        action=ACCOUNTS,
        reversal=_form_values(back=str(user_id)),
        reversals=REVERSALS,
        entries=entries,
        signed=signed,
        kind_names=KIND_NAMES,
        stamp=STAMP,
        money=money,
        instant=readable_instant,
        rate=rate_label,
        lock_in=lock_in_label,
        plans_url="/console/savings/plans",
    )


def _form_values(
    entry_id: str = "", reason: str = "", back: str = "", key: str | None = None
) -> dict[str, str]:
    return {"entry_id": entry_id, "reason": reason, "back": back, "key": key or new_key()}


def _reversal_page(
    request: Request,
    values: dict[str, str],
    *,
    confirm: bool = False,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "savings/reversal.html",
        status_code=status_code,
        values=values,
        confirm=confirm,
        errors=errors or {},
        action=REVERSALS,
        back_url=f"{ACCOUNTS}/{values['back']}" if values["back"] else ACCOUNTS,
    )


@router.get(REVERSALS)
async def reversal_form(
    request: Request,
    principal: Admin,
    entry_id: Annotated[str, Query(max_length=100)] = "",
    back: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The reversal form on its own, perhaps filled with an entry of an account's page."""
    account = an_id(back.strip())
    values = _form_values(entry_id=entry_id[:100], back=str(account or ""))
    return _reversal_page(request, values)


@router.post(REVERSALS)
async def reverse(request: Request, principal: Admin) -> Response:
    """Reverse an entry: the form asks for a confirmation, the confirmation reverses it."""
    who = signed_in(request)
    assert who is not None  # the access check ran first
    form = await read_form(request, who.csrf_token)
    typed = {k: v.strip() for k, v in fields(form, "entry_id", "reason", "back").items()}
    back = str(an_id(typed["back"]) or "")
    values = _form_values(typed["entry_id"][:100], typed["reason"][:600], back, posted_key(form))
    entry_id = an_id(typed["entry_id"])
    try:
        errors = {} if entry_id is not None else {"entry_id": NOT_AN_ID}
        try:
            reason = parse(_REVERSAL, {"reason": typed["reason"]}).reason
        except FormProblems as problems:
            raise FormProblems({**errors, **problems.errors}) from None
        if errors:
            raise FormProblems(errors)
    except FormProblems as problems:
        return _reversal_page(request, values, errors=problems.errors, status_code=422)
    assert entry_id is not None  # no error above
    if form.get("confirmed") != "yes" or posted_key(form) is None:
        return _reversal_page(request, values, confirm=True)
    try:
        made: ReversalRead = await service.reverse(
            request, entry_id, reason, values["key"], by=principal.username
        )
    except DomainError as error:
        if error.code not in REFUSALS:
            raise
        field, message = REFUSALS[error.code]
        if error.code == "idempotency_key_reused":
            values["key"] = new_key()
        return _reversal_page(request, values, errors={field: message}, status_code=422)
    notice = (
        f"Entry {made.reverses} reversed by entry {made.entry_id}: main {signed(made.main)},"
        f" savings {signed(made.savings)}. Reason: {made.reason}"
    )
    target = f"{ACCOUNTS}/{back}" if back else with_query(REVERSALS, {})
    return redirect(target, notice=notice)
