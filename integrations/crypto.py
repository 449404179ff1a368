"""Encryption at rest for secrets (client secret, token cache, passwords, keys).

Keys come from CCBRIDGE_ENCRYPTION_KEYS: comma-separated Fernet keys, newest
first. New values are encrypted with the first key; any listed key decrypts,
so a key is rotated by putting a new one in front, running
`manage.py rotate_encryption_keys`, then dropping the old one.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CCBRIDGE_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """Encrypt text with the newest key; '' stays '' (nothing stored)."""
    if not plaintext:
        return ""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str, *, max_age: int | None = None) -> str:
    """Decrypt a stored value. Raises SecretUnreadable when no key fits, or when
    `max_age` is given and the value was encrypted more than that many seconds ago."""
    if not ciphertext:
        return ""
    try:
        return _current().decrypt(ciphertext.encode(), ttl=max_age).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted: CCBRIDGE_ENCRYPTION_KEYS no longer "
            "holds the key it was encrypted with."
        ) from None


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt a stored value with the newest key (key rotation)."""
    if not ciphertext:
        return ""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted for rotation.") from None
