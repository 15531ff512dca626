"""Audit events that a request adds to its own record.

Routes that authenticate on their own (OAuth clients, login forms) or whose outcome
the route template does not say (a key's use, a refused exchange) note an event
here; the audit middleware writes it with the request's IP, user agent and id. A
route may also say what its own event should name where neither its path nor its
JSON answer does (:func:`target`), and add details to it (:func:`detail`). This
module is all that areas below the HTTP edge need of the audit trail's middleware.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.requests import Request

from keyplane.audit.recorder import EventDraft
from keyplane.db.unit import after_commit

NOTES = "audit_notes"  # the scope state's list of noted drafts
TARGET = "audit_target"  # the scope state's (type, id) of what the request acted on
DETAILS = "audit_details"  # the scope state's details of the request's own event


def note(request: Request, draft: EventDraft) -> None:
    """Record ``draft`` with this request (its IP, user agent and request id filled in)."""
    request.scope.setdefault("state", {}).setdefault(NOTES, []).append(draft)


def note_on_commit(request: Request, db: Session, draft: EventDraft) -> None:
    """Record ``draft`` with this request once ``db``'s unit of work has committed, never
    if it rolls back: an object the request changed besides its own target (a token that
    went with its deployment)."""
    after_commit(db, lambda: note(request, draft))


def target(request: Request, target_type: str, target_id: str) -> None:
    """Name what this request's own event acted on, where neither its path nor a JSON
    answer's ``id`` does: a console page's new object, a revoked token's ``jti``."""
    request.scope.setdefault("state", {})[TARGET] = (target_type, target_id)


def detail(request: Request, values: Mapping[str, Any]) -> None:
    """Add ``values`` (JSON, never a secret) to the details of this request's own event."""
    state = request.scope.setdefault("state", {})
    state[DETAILS] = {**(state.get(DETAILS) or {}), **values}


def changes(
    request: Request, sent: BaseModel, now: BaseModel, secret: Collection[str] = ()
) -> None:
    """Add what an update set to its event: ``changed``, the API names of the fields the
    body ``sent`` gave, and ``newValues``, their values in the answer ``now``, except
    the ``secret`` ones, which are only named (an SSO connection's ``clientSecret``)."""
    given = sorted(sent.model_dump(by_alias=True, exclude_unset=True))
    shown = now.model_dump(mode="json", by_alias=True)
    values = {name: shown[name] for name in given if name in shown and name not in secret}
    detail(request, {"changed": given, "newValues": values})
