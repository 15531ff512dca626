"""Console page for deployment API keys (legacy): list, create, delete.

Calls the same service as ``/v1/.../api-keys``; keys are listed for each deployment
whose ``deployment.tokens:manage`` the signed-in user holds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from keyplane.apikeys import audit as key_audit
from keyplane.apikeys import schemas
from keyplane.apikeys import service as apikeys
from keyplane.audit import notes as audit_notes
from keyplane.domain.access import can
from keyplane.domain.roles import Permission
from keyplane.http.deps import DbSession
from keyplane.http.routing import APIRouter
from keyplane.tenancy.entities import deployment_entity
from keyplane.web import csrf
from keyplane.web.console import EVERYTHING, org_view, principal_of
from keyplane.web.errors import CONSOLE, form_input
from keyplane.web.pages import redirect, render

router = APIRouter(
    prefix="/console/orgs/{org_id}/api-keys", include_in_schema=False, dependencies=[CONSOLE]
)
Text = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Form(alias=csrf.FIELD, max_length=200)]


@router.get("")
def key_list(
    request: Request, db: DbSession, org_id: str, note: str = "", sig: str = ""
) -> Response:
    principal = principal_of(request, db)
    view = org_view(db, principal, org_id)
    manageable = [
        d
        for d in view.deployments
        if can(principal, Permission.DEPLOYMENT_TOKENS_MANAGE, deployment_entity(d))
    ]
    keys = []
    for deployment in manageable:
        rows, _ = apikeys.list_keys(db, principal, org_id, deployment.id, EVERYTHING)
        keys += [(deployment, key) for key in rows]
    context = {"view": view, "tab": "api-keys", "keys": keys, "deployments": manageable,
               "note": csrf.note_of(request, "note", note, sig)[:300]}  # fmt: skip
    return render(request, "api_keys.html", context)


@router.post("")
def create_key(
    request: Request, db: DbSession, org_id: str, *, deployment_id: Text, name: Text,
    token: Token = "",
) -> Response:  # fmt: skip
    csrf.verify(request, token)
    principal = principal_of(request, db)
    body = form_input(schemas.ApiKeyCreate, {"name": name})
    key, secret = apikeys.create_key(db, principal, org_id, deployment_id, body)
    audit_notes.target(request, "api_key", key.id)  # as the API names it
    audit_notes.detail(request, key_audit.created(key))
    context = {"key": key, "secret": secret, "back": f"/console/orgs/{org_id}/api-keys"}
    return render(request, "api_key_value.html", context, status=201)


@router.post("/{deployment_id}/{key_id}/delete")
def delete_key(
    request: Request, db: DbSession, org_id: str, deployment_id: str, key_id: str,
    token: Token = "",
) -> Response:  # fmt: skip
    csrf.verify(request, token)
    principal = principal_of(request, db)
    apikeys.delete_key(db, principal, org_id, deployment_id, key_id)
    note = csrf.signed_note(request, "note", "Key deleted: it stopped working.")
    return redirect(request, f"/console/orgs/{org_id}/api-keys?{note}")
