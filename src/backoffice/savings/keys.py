"""Where the customer-token keys come from: mounted files, or a pair made for development."""

from __future__ import annotations

from backoffice.core.config import Settings, StartupRefused
from backoffice.savings.tokens import ensure_key_pair, load_private_key, load_public_key

# Under BACKOFFICE_HOME when no key file is configured (development and tests only).
DEV_KEYS_DIR = "savings-keys"


def signing_key(settings: Settings) -> bytes:
    """The users service's private key (PEM).

    Raises:
        StartupRefused: in production without `SAVINGS_TOKEN_PRIVATE_KEY_FILE`, or a bad file.
    """
    if settings.savings_token_private_key_file is not None:
        return load_private_key(settings.savings_token_private_key_file)
    _refuse_in_production(settings, "SAVINGS_TOKEN_PRIVATE_KEY_FILE")
    return ensure_key_pair(settings.home / DEV_KEYS_DIR).private_pem


def verifying_key(settings: Settings) -> bytes:
    """The public key every other service verifies customer tokens with (PEM).

    Raises:
        StartupRefused: in production without `SAVINGS_TOKEN_PUBLIC_KEY_FILE`, or a bad file.
    """
    if settings.savings_token_public_key_file is not None:
        return load_public_key(settings.savings_token_public_key_file)
    _refuse_in_production(settings, "SAVINGS_TOKEN_PUBLIC_KEY_FILE")
    return ensure_key_pair(settings.home / DEV_KEYS_DIR).public_pem


def _refuse_in_production(settings: Settings, variable: str) -> None:
    if settings.is_production:
        raise StartupRefused(
            f"BACKOFFICE_ENV=production needs {variable}: a key pair made on the fly would"
            " differ from one process to the next (make one with"
            " openssl genpkey -algorithm ed25519)"
        )
