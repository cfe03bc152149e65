"""Password hashing, the verification cache, bearer tokens and account management."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import jwt
from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.auth.models import Account
from backoffice.core.auth.roles import ROLE_PERMISSIONS, Permission, Role
from backoffice.core.config import Settings
from backoffice.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed

__all__ = ["ROLE_PERMISSIONS", "Authenticator", "Permission", "Principal", "Role"]

# Opens a short-lived session (the app's sessionmaker, or the test transaction in tests).
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the authenticated account."""

    account_id: int
    username: str
    role: Role
    auth_version: int

    def can(self, permission: Permission) -> bool:
        """Whether the role grants `permission`."""
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class Authenticator:
    """Verifies credentials; remembers a success briefly so requests do not re-hash.

    Argon2 costs tens of ms of CPU on purpose. A verified (username, password) pair is
    remembered for `auth_cache_ttl_seconds` under an HMAC of the credentials keyed by a
    per-process random key, so the cache never holds a password or an offline-crackable
    hash. Changing an account's password or role calls `forget`, and every other worker
    drops the entry within the TTL.

    A bearer token names the account's `auth_version` when it was issued: it works only while
    the account is active at that version (`check_current`), so a password reset, a role change
    or disabling the account ends the tokens issued before, in this process at once and in the
    others within the same TTL (the account's version is remembered that long).
    """

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        self.ttl = settings.auth_cache_ttl_seconds
        self.secret_key = settings.secret_key
        self.token_ttl = settings.token_ttl_seconds
        self._cache_key = hashlib.sha256(settings.secret_key.encode() + b"|auth-cache").digest()
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._inflight: dict[bytes, asyncio.Future[Principal]] = {}
        # Tokens already verified, with their expiry: a signature check is a pure function of
        # the token and the key, so only the expiry needs checking again.
        self._tokens: dict[str, tuple[int, Principal]] = {}
        # Each account's current version, None when disabled or deleted, until a monotonic time.
        self._versions: dict[int, tuple[float, int | None]] = {}
        # Verified against when the user does not exist, so both failures cost the same.
        self._dummy_hash = self.hasher.hash("not-a-real-password")

    def hash_password(self, password: str) -> str:
        """An argon2id hash of `password`."""
        return self.hasher.hash(password)

    def _digest(self, username: str, password: str) -> bytes:
        message = username.encode() + b"\x00" + password.encode()
        return hmac.new(self._cache_key, message, hashlib.sha256).digest()

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def remembered(self, username: str, password: str) -> Principal | None:
        """The principal of these credentials if they were verified within the TTL, else None."""
        cached = self._cache.get(self._digest(username, password))
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    async def authenticate(
        self, sessions: SessionFactory, username: str, password: str
    ) -> Principal:
        """The principal for these credentials, or `Unauthorized`.

        A remembered verification answers without a database round trip or a hash. Concurrent
        requests with the same credentials share one verification, so an expired entry does
        not set every connection hashing at once.
        """
        digest = self._digest(username, password)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            principal = await self._verify_credentials(sessions, username, password)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._inflight[digest]
        future.set_result(principal)
        if self.ttl > 0:
            now = time.monotonic()
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[digest] = (now + self.ttl, principal)
        return principal

    async def _verify_credentials(
        self, sessions: SessionFactory, username: str, password: str
    ) -> Principal:
        async with sessions() as session:
            account = await session.scalar(select(Account).where(Account.username == username))
        stored = account.password_hash if account is not None else self._dummy_hash
        valid = await to_thread.run_sync(self._verify, stored, password)
        if account is None or not valid or not account.is_active:
            raise Unauthorized("Invalid credentials")
        return Principal(account.id, account.username, Role(account.role), account.auth_version)

    def forget(self, account_id: int) -> None:
        """Drop every remembered verification, token and version of this account."""
        self._cache = {k: v for k, v in self._cache.items() if v[1].account_id != account_id}
        self._tokens = {k: v for k, v in self._tokens.items() if v[1].account_id != account_id}
        self._versions.pop(account_id, None)

    async def check_current(self, sessions: SessionFactory, principal: Principal) -> Principal:
        """`principal` (from a token) if its account is still active at the token's version.

        The account's version is looked up at most once per TTL and account, so a token costs
        no database round trip on most requests.

        Raises:
            Unauthorized: the account was disabled, deleted, or changed (password, role)
                since the token was issued.
        """
        now = time.monotonic()
        known = self._versions.get(principal.account_id)
        if known is None or known[0] <= now:
            async with sessions() as session:
                row = (
                    await session.execute(
                        select(Account.auth_version, Account.is_active).where(
                            Account.id == principal.account_id
                        )
                    )
                ).first()
            version = row.auth_version if row is not None and row.is_active else None
            if self.ttl > 0:
                if len(self._versions) > 10_000:
                    self._versions = {k: v for k, v in self._versions.items() if v[0] > now}
                self._versions[principal.account_id] = (now + self.ttl, version)
        else:
            version = known[1]
        if version != principal.auth_version:
            raise Unauthorized("Invalid or expired token")
        return principal

    def issue_token(self, principal: Principal) -> tuple[str, int]:
        """A signed HS256 bearer token for `principal` and its lifetime in seconds."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(principal.account_id),
            "username": principal.username,
            "role": principal.role.value,
            "ver": principal.auth_version,
            "iat": now,
            "exp": now + self.token_ttl,
        }
        return jwt.encode(claims, self.secret_key, algorithm="HS256"), self.token_ttl

    def decode_token(self, token: str) -> Principal:
        """The principal a valid, unexpired token names, or `Unauthorized`."""
        now = int(time.time())
        known = self._tokens.get(token)
        if known is not None and known[0] > now:
            return known[1]
        try:
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                options={"require": ["exp", "sub", "role"]},
            )
            principal = Principal(
                int(claims["sub"]),
                str(claims["username"]),
                Role(claims["role"]),
                int(claims["ver"]),
            )
            expires = int(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise Unauthorized("Invalid or expired token") from exc
        if len(self._tokens) >= 10_000:
            self._tokens = {k: v for k, v in self._tokens.items() if v[0] > now}
            if len(self._tokens) >= 10_000:
                self._tokens.clear()
        self._tokens[token] = (expires, principal)
        return principal


async def create_account(
    session: AsyncSession, auth: Authenticator, *, username: str, password: str, role: Role
) -> Account:
    """Create an account; a taken username is a `Conflict`.

    No password rule and no audit: the demo loader's published logins and the tests' accounts.
    Operators create accounts through `core.auth.accounts.open_account`.
    """
    if len(password) < 8:
        raise ValidationFailed.field("password", "Password must have at least 8 characters")
    if await session.scalar(select(Account.id).where(Account.username == username)):
        raise Conflict(f"Username {username!r} is taken")
    hashed = await to_thread.run_sync(auth.hash_password, password)
    account = Account(username=username, password_hash=hashed, role=role.value)
    session.add(account)
    await session.flush()
    return account


async def update_account(
    session: AsyncSession,
    auth: Authenticator,
    account_id: int,
    *,
    password: str | None = None,
    role: Role | None = None,
) -> Account:
    """Change a password or role; remembered verifications of the account are dropped.

    No password rule and no audit (tests): operators go through `core.auth.accounts`.
    """
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("Account not found")
    if password is not None:
        if len(password) < 8:
            raise ValidationFailed.field("password", "Password must have at least 8 characters")
        account.password_hash = await to_thread.run_sync(auth.hash_password, password)
    if role is not None:
        account.role = role.value
    account.auth_version += 1
    await session.flush()
    auth.forget(account.id)
    return account


async def find_demo_credentials(
    session: AsyncSession, auth: Authenticator, demo: dict[str, str]
) -> list[str]:
    """Usernames whose password is still the published demo one."""
    rows = await session.execute(
        select(Account.username, Account.password_hash).where(Account.username.in_(list(demo)))
    )
    return [
        name
        for name, stored in rows.all()
        if await to_thread.run_sync(auth._verify, stored, demo[name])
    ]
