"""The deployment API key pair, exchanged for short-lived access tokens (DESIGN §5).

``ASTRONOMER_KEY_ID`` and ``ASTRONOMER_KEY_SECRET`` are exchanged at ``/oauth/token``
(client_credentials) and the access token is cached in a 0600 file under the CLI's
config dir until 5 minutes before it expires, so that a CI job running many commands
makes one exchange (:mod:`keyplane.cli.exchanged`). The file holds the access token
and a SHA-256 of the secret (to notice a changed secret), never the secret itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from keyplane.cli import errors
from keyplane.cli.exchanged import ExchangedToken, Json, cache_file, sha256
from keyplane.client import ApiError, ServerUnreachable, client_credentials_grant


def config_dir(env: dict[str, str] | None = None) -> Path:
    """``KEYPLANE_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/keyplane``, else ``~/.config/keyplane``."""
    env = dict(os.environ) if env is None else env
    if env.get("KEYPLANE_CONFIG_DIR"):
        return Path(env["KEYPLANE_CONFIG_DIR"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "keyplane"


class KeyPairExchange(ExchangedToken):
    """A callable bearer: a valid access token for the key pair, exchanged when needed."""

    def __init__(self, url: str, key_id: str, secret: str, cache_dir: Path) -> None:
        super().__init__(cache_file(cache_dir, url, key_id), sha256(secret))
        self._url = url
        self._key_id = key_id
        self._secret = secret

    def __repr__(self) -> str:
        return f"KeyPairExchange(url={self._url!r}, key_id={self._key_id!r})"

    def describe(self) -> Json:
        return {"server": self._url, "keyId": self._key_id}

    def exchange(self) -> tuple[str, int]:
        try:
            body, _ = client_credentials_grant(self._url, self._key_id, self._secret)
        except ServerUnreachable as error:
            raise errors.unreachable(error) from None
        except ApiError as error:
            raise _explain(error) from None
        return body["access_token"], int(body.get("expires_in", 0))


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
