"""What the authorization server writes to the audit log.

Not one event per grant: a CI fleet may fetch thousands of tokens an hour, and the
audit chain takes one serialized write per event. The audit middleware records the
token endpoint's failures and every revocation; this adds each key's use once per
``last_used_interval_seconds`` (with its lastUsedAt), so the log still says which
key was used, when and from where.
"""

from __future__ import annotations

from starlette.requests import Request

from keyplane.audit.notes import note
from keyplane.audit.recorder import SUCCESS, EventDraft
from keyplane.auth.principal import Principal

API_KEY_USE = "api_key.use"


def audit_key_use(request: Request, principal: Principal) -> None:
    draft = EventDraft(API_KEY_USE, SUCCESS, status_code=200).by(principal)
    draft.target_type, draft.target_id = "api_key", principal.id
    draft.details = {"path": request.url.path, "grant": "client_credentials"}
    note(request, draft)
