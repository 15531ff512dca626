"""Encryption at rest for the few secrets keyplane must be able to read back
(signing keys, deployment variables, SSO client secrets).

Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``. Keys come from
``KEYPLANE_ENCRYPTION_KEYS`` (comma-separated Fernet keys; the first encrypts, all
decrypt, so a key can be rotated in) or, when unset, from ``encryption.key`` in the
data dir, created with mode 0600 on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keyplane.config import Settings


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self._first = keys[0]

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, ciphertext: str) -> bytes:
        """The plaintext; raises ValueError if the data was not made with one of our keys."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii"))
        except InvalidToken as error:
            raise ValueError("cannot decrypt: wrong encryption key or damaged data") from error

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (HMAC signing), derived from the encrypting key.

        Every replica sharing the encryption keys derives the same key; distinct
        purposes get unrelated keys.
        """
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._first
        )

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"


def load_secret_box(settings: Settings) -> SecretBox:
    if settings.encryption_keys:
        keys = [k.strip().encode() for k in settings.encryption_keys.split(",") if k.strip()]
        return SecretBox(keys)
    return SecretBox([_key_file(settings.data_dir / "encryption.key")])


def _key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key
