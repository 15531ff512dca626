"""Which action name a request is recorded under, as data.

Credential and membership events have stable names that people search for
(``token.rotate``, ``api_key.delete``, ``member.role_change``): they are listed in
:data:`ROUTE_ACTIONS` by method and route template. Any other write route gets a
name derived from its template (``POST …/workspaces`` → ``workspace.create``), so a
route added later is recorded without anyone remembering to register it.
"""

from __future__ import annotations

import re

ORG = "/v1/organizations/{orgId}"
DEPLOYMENT = ORG + "/deployments/{deploymentId}"

ROUTE_ACTIONS: dict[tuple[str, str], str] = {
    # API tokens of every scope
    ("POST", ORG + "/tokens"): "token.create",
    ("POST", ORG + "/tokens/{tokenId}"): "token.update",
    ("POST", ORG + "/tokens/{tokenId}/roles"): "token.role_change",
    ("POST", ORG + "/tokens/{tokenId}/rotate"): "token.rotate",
    ("DELETE", ORG + "/tokens/{tokenId}"): "token.delete",
    # Deployment API keys
    ("POST", DEPLOYMENT + "/api-keys"): "api_key.create",
    ("DELETE", DEPLOYMENT + "/api-keys/{keyId}"): "api_key.delete",
    ("POST", ORG + "/api-keys/migrate"): "api_key.migrate",
    # Workload identities (federation trust policies)
    ("POST", ORG + "/workload-identities"): "workload_identity.create",
    ("POST", ORG + "/workload-identities/{identityId}"): "workload_identity.update",
    ("DELETE", ORG + "/workload-identities/{identityId}"): "workload_identity.delete",
    # Membership
    ("POST", ORG + "/users/{userId}/roles"): "member.role_change",
    ("DELETE", ORG + "/users/{userId}"): "member.remove",
    ("POST", ORG + "/invites"): "member.invite",
    ("POST", ORG + "/workspaces/{workspaceId}/users"): "workspace_member.add",
    ("POST", ORG + "/workspaces/{workspaceId}/users/{userId}"): "workspace_member.role_change",
    ("DELETE", ORG + "/workspaces/{workspaceId}/users/{userId}"): "workspace_member.remove",
    # Deploys: pulling code is recorded too, not only pushing it
    ("POST", DEPLOYMENT + "/deploys"): "deploy.create",
    ("GET", DEPLOYMENT + "/deploys/{deployId}/bundle"): "deploy.download",
    # Deployment settings
    ("POST", DEPLOYMENT + "/variables"): "variable.create",
    ("POST", DEPLOYMENT + "/variables/{variableKey}"): "variable.update",
    ("DELETE", DEPLOYMENT + "/variables/{variableKey}"): "variable.delete",
    # The web console acts through the same services as the API, under the same names
    ("POST", "/console/orgs/{org_id}/tokens"): "token.create",
    ("POST", "/console/orgs/{org_id}/tokens/{token_id}/rotate"): "token.rotate",
    ("POST", "/console/orgs/{org_id}/tokens/{token_id}/delete"): "token.delete",
    ("POST", "/console/orgs/{org_id}/api-keys"): "api_key.create",
    ("POST", "/console/orgs/{org_id}/api-keys/{deployment_id}/{key_id}/delete"): "api_key.delete",
    ("POST", "/console/orgs/{org_id}/workload-identities"): "workload_identity.create",
    ("POST", "/console/orgs/{org_id}/workload-identities/{identity_id}/delete"): (
        "workload_identity.delete"
    ),
    ("POST", "/console/orgs/{org_id}/members/invite"): "member.invite",
    ("POST", "/console/orgs/{org_id}/members/{user_id}/remove"): "member.remove",
    ("POST", "/invite/{link}"): "member.accept_invite",
    # Human login (the email step only chooses the next page: nothing to record)
    ("POST", "/login/password"): "login.password",
    ("POST", "/logout"): "logout",
    # OAuth (RFC 6749 / 7009): issuing and revoking access tokens
    ("POST", "/oauth/token"): "oauth.token",
    ("POST", "/oauth/revoke"): "oauth.revoke",
}

