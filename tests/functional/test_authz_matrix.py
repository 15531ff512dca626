"""The authorization matrix: every /v1 route, principal kind, role and place of the target.

Nothing here says "this role gets that status". Each route declares, as data, the
permission it checks and the entity it checks it on; each principal kind says which
roles it holds. The expected status comes from an oracle that reads only the role
table (:data:`keyplane.domain.roles.PERMISSIONS`) and the rules of DESIGN §2:

- 404 when the principal cannot see the entity (another tenant, or no read permission),
- 403 naming the permission (``missingPermission`` and the message) when it can see it
  but lacks the permission,
- for a route that creates or manages a credential (creating, updating, re-roling,
  rotating or deleting an API token; creating or deleting a deployment API key), 403
  naming a permission the credential's role holds that the principal does not hold
  there: no escalation, for every role of the table on either side,
- the route's success status otherwise.

Requests are valid apart from authorization, so that the status reflects authorization
alone; destructive routes get a fresh target for every case. ``test_every_route_is_declared``
fails when the app gains a /v1 route that the matrix does not cover.
"""

from __future__ import annotations

import io
import itertools
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from fastapi.routing import APIRoute

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.db.migrate import upgrade
from keyplane.db.session import make_engine
from keyplane.domain.roles import (
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    WORKSPACE_ROLES,
    Level,
    Permission,
)
from keyplane.oauth.access_tokens import issue_user_access_token
from keyplane.runtime import Runtime
from tests.access_oracle import (
    CUSTOM_PERMISSIONS,
    CUSTOM_ROLE,
    KEEPER_PERMISSIONS,
    KEEPER_ROLE,
    Held,
    Target,
    expected_answer,
)
from tests.asgi_client import AppClient
from tests.conftest import BACKENDS, PG_URL, drop_postgres_database, fresh_postgres_database
from tests.factories import Org, World, bearer

P = Permission
ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT


# --- principal kinds -------------------------------------------------------------------


@dataclass(frozen=True)
class Home:
    """Where a principal's roles are held: an organization, a workspace, a deployment in it."""

    org: Org
    ws: str
    dep: str


@dataclass(frozen=True)
class Kind:
    via: str  # "token" (an API token of the level's scope) or "user"
    level: Level
    role: str

    @property
    def id(self) -> str:
        return f"{self.via}-{self.level.value.lower()}-{self.role}"

    def bindings(self, home: Home) -> list[Held]:
        org = home.org.id
        if self.level is ORG:
            return [Held(ORG, org, org, None, self.role)]
        if self.level is WS:
            ws = [Held(WS, home.ws, org, home.ws, self.role)]
            return (
                ws
                if self.via == "token"
                else [Held(ORG, org, org, None, "ORGANIZATION_MEMBER"), *ws]
            )
        return [Held(DEP, home.dep, org, home.ws, self.role)]

    def credential(self, m: Matrix, home: Home) -> dict[str, str]:
        """Authorization headers of a new principal of this kind at ``home``."""
        if self.via == "user":
            return bearer(m.user(home, self.level, self.role))
        entity = {ORG: None, WS: home.ws, DEP: home.dep}[self.level]
        return bearer(m.world.token(self.level.value, entity, self.role))


KINDS: list[Kind] = [
    *(Kind("token", ORG, role) for role in ORGANIZATION_ROLES),
    *(Kind("token", WS, role) for role in WORKSPACE_ROLES),
    Kind("token", DEP, DEPLOYMENT_ADMIN),
    Kind("token", DEP, CUSTOM_ROLE),
    Kind("token", DEP, KEEPER_ROLE),
    # Users act with short-lived JWT access tokens; a workspace role comes with
    # ORGANIZATION_MEMBER, since only organization members hold workspace roles.
    *(Kind("user", ORG, role) for role in ORGANIZATION_ROLES),
    *(Kind("user", WS, role) for role in WORKSPACE_ROLES),
]


# --- the world a principal is tested in ----------------------------------------------


