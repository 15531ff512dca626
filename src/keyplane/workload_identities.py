"""The SDK for workload identity federation (DESIGN §1, §3, §4).

A workload identity is an organization's trust policy: ID tokens from an issuer the
operator allows, whose claims meet its conditions, are exchanged (RFC 8693) for
short-lived access tokens holding its one role. :class:`WorkloadIdentities` manages
the policies of one organization; :func:`token_exchange_grant` is the exchange a CI
job makes. Errors raise :class:`keyplane.client.ApiError` as everywhere in the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keyplane.client import KeyplaneClient, api_path, token_request
from keyplane.transport import TIMEOUT, Headers

Json = dict[str, Any]
# A condition: a claim must equal the string, or one of the strings of a list.
Conditions = Mapping[str, str | Sequence[str]]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693 §2.1
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # RFC 8693 §3
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"


class WorkloadIdentities:
    """The workload identities of one organization (``…/workload-identities``)."""

    def __init__(self, client: KeyplaneClient, org_id: str) -> None:
        self._client = client
        self._path = api_path("/v1/organizations/{}/workload-identities", org_id)

    def list(self) -> list[Json]:
        return self._client.all_items(self._path, "workloadIdentities")

    def get(self, identity_id: str) -> Json:
        return self._client.get_json(self._path + api_path("/{}", identity_id))

    def create(
        self,
        *,
        name: str,
        issuer: str,
        conditions: Conditions,
        scope: str,
        role: str,
        entity_id: str | None = None,
        audience: str | None = None,
        description: str = "",
        token_lifetime_seconds: int | None = None,
    ) -> Json:
        """The new identity. ``audience`` absent: the server's public URL; lifetime
        absent: 900 s (at most 3600)."""
        body = {
            "name": name,
            "description": description,
            "issuer": issuer,
            "audience": audience,
            "conditions": _plain(conditions),
            "scope": scope,
            "entityId": entity_id,
            "role": role,
            "tokenLifetimeSeconds": token_lifetime_seconds,
        }
        return self._client.post_json(self._path, _present(body))

    def update(
        self,
        identity_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        conditions: Conditions | None = None,
        scope: str | None = None,
        entity_id: str | None = None,
        role: str | None = None,
        token_lifetime_seconds: int | None = None,
    ) -> Json:
        """Change the fields given (None: unchanged); ``conditions`` replaces them all."""
        body = {
            "name": name,
            "description": description,
            "issuer": issuer,
            "audience": audience,
            "conditions": None if conditions is None else _plain(conditions),
            "scope": scope,
            "entityId": entity_id,
            "role": role,
            "tokenLifetimeSeconds": token_lifetime_seconds,
        }
        return self._client.post_json(self._path + api_path("/{}", identity_id), _present(body))

    def delete(self, identity_id: str) -> None:
        """Delete it; the access tokens it issued stop working at once."""
        self._client.delete_path(self._path + api_path("/{}", identity_id))


def token_exchange_grant(
    base_url: str,
    identity_id: str,
    subject_token: str,
    *,
    subject_token_type: str = ID_TOKEN_TYPE,
    timeout: float = TIMEOUT,
) -> tuple[Json, Headers]:
    """Exchange a CI job's ID token for an access token (RFC 8693 §2.1).

    The identity is the public client (``client_id``, no secret). Returns the answer of
    §2.2 (``access_token``, ``issued_token_type``, ``token_type``, ``expires_in``) and
    its headers; a refusal raises ApiError (``invalid_grant`` names the failed check).
    """
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": subject_token_type,
        "client_id": identity_id,
    }
    return token_request(base_url, form, timeout=timeout)


def _plain(conditions: Conditions) -> Json:
    return {claim: v if isinstance(v, str) else list(v) for claim, v in conditions.items()}


def _present(fields: Mapping[str, Any]) -> Json:
    return {key: value for key, value in fields.items() if value is not None}