# What a create route makes, where its last path segment does not say it.
CREATED_TYPES: dict[tuple[str, str], str] = {
    ("POST", ORG + "/invites"): "user",
    ("POST", ORG + "/workspaces/{workspaceId}/users"): "user",
}

# Endpoints where a client proves who it is: issuing an access token or answering an
# introspection is routine (CI jobs do it every few minutes) and is recorded only
# when it fails; revocation is recorded always.
FAILURES_ONLY = frozenset(
    {("POST", "/oauth/token"), ("POST", "/oauth/introspect"), ("POST", "/oauth/device/code")}
)

# What a path parameter names, where its own name does not say it in full: each object
# has one target type across its life, the one its create records.
PARAM_TYPES = {
    "orgId": "organization",
    "org_id": "organization",
    "identityId": "workload_identity",
    "identity_id": "workload_identity",
    "keyId": "api_key",
    "key_id": "api_key",
    "connectionId": "sso_connection",
    "roleId": "custom_role",
    "variableKey": "variable",  # a variable is named by its key, on create too
}

# Actions written by code rather than by a route.
AUTH_FAILED = "auth.failed"
AUTH_EXPIRED = "auth.expired_token"
AUDIT_PRUNE = "audit.prune"
TOKEN_LEAKED = "token.leaked"

# Path parameters that carry a secret (a signed invitation link): recorded as their
# SHA-256, like a credential, never as the value.
SECRET_PARAMS = frozenset({"link"})

# Writes that change nothing and prove nothing; and leak reports, which come from no
# principal and record what they revoked as ``token.leaked`` in the owning
# organization's log (keyplane.hygiene.routes), never as a request of their own.
NEVER = frozenset(
    {("POST", "/login"), ("POST", "/v1/secret-scanning/reports"), ("POST", "/v1/tokens/report")}
)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = re.compile(r"^\{(\w+)\}$")


def action_for(method: str, template: str) -> str | None:
    """The action name of a request, or None if requests of this kind are not recorded."""
    if (method, template) in NEVER:
        return None
    explicit = ROUTE_ACTIONS.get((method, template))
    if explicit or method not in WRITE_METHODS:
        return explicit
    return derive(method, template)


def derive(method: str, template: str) -> str:
    """A name from the template: resource (singular) and verb."""
    parts = [p for p in template.strip("/").split("/") if p and p != "v1"]
    if not template.startswith("/v1/"):
        return ".".join(p.replace("-", "_") for p in parts if not _PARAM.match(p)) or "request"
    literals = [(i, p) for i, p in enumerate(parts) if not _PARAM.match(p)]
    if not literals:
        return "request"
    last_index, last = literals[-1]
    ends_with_param = last_index < len(parts) - 1
    if ends_with_param:  # …/workspaces/{id}
        verb = "delete" if method == "DELETE" else "update"
        return f"{singular(last)}.{verb}"
    if last_index > 0 and _PARAM.match(parts[last_index - 1]) and len(literals) > 1:
        parent = literals[-2][1]
        if method == "DELETE":  # …/tokens/{id}/roles
            return f"{singular(parent)}.{_name(last)}.delete"
        # …/tokens/{id}/rotate, or a sub-collection such as …/deployments/{id}/variables
        if _is_collection(last):
            return f"{singular(last)}.create"
        return f"{singular(parent)}.{_name(last)}"
    return f"{singular(last)}.{'delete' if method == 'DELETE' else 'create'}"


def target_type_of(param: str) -> str:
    """``tokenId`` → ``token``; ``deploymentId`` → ``deployment``; ``token_id`` → ``token``."""
    if param in PARAM_TYPES:
        return PARAM_TYPES[param]
    base = param[:-2] if param.endswith("Id") else param.removesuffix("_id")
    return re.sub(r"(?<!^)([A-Z])", r"_\1", base).lower()


def singular(segment: str) -> str:
    name = _name(segment)
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _name(segment: str) -> str:
    return segment.replace("-", "_")


def _is_collection(segment: str) -> bool:
    return segment.endswith("s") and not segment.endswith("ss")
