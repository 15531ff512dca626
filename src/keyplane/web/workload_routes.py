"""Console page for workload identities: list, create, delete.

Calls the same service as ``/v1/.../workload-identities``, with the signed-in user as
the principal; the list shows the identities whose scope's tokens the user manages.
Conditions are typed one per line as ``claim=value``; a claim given on several lines
allows any of those values.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.audit import notes as audit_notes
from keyplane.domain.errors import InvalidInput
from keyplane.federation import audit as identity_audit
from keyplane.federation import schemas
from keyplane.federation import service as identities
from keyplane.http.deps import DbSession, get_runtime
from keyplane.http.routing import APIRouter
from keyplane.web import csrf
from keyplane.web.console import EVERYTHING, org_view, principal_of
from keyplane.web.errors import CONSOLE, form_input
from keyplane.web.pages import redirect, render

router = APIRouter(
    prefix="/console/orgs/{org_id}/workload-identities",
    include_in_schema=False,
    dependencies=[CONSOLE],
)
Text = Annotated[str, Form(max_length=2000)]
Lines = Annotated[str, Form(max_length=20_000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]


@router.get("")
def identity_list(
    request: Request, db: DbSession, org_id: str, note: str = "", sig: str = ""
) -> Response:
    principal = principal_of(request, db)
    view = org_view(db, principal, org_id)
    rows, _ = identities.list_identities(db, principal, org_id, EVERYTHING)
    context = {
        "view": view,
        "tab": "workload-identities",
        "identities": rows,
        "issuers": get_runtime(request).settings.federation_issuer_list,
        "note": csrf.note_of(request, "note", note, sig)[:300],
    }
    return render(request, "workload_identities.html", context)


@router.post("")
def create_identity(
    request: Request, db: DbSession, org_id: str, *, name: Text, issuer: Text, target: Text,
    role: Text, conditions: Lines, audience: Text = "", lifetime: Text = "",
    description: Text = "", token: Token = "",
) -> Response:  # fmt: skip
    csrf.verify(request, token)
    principal = principal_of(request, db)
    scope, _, entity_id = target.partition(":")
    fields = {"name": name, "description": description, "issuer": issuer, "scope": scope,
              "entityId": entity_id or None, "role": role, "conditions": parse(conditions),
              "audience": audience.strip() or None}  # fmt: skip
    if lifetime.strip():
        fields["tokenLifetimeSeconds"] = lifetime.strip()
    body = form_input(schemas.WorkloadIdentityCreate, fields)
    settings = get_runtime(request).settings
    made = identities.create_identity(db, principal, settings, org_id, body)
    audit_notes.target(request, "workload_identity", made.id)  # as the API names it
    audit_notes.detail(request, identity_audit.created(made))
    note = f"Workload identity “{made.name}” created: CI jobs use its id {made.id}."
    return _back(request, org_id, note)


@router.post("/{identity_id}/delete")
def delete_identity(
    request: Request, db: DbSession, org_id: str, identity_id: str, token: Token = ""
) -> Response:
    csrf.verify(request, token)
    principal = principal_of(request, db)
    name = identities.get_identity(db, principal, org_id, identity_id).name
    identities.delete_identity(db, principal, org_id, identity_id)
    note = f"Workload identity “{name}” deleted: the tokens it issued stopped working."
    return _back(request, org_id, note)


def _back(request: Request, org_id: str, note: str) -> Response:
    query = csrf.signed_note(request, "note", note)
    return redirect(request, f"/console/orgs/{org_id}/workload-identities?{query}")


def parse(text: str) -> dict[str, str | list[str]]:
    """``claim=value`` lines as conditions; a claim on several lines takes a list."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        claim, equals, value = line.partition("=")
        if not equals or not claim.strip() or not value.strip():
            raise InvalidInput(
                "conditions: write one claim=value per line, e.g. repository_id=892314",
                field_errors={"conditions": "one claim=value per line"},
            )
        found.setdefault(claim.strip(), []).append(value.strip())
    return {claim: values[0] if len(values) == 1 else values for claim, values in found.items()}