@dataclass
class Place:
    """Where the targets of one case live: the principal's own workspace and deployment,
    a sibling workspace of the same organization, or the other tenant."""

    name: str
    org: Org
    ws: str
    dep: str
    member_id: str  # a member with WORKSPACE_ACCESSOR in member_workspaces
    member_workspaces: tuple[str, ...]
    tokens: dict[tuple[Level, str], str]  # a target token of each scope and role

    def entity(self, level: Level) -> str:
        return {ORG: self.org.id, WS: self.ws, DEP: self.dep}[level]

    def held(self, level: Level, role: str) -> Held:
        """``role`` held on this place's entity of ``level``."""
        return Held(level, self.entity(level), self.org.id, None if level is ORG else self.ws, role)

    def target(self, on: str | None) -> Target | None:
        org = self.org.id
        return {
            None: None,
            "org": Target(ORG, org),
            "ws": Target(WS, org, self.ws),
            "dep": Target(DEP, org, self.ws, self.dep),
        }[on]


@dataclass
class Matrix:
    world: World
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def unique(self, stem: str) -> str:
        return f"{stem}{next(self.counter)}"

    def call(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
        if isinstance(body, bytes):  # an upload: the raw body
            return self.world.client.request(method, path, headers=headers, content=body)
        return self.world.client.request(method, path, headers=headers, json=body)

    def owner(self, org: Org, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """Setup through the API as the organization's owner; the answer's JSON."""
        answer = self.call(
            method, f"/v1/organizations/{org.id}{path}", bearer(org.owner_token), body
        )
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    def workspace(self, org: Org) -> str:
        return str(self.owner(org, "POST", "/workspaces", {"name": self.unique("ws")})["id"])

    def deployment(self, org: Org, ws: str) -> str:
        body = {"name": self.unique("dep"), "workspaceId": ws}
        return str(self.owner(org, "POST", "/deployments", body)["id"])

    def member(self, org: Org, workspaces: tuple[str, ...] = ()) -> tuple[str, str]:
        """A new organization member with WORKSPACE_ACCESSOR in ``workspaces``: (id, email)."""
        email = f"{self.unique('member')}@example.com"
        user = self.owner(org, "POST", "/invites", {"email": email, "role": "ORGANIZATION_MEMBER"})
        for ws in workspaces:
            self.owner(
                org,
                "POST",
                f"/workspaces/{ws}/users",
                {"email": email, "role": "WORKSPACE_ACCESSOR"},
            )
        return str(user["id"]), email

    def user(self, home: Home, level: Level, role: str) -> str:
        """An access token of a new user holding ``role`` at ``home``."""
        email = f"{self.unique('user')}@example.com"
        org_role = role if level is ORG else "ORGANIZATION_MEMBER"
        body = {"email": email, "role": org_role}
        user_id = str(self.owner(home.org, "POST", "/invites", body)["id"])
        if level is WS:
            body = {"email": email, "role": role}
            self.owner(home.org, "POST", f"/workspaces/{home.ws}/users", body)
        return issue_user_access_token(self.world.runtime, user_id).access_token

    def target_token(self, org: Org, level: Level, entity: str, role: str) -> str:
        body = {"name": self.unique("target"), "scope": level.value, "role": role}
        if level is not ORG:
            body["entityId"] = entity
        return str(self.owner(org, "POST", "/tokens", body)["id"])


# Every role a credential can hold, at each level: the built-in ones and the custom ones.
CREDENTIAL_ROLES: dict[Level, tuple[str, ...]] = {
    ORG: ORGANIZATION_ROLES,
    WS: WORKSPACE_ROLES,
    DEP: (DEPLOYMENT_ADMIN, CUSTOM_ROLE, KEEPER_ROLE),
}
# The role of the target token of routes that are not about what a token holds.
LEAST = {level: roles[0] for level, roles in CREDENTIAL_ROLES.items()}


def build_places(m: Matrix) -> list[Place]:
    """Targets in the principal's own workspace ws1, in its sibling ws2, in the other tenant."""
    w = m.world
    for org in (w.org, w.other):
        for name, permissions in (
            (CUSTOM_ROLE, CUSTOM_PERMISSIONS),
            (KEEPER_ROLE, KEEPER_PERMISSIONS),
        ):
            body = {"name": name, "permissions": sorted(permissions)}
            m.owner(org, "POST", "/custom-roles", body)
    places = []
    for name, org, ws, dep in (
        ("own", w.org, "ws1", "d1"),
        ("sibling", w.org, "ws2", "d2"),
        ("other", w.other, "ws1", "d1"),
    ):
        ws_id, dep_id = org.workspaces[ws], org.deployments[dep]
        if name == "sibling":
            member_id, workspaces = places[0].member_id, places[0].member_workspaces
            tokens = {key: t for key, t in places[0].tokens.items() if key[0] is ORG}
        else:
            workspaces = tuple(org.workspaces.values())
            member_id, _ = m.member(org, workspaces)
            tokens = {(ORG, r): m.target_token(org, ORG, org.id, r) for r in CREDENTIAL_ROLES[ORG]}
        for level, entity in ((WS, ws_id), (DEP, dep_id)):
            for role in CREDENTIAL_ROLES[level]:
                tokens[level, role] = m.target_token(org, level, entity, role)
        places.append(Place(name, org, ws_id, dep_id, member_id, workspaces, tokens))
    return places


# --- the routes, as data ---------------------------------------------------------------

Params = dict[str, str]
Setup = Callable[[Matrix, Place, Params], None]
Holds = Callable[[Place], list[Held]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # exactly as the app declares it
    permission: Permission | None  # None: the entity need only be visible
    on: str | None  # "org", "ws" or "dep": the entity checked; None: any principal
    status: int = 200
    body: Callable[[Matrix, Place, Params], Any] | None = None
    setup: Setup | None = None  # makes a fresh target for destructive routes
    token_scope: Level | None = None  # for /tokens/{tokenId} routes: the target's scope
    token_role: str | None = None  # ... and its role
    rehome: str | None = None  # "ws"/"dep": the fresh target replaces the principal's home
    # The roles of the credential the route creates or manages: the principal must hold
    # everything they hold (no escalation through a credential).
    holds: Holds | None = None

    @property
    def id(self) -> str:
        scope = ""
        if self.token_scope:
            scope = f" [{self.token_scope.value.lower()} token {self.token_role}]"
        return f"{self.method} {self.path}{scope}"


def fresh_workspace(m: Matrix, place: Place, params: Params) -> None:
    params["workspaceId"] = m.workspace(place.org)


def fresh_deployment(m: Matrix, place: Place, params: Params) -> None:
    params["deploymentId"] = m.deployment(place.org, place.ws)


def fresh_member(m: Matrix, place: Place, params: Params) -> None:
    params["userId"], params["email"] = m.member(place.org)


def fresh_workspace_member(m: Matrix, place: Place, params: Params) -> None:
    params["userId"], _ = m.member(place.org, (place.ws,))


def fresh_custom_role(m: Matrix, place: Place, params: Params) -> None:
    body = {"name": m.unique("role"), "permissions": ["deployment:read"]}
    params["roleId"] = str(m.owner(place.org, "POST", "/custom-roles", body)["id"])


def fresh_api_key(m: Matrix, place: Place, params: Params) -> None:
    path = f"/deployments/{place.dep}/api-keys"
    params["keyId"] = str(m.owner(place.org, "POST", path, {"name": m.unique("key")})["id"])


def key_holds(place: Place) -> list[Held]:
    """A deployment API key acts as DEPLOYMENT_ADMIN on its deployment."""
    return [place.held(DEP, DEPLOYMENT_ADMIN)]


def token_holds(scope: Level, role: str) -> Holds:
    return lambda place: [place.held(scope, role)]


def fresh_token(scope: Level, role: str) -> Setup:
    def setup(m: Matrix, place: Place, params: Params) -> None:
        params["tokenId"] = m.target_token(place.org, scope, place.entity(scope), role)

    return setup


def token_body(scope: Level, role: str) -> Callable[[Matrix, Place, Params], Any]:
    def body(m: Matrix, place: Place, params: Params) -> Any:
        entity = place.entity(scope)
        return {
            "name": m.unique("new"),
            "scope": scope.value,
            "entityId": entity,
            "role": role,
            "allowedIpRanges": ALLOWED,
        }

    return body


def same_roles_body(scope: Level, role: str) -> Callable[[Matrix, Place, Params], Any]:
    """The target token's own role again: valid, and it changes nothing."""

    def body(m: Matrix, place: Place, params: Params) -> Any:
        entity = place.entity(scope)
        return {"roles": [{"entityType": scope.value, "entityId": entity, "role": role}]}

    return body


def _member_roles(m: Matrix, place: Place, params: Params) -> Any:
    """The member's current roles again: valid, and it changes nothing."""
    return {
        "organizationRole": "ORGANIZATION_MEMBER",
        "workspaceRoles": [
            {"workspaceId": ws, "role": "WORKSPACE_ACCESSOR"} for ws in place.member_workspaces
        ],
    }


def _const(value: Any) -> Callable[[Matrix, Place, Params], Any]:
    return lambda m, place, params: value


def _named(stem: str, **extra: str) -> Callable[[Matrix, Place, Params], Any]:
    return lambda m, place, params: {"name": m.unique(stem), **extra}


# Every request of the matrix comes from this address; the allowedIpRanges that the
# bodies set include it, so that setting them is checked without shutting anyone out.
ADDRESS = "192.0.2.10"
ALLOWED = ["192.0.2.0/24", "2001:db8::/32"]
OP = "/v1/organizations/{orgId}"
T = OP + "/tokens/{tokenId}"
KEYS = OP + "/deployments/{deploymentId}/api-keys"
ROUTES: list[Route] = [
    Route("GET", "/v1/self", None, None),
    Route("GET", "/v1/organizations", None, None),
    Route("GET", OP, P.ORGANIZATION_READ, "org"),
    Route(
        "POST",
        OP,
        P.ORGANIZATION_UPDATE,
        "org",
        body=_const({"name": "renamed", "allowedIpRanges": ALLOWED}),
    ),
    Route("GET", OP + "/workspaces", None, "org"),
    Route("POST", OP + "/workspaces", P.WORKSPACE_CREATE, "org", 201, body=_named("ws")),
    Route("GET", OP + "/workspaces/{workspaceId}", P.WORKSPACE_READ, "ws"),
    Route(
        "POST",
        OP + "/workspaces/{workspaceId}",
        P.WORKSPACE_UPDATE,
        "ws",
        body=_const({"description": "changed"}),
    ),
    Route(
        "DELETE",
        OP + "/workspaces/{workspaceId}",
        P.WORKSPACE_DELETE,
        "ws",
        204,
        setup=fresh_workspace,
        rehome="ws",
    ),
    Route("GET", OP + "/deployments", None, "org"),
    Route(
        "POST",
        OP + "/deployments",
        P.DEPLOYMENT_CREATE,
        "ws",
        201,
        body=lambda m, place, params: {"name": m.unique("dep"), "workspaceId": place.ws},
    ),
    Route("GET", OP + "/deployments/{deploymentId}", P.DEPLOYMENT_READ, "dep"),
    Route(
        "POST",
        OP + "/deployments/{deploymentId}",
        P.DEPLOYMENT_UPDATE,
        "dep",
        body=_const({"description": "changed"}),
    ),
    Route(
        "DELETE",
        OP + "/deployments/{deploymentId}",
        P.DEPLOYMENT_DELETE,
        "dep",
        204,
        setup=fresh_deployment,
        rehome="dep",
    ),
    Route("GET", OP + "/users", P.ORGANIZATION_READ, "org"),
    Route("GET", OP + "/users/{userId}", P.ORGANIZATION_READ, "org"),
    Route(
        "POST", OP + "/users/{userId}/roles", P.ORGANIZATION_USERS_MANAGE, "org", body=_member_roles
    ),
    Route(
        "DELETE",
        OP + "/users/{userId}",
        P.ORGANIZATION_USERS_MANAGE,
        "org",
        204,
        setup=fresh_member,
    ),
    Route(
        "POST",
        OP + "/invites",
        P.ORGANIZATION_USERS_MANAGE,
        "org",
        201,
        body=lambda m, place, params: {"email": f"{m.unique('invitee')}@example.com"},
    ),
    Route("GET", OP + "/workspaces/{workspaceId}/users", P.WORKSPACE_READ, "ws"),
    Route(
        "POST",
        OP + "/workspaces/{workspaceId}/users",
        P.WORKSPACE_USERS_MANAGE,
        "ws",
        201,
        setup=fresh_member,
        body=lambda m, place, params: {"email": params["email"], "role": "WORKSPACE_ACCESSOR"},
    ),
    Route(
        "POST",
        OP + "/workspaces/{workspaceId}/users/{userId}",
        P.WORKSPACE_USERS_MANAGE,
        "ws",
        body=_const({"role": "WORKSPACE_ACCESSOR"}),
    ),
    Route(
        "DELETE",
        OP + "/workspaces/{workspaceId}/users/{userId}",
        P.WORKSPACE_USERS_MANAGE,
        "ws",
        204,
        setup=fresh_workspace_member,
    ),
    Route("GET", OP + "/roles", None, "org"),
    Route("GET", OP + "/custom-roles", None, "org"),
    Route(
        "POST",
        OP + "/custom-roles",
        P.ORGANIZATION_UPDATE,
        "org",
        201,
        body=lambda m, place, params: {
            "name": m.unique("role"),
            "permissions": ["deployment:read"],
        },
    ),
    Route(
        "DELETE",
        OP + "/custom-roles/{roleId}",
        P.ORGANIZATION_UPDATE,
        "org",
        204,
        setup=fresh_custom_role,
    ),
    Route("GET", OP + "/tokens", None, "org"),
    Route("GET", OP + "/audit-logs", P.ORGANIZATION_AUDIT_READ, "org"),
    Route("GET", KEYS, P.DEPLOYMENT_TOKENS_MANAGE, "dep"),
    Route(
        "POST", KEYS, P.DEPLOYMENT_TOKENS_MANAGE, "dep", 201, body=_named("key"), holds=key_holds
    ),
    Route("GET", KEYS + "/{keyId}/advice", P.DEPLOYMENT_TOKENS_MANAGE, "dep", setup=fresh_api_key),
    Route(
        "DELETE",
        KEYS + "/{keyId}",
        P.DEPLOYMENT_TOKENS_MANAGE,
        "dep",
        204,
        setup=fresh_api_key,
        holds=key_holds,
    ),
    # Migrating keys to tokens: one deployment's (managing them, so holding what they
    # hold), or a dry run of all the caller may migrate (any principal of the
    # organization; its plan may be empty).
    Route(
        "POST",
        OP + "/api-keys/migrate",
        P.DEPLOYMENT_TOKENS_MANAGE,
        "dep",
        setup=fresh_api_key,
        body=lambda m, place, params: {"deploymentId": params["deploymentId"]},
        holds=key_holds,
    ),
    Route("POST", OP + "/api-keys/migrate", None, "org", body=_const({"dryRun": True})),
]
MANAGE = {
    ORG: P.ORGANIZATION_TOKENS_MANAGE,
    WS: P.WORKSPACE_TOKENS_MANAGE,
    DEP: P.DEPLOYMENT_TOKENS_MANAGE,
}
ON = {ORG: "org", WS: "ws", DEP: "dep"}
for _scope, _roles in CREDENTIAL_ROLES.items():
    _perm, _on = MANAGE[_scope], ON[_scope]
    ROUTES.append(Route("GET", T, _perm, _on, token_scope=_scope, token_role=LEAST[_scope]))
    # Its advice: whoever may read the token.
    ROUTES.append(
        Route("GET", T + "/advice", _perm, _on, token_scope=_scope, token_role=LEAST[_scope])
    )
    # Every role a token can hold, created and managed by every principal kind.
    for _role in _roles:
        _token = {"token_scope": _scope, "token_role": _role, "holds": token_holds(_scope, _role)}
        ROUTES += [
            Route(
                "POST", OP + "/tokens", _perm, _on, 201, body=token_body(_scope, _role), **_token
            ),
            Route(
                "POST",
                T,
                _perm,
                _on,
                body=_const({"description": "changed", "allowedIpRanges": ALLOWED}),
                **_token,
            ),
            Route("POST", T + "/roles", _perm, _on, body=same_roles_body(_scope, _role), **_token),
            Route("POST", T + "/rotate", _perm, _on, **_token),
            Route("DELETE", T, _perm, _on, 204, setup=fresh_token(_scope, _role), **_token),
        ]


# Deploys, deployment variables and the audit log (keyplane.deploys, .variables, .audit).
DEPS = OP + "/deployments/{deploymentId}"


def _empty_tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz"):
        pass
    return buffer.getvalue()


BUNDLE = _empty_tar_gz()  # the smallest bundle an upload accepts


def fresh_deploy(m: Matrix, place: Place, params: Params) -> None:
    path = f"/v1/organizations/{place.org.id}/deployments/{params['deploymentId']}/deploys"
    answer = m.call("POST", path, bearer(place.org.owner_token), BUNDLE)
    assert answer.status_code == 201, answer.text
    params["deployId"] = answer.json()["id"]


def fresh_variable(m: Matrix, place: Place, params: Params) -> None:
    params["variableKey"] = key = m.unique("VAR_")
    m.owner(
        place.org,
        "POST",
        f"/deployments/{params['deploymentId']}/variables",
        {"key": key, "value": "v"},
    )


ROUTES += [
    Route("POST", DEPS + "/deploys", P.DEPLOYMENT_DEPLOY, "dep", 201, body=_const(BUNDLE)),
    Route("GET", DEPS + "/deploys", P.DEPLOYMENT_READ, "dep"),
    Route("GET", DEPS + "/deploys/{deployId}", P.DEPLOYMENT_READ, "dep", setup=fresh_deploy),
    Route("GET", DEPS + "/deploys/{deployId}/bundle", P.DEPLOYMENT_READ, "dep", setup=fresh_deploy),
    Route("GET", DEPS + "/variables", P.DEPLOYMENT_ENV_READ, "dep"),
    Route(
        "POST",
        DEPS + "/variables",
        P.DEPLOYMENT_UPDATE,
        "dep",
        201,
        body=lambda m, place, params: {"key": m.unique("NEW_"), "value": "v", "isSecret": True},
    ),
    Route(
        "POST",
        DEPS + "/variables/{variableKey}",
        P.DEPLOYMENT_UPDATE,
        "dep",
        setup=fresh_variable,
        body=_const({"value": "changed"}),
    ),
    Route(
        "DELETE",
        DEPS + "/variables/{variableKey}",
        P.DEPLOYMENT_UPDATE,
        "dep",
        204,
        setup=fresh_variable,
    ),
]


# Organization SSO connections (keyplane.identity).
SSO = OP + "/sso-connections"


def _sso_body(m: Matrix, place: Place, params: Params) -> Any:
    return {
        "name": m.unique("idp"),
        "issuer": "https://idp.example",
        "clientId": "keyplane",
        "clientSecret": "secret",
        "domains": [f"{m.unique('d')}.example"],
    }


def fresh_sso_connection(m: Matrix, place: Place, params: Params) -> None:
    params["connectionId"] = str(
        m.owner(place.org, "POST", "/sso-connections", _sso_body(m, place, params))["id"]
    )


ROUTES += [
    Route("GET", SSO, P.ORGANIZATION_SSO_MANAGE, "org"),
    Route("POST", SSO, P.ORGANIZATION_SSO_MANAGE, "org", 201, body=_sso_body),
    Route(
        "GET", SSO + "/{connectionId}", P.ORGANIZATION_SSO_MANAGE, "org", setup=fresh_sso_connection
    ),
    Route(
        "POST",
        SSO + "/{connectionId}",
        P.ORGANIZATION_SSO_MANAGE,
        "org",
        setup=fresh_sso_connection,
        body=_const({"name": "renamed"}),
    ),
    Route(
        "DELETE",
        SSO + "/{connectionId}",
        P.ORGANIZATION_SSO_MANAGE,
        "org",
        204,
        setup=fresh_sso_connection,
    ),
]


# --- the tests -------------------------------------------------------------------------


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) under /v1: from the OpenAPI document (FastAPI builds included
    routers lazily, so ``app.routes`` may not list them) and any route listed flat."""
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if path.startswith("/v1")
    }
    found |= {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1")
        for method in route.methods
    }
    return found


# Routes that take no credential at all, and why; each is tested for that below.
PUBLIC: dict[tuple[str, str], str] = {
    ("POST", "/v1/secret-scanning/reports"): "authenticated by GitHub's signature of the body",
    ("POST", "/v1/tokens/report"): "anyone may report a leaked value (rate limited)",
}


def test_every_route_is_declared():
    actual = app_routes(create_app(Settings(database_url="sqlite://"))) - set(PUBLIC)
    declared = {(r.method, r.path) for r in ROUTES}
    missing = sorted(actual - declared)
    assert not missing, (
        f"routes without authorization-matrix coverage: {missing}; declare the permission "
        "each checks, and on which entity, in ROUTES of tests/functional/test_authz_matrix.py"
    )
    assert not sorted(declared - actual), "ROUTES declares routes the app does not have"


def test_public_routes_need_no_credential_and_a_credential_changes_nothing(client):
    """No role can be missing on them: what they answer depends on their body alone."""
    for headers in ({}, {"Authorization": "Bearer kpo_not-a-token"}):
        unsigned = client.post("/v1/secret-scanning/reports", content=b"[]", headers=headers)
        assert unsigned.status_code == 401  # the signature, never the bearer, decides
        report = client.post("/v1/tokens/report", json={"token": "kpo_x"}, headers=headers)
        assert report.status_code == 202


@dataclass
class Principal:
    kind: Kind
    home: Home
    headers: dict[str, str]


def _home_for(m: Matrix, route: Route, kind: Kind, regular: Principal, params: Params) -> Principal:
    """For a route that deletes a workspace or deployment of the principal's own: a principal
    of the same kind whose home is the fresh target, so that deleting it is meaningful."""
    home = regular.home
    if route.rehome == "ws":
        fresh_ws = params["workspaceId"]
        dep = home.dep
        if kind.level is DEP:  # a deployment role needs a deployment inside the workspace
            dep = m.deployment(home.org, fresh_ws)
        home = replace(home, ws=fresh_ws, dep=dep)
    elif route.rehome == "dep":
        home = replace(home, dep=params["deploymentId"])
    if kind.bindings(home) == kind.bindings(regular.home):
        return regular
    return Principal(kind, home, kind.credential(m, home))


def run_case(m: Matrix, route: Route, place: Place, regular: Principal) -> str | None:
    """Send one request; None if the answer is the expected one, else what went wrong."""
    params: Params = {
        "orgId": place.org.id,
        "workspaceId": place.ws,
        "deploymentId": place.dep,
        "userId": place.member_id,
    }
    if route.token_scope and route.token_role:
        params["tokenId"] = place.tokens[route.token_scope, route.token_role]
    if route.setup:
        route.setup(m, place, params)
    principal = regular
    if route.rehome and place.name == "own":
        principal = _home_for(m, route, regular.kind, regular, params)
    place = replace(place, ws=params["workspaceId"], dep=params["deploymentId"])
    target = place.target(route.on)
    expected, missing = expected_answer(
        principal.kind.bindings(principal.home),
        route.permission,
        target,
        route.status,
        credential=route.holds(place) if route.holds else None,
    )
    body = route.body(m, place, params) if route.body else None
    answer = m.call(route.method, route.path.format(**params), principal.headers, body)
    if answer.status_code != expected:
        got = f"{answer.status_code} {answer.text[:200]}"
        return f"{route.id} on {place.name}: expected {expected}, got {got}"
    if expected >= 400:
        error = answer.json()
        if (
            error.get("statusCode") != expected
            or error.get("requestId") != answer.headers["x-request-id"]
        ):
            return f"{route.id} on {place.name}: bad error body {error}"
        named = error.get("missingPermission")
        if expected == 403 and (named not in missing or named not in error["message"]):
            return f"{route.id} on {place.name}: 403 names none of {sorted(missing)}: {error}"
        if expected != 403 and "missingPermission" in error:
            return f"{route.id} on {place.name}: missingPermission on a {expected}: {error}"
    return None


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Matrix, list[Place]]]:
    """One world per backend for every principal kind, in a database of its own.

    Sharing is safe: each kind gets its own principal, requests that change things
    either change them back (same roles, same description) or act on fresh targets.
    """
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('authz') / 'keyplane.db'}"
    else:
        assert PG_URL
        url, name = fresh_postgres_database(PG_URL)
    upgrade(url)
    data_dir = tmp_path_factory.mktemp("authz-data")
    settings = Settings(database_url=url, data_dir=data_dir, public_url="http://testserver")
    options = {}
    if name:  # nothing here needs to survive a crash: skip the WAL flush on every commit
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
    runtime = Runtime.create(settings, engine=make_engine(url, **options))
    runtime.owns_engine = True
    client = AppClient(create_app(settings, runtime), client=(ADDRESS, 50000))
    m = Matrix(World.create(client, runtime))
    yield m, build_places(m)
    runtime.close()
    if name:
        drop_postgres_database(PG_URL, name)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.id)
def test_authorization_matrix(shared, kind):
    m, places = shared
    own = places[0]
    home = Home(own.org, own.ws, own.dep)
    regular = Principal(kind, home, kind.credential(m, home))
    failures = []
    for route in ROUTES:
        for place in places:
            if place.name == "sibling" and route.on in (None, "org"):
                continue  # the same organization: nothing differs from "own"
            failure = run_case(m, route, place, regular)
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} mismatches:\n" + "\n".join(failures)


def test_a_token_manager_cannot_take_over_what_it_does_not_hold(shared):
    """Issue 10, as reported: an owner makes a custom deployment role holding only
    deployment:read and deployment.tokens:manage, and a token M with it. M may not read
    the variables; nor may it rotate, re-role, rename or delete a DEPLOYMENT_ADMIN token
    of the deployment, nor delete its API keys: each answers 403 naming a permission
    DEPLOYMENT_ADMIN holds that M does not. Tokens that hold no more than M stay M's to
    manage."""
    m, places = shared
    own = places[0]
    org, dep = own.org, own.dep
    m_headers = bearer(m.world.token("DEPLOYMENT", dep, KEEPER_ROLE))
    admin_value = m.world.token("DEPLOYMENT", dep, DEPLOYMENT_ADMIN)
    admin_id = m.call("GET", "/v1/self", bearer(admin_value)).json()["id"]
    path = f"/v1/organizations/{org.id}"
    variables = m.call("GET", f"{path}/deployments/{dep}/variables", m_headers)
    assert variables.status_code == 403

    token = f"{path}/tokens/{admin_id}"
    keeper_role = {"roles": [{"entityType": "DEPLOYMENT", "entityId": dep, "role": KEEPER_ROLE}]}
    for method, url, body in (
        ("POST", f"{token}/rotate", None),
        ("POST", f"{token}/roles", keeper_role),  # even down to M's own role
        ("POST", token, {"name": "mine now"}),
        ("DELETE", token, None),
    ):
        answer = m.call(method, url, m_headers, body)
        assert answer.status_code == 403, (url, answer.text)
        message = answer.json()["message"]
        assert message.startswith("cannot ") and "DEPLOYMENT_ADMIN" in message, message
        assert answer.json()["missingPermission"] == "deployment:deploy", answer.text
    admin = m.call("GET", "/v1/self", bearer(admin_value))
    assert admin.status_code == 200 and admin.json()["roles"][0]["role"] == DEPLOYMENT_ADMIN

    keys = f"{path}/deployments/{dep}/api-keys"
    key_id = m.owner(org, "POST", f"/deployments/{dep}/api-keys", {"name": m.unique("key")})["id"]
    refused = m.call("DELETE", f"{keys}/{key_id}", m_headers)
    assert refused.status_code == 403 and "deployment:deploy" in refused.json()["message"]
    listed = m.call("GET", keys, bearer(org.owner_token)).json()["apiKeys"]
    assert key_id in {k["id"] for k in listed}

    peer_id = own.tokens[DEP, KEEPER_ROLE]  # holds what M holds: M may rotate it
    assert m.call("POST", f"{path}/tokens/{peer_id}/rotate", m_headers).status_code == 200


# Workload identities (keyplane.federation): managed with the tokens permission of their
# scope, and each holds one role, so creating, updating or deleting one needs everything
# that role holds there (no escalation through an identity).
WI = OP + "/workload-identities"
_identities: dict[tuple[int, str, str], str] = {}


def identity_body(scope: Level, role: str) -> Callable[[Matrix, Place, Params], Any]:
    def body(m: Matrix, place: Place, params: Params) -> Any:
        return {
            "name": m.unique("wi"),
            "issuer": "https://token.actions.githubusercontent.com",
            "conditions": {"repository_id": "892314", "ref": "refs/heads/main"},
            "scope": scope.value,
            "entityId": place.entity(scope),
            "role": role,
        }

    return body


def fresh_identity(scope: Level, role: str) -> Setup:
    def setup(m: Matrix, place: Place, params: Params) -> None:
        body = identity_body(scope, role)(m, place, params)
        params["identityId"] = str(m.owner(place.org, "POST", "/workload-identities", body)["id"])

    return setup


def existing_identity(scope: Level, role: str) -> Setup:
    """One identity per place, scope and role, for the routes that change nothing."""

    def setup(m: Matrix, place: Place, params: Params) -> None:
        key = (id(m), place.entity(scope), role)
        if key not in _identities:
            fresh_identity(scope, role)(m, place, params)
            _identities[key] = params["identityId"]
        params["identityId"] = _identities[key]

    return setup


ROUTES.append(Route("GET", WI, None, "org"))
for _scope, _roles in CREDENTIAL_ROLES.items():
    _perm, _on = MANAGE[_scope], ON[_scope]
    _least = existing_identity(_scope, LEAST[_scope])
    ROUTES.append(Route("GET", WI + "/{identityId}", _perm, _on, setup=_least))
    ROUTES.append(Route("GET", WI + "/{identityId}/advice", _perm, _on, setup=_least))
    for _role in _roles:
        _holds = token_holds(_scope, _role)
        ROUTES += [
            Route("POST", WI, _perm, _on, 201, body=identity_body(_scope, _role), holds=_holds),
            Route(
                "POST",
                WI + "/{identityId}",
                _perm,
                _on,
                setup=existing_identity(_scope, _role),
                body=_const({"description": "changed"}),
                holds=_holds,
            ),
            Route(
                "DELETE",
                WI + "/{identityId}",
                _perm,
                _on,
                204,
                setup=fresh_identity(_scope, _role),
                holds=_holds,
            ),
        ]
