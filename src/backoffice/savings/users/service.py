"""The users service's operations on customers.

Each function takes the caller's session and never commits: the caller (a handler) owns the
transaction, so a change and the outbox row announcing it commit together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.passwords import check_password
from backoffice.core.db import flush_or
from backoffice.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from backoffice.core.messaging import enqueue
from backoffice.savings.subjects import USER_CREATED, USER_DELETED, USER_UPDATED
from backoffice.savings.tokens import INVALID_TOKEN, CustomerClaims, TokenSigner
from backoffice.savings.users.models import OUTBOX, Customer, SignupKey
from backoffice.savings.users.passwords import Hasher
from backoffice.savings.users.rules import normalise_email, normalise_full_name

INVALID_CREDENTIALS = "Invalid email or password"


class EmailTaken(Conflict):
    """Another customer already has this email."""

    code = "email_taken"
    default_message = "A customer with this email already exists"


class SignupKeyReused(Conflict):
    """The Idempotency-Key made another signup (another email, name or password)."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request"


class CustomerNotFound(NotFound):
    """No customer has this id."""

    code = "customer_not_found"
    default_message = "Customer not found"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _event(customer: Customer) -> dict[str, Any]:
    return {
        "user_id": str(customer.id),
        "email": customer.email,
        "full_name": customer.full_name,
        "token_version": customer.token_version,
        "at": _now(),
    }


async def create_customer(
    session: AsyncSession,
    hasher: Hasher,
    *,
    email: str,
    password: str,
    full_name: str,
    idempotency_key: str | None = None,
) -> Customer:
    """Sign a customer up and enqueue `savings.users.v1.created`.

    Args:
        session: the caller's session (not committed here).
        hasher: hashes the password.
        email: as typed; stored normalised.
        password: the new password: 8 to 1024 characters, none of the most common ones, not
            the email or its local part, not blank (`core.auth.passwords`).
        full_name: as typed; stored stripped.
        idempotency_key: the client's key for this signup, kept with the customer
            (`signup_made_with` finds it again).

    Returns:
        The new customer, flushed.

    Raises:
        ValidationFailed: a field breaks its rule (`WeakPassword` for the password).
        EmailTaken: the normalised email belongs to another customer (also when a concurrent
            signup took it first: the unique key decides).
        SignupKeyReused: another signup, with another email, took the key first.
    """
    normalised = normalise_email(email)
    name = normalise_full_name(full_name)
    check_password(password, identities=[normalised, email])
    customer = Customer(email=normalised, full_name=name, password_hash=await hasher.hash(password))
    session.add(customer)
    await flush_or(session, EmailTaken())
    if idempotency_key is not None:
        session.add(SignupKey(key=idempotency_key, customer_id=customer.id))
        await flush_or(session, SignupKeyReused())
    await enqueue(session, OUTBOX, USER_CREATED, _event(customer))
    return customer


async def signup_made_with(
    session: AsyncSession, hasher: Hasher, key: str, *, email: str, password: str, full_name: str
) -> Customer | None:
    """The customer a signup with this Idempotency-Key made, if it was this same signup.

    The same signup is the same email (normalised), full name (stripped) and password: the
    password is verified against the customer's hash (argon2's work, as a login), never kept
    in a form that a faster hash could reveal. A customer who changed any of these since is no
    longer the same signup.

    Args:
        session: the caller's session (only read).
        hasher: verifies the password.
        key: the client's key.
        email: as typed.
        password: the plain password.
        full_name: as typed.

    Returns:
        The customer, or None if no signup was made with the key (or its customer is gone).

    Raises:
        SignupKeyReused: the key made a signup with another email, name or password.
    """
    customer = await session.scalar(
        select(Customer)
        .join(SignupKey, SignupKey.customer_id == Customer.id)
        .where(SignupKey.key == key)
    )
    if customer is None:
        return None
    same = (
        customer.email == normalise_email(email)
        and customer.full_name == normalise_full_name(full_name)
        and await hasher.verify(customer.password_hash, password)
    )
    if not same:
        raise SignupKeyReused()
    return customer


