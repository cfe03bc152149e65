"""The web console's sign-in sessions, kept on the server (table `web_sessions`).

A browser holds a random token in a cookie and the table its SHA-256 only. Every request looks
its session up with the account in one statement, so sign-out, a password or role change, a
disabled or a deleted account end it at once, in every process. A session also ends after
`idle` without a request and at its absolute expiry. Each session carries a CSRF token for
its forms. Functions here never commit: the request's transaction does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.models import Account, WebSession
from backoffice.core.auth.roles import Role
from backoffice.core.auth.service import Principal
from backoffice.core.errors import Unauthorized

# A session's last request is written at most this often (not one write per page view).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Customer:
    """A savings customer signed in to the console, with the token the savings services check."""

    customer_id: str
    email: str
    token: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: who it is (a platform account or a savings customer) and its CSRF token."""

    csrf_token: str
    principal: Principal | None = None
    customer: Customer | None = None


def digest(token: str) -> bytes:
    """What the table keeps of a cookie's token."""
    return hashlib.sha256(token.encode()).digest()


async def start(
    session: AsyncSession,
    *,
    lifetime: timedelta,
    principal: Principal | None = None,
    customer: Customer | None = None,
    replacing: str | None = None,
) -> tuple[str, str]:
    """A new session for exactly one of `principal` or `customer`: (cookie token, CSRF token).

    A new token every sign-in (`replacing`, the browser's previous one, is ended): a token
    planted in a browser before sign-in is worth nothing after it.
    """
    if (principal is None) == (customer is None):
        raise ValueError("a session is for one account or one customer")
    if replacing:
        await end(session, replacing)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    values: dict[str, object] = {
        "token_hash": digest(token),
        "csrf_token": csrf,
        "last_seen_at": func.now(),
        "expires_at": func.now() + lifetime,
    }
    if principal is not None:
        values |= {"account_id": principal.account_id, "auth_version": principal.auth_version}
    elif customer is not None:
        values |= {
            "customer_id": customer.customer_id,
            "customer_email": customer.email,
            "customer_token": customer.token,
        }
    try:  # a principal remembered by another worker for an account deleted since
        async with session.begin_nested():
            await session.execute(insert(WebSession).values(values))
    except IntegrityError as exc:
        raise Unauthorized("Invalid credentials") from exc
    return token, csrf


async def current(session: AsyncSession, token: str, *, idle: timedelta) -> SignedIn | None:
    """The live session of `token`, or None.

    None when unknown, idle too long or expired, or when its account was disabled, deleted or
    changed since sign-in (such a record is removed).
    """
    hashed = digest(token)
    row = (
        await session.execute(
            select(
                WebSession.csrf_token,
                WebSession.account_id,
                WebSession.auth_version,
                WebSession.customer_id,
                WebSession.customer_email,
                WebSession.customer_token,
                WebSession.last_seen_at < func.now() - TOUCH_EVERY,
                (WebSession.expires_at > func.now())
                & (WebSession.last_seen_at > func.now() - idle),
                Account.username,
                Account.role,
                Account.is_active,
                Account.auth_version,
            )
            .outerjoin(Account, Account.id == WebSession.account_id)
            .where(WebSession.token_hash == hashed)
        )
    ).first()
    if row is None:
        return None
    (csrf, account_id, version, customer_id, email, customer_token, stale, live) = row[:8]
    username, role, active, account_version = row[8:]
    staff_ok = account_id is None or (active and account_version == version)
    if not live or not staff_ok:
        await session.execute(delete(WebSession).where(WebSession.token_hash == hashed))
        return None
    if stale:
        await session.execute(
            update(WebSession)
            .where(WebSession.token_hash == hashed)
            .values(last_seen_at=func.now())
        )
    if account_id is not None:
        principal = Principal(account_id, username, Role(role), account_version)
        return SignedIn(csrf, principal=principal)
    assert customer_id is not None and email is not None and customer_token is not None
    return SignedIn(csrf, customer=Customer(customer_id, email, customer_token))


async def end(session: AsyncSession, token: str) -> None:
    """Sign out: the session is gone, whatever a copy of its cookie says later."""
    await session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


async def purge(session: AsyncSession) -> int:
    """Remove expired sessions; how many."""
    result = await session.execute(delete(WebSession).where(WebSession.expires_at <= func.now()))
    return int(result.rowcount)  # type: ignore[attr-defined]
