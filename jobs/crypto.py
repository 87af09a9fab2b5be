"""Credentials at rest: Fernet with a key ring (newest first), so rotation needs no downtime."""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY holds a value that is not a Fernet key (32 url-safe base64 bytes)"
        ) from None


def ring() -> MultiFernet:
    return _ring(tuple(settings.CREDENTIALS_KEYS))


def encrypt_json(value: dict[str, str]) -> str:
    return ring().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


class CredentialsUnreadable(Exception):
    """No configured key decrypts the stored credentials (key removed too early?)."""


def decrypt_json(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(ring().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable("stored credentials cannot be decrypted with any key in CREDENTIALS_KEY") from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate keeps the original timestamp)."""
    return ring().rotate(token.encode()).decode() if token else token
