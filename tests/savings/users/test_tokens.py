"""Customer tokens: Ed25519 JWTs, key files, and every way a token can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt import decode as jwt_decode

from backoffice.core.config import StartupRefused
from backoffice.core.errors import Unauthorized
from backoffice.savings.tokens import (
    AUDIENCE,
    INVALID_TOKEN,
    ISSUER,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    CustomerClaims,
    TokenSigner,
    TokenVerifier,
    ensure_key_pair,
    load_private_key,
    load_public_key,
    public_pem_of,
)


def _private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def private_pem() -> bytes:
    return _private_pem()


@pytest.fixture(scope="module")
def verifier(private_pem: bytes) -> TokenVerifier:
    return TokenVerifier(public_pem_of(private_pem))


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "email": "ada@example.com",
        "ver": 1,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(private_pem: bytes, claims: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


def test_issued_token_round_trips(private_pem: bytes, verifier: TokenVerifier) -> None:
    user_id = uuid.uuid4()
    signer = TokenSigner(private_pem, ttl_seconds=900)
    token, expires_in = signer.issue(user_id, "ada@example.com", 3)
    assert expires_in == 900
    assert verifier.verify(token) == CustomerClaims(user_id, "ada@example.com", 3, token)
    assert signer.verifier().verify(token).version == 3
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, AUDIENCE, str(user_id))


def test_signer_refuses_a_ttl_below_one_second(private_pem: bytes) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        TokenSigner(private_pem, ttl_seconds=0)


def _refused(verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        verifier.verify(token)
    assert caught.value.message == INVALID_TOKEN
    assert caught.value.status_code == 401


def test_expired_token_is_refused(private_pem: bytes, verifier: TokenVerifier) -> None:
    past = int(time.time()) - 120
    _refused(verifier, _signed(private_pem, _claims(iat=past - 60, exp=past)))


def test_a_verified_token_is_remembered_until_it_expires(
    private_pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(public_pem_of(private_pem))
    token = _signed(private_pem, _claims())
    first = verifier.verify(token)
    decodes: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        decodes.append(1)
        return jwt_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    assert verifier.verify(token) == first
    assert decodes == [], "a remembered token is not decoded again"
    expiry = jwt_decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(time, "time", lambda: expiry + 1)
    verifier.verify(token)  # past its expiry here: decoded (and its expiry checked) again
    assert decodes == [1]


def test_the_memory_of_verified_tokens_is_bounded_expired_ones_first(
    private_pem: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backoffice.savings.tokens.MAX_VERIFIED", 2)
    verifier = TokenVerifier(public_pem_of(private_pem))
    now = int(time.time())
    live, expired, new = (_signed(private_pem, _claims(sub=str(uuid.uuid4()))) for _ in range(3))
    verifier.verify(live)
    verifier.verify(expired)
    _, claims = verifier._verified[expired]
    verifier._verified[expired] = (now - 1, claims)  # as if it had expired meanwhile
    verifier.verify(new)
    assert set(verifier._verified) == {live, new}, "the expired one made room"
    verifier.verify(_signed(private_pem, _claims(sub=str(uuid.uuid4()))))
    assert len(verifier._verified) == 1, "full of live ones: forgotten, not grown"


def test_tampered_token_is_refused(private_pem: bytes, verifier: TokenVerifier) -> None:
    token, _ = TokenSigner(private_pem, ttl_seconds=60).issue(uuid.uuid4(), "ada@example.com")
    header, payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"ada@", b"eve@")
    ).decode()
    assert forged != payload
    _refused(verifier, f"{header}.{forged}.{signature}")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    _refused(verifier, f"{header}.{payload}.{flipped}")


def test_token_signed_by_another_key_is_refused(verifier: TokenVerifier) -> None:
    token, _ = TokenSigner(_private_pem(), ttl_seconds=60).issue(uuid.uuid4(), "a@example.com")
    _refused(verifier, token)


def test_hs256_token_keyed_with_the_public_key_is_refused(private_pem: bytes) -> None:
    public_pem = public_pem_of(private_pem)

    # The classic confusion attack: HMAC "signed" with the public key's bytes as the secret.
    # PyJWT refuses to HMAC with a PEM key, so build the token by hand.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64(json.dumps(_claims()).encode())
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    _refused(TokenVerifier(public_pem), f"{signing_input}.{b64(mac)}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"sub": None},
        {"email": None},
        {"iat": None},
        {"exp": None},
        {"aud": None},
        {"iss": None},
        {"sub": "not-a-uuid"},
        {"email": 42},
        {"ver": None},
        {"ver": 0},
        {"ver": "1"},
        {"ver": 1.0},
        {"ver": True},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_wrong_or_missing_claims_are_refused(
    private_pem: bytes, verifier: TokenVerifier, overrides: dict[str, Any]
) -> None:
    _refused(verifier, _signed(private_pem, _claims(**overrides)))


def test_a_token_living_longer_than_the_maximum_is_refused(private_pem: bytes) -> None:
    """The lifetime (exp - iat) is bounded, whatever the signer was told."""
    verifier = TokenVerifier(public_pem_of(private_pem), max_lifetime=900)
    now = int(time.time())
    assert verifier.verify(_signed(private_pem, _claims(iat=now, exp=now + 900)))
    _refused(verifier, _signed(private_pem, _claims(iat=now, exp=now + 901)))
    _refused(verifier, _signed(private_pem, _claims(iat=now - 86_400, exp=now + 86_400)))
    # Issued "later" so that exp - iat looks short: refused past the clocks' skew.
    _refused(verifier, _signed(private_pem, _claims(iat=now + 3600, exp=now + 3700)))
    long_lived, _ = TokenSigner(private_pem, ttl_seconds=3600).issue(uuid.uuid4(), "a@b.co")
    _refused(verifier, long_lived)
    assert TokenSigner(private_pem, ttl_seconds=900).verifier().max_lifetime == 900


def test_garbage_is_refused(verifier: TokenVerifier) -> None:
    _refused(verifier, "not.a.token")
    _refused(verifier, "")


def test_key_pair_is_created_once_with_a_private_file_only_its_owner_reads(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "keys" / "nested"
    pair = ensure_key_pair(directory)
    assert pair.private_path == directory / PRIVATE_KEY_FILE
    assert pair.public_path == directory / PUBLIC_KEY_FILE
    assert stat.S_IMODE(os.stat(pair.private_path).st_mode) == 0o600
    assert pair.private_pem == pair.private_path.read_bytes()
    assert pair.public_pem == public_pem_of(pair.private_pem)

    again = ensure_key_pair(directory)
    assert again == pair  # kept, not regenerated

    token, _ = TokenSigner(pair.private_pem, ttl_seconds=60).issue(uuid.uuid4(), "a@b.co")
    assert TokenVerifier(pair.public_pem).verify(token).email == "a@b.co"


def test_a_lost_public_key_is_derived_again(tmp_path: Path) -> None:
    pair = ensure_key_pair(tmp_path)
    pair.public_path.unlink()
    assert ensure_key_pair(tmp_path).public_pem == pair.public_pem


def test_a_lost_private_key_means_a_new_pair(tmp_path: Path) -> None:
    pair = ensure_key_pair(tmp_path)
    pair.private_path.unlink()
    fresh = ensure_key_pair(tmp_path)
    assert fresh.private_pem != pair.private_pem
    assert fresh.public_pem == public_pem_of(fresh.private_pem)


def test_missing_key_files_refuse_startup(tmp_path: Path) -> None:
    with pytest.raises(StartupRefused, match=r"private key .*missing\.key: No such file"):
        load_private_key(tmp_path / "missing.key")
    with pytest.raises(StartupRefused, match=r"public key .*missing\.pub: No such file"):
        load_public_key(tmp_path / "missing.pub")


def test_key_files_that_are_not_ed25519_pem_refuse_startup(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a key")
    with pytest.raises(StartupRefused, match="not an unencrypted PEM Ed25519 private key"):
        load_private_key(garbage)
    with pytest.raises(StartupRefused, match="not a PEM Ed25519 public key"):
        load_public_key(garbage)

    ec_key = generate_private_key(SECP256R1())
    ec_private = tmp_path / "ec.key"
    ec_private.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ec_public = tmp_path / "ec.pub"
    ec_public.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(StartupRefused, match="is not an Ed25519 private key"):
        load_private_key(ec_private)
    with pytest.raises(StartupRefused, match="is not an Ed25519 public key"):
        load_public_key(ec_public)

    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(StartupRefused, match="unencrypted"):
        load_private_key(encrypted)
    # A private key where the public one belongs (the gateway must hold only the public key).
    with pytest.raises(StartupRefused, match="public key"):
        load_public_key(ensure_key_pair(tmp_path / "pair").private_path)


def test_startup_refusal_messages_are_one_line() -> None:
    with pytest.raises(StartupRefused) as caught:
        TokenVerifier(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert "\n" not in str(caught.value)
    with pytest.raises(StartupRefused) as caught_private:
        TokenSigner(b"", ttl_seconds=60)
    assert "\n" not in str(caught_private.value)
