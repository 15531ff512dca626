"""How API tokens behave over their life: rotation, deletion with their entity,
independence from their creator, lastUsedAt bookkeeping, granting rules, rate limits."""

from __future__ import annotations

import asyncio
import time
import types
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from keyplane.app import create_app
from keyplane.db.models import ApiToken, RoleBinding
from keyplane.domain.roles import (
    BUILT_IN_ROLES,
    DEPLOYMENT_ADMIN,
    ORGANIZATION_ROLES,
    WORKSPACE_ROLES,
    Level,
    Permission,
)
from keyplane.oauth.access_tokens import issue_user_access_token
from keyplane.runtime import Runtime
from tests.access_oracle import Held, Target, held_permissions, role_permissions, visible
from tests.factories import World, bearer

ORG, WS, DEP = Level.ORGANIZATION, Level.WORKSPACE, Level.DEPLOYMENT


def whoami(world: World, value: str) -> int:
    return world.client.get("/v1/self", headers=bearer(value)).status_code


def token_id(world: World, value: str) -> str:
    return str(world.client.get("/v1/self", headers=bearer(value)).json()["id"])


def test_rotation_invalidates_the_old_value_at_once(world):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OWNER")
    assert whoami(world, value) == 200  # the principal is now in the credential cache
    tid = token_id(world, value)
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens/{tid}/rotate",
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    new_value = answer.json()["token"]
    assert new_value != value and new_value.startswith("kpw_")
    assert answer.json()["lastRotatedAt"]
    assert whoami(world, value) == 401  # same process, no wait: the cache was dropped
    assert whoami(world, new_value) == 200
    assert token_id(world, new_value) == tid


def test_rotating_itself_leaves_only_the_new_value(world):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_OWNER")
    tid = token_id(world, value)
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens/{tid}/rotate", headers=bearer(value)
    )
    assert answer.status_code == 200, answer.text
    assert whoami(world, value) == 401
    assert whoami(world, answer.json()["token"]) == 200


