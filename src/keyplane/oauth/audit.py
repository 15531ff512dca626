"""What the authorization server writes to the audit log.

Not one event per grant: a CI fleet may fetch thousands of tokens an hour, and the
audit chain takes one serialized write per event. Instead, each key's use is
recorded once per ``last_used_interval_seconds`` (with its lastUsedAt), and every
refused client secret is recorded with its fingerprint (bounded by the failure
rate limit). Revocations are recorded per request by the audit middleware.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from starlette.requests import Request

from keyplane.audit.actions import AUTH_FAILED
from keyplane.audit.middleware import note
from keyplane.audit.recorder import FAILURE, SUCCESS, EventDraft
from keyplane.auth.principal import Principal
from keyplane.domain.credentials import hash_secret
from keyplane.oauth.errors import InvalidClient

API_KEY_USE = "api_key.use"


def audit_key_use(request: Request, principal: Principal) -> None:
    draft = EventDraft(API_KEY_USE, SUCCESS, status_code=200).by(principal)
    draft.target_type, draft.target_id = "api_key", principal.id
    draft.details = {"path": request.url.path, "grant": "client_credentials"}
    note(request, draft)


def audit_client_failure(request: Request, form: Mapping[str, str], error: InvalidClient) -> None:
    draft = EventDraft(AUTH_FAILED, FAILURE, status_code=error.status)
    secret = form.get("client_secret") or _basic_secret(request)
    if secret:
        draft.credential_fingerprint = hash_secret(secret)
    draft.details = {"reason": error.description[:300], "path": request.url.path}
    note(request, draft)


def _basic_secret(request: Request) -> str | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode().partition(":")[2] or None
    except (binascii.Error, UnicodeDecodeError):
        return None
