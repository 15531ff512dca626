"""Records every write request, once, after its route has run.

Pure ASGI, placed inside the request-id middleware and outside the body limit.
What it records comes from what the route left in the ASGI scope: the matched
route template and path parameters (FastAPI sets them), the principal
(``request.state.principal``, set by the ``CurrentPrincipal`` dependency), and any
explicit events noted with ``keyplane.audit.notes.note`` (failed authentication,
for instance). The event is written before the response leaves, so a client that
saw success can count on the record. For a ``201`` without an id in the path, the new object's
``id`` is read from the JSON answer, unless the route named its target
(``keyplane.audit.notes.target``); nothing else of the answer is kept.

Other areas need do nothing for their write routes to be recorded. Routes that
authenticate on their own (OAuth client authentication, login forms) may set
``request.state.principal`` or note an event.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.audit import actions
from keyplane.audit.notes import DETAILS, NOTES, TARGET
from keyplane.audit.recorder import FAILURE, SUCCESS, EventDraft, in_each, safe_append
from keyplane.auth.authenticator import CredentialExpired
from keyplane.auth.principal import Principal, PrincipalKind
from keyplane.domain.credentials import hash_secret, recorded, recorded_path
from keyplane.http.deps import REFUSED_CREDENTIAL

_MAX_ID_BODY = 256 * 1024


class AuditMiddleware:
    def __init__(self, app: ASGIApp, sessions: sessionmaker[Session]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        recorded = False

        async def record(status: int, body: bytes = b"") -> None:
            nonlocal recorded
            recorded = True
            drafts = _drafts(scope, status, body)
            if drafts:
                await anyio.to_thread.run_sync(safe_append, self.sessions, drafts)

        async def capture(message: Message) -> None:
            if recorded:
                await send(message)
                return
            if message["type"] == "http.response.start" and not _wants_body(scope, message):
                await record(message["status"])
                await send(message)
                return
            held.append(message)
            body = b"".join(m.get("body", b"") for m in held[1:])
            if message["type"] == "http.response.body" and (
                not message.get("more_body") or len(body) > _MAX_ID_BODY
            ):
                await record(held[0]["status"], body)
                for queued in held:
                    await send(queued)
                held.clear()

        try:
            await self.app(scope, receive, capture)
        except Exception:
            if not recorded:
                await record(500)
            raise


def _wants_body(scope: Scope, start: Message) -> bool:
    """Only a successful create needs the answer: the new object's ``id`` is the target."""
    return _names_its_object(scope, start["status"])


def _names_its_object(scope: Scope, status: int) -> bool:
    """Whether the answer's ``id`` is the event's target: a create's 201, or the 200 of
    a create that found its object made already (an invitation sent again)."""
    if status == 201:
        return _is_create(scope)
    template = getattr(scope.get("route"), "path", "")
    return status == 200 and (scope["method"], template) in actions.CREATED_TYPES


def _is_create(scope: Scope) -> bool:
    template = getattr(scope.get("route"), "path", "")
    return scope["method"] == "POST" and not template.rstrip("/").endswith("}")


def _drafts(scope: Scope, status: int, body: bytes) -> list[EventDraft]:
    state: dict[str, Any] = scope.get("state", {})
    drafts: list[EventDraft] = list(state.get(NOTES, []))
    refused = state.get(REFUSED_CREDENTIAL)
    if refused is not None:
        fingerprint, error = refused
        drafts.insert(0, _refused(fingerprint, error, scope.get("path", "")))
    request_event = _request_event(scope, state, status, body)
    if request_event:
        drafts += _in_their_organizations(request_event, state.get("principal"))
    headers = dict(scope.get("headers") or [])
    for draft in drafts:
        draft.client_ip = draft.client_ip or (scope["client"][0] if scope.get("client") else None)
        draft.user_agent = draft.user_agent or headers.get(b"user-agent", b"").decode("latin-1")
        draft.request_id = draft.request_id or state.get("request_id")
    return drafts


