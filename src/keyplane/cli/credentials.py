"""Which server, and which credential, a CLI command uses (DESIGN §5, §7).

Precedence: ``ASTRO_API_TOKEN``; then the deployment API key pair ``ASTRONOMER_KEY_ID`` +
``ASTRONOMER_KEY_SECRET`` (both: one without the other is an error); then a workload identity
(``KEYPLANE_WORKLOAD_IDENTITY``, with the job's own ID token); then a stored
interactive login.
Each source is one function below that answers a :class:`Credential`, None when the
source is not configured, or raises :class:`NotAuthenticated` when it is configured
but cannot be used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from keyplane.cli import login_store
from keyplane.cli.errors import CliError, NotAuthenticated, UsageError
from keyplane.cli.key_pair import KeyPairExchange, config_dir
from keyplane.cli.workload import (
    IDENTITY_VAR,
    WorkloadExchange,
    audience,
    cache_dir,
    id_token_source,
)

URL_VAR = "KEYPLANE_URL"
DEFAULT_URL = "http://127.0.0.1:8080"
TOKEN_VAR = "ASTRO_API_TOKEN"
KEY_ID_VAR = "ASTRONOMER_KEY_ID"
KEY_SECRET_VAR = "ASTRONOMER_KEY_SECRET"
NO_CREDENTIAL_HINT = (
    f"set {TOKEN_VAR} to an API token (create one with `keyplane workspace token create` "
    "or `keyplane organization token create`), set "
    f"{IDENTITY_VAR} in a CI job that has an "
    "OIDC ID token, or sign in with `keyplane login`"
)


@dataclass(frozen=True)
class Credential:
    """A bearer credential and where it came from (for messages; never the value)."""

    # A bearer value, or a callable answering a fresh one (exchanged access tokens).
    bearer: str | Callable[[], str] = field(repr=False)
    source: str  # e.g. "ASTRO_API_TOKEN", shown in messages
    from_environment: bool = False  # set by the CI job, not stored by `keyplane login`


def server_url(env: Mapping[str, str] | None = None) -> str:
    """The server from ``KEYPLANE_URL``, without a trailing slash (default: local).

    Raises UsageError for a URL the CLI would only fail with: one ending in ``/v1``
    (the CLI adds the API's paths itself) or one that is not http(s).
    """
    env = os.environ if env is None else env
    url = (env.get(URL_VAR) or DEFAULT_URL).strip().rstrip("/")
    if url.endswith("/v1"):
        raise UsageError(
            f"{URL_VAR}={url} ends in /v1, which the CLI adds itself",
            hint=f"export {URL_VAR}={url.removesuffix('/v1')}",
        )
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"{URL_VAR}={url} is not an http(s) URL",
            hint=f"export {URL_VAR}=https://keyplane.example.com (the server's address)",
        )
    return url


def resolve(env: Mapping[str, str] | None = None) -> Credential:
    """The credential to use, by DESIGN §5 precedence; raises NotAuthenticated if none.

    A credential from the environment is a CI job's: without ``KEYPLANE_URL`` it would
    go to the default local address, so the CLI stops instead of sending it there.
    """
    env = os.environ if env is None else env
    url = server_url(env)
    for source in (from_api_token, from_key_pair, from_workload_identity, from_stored_login):
        credential = source(env, url)
        if credential is not None:
            if credential.from_environment and not env.get(URL_VAR, "").strip():
                raise CliError(
                    f"{URL_VAR} is not set: not sending the credential in "
                    f"{credential.source} to the default {DEFAULT_URL}",
                    hint=f"export {URL_VAR}=<your keyplane server, e.g. https://keyplane.example.com>",
                )
            return credential
    key_id, secret = env.get(KEY_ID_VAR, "").strip(), env.get(KEY_SECRET_VAR, "").strip()
    if bool(key_id) != bool(secret):
        given, missing = (KEY_ID_VAR, KEY_SECRET_VAR) if key_id else (KEY_SECRET_VAR, KEY_ID_VAR)
        raise NotAuthenticated(
            f"{given} is set but {missing} is not: a deployment API key needs both",
            hint=f"set {missing} too (it is shown once, when the key is created), "
            f"or set {TOKEN_VAR} to an API token instead",
        )
    raise NotAuthenticated("no credential found", hint=NO_CREDENTIAL_HINT)


def from_api_token(env: Mapping[str, str], url: str) -> Credential | None:
    """An Organization, Workspace or Deployment API token in ``ASTRO_API_TOKEN``."""
    value = env.get(TOKEN_VAR, "").strip()
    if not value:
        return None
    return Credential(bearer=value, source=TOKEN_VAR, from_environment=True)


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
    return Credential(
        bearer=exchange, source=f"{KEY_ID_VAR} and {KEY_SECRET_VAR}", from_environment=True
    )


def from_workload_identity(env: Mapping[str, str], url: str) -> Credential | None:
    """``KEYPLANE_WORKLOAD_IDENTITY``: the job's ID token, exchanged at ``/oauth/token``
    (RFC 8693) and cached for the job; see :mod:`keyplane.cli.workload`."""
    identity_id = env.get(IDENTITY_VAR, "").strip()
    if not identity_id:
        return None
    source = id_token_source(env)
    exchange = WorkloadExchange(
        url, identity_id, audience(env, url), source, cache_dir(env, config_dir(dict(env)))
    )
    return Credential(
        bearer=exchange,
        source=f"{IDENTITY_VAR} (ID token from {source.name})",
        from_environment=True,
    )


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