async def customer_of(session: AsyncSession, claims: CustomerClaims) -> Customer:
    """The customer a verified token speaks for, if the token is still good.

    Args:
        session: the caller's session.
        claims: the token's verified claims.

    Returns:
        The customer.

    Raises:
        Unauthorized: the customer was deleted, or the token predates a password change.
    """
    customer = await session.get(Customer, claims.user_id)
    if customer is None or claims.version < customer.token_version:
        raise Unauthorized(INVALID_TOKEN)
    return customer


async def get_customer(session: AsyncSession, user_id: UUID) -> Customer:
    """The customer with this id.

    Args:
        session: the caller's session.
        user_id: the customer's id.

    Returns:
        The customer.

    Raises:
        CustomerNotFound: no customer has this id.
    """
    customer = await session.get(Customer, user_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


async def update_customer(
    session: AsyncSession,
    hasher: Hasher,
    user_id: UUID,
    *,
    email: str | None = None,
    full_name: str | None = None,
    password: str | None = None,
) -> Customer:
    """Change a customer's fields (those given) and enqueue `savings.users.v1.updated`.

    A call that gives no field changes nothing and enqueues nothing. A new password raises the
    customer's token version: their tokens stop working here at once, and in accounting when
    it has the event (which carries the version).

    Args:
        session: the caller's session (not committed here).
        hasher: hashes a new password.
        user_id: the customer's id.
        email: a new email, normalised like at signup.
        full_name: a new full name.
        password: a new password, held to the signup's rule (with the new or current email).

    Returns:
        The customer as it is now, flushed.

    Raises:
        CustomerNotFound: no customer has this id.
        ValidationFailed: a field breaks its rule.
        EmailTaken: the new email belongs to another customer.
    """
    # Checked before the row is locked: a bad field costs no lock and no hash.
    new_email = None if email is None else normalise_email(email)
    new_name = None if full_name is None else normalise_full_name(full_name)
    if password is not None:
        check_password(password)  # and against the email once the row is read
    customer = await session.get(Customer, user_id, with_for_update=True)
    if customer is None:
        raise CustomerNotFound()
    if password is not None:
        check_password(password, identities=[new_email or customer.email])
    if new_email is None and new_name is None and password is None:
        return customer
    if new_email is not None:
        customer.email = new_email
    if new_name is not None:
        customer.full_name = new_name
    if password is not None:
        customer.password_hash = await hasher.hash(password)
        customer.token_version += 1  # every token issued so far stops working
    await flush_or(session, EmailTaken())
    await enqueue(session, OUTBOX, USER_UPDATED, _event(customer))
    return customer


async def delete_customer(session: AsyncSession, user_id: UUID) -> None:
    """Delete a customer and enqueue `savings.users.v1.deleted`.

    Args:
        session: the caller's session (not committed here).
        user_id: the customer's id.

    Raises:
        CustomerNotFound: no customer has this id.
    """
    customer = await get_customer(session, user_id)
    await session.delete(customer)
    await session.flush()
    await enqueue(session, OUTBOX, USER_DELETED, {"user_id": str(user_id), "at": _now()})


async def authenticate(
    session: AsyncSession, hasher: Hasher, signer: TokenSigner, *, email: str, password: str
) -> tuple[str, int]:
    """A token for the customer these credentials name.

    An unknown email, a malformed one and a wrong password all get the same answer, after
    the same argon2 work (a dummy hash stands in for a missing customer), so neither the
    message nor the time tells which emails are registered.

    Args:
        session: the caller's session (only read).
        hasher: verifies the password.
        signer: signs the token.
        email: as typed; normalised before the lookup.
        password: the plain password.

    Returns:
        The signed token and its lifetime in seconds.

    Raises:
        Unauthorized: the credentials are wrong.
    """
    customer: Customer | None = None
    try:
        normalised = normalise_email(email)
    except ValidationFailed:
        normalised = None
    if normalised is not None:
        customer = await session.scalar(select(Customer).where(Customer.email == normalised))
    # Always verified (against a dummy hash when there is no customer): equal work either way.
    valid = await hasher.verify(None if customer is None else customer.password_hash, password)
    if customer is None or not valid:
        raise Unauthorized(INVALID_CREDENTIALS)
    return signer.issue(customer.id, customer.email, customer.token_version)
