"""Customer tokens: Ed25519-signed JWTs (EdDSA) issued by the users service.

The users service holds the private key and signs; every other service (the gateway above all)
holds only the public key and verifies, with no database and no call back to the users service.
An asymmetric key is the point: a service that can verify cannot forge.

A token carries the customer's token version (`ver`), which the users service raises when the
password changes. The gateway forwards the token itself with every command it sends for a
customer, and the service that acts (users, accounting) verifies it again and compares its
version with the one it holds, so a token stops working once the password changes or the
customer is deleted, and no service acts on a bare user id (docs/decisions.md).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from uuid import UUID

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backoffice.core.config import StartupRefused
from backoffice.core.errors import Unauthorized

ALGORITHM: Final = "EdDSA"
ISSUER: Final = "backoffice-savings-users"
AUDIENCE: Final = "backoffice-savings"
PRIVATE_KEY_FILE: Final = "savings-token.key"
PUBLIC_KEY_FILE: Final = "savings-token.pub"
INVALID_TOKEN: Final = "Invalid or expired token"  # noqa: S105 - a message, not a secret
# Verified tokens remembered at most (expired ones are dropped first when it is full).
MAX_VERIFIED: Final = 10_000
# The longest lifetime (exp - iat) a verifier accepts unless told (the setting's upper bound).
MAX_LIFETIME_SECONDS: Final = 86_400
# How far ahead of this machine's clock a token's `iat` may be (the issuer's clock may run ahead).
CLOCK_SKEW_SECONDS: Final = 30
# The longest token a command may carry (an EdDSA token of these claims is about 350 bytes).
TOKEN_MAX_LENGTH: Final = 4096
_REQUIRED_CLAIMS: Final = ["sub", "email", "ver", "iss", "aud", "iat", "exp"]


@dataclass(frozen=True, slots=True)
class CustomerClaims:
    """Who a verified token speaks for.

    Attributes:
        user_id: the customer's id in the users service.
        email: the customer's normalised email when the token was issued.
        version: the customer's token version when it was issued (`ver`).
        token: the token itself: what the gateway forwards as proof of the customer.
    """

    user_id: UUID
    email: str
    version: int
    token: str


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A signing key pair on disk, with the PEM text of each half.

    Attributes:
        private_path: the private key file (mode 0600).
        public_path: the public key file.
        private_pem: the private key, PKCS#8 PEM.
        public_pem: the public key, SubjectPublicKeyInfo PEM.
    """

    private_path: Path
    public_path: Path
    private_pem: bytes
    public_pem: bytes


class TokenSigner:
    """Issues customer tokens (the users service only: it needs the private key)."""

    def __init__(self, private_key_pem: bytes, *, ttl_seconds: int) -> None:
        """Build a signer.

        Args:
            private_key_pem: an Ed25519 private key, PEM (unencrypted).
            ttl_seconds: how long a token stays valid (at least 1).

        Raises:
            StartupRefused: the PEM is not an Ed25519 private key.
            ValueError: `ttl_seconds` is below 1.
        """
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._key = _private_key(private_key_pem, "the savings token private key")
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: UUID, email: str, version: int = 1) -> tuple[str, int]:
        """A signed token for this customer.

        Args:
            user_id: the customer's id (the `sub` claim).
            email: the customer's normalised email.
            version: the customer's token version (the `ver` claim).

        Returns:
            The token and its lifetime in seconds (`expires_in`).
        """
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "email": email,
            "ver": version,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), self.ttl_seconds

    def verifier(self) -> TokenVerifier:
        """A verifier of this signer's own tokens (its public key, its lifetime as maximum)."""
        public = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return TokenVerifier(public, max_lifetime=self.ttl_seconds)


