"""Password hashing (argon2id) and the policy a new password must meet."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from keyplane.config import Settings
from keyplane.domain.errors import InvalidInput

MAX_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is a DoS, not a secret


def hasher_for(settings: Settings) -> PasswordHasher:
    """argon2id; the defaults are RFC 9106's low-memory profile (t=3, m=64 MiB, p=4)."""
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
    )


class Passwords:
    """Hash and check passwords; also answers for users who have none.

    ``check`` verifies a dummy hash when there is no stored one, so that a login for
    an unknown email costs the same time as one for a known email.
    """

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self._dummy = hasher.hash("keyplane dummy password, never matches")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def check(self, stored_hash: str | None, password: str) -> tuple[bool, str | None]:
        """(matches, new hash to store or None). Never raises for a bad password."""
        try:
            self.hasher.verify(stored_hash or self._dummy, password[:MAX_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, None
        if stored_hash is None:
            return False, None
        if self.hasher.check_needs_rehash(stored_hash):
            return True, self.hasher.hash(password)
        return True, None


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("keyplane.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_policy(password: str, email: str, min_length: int) -> None:
    """Raise InvalidInput (field ``password``) unless the password may be set."""
    problem = None
    if len(password) < min_length:
        problem = f"use at least {min_length} characters"
    elif len(password) > MAX_LENGTH:
        problem = f"use at most {MAX_LENGTH} characters"
    elif password.lower() in common_passwords():
        problem = "this password is one of the most common ones: choose another"
    elif password.lower() == email.lower() or password.lower() == email.split("@")[0].lower():
        problem = "the password must not be your email"
    if problem:
        raise InvalidInput(f"password refused: {problem}", field_errors={"password": problem})
