"""Audit events that a request adds to its own record.

Routes that authenticate on their own (OAuth clients, login forms) or whose outcome
the route template does not say (a key's use, a refused exchange) note an event
here; the audit middleware writes it with the request's IP, user agent and id. This
module is all that areas below the HTTP edge need of the audit trail's middleware.
"""

from __future__ import annotations

from starlette.requests import Request

from keyplane.audit.recorder import EventDraft

NOTES = "audit_notes"  # the scope state's list of noted drafts


def note(request: Request, draft: EventDraft) -> None:
    """Record ``draft`` with this request (its IP, user agent and request id filled in)."""
    request.scope.setdefault("state", {}).setdefault(NOTES, []).append(draft)
