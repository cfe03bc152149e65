"""Password hashing for customers: argon2id, always off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backoffice.core.config import Settings


class Hasher:
    """Hashes and verifies customers' passwords with argon2id in a worker thread.

    Argon2 costs tens of milliseconds of CPU on purpose; run on the event loop it would stall
    every other request and message of the process for that long.
    """

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        """Build a hasher.

        Args:
            time_cost: argon2 iterations.
            memory_kib: argon2 memory, in KiB.
        """
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when the email is unknown, so that both failures cost the same.
        self._dummy_hash = self._hasher.hash("not-a-real-password")

    @classmethod
    def from_settings(cls, settings: Settings) -> Hasher:
        """The hasher the settings' argon2 costs describe.

        Args:
            settings: the platform settings (`argon2_time_cost`, `argon2_memory_kib`).

        Returns:
            A hasher with those costs.
        """
        return cls(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)

    async def hash(self, password: str) -> str:
        """An argon2id hash of `password`.

        Args:
            password: the plain password.

        Returns:
            The encoded hash (parameters and salt included).
        """
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches `password_hash`.

        Args:
            password_hash: a stored hash, or None for an unknown customer: a dummy hash is
                verified instead, so that the answer takes as long either way.
            password: the plain password.

        Returns:
            True only for a stored hash that matches.
        """
        stored = self._dummy_hash if password_hash is None else password_hash
        matches = await asyncio.to_thread(self._verify, stored, password)
        return matches and password_hash is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
