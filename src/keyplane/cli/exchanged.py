"""Access tokens the CLI obtains by an exchange, cached so a CI job makes one (DESIGN §5).

A deployment API key pair (:mod:`keyplane.cli.key_pair`) and a workload identity's ID
token (:mod:`keyplane.cli.workload`) are each exchanged at ``/oauth/token`` for a
short-lived access token. :class:`ExchangedToken` is the callable bearer both are: it
answers the cached access token while it is fresh and exchanges again otherwise. The
cache is one 0600 JSON file holding the access token, its expiry and a SHA-256
*fingerprint* of the proof it was exchanged for (the key's secret, the job's ID
token): a token is reused only by whoever presents the same proof again, never the
proof itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

Json = dict[str, Any]


class ExchangedToken:
    """A callable bearer: a valid access token, exchanged when needed (see the module).

    Subclasses implement :meth:`exchange`; ``margin`` is how long before its expiry a
    cached token is no longer used.
    """

    margin = 300

    def __init__(self, path: Path, fingerprint: str) -> None:
        self._path = path
        self._fingerprint = fingerprint
        self._token: str | None = None
        self._expires_at = 0.0
        self._from_cache = False

    def exchange(self) -> tuple[str, int]:
        """Make the exchange: the access token and its lifetime in seconds."""
        raise NotImplementedError

    def describe(self) -> Json:
        """What the cache file says about the credential besides the token (no secret)."""
        return {}

    def __call__(self) -> str:
        if self._token and self._fresh(self._expires_at):
            return self._token
        cached = self._read()
        self._from_cache = cached is not None
        if cached is None:
            cached = self._exchange_and_keep()
        self._token, self._expires_at = cached["accessToken"], cached["expiresAt"]
        return self._token

    def renew(self) -> bool:
        """After a 401: if the refused token came from the cache, exchange again.

        A cached access token can be refused while the proof is still good (it was
        revoked at /oauth/revoke, or the server's signing key changed). A token just
        exchanged is not exchanged again: the proof itself was refused.
        """
        if not self._from_cache:
            return False
        self._from_cache = False
        fresh = self._exchange_and_keep()
        self._token, self._expires_at = fresh["accessToken"], fresh["expiresAt"]
        return True

    def _fresh(self, expires_at: float) -> bool:
        return expires_at - self.margin > time.time()

    def _read(self) -> Json | None:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("proofSha256") != self._fingerprint
            or not self._fresh(float(data.get("expiresAt", 0)))
        ):
            return None
        return data

    def _exchange_and_keep(self) -> Json:
        token, lifetime = self.exchange()
        data = {
            **self.describe(),
            "proofSha256": self._fingerprint,
            "accessToken": token,
            "expiresAt": time.time() + lifetime,
        }
        self._write(data)
        return data

    def _write(self, data: Json) -> None:
        """Write atomically with mode 0600; a cache that cannot be written is skipped."""
        with contextlib.suppress(OSError):
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = self._path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as file:
                json.dump(data, file)
            os.replace(temporary, self._path)


def cache_file(cache_dir: Path, *identity: str) -> Path:
    """The cache file of one credential (``identity``: server, key or identity id…)."""
    name = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:24]
    return cache_dir / "access-tokens" / f"{name}.json"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
