"""Credentials at rest: Fernet with key rotation (the first key encrypts, every key decrypts)."""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialsUnreadable(Exception):
    """Stored credentials were encrypted with a key that is no longer configured."""


class CredentialCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            # Never include the token: it is ciphertext of a secret.
            raise CredentialsUnreadable(
                "stored credentials cannot be decrypted with the configured OUTREACH_ENCRYPTION_KEYS"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the newest key (used by `outreach keys rotate`)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise CredentialsUnreadable(
                "stored credentials cannot be decrypted with the configured OUTREACH_ENCRYPTION_KEYS"
            ) from None


def new_key() -> str:
    return Fernet.generate_key().decode()
