"""Secrets at rest: API key hashes and symmetric encryption keyed by the service secret."""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

MIN_SECRET_LENGTH = 32


class SecretBox:
    """Fernet encryption with a key derived from `AMIGO_SECRET_KEY`."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                "AMIGO_SECRET_KEY must be set to at least 32 characters "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("Cannot decrypt a stored secret: AMIGO_SECRET_KEY differs from the one "
                             "that encrypted it.") from exc


def new_api_key_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_api_key_secret(secret: str) -> str:
    """API key secrets carry 256 random bits, so one SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key_secret(secret), stored_hash)