def test_deleting_a_deployment_deletes_its_tokens_and_their_roles(world):
    org, d1 = world.org, world.org.deployments["d1"]
    dep_token = world.token("DEPLOYMENT", d1, "DEPLOYMENT_ADMIN")
    ws_token = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    ws_id = token_id(world, ws_token)
    roles = {
        "roles": [
            {
                "entityType": "WORKSPACE",
                "entityId": org.workspaces["ws1"],
                "role": "WORKSPACE_AUTHOR",
            },
            {"entityType": "DEPLOYMENT", "entityId": d1, "role": DEPLOYMENT_ADMIN},
        ]
    }
    answer = world.client.post(
        f"/v1/organizations/{org.id}/tokens/{ws_id}/roles",
        json=roles,
        headers=bearer(org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    dep_id = token_id(world, dep_token)
    assert whoami(world, dep_token) == 200  # cached
    deleted = world.client.delete(
        f"/v1/organizations/{org.id}/deployments/{d1}", headers=bearer(org.owner_token)
    )
    assert deleted.status_code == 204, deleted.text
    assert whoami(world, dep_token) == 401
    with world.runtime.sessions() as db:
        assert db.get(ApiToken, dep_id) is None
        assert not db.scalars(select(RoleBinding).where(RoleBinding.entity_id == d1)).all()
    # The workspace token lives on, with its role on the workspace only.
    assert whoami(world, ws_token) == 200
    body = world.client.get(
        f"/v1/organizations/{org.id}/tokens/{ws_id}", headers=bearer(org.owner_token)
    ).json()
    assert [r["entityType"] for r in body["roles"]] == ["WORKSPACE"]


def test_tokens_survive_removal_of_the_user_who_created_them(world):
    org = world.org
    invited = world.client.post(
        f"/v1/organizations/{org.id}/invites",
        json={"email": "creator@acme.example", "role": "ORGANIZATION_OWNER"},
        headers=bearer(org.owner_token),
    )
    assert invited.status_code == 201, invited.text
    user_id = invited.json()["id"]
    user = bearer(issue_user_access_token(world.runtime, user_id).access_token)
    created = world.client.post(
        f"/v1/organizations/{org.id}/tokens",
        json={"name": "ci", "scope": "ORGANIZATION", "role": "ORGANIZATION_OWNER"},
        headers=user,
    )
    assert created.status_code == 201, created.text
    assert created.json()["createdBy"] == {
        "id": user_id,
        "kind": "USER",
        "name": "creator@acme.example",
    }
    value = created.json()["token"]
    removed = world.client.delete(
        f"/v1/organizations/{org.id}/users/{user_id}", headers=bearer(org.owner_token)
    )
    assert removed.status_code == 204, removed.text
    assert world.client.get(f"/v1/organizations/{org.id}", headers=user).status_code == 404
    assert whoami(world, value) == 200
    workspaces = world.client.get(f"/v1/organizations/{org.id}/workspaces", headers=bearer(value))
    assert workspaces.status_code == 200 and workspaces.json()["totalCount"] == 2


def test_tokens_survive_deletion_of_the_token_that_created_them(world):
    org = world.org
    creator = world.token("ORGANIZATION", None, "ORGANIZATION_OWNER")
    created = world.client.post(
        f"/v1/organizations/{org.id}/tokens",
        json={
            "name": "child",
            "scope": "WORKSPACE",
            "entityId": org.workspaces["ws1"],
            "role": "WORKSPACE_OWNER",
        },
        headers=bearer(creator),
    )
    assert created.status_code == 201, created.text
    child = created.json()["token"]
    creator_id = token_id(world, creator)
    gone = world.client.delete(
        f"/v1/organizations/{org.id}/tokens/{creator_id}", headers=bearer(org.owner_token)
    )
    assert gone.status_code == 204
    assert whoami(world, creator) == 401
    assert whoami(world, child) == 200
    assert created.json()["createdBy"]["id"] == creator_id


def _counting_updates(runtime: Runtime) -> list[str]:
    """Every UPDATE of api_tokens.last_used_at this runtime's engine sends."""
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if (
            statement.lstrip().upper().startswith("UPDATE API_TOKENS")
            and "last_used_at" in statement
        ):
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", before)
    return seen


def test_last_used_is_written_at_most_once_per_interval(world):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    tid = token_id(world, value)  # first use: one write
    updates = _counting_updates(world.runtime)
    for _ in range(20):
        assert whoami(world, value) == 200
    assert updates == []  # the default interval is a minute
    body = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens/{tid}", headers=bearer(world.org.owner_token)
    ).json()
    assert body["lastUsedAt"] is not None
    assert body["updatedAt"] <= body["lastUsedAt"]  # being used is not an update


def test_last_used_is_written_again_after_the_interval(settings, engine, world, monkeypatch):
    # The interval is read on a clock the test moves, so a slow machine cannot add a write.
    clock = [1000.0]
    monkeypatch.setattr(
        "keyplane.auth.authenticator.time",
        types.SimpleNamespace(monotonic=lambda: clock[0], time=time.time),
    )
    quick = settings.model_copy(update={"last_used_interval_seconds": 30})
    runtime = Runtime.create(quick, engine=engine)
    client = TestClient(create_app(quick, runtime))
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    updates = _counting_updates(runtime)
    stamps = []
    for step in (0.0, 29.0):  # the second round starts 30 s after the first write
        clock[0] += step
        for _ in range(5):
            assert client.get("/v1/self", headers=bearer(value)).status_code == 200
            clock[0] += 0.2
        with runtime.sessions() as db:
            stamps.append(
                db.scalar(
                    select(ApiToken.last_used_at).where(
                        ApiToken.name == "organization ORGANIZATION_MEMBER"
                    )
                )
            )
    assert len(updates) == 2
    assert stamps[0] is not None and stamps[1] > stamps[0]
    runtime.close()


def test_a_use_written_late_never_moves_last_used_back(world, runtime):
    """Two replicas note one token's use at once; the one that read the clock first
    may write last. lastUsedAt keeps the later time."""
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    tid = token_id(world, value)
    later = datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC)
    recorder = runtime.authenticator.last_used
    recorder.write(ApiToken, tid, later)
    recorder.write(ApiToken, tid, later - timedelta(seconds=1))
    with runtime.sessions() as db:
        assert db.scalar(select(ApiToken.last_used_at).where(ApiToken.id == tid)) == later


def test_a_token_many_requests_use_at_once_is_read_from_the_database_once(app, world, runtime):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    runtime.authenticator.cache.clear()  # as after any change, or when its entry expires
    lookups: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "api_tokens.secret_hash =" in statement:
            lookups.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", before)

    async def thirty_two_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as api:
            answers = await asyncio.gather(
                *(api.get("/v1/self", headers=bearer(value)) for _ in range(32))
            )
        return [answer.status_code for answer in answers]

    try:
        assert asyncio.run(thirty_two_at_once()) == [200] * 32
    finally:
        event.remove(runtime.engine, "before_cursor_execute", before)
    assert len(lookups) == 1


# --- granting: no escalation, scope rules, generated from the role table -----------------

