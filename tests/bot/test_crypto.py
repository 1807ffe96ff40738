from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.crypto import CredentialCipher, CredentialsUnreadable


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = CredentialCipher([old]).encrypt(b"refresh-token-value")
    assert b"refresh-token-value" not in token
    rotated_cipher = CredentialCipher([new, old])
    assert rotated_cipher.decrypt(token) == b"refresh-token-value"
    rotated = rotated_cipher.rotate(token)
    assert CredentialCipher([new]).decrypt(rotated) == b"refresh-token-value"


def test_unknown_key_gives_a_clear_error_without_the_ciphertext() -> None:
    token = CredentialCipher([Fernet.generate_key().decode()]).encrypt(b"x")
    with pytest.raises(CredentialsUnreadable) as caught:
        CredentialCipher([Fernet.generate_key().decode()]).decrypt(token)
    assert token.decode() not in str(caught.value)
    assert "OUTREACH_ENCRYPTION_KEYS" in str(caught.value)
