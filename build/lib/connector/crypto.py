"""The credential vault: the only module that touches ``cryptography`` (design.md §6).

``MultiFernet`` over the key list from ``MLC_ENCRYPTION_KEYS`` (newest first): encryption always
uses the newest key, decryption tries each, and :meth:`Vault.rotate` re-encrypts a token under the
newest key. Every plaintext that passes through the vault is registered with the log redactor, so
a secret that slips into a log line is masked there too.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connector.config import Secret
from connector.logs import register_secret


class VaultError(Exception):
    """A ciphertext no configured key can open (wrong or missing key)."""


def generate_key() -> str:
    """A new Fernet key, for ``MLC_ENCRYPTION_KEYS``."""
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts and decrypts credentials. Tokens are url-safe text, fit for a TEXT column."""

    def __init__(self, keys: tuple[Secret, ...] | list[Secret]) -> None:
        if not keys:
            raise VaultError("no encryption keys configured (MLC_ENCRYPTION_KEYS)")
        self._newest = Fernet(keys[0].reveal().encode())
        self._fernet = MultiFernet([Fernet(k.reveal().encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        register_secret(plaintext)
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            plaintext = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError(
                "stored secret cannot be decrypted with any key in MLC_ENCRYPTION_KEYS"
            ) from None
        register_secret(plaintext)
        return plaintext

    def encrypt_json(self, data: dict[str, Any]) -> str:
        for value in data.values():
            if isinstance(value, str):
                register_secret(value)
        return self.encrypt(json.dumps(data, sort_keys=True))

    def decrypt_json(self, token: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.decrypt(token))
        for value in data.values():
            if isinstance(value, str):
                register_secret(value)
        return data

    def is_current(self, token: str) -> bool:
        """True when the newest key opens the token (rotation would be a no-op)."""
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same plaintext under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise VaultError(
                "stored secret cannot be decrypted with any key in MLC_ENCRYPTION_KEYS"
            ) from None