CUSTOM = {
    "deployer": frozenset({Permission.DEPLOYMENT_DEPLOY, Permission.DEPLOYMENT_UPDATE}),
    "tokenkeeper": frozenset({Permission.DEPLOYMENT_TOKENS_MANAGE}),
}
HOLDERS = [
    *((ORG, role) for role in ORGANIZATION_ROLES),
    *((WS, role) for role in WORKSPACE_ROLES),
    *((DEP, role) for role in (DEPLOYMENT_ADMIN, *CUSTOM)),
]
WANTED = [
    *((WS, role) for role in WORKSPACE_ROLES),
    *((DEP, role) for role in (DEPLOYMENT_ADMIN, *CUSTOM)),
    *((ORG, role) for role in ORGANIZATION_ROLES),
]
MANAGE = {
    ORG: Permission.ORGANIZATION_TOKENS_MANAGE,
    WS: Permission.WORKSPACE_TOKENS_MANAGE,
    DEP: Permission.DEPLOYMENT_TOKENS_MANAGE,
}


def _custom_roles(world: World) -> None:
    for name, permissions in CUSTOM.items():
        answer = world.client.post(
            f"/v1/organizations/{world.org.id}/custom-roles",
            json={"name": name, "permissions": sorted(permissions)},
            headers=bearer(world.org.owner_token),
        )
        assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("held", HOLDERS, ids=lambda h: h[1])
