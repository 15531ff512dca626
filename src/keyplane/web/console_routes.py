"""Console pages for API tokens: list, create, rotate, delete.

Every action calls the same service function as the API, with the signed-in user as
the principal, so the console can do exactly what that user's roles allow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.audit import notes as audit_notes
from keyplane.domain.errors import InvalidInput
from keyplane.http.deps import DbSession
from keyplane.http.routing import APIRouter
from keyplane.hygiene import advice
from keyplane.tenancy import service as tenancy
from keyplane.tokens import audit as token_audit
from keyplane.tokens import schemas
from keyplane.tokens import service as tokens
from keyplane.web import csrf
from keyplane.web.console import EVERYTHING, org_view, principal_of
from keyplane.web.errors import CONSOLE, form_input
from keyplane.web.pages import redirect, render

router = APIRouter(prefix="/console", include_in_schema=False, dependencies=[CONSOLE])
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]


@router.get("")
def console_home(request: Request, *, db: DbSession) -> Response:
    principal = principal_of(request, db)
    orgs, _ = tenancy.list_organizations(db, principal, EVERYTHING)
    if len(orgs) == 1:
        return redirect(request, f"/console/orgs/{orgs[0].id}/tokens")
    return render(request, "console_home.html", {"orgs": orgs})


@router.get("/orgs/{org_id}/tokens")
def token_list(
    request: Request, *, db: DbSession, org_id: str, deleted: str = "", sig: str = ""
) -> Response:
    principal = principal_of(request, db)
    view = org_view(db, principal, org_id)
    rows, _ = tokens.list_tokens(db, principal, org_id, EVERYTHING)
    roles = tokens.roles_of(db, rows)
    context = {
        "view": view,
        "tab": "tokens",
        "tokens": rows,
        "roles_of": roles,
        # Least privilege from use, for every row at once: one query for all their uses.
        "advice_of": advice.tokens_advice(db, org_id, rows, roles),
        "deleted": csrf.note_of(request, "deleted", deleted, sig)[:120],
    }
    return render(request, "tokens.html", context)


@router.post("/orgs/{org_id}/tokens")
def create_token(
    request: Request,
    *,
    db: DbSession,
    org_id: str,
    token: Token = "",
    name: Text,
    target: Text,
    role: Text,
    description: Text = "",
    expiry_days: Text = "",
    allowed_ip_ranges: Text = "",
) -> Response:
    csrf.verify(request, token)
    principal = principal_of(request, db)
    scope, _, entity_id = target.partition(":")
    body = form_input(
        schemas.TokenCreate,
        {
            "name": name,
            "description": description,
            "scope": scope,
            "entityId": entity_id or None,
            "role": role,
            "tokenExpiryPeriodInDays": _days(expiry_days),
            "allowedIpRanges": allowed_ip_ranges.replace(",", " ").split(),
        },
    )
    row, value = tokens.create_token(db, principal, org_id, body)
    audit_notes.target(request, "token", row.id)  # as the API names it
    audit_notes.detail(request, token_audit.created(row, body.role))
    back = f"/console/orgs/{org_id}/tokens"
    context = {"title": "Token created", "token": row, "value": value, "back": back}
    return render(request, "token_value.html", context, status=201)


@router.post("/orgs/{org_id}/tokens/{token_id}/rotate")
def rotate_token(
    request: Request, *, db: DbSession, org_id: str, token_id: str, token: Token = ""
) -> Response:
    csrf.verify(request, token)
    principal = principal_of(request, db)
    row, value = tokens.rotate_token(db, principal, org_id, token_id)
    back = f"/console/orgs/{org_id}/tokens"
    context = {"title": "Token rotated", "token": row, "value": value, "back": back}
    return render(request, "token_value.html", context)


@router.post("/orgs/{org_id}/tokens/{token_id}/delete")
def delete_token(
    request: Request, *, db: DbSession, org_id: str, token_id: str, token: Token = ""
) -> Response:
    csrf.verify(request, token)
    principal = principal_of(request, db)
    name = tokens.get_token(db, principal, org_id, token_id).name
    tokens.delete_token(db, principal, org_id, token_id)
    note = csrf.signed_note(request, "deleted", name)
    return redirect(request, f"/console/orgs/{org_id}/tokens?{note}")


def _days(text: str) -> int | None:
    """The expiry field: a whole number of days, or empty for a token that never expires."""
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(
            "expiry must be a whole number of days between 1 and 3650, or empty"
        ) from None
