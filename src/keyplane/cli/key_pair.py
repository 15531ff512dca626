"""The deployment API key pair, exchanged for short-lived access tokens (DESIGN §5).

``ASTRONOMER_KEY_ID`` and ``ASTRONOMER_KEY_SECRET`` are exchanged at ``/oauth/token``
(client_credentials) and the access token is cached in a 0600 file under the CLI's
config dir until 5 minutes before it expires, so that a CI job running many commands
makes one exchange. The file holds the access token and a SHA-256 of the secret (to
notice a changed secret), never the secret itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from keyplane.cli import errors
from keyplane.client import ApiError, ServerUnreachable, client_credentials_grant

REFRESH_MARGIN_SECONDS = 300


def config_dir(env: dict[str, str] | None = None) -> Path:
    """``KEYPLANE_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/keyplane``, else ``~/.config/keyplane``."""
    env = dict(os.environ) if env is None else env
    if env.get("KEYPLANE_CONFIG_DIR"):
        return Path(env["KEYPLANE_CONFIG_DIR"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "keyplane"


class KeyPairExchange:
    """A callable bearer: a valid access token for the key pair, exchanged when needed."""

    def __init__(self, url: str, key_id: str, secret: str, cache_dir: Path) -> None:
        self._url = url
        self._key_id = key_id
        self._secret = secret
        self._fingerprint = hashlib.sha256(secret.encode()).hexdigest()
        name = hashlib.sha256(f"{url}\n{key_id}".encode()).hexdigest()[:24]
        self._path = cache_dir / "access-tokens" / f"{name}.json"
        self._token: str | None = None
        self._expires_at = 0.0
        self._from_cache = False

    def __repr__(self) -> str:
        return f"KeyPairExchange(url={self._url!r}, key_id={self._key_id!r})"

    def __call__(self) -> str:
        if self._token and self._fresh(self._expires_at):
            return self._token
        cached = self._read()
        self._from_cache = cached is not None
        if cached is None:
            cached = self._exchange()
            self._write(cached)
        self._token, self._expires_at = cached["accessToken"], cached["expiresAt"]
        return self._token

    def renew(self) -> bool:
        """After a 401: if the refused token came from the cache, exchange the key again.

        A cached access token can be refused while the key is still valid (it was
        revoked at /oauth/revoke, or the server's signing key changed). A token just
        exchanged is not exchanged again: the key itself was refused.
        """
        if not self._from_cache:
            return False
        self._from_cache = False
        fresh = self._exchange()
        self._write(fresh)
        self._token, self._expires_at = fresh["accessToken"], fresh["expiresAt"]
        return True

    @staticmethod
    def _fresh(expires_at: float) -> bool:
        return expires_at - REFRESH_MARGIN_SECONDS > time.time()

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("secretSha256") != self._fingerprint
            or not self._fresh(float(data.get("expiresAt", 0)))
        ):
            return None
        return data

    def _exchange(self) -> dict[str, Any]:
        try:
            body, _ = client_credentials_grant(self._url, self._key_id, self._secret)
        except ServerUnreachable as error:
            from keyplane.cli.explain import unreachable

            raise unreachable(error) from None
        except ApiError as error:
            raise _explain(error) from None
        return {
            "server": self._url,
            "keyId": self._key_id,
            "secretSha256": self._fingerprint,
            "accessToken": body["access_token"],
            "expiresAt": time.time() + int(body.get("expires_in", 0)),
        }

    def _write(self, data: dict[str, Any]) -> None:
        """Write atomically with mode 0600; a cache that cannot be written is skipped."""
        with contextlib.suppress(OSError):
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = self._path.with_suffix(f".{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as file:
                json.dump(data, file)
            os.replace(temporary, self._path)


def _explain(error: ApiError) -> errors.CliError:
    source = "ASTRONOMER_KEY_ID / ASTRONOMER_KEY_SECRET"
    if error.status_code in (400, 401) and "invalid_client" in error.message:
        return errors.NotAuthenticated(
            f"the deployment API key in {source} was refused: {error.message}",
            hint="check both values; the key may have been deleted, or its deployment",
        )
    if "unauthorized_client" in error.message:
        return errors.NotAuthenticated(
            f"the deployment API key in {source} may not be used: {error.message}",
            hint="set ASTRO_API_TOKEN to a deployment API token instead",
        )
    return errors.CliError(f"could not exchange the deployment API key: {error.message}")