def test_no_escalation_when_creating_tokens(world, held):
    """A principal may create a token only with a role at or below its own there."""
    _custom_roles(world)
    org = world.org
    ws1, d1 = org.workspaces["ws1"], org.deployments["d1"]
    level, role = held
    home = {ORG: org.id, WS: ws1, DEP: d1}
    creator = world.token(level.value, None if level is ORG else home[level], role)
    bindings = [Held(level, home[level], org.id, ws1 if level is not ORG else None, role)]
    problems = []
    for wanted_level, wanted_role in WANTED:
        target = {
            ORG: Target(ORG, org.id),
            WS: Target(WS, org.id, ws1),
            DEP: Target(DEP, org.id, ws1, d1),
        }[wanted_level]
        held_there = held_permissions(bindings, target, CUSTOM)
        if not visible(bindings, target, CUSTOM):
            expected = 404
        elif MANAGE[wanted_level] not in held_there:
            expected = 403
        elif role_permissions(wanted_level, wanted_role, CUSTOM) <= held_there:
            expected = 201
        else:
            expected = 403
        body = {"name": "minted", "scope": wanted_level.value, "role": wanted_role}
        if wanted_level is not ORG:
            body["entityId"] = home[wanted_level]
        answer = world.client.post(
            f"/v1/organizations/{org.id}/tokens", json=body, headers=bearer(creator)
        )
        if answer.status_code != expected:
            problems.append(f"{role} minting {wanted_role}: expected {expected}, got {answer.text}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("scope", [ORG, WS, DEP], ids=lambda s: s.value)
def test_a_token_holds_exactly_one_role_at_its_own_level(world, scope):
    """A workspace token holds no organization role; a deployment token only deployment roles."""
    _custom_roles(world)
    org = world.org
    entity = {ORG: None, WS: org.workspaces["ws1"], DEP: org.deployments["d1"]}[scope]
    foreign = [r for r, level in BUILT_IN_ROLES.items() if level is not scope]
    if scope is not DEP:
        foreign += list(CUSTOM)
    for role in foreign:
        body = {"name": "t", "scope": scope.value, "role": role}
        if entity:
            body["entityId"] = entity
        answer = world.client.post(
            f"/v1/organizations/{org.id}/tokens", json=body, headers=bearer(org.owner_token)
        )
        assert answer.status_code == 400, (role, answer.text)
        assert "role" in answer.json().get("fieldErrors", {}), answer.text


def _replace(world: World, tid: str, roles: list[tuple[Level, str, str]]) -> int:
    body = {"roles": [{"entityType": lv.value, "entityId": eid, "role": r} for lv, eid, r in roles]}
    return world.client.post(
        f"/v1/organizations/{world.org.id}/tokens/{tid}/roles",
        json=body,
        headers=bearer(world.org.owner_token),
    ).status_code


def test_extra_roles_stay_inside_the_token_scope(world):
    org = world.org
    ws1, ws2 = org.workspaces["ws1"], org.workspaces["ws2"]
    d1, d2 = org.deployments["d1"], org.deployments["d2"]
    ws_tid = token_id(world, world.token("WORKSPACE", ws1, "WORKSPACE_MEMBER"))
    dep_tid = token_id(world, world.token("DEPLOYMENT", d1, DEPLOYMENT_ADMIN))
    org_tid = token_id(world, world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER"))
    own_ws = (WS, ws1, "WORKSPACE_MEMBER")
    assert _replace(world, ws_tid, [own_ws, (ORG, org.id, "ORGANIZATION_MEMBER")]) == 400
    assert _replace(world, ws_tid, [own_ws, (WS, ws2, "WORKSPACE_MEMBER")]) == 400
    assert _replace(world, ws_tid, [own_ws, (DEP, d2, DEPLOYMENT_ADMIN)]) == 400  # other workspace
    assert _replace(world, ws_tid, [(DEP, d1, DEPLOYMENT_ADMIN)]) == 400  # own role missing
    assert _replace(world, ws_tid, [own_ws, (DEP, d1, DEPLOYMENT_ADMIN)]) == 200
    own_dep = (DEP, d1, DEPLOYMENT_ADMIN)
    assert _replace(world, dep_tid, [own_dep, (DEP, d2, DEPLOYMENT_ADMIN)]) == 400
    assert _replace(world, dep_tid, [own_dep, (WS, ws1, "WORKSPACE_MEMBER")]) == 400
    own_org = (ORG, org.id, "ORGANIZATION_MEMBER")
    assert (
        _replace(
            world, org_tid, [own_org, (WS, ws2, "WORKSPACE_OWNER"), (DEP, d1, DEPLOYMENT_ADMIN)]
        )
        == 200
    )
    foreign = (WS, world.other.workspaces["ws1"], "WORKSPACE_MEMBER")
    assert _replace(world, org_tid, [own_org, foreign]) == 404  # another tenant's workspace


def test_failed_authentication_is_rate_limited(world):
    limit = world.runtime.settings.auth_failure_limit_per_minute
    bad = world.org.owner_token[:-1] + ("A" if world.org.owner_token[-1] != "A" else "B")
    for _ in range(limit):
        assert whoami(world, bad) == 401
    answer = world.client.get("/v1/self", headers=bearer(bad))
    assert answer.status_code == 429, answer.text
    assert 0 < int(answer.headers["retry-after"]) <= 60
    body = answer.json()
    assert body["statusCode"] == 429 and body["requestId"] == answer.headers["x-request-id"]
    assert "try again" in body["message"]


def test_a_role_on_an_entity_the_manager_cannot_see_is_not_found_wherever_it_is(world):
    """Placement is checked only on entities the manager sees: else a 400 ("cannot hold
    a role on …") would tell which ids exist in workspaces it cannot see."""
    org = world.org
    ws1, ws2, d2 = org.workspaces["ws1"], org.workspaces["ws2"], org.deployments["d2"]
    manager = world.token("WORKSPACE", ws1, "WORKSPACE_OWNER")
    managed = token_id(world, world.token("WORKSPACE", ws1, "WORKSPACE_MEMBER"))
    own = {"entityType": "WORKSPACE", "entityId": ws1, "role": "WORKSPACE_MEMBER"}
    for level, hidden, role in (
        ("DEPLOYMENT", d2, DEPLOYMENT_ADMIN),
        ("DEPLOYMENT", "cl" + "0" * 23, DEPLOYMENT_ADMIN),
        ("WORKSPACE", ws2, "WORKSPACE_MEMBER"),
    ):
        answer = world.client.post(
            f"/v1/organizations/{org.id}/tokens/{managed}/roles",
            json={"roles": [own, {"entityType": level, "entityId": hidden, "role": role}]},
            headers=bearer(manager),
        )
        assert answer.status_code == 404, (level, hidden, answer.text)


def test_an_empty_entity_id_is_one_left_out(world):
    url = f"/v1/organizations/{world.org.id}/tokens"
    owner = bearer(world.org.owner_token)
    body = {"name": "e", "entityId": "", "role": "ORGANIZATION_MEMBER", "scope": "ORGANIZATION"}
    assert world.client.post(url, json=body, headers=owner).status_code == 201
    narrower = {**body, "scope": "WORKSPACE", "role": "WORKSPACE_MEMBER"}
    answer = world.client.post(url, json=narrower, headers=owner)
    assert answer.status_code == 400 and "entityId is required" in answer.json()["message"]


def test_refusals_name_the_level_with_its_article(world):
    org = world.org
    url = f"/v1/organizations/{org.id}/tokens"
    body = {"name": "x", "scope": "ORGANIZATION", "role": "WORKSPACE_MEMBER"}
    answer = world.client.post(url, json=body, headers=bearer(org.owner_token))
    assert answer.status_code == 400
    assert "is not an organization role" in answer.json()["message"]
