"""Which server, and which credential, a CLI command uses (DESIGN §5, §7).

Precedence: ``ASTRO_API_TOKEN``; then the deployment API key pair ``ASTRONOMER_KEY_ID`` +
``ASTRONOMER_KEY_SECRET`` (only when both are set); then a stored interactive login.
Each source is one function below that answers a :class:`Credential`, None when the
source is not configured, or raises :class:`NotAuthenticated` when it is configured
but cannot be used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from keyplane.cli import login_store
from keyplane.cli.errors import NotAuthenticated
from keyplane.cli.key_pair import KeyPairExchange, config_dir

DEFAULT_URL = "http://127.0.0.1:8080"
TOKEN_VAR = "ASTRO_API_TOKEN"
KEY_ID_VAR = "ASTRONOMER_KEY_ID"
KEY_SECRET_VAR = "ASTRONOMER_KEY_SECRET"
NO_CREDENTIAL_HINT = (
    f"set {TOKEN_VAR} to an API token (create one with `keyplane workspace token create` "
    "or `keyplane organization token create`), or sign in with `keyplane login`"
)


@dataclass(frozen=True)
class Credential:
    """A bearer credential and where it came from (for messages; never the value)."""

    # A bearer value, or a callable answering a fresh one (exchanged access tokens).
    bearer: str | Callable[[], str] = field(repr=False)
    source: str  # e.g. "ASTRO_API_TOKEN", shown in messages


def server_url(env: Mapping[str, str] | None = None) -> str:
    """The server from ``KEYPLANE_URL``, without a trailing slash."""
    env = os.environ if env is None else env
    return (env.get("KEYPLANE_URL") or DEFAULT_URL).rstrip("/")


def resolve(env: Mapping[str, str] | None = None) -> Credential:
    """The credential to use, by DESIGN §5 precedence; raises NotAuthenticated if none."""
    env = os.environ if env is None else env
    url = server_url(env)
    for source in (from_api_token, from_key_pair, from_stored_login):
        credential = source(env, url)
        if credential is not None:
            return credential
    raise NotAuthenticated("no credential found", hint=NO_CREDENTIAL_HINT)


def from_api_token(env: Mapping[str, str], url: str) -> Credential | None:
    """An Organization, Workspace or Deployment API token in ``ASTRO_API_TOKEN``."""
    value = env.get(TOKEN_VAR, "").strip()
    if not value:
        return None
    return Credential(bearer=value, source=TOKEN_VAR)


def from_key_pair(env: Mapping[str, str], url: str) -> Credential | None:
    """A legacy deployment API key, exchanged at ``/oauth/token`` (client_credentials).

    The access token is cached (0600 file under the config dir) until 5 minutes
    before it expires; see :mod:`keyplane.cli.key_pair`.
    """
    key_id = env.get(KEY_ID_VAR, "").strip()
    secret = env.get(KEY_SECRET_VAR, "").strip()
    if not (key_id and secret):
        return None
    exchange = KeyPairExchange(url, key_id, secret, config_dir(dict(env)))
    return Credential(bearer=exchange, source=f"{KEY_ID_VAR} and {KEY_SECRET_VAR}")


def from_stored_login(env: Mapping[str, str], url: str) -> Credential | None:
    """The access token of a stored interactive login (``keyplane login``) for this server.

    Refreshed (with refresh-token rotation) when it is about to expire.
    """
    stored = login_store.load(env, url)
    if stored is None:
        return None
    email = stored.get("email") or "you"
    return Credential(
        bearer=lambda: login_store.fresh_access_token(env, url),
        source=f"stored login ({email}; `keyplane logout` to end it)",
    )