class TokenVerifier:
    """Verifies customer tokens with the public key alone (no database, no network)."""

    def __init__(self, public_key_pem: bytes, *, max_lifetime: int = MAX_LIFETIME_SECONDS) -> None:
        """Build a verifier.

        Args:
            public_key_pem: an Ed25519 public key, PEM.
            max_lifetime: the longest lifetime (`exp - iat`, seconds) of a token accepted: the
                configured token lifetime, so a token signed to live longer is refused.

        Raises:
            StartupRefused: the PEM is not an Ed25519 public key.
        """
        self._key = _public_key(public_key_pem, "the savings token public key")
        self.max_lifetime = max_lifetime
        # Tokens verified before, until they expire: a customer sends the same token with every
        # request, and its signature check and decoding cost ~0.1 ms of the gateway's ~1 ms.
        self._verified: dict[str, tuple[int, CustomerClaims]] = {}

    def verify(self, token: str) -> CustomerClaims:
        """The claims of a valid token.

        Only EdDSA is accepted (a token naming another algorithm, HS256 with the public key as
        its secret above all, is refused before any signature check), with this issuer and
        audience, unexpired, issued no later than now (give or take the clocks' skew), living
        no longer than `max_lifetime`, and with every claim present.

        Args:
            token: the compact JWT.

        Returns:
            The customer the token speaks for.

        Raises:
            Unauthorized: anything is wrong with the token (one message for every reason).
        """
        now = int(time.time())
        known = self._verified.get(token)
        if known is not None and known[0] > now:
            return known[1]
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
            email, version = claims["email"], claims["ver"]
            if not isinstance(email, str) or type(version) is not int or version < 1:
                raise TypeError("email is not a string or ver not a positive integer")
            expires, issued = int(claims["exp"]), int(claims["iat"])
            if expires - issued > self.max_lifetime or issued > now + CLOCK_SKEW_SECONDS:
                raise ValueError("the token lives longer than allowed or was issued ahead")
            customer = CustomerClaims(UUID(claims["sub"]), email, version, token)
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise Unauthorized(INVALID_TOKEN) from exc
        if len(self._verified) >= MAX_VERIFIED:
            self._verified = {k: v for k, v in self._verified.items() if v[0] > now}
            if len(self._verified) >= MAX_VERIFIED:
                self._verified.clear()
        self._verified[token] = (expires, customer)
        return customer


def ensure_key_pair(directory: Path) -> KeyPair:
    """The key pair in `directory`, created first if there is no private key there.

    For development and tests, so that `make run` needs no setup; production mounts its keys.
    A missing public key is derived again from the private one.

    Args:
        directory: where `savings-token.key` (mode 0600) and `savings-token.pub` live; created
            if missing.

    Returns:
        The paths and PEM text of both keys.

    Raises:
        StartupRefused: a key file that exists is not a PEM key of the right type.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / PRIVATE_KEY_FILE
    public_path = directory / PUBLIC_KEY_FILE
    if not private_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Created with 0600 from the start: never readable by others, even for a moment.
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        public_path.unlink(missing_ok=True)  # it belonged to another private key
    private_pem = load_private_key(private_path)
    if not public_path.exists():
        public_path.write_bytes(public_pem_of(private_pem))
    return KeyPair(private_path, public_path, private_pem, load_public_key(public_path))


def public_pem_of(private_key_pem: bytes) -> bytes:
    """The public half of an Ed25519 private key, PEM.

    Args:
        private_key_pem: an Ed25519 private key, PEM.

    Returns:
        Its public key, SubjectPublicKeyInfo PEM.

    Raises:
        StartupRefused: the PEM is not an Ed25519 private key.
    """
    key = _private_key(private_key_pem, "the savings token private key")
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> bytes:
    """Read and check an Ed25519 private key file.

    Args:
        path: an unencrypted PEM file (PKCS#8).

    Returns:
        The PEM text, ready for `TokenSigner`.

    Raises:
        StartupRefused: the file is missing or unreadable, or not an Ed25519 private key.
    """
    pem = _read(path, "private")
    _private_key(pem, f"savings token private key {path}")
    return pem


def load_public_key(path: Path) -> bytes:
    """Read and check an Ed25519 public key file.

    Args:
        path: a PEM file.

    Returns:
        The PEM text, ready for `TokenVerifier`.

    Raises:
        StartupRefused: the file is missing or unreadable, or not an Ed25519 public key.
    """
    pem = _read(path, "public")
    _public_key(pem, f"savings token public key {path}")
    return pem


def _read(path: Path, kind: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StartupRefused(f"savings token {kind} key {path}: {reason}") from exc


def _private_key(pem: bytes, what: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise StartupRefused(f"{what} is not an unencrypted PEM Ed25519 private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise StartupRefused(f"{what} is not an Ed25519 private key")
    return key


def _public_key(pem: bytes, what: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise StartupRefused(f"{what} is not a PEM Ed25519 public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise StartupRefused(f"{what} is not an Ed25519 public key")
    return key