def _request_event(
    scope: Scope, state: dict[str, Any], status: int, body: bytes
) -> EventDraft | None:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template is None:
        return None  # no route matched: nothing was done
    action = actions.action_for(scope["method"], template)
    principal: Principal | None = state.get("principal")
    if action is None or status == 429:
        return None  # rate limited: nothing was tried, and floods must not fill the log
    if (scope["method"], template) in actions.FAILURES_ONLY:
        if status < 400:
            return None
    elif principal is None and status == 401:
        # Failed credentials are noted by the principal dependency with their
        # fingerprint; requests without any credential did nothing worth a record.
        return None
    params: dict[str, str] = {
        name: f"sha256:{hash_secret(str(value))}"
        if name in actions.SECRET_PARAMS
        else recorded(str(value))  # a token value pasted in place of its id, say
        for name, value in (scope.get("path_params") or {}).items()
    }
    draft = EventDraft(
        action=action,
        outcome=SUCCESS if status < 400 else FAILURE,
        status_code=status,
        details={"method": scope["method"], "route": template, "params": params},
    )
    # What a route adds about the outcome (a deploy's digest, say); never secrets.
    draft.details.update(state.get(DETAILS) or {})
    if principal is not None:
        draft.by(principal)
        draft.organization_id = _organization(principal, _org_param(params), draft.details)
    elif status < 400:  # no principal, but the request itself proved its right (a link)
        draft.organization_id = _org_param(params)
    else:  # refused before any credential was checked (a body that is not JSON): anyone
        # could send it, so it is no tenant's record, only the operators'
        draft.details["requestedOrganizationId"] = _org_param(params)
    created = _created_id(body) if _names_its_object(scope, status) else None
    if state.get(TARGET):
        draft.target_type, draft.target_id = state[TARGET]
    elif created:
        draft.target_type = actions.CREATED_TYPES.get(
            (scope["method"], template)
        ) or actions.singular(template.rstrip("/").rsplit("/", 1)[-1])
        draft.target_id = created
    elif params:
        last = list(params)[-1]
        draft.target_type, draft.target_id = actions.target_type_of(last), params[last]
    return draft


def _in_their_organizations(draft: EventDraft, principal: Principal | None) -> list[EventDraft]:
    """A person signed in to the console belongs to no one organization, as a credential
    or an access token does: what they do in none of theirs (signing in or out, or a
    path naming another tenant's organization) goes to the log of each organization they
    are a member of (of none: the operators' view only)."""
    if draft.organization_id is None and principal and principal.kind is PrincipalKind.USER:
        return in_each(draft, principal.grants.organization_ids())
    return [draft]


def _org_param(params: dict[str, str]) -> str | None:
    return params.get("orgId") or params.get("org_id")


def _organization(principal: Principal, org_id: str | None, details: dict[str, Any]) -> str | None:
    """Whose log the event goes to: the addressed organization if the actor belongs to
    it, else the actor's own (a caller cannot write into another tenant's log).

    Belonging is the principal's grants, not its home organization: a user's access
    token names the organization they were in when they signed in, and they may have
    joined another since."""
    if org_id is None:
        return principal.organization_id
    if principal.organization_id == org_id or org_id in principal.grants.organization_ids():
        return org_id
    details["requestedOrganizationId"] = org_id
    return principal.organization_id


def _created_id(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _refused(fingerprint: str, error: Exception, path: str) -> EventDraft:
    """The event of a refused credential: its SHA-256 fingerprint and why, never its value.

    An expired token is recorded under its own identity and organization; an
    unknown value belongs to no organization (it would let anyone write into any
    tenant's log), so it goes to the operators' view only.
    """
    if isinstance(error, CredentialExpired):
        draft = EventDraft(actions.AUTH_EXPIRED, FAILURE, status_code=401).by(error.principal)
        draft.target_type, draft.target_id = "credential", error.principal.id
    else:
        draft = EventDraft(actions.AUTH_FAILED, FAILURE, status_code=401)
        draft.credential_fingerprint = fingerprint
    draft.details = {"reason": str(error)[:300], "path": recorded_path(path)}
    return draft
