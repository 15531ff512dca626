"""The audit trail: what is recorded, who may read it, and that it cannot be quietly edited."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select, text, update

from keyplane.audit.models import AuditEvent
from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken
from keyplane.db.unit import unit_of_work
from keyplane.oauth.access_tokens import issue_user_access_token
from tests.factories import bearer


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def audit(world, token=None, **params):
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params=params,
        headers=bearer(token or world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["auditLogs"]


def test_token_lifecycle_is_recorded_with_stable_actions(world):
    org, client = world.org, world.client
    created = client.post(
        f"/v1/organizations/{org.id}/tokens",
        json={
            "name": "ci",
            "scope": "WORKSPACE",
            "entityId": org.workspaces["ws1"],
            "role": "WORKSPACE_AUTHOR",
        },
        headers={**bearer(org.owner_token), "User-Agent": "ci-runner/1.0"},
    )
    assert created.status_code == 201
    token_id, value = created.json()["id"], created.json()["token"]
    base = f"/v1/organizations/{org.id}/tokens/{token_id}"
    assert client.post(base + "/rotate", headers=bearer(org.owner_token)).status_code == 200
    roles = [
        {"entityType": "WORKSPACE", "entityId": org.workspaces["ws1"], "role": "WORKSPACE_MEMBER"}
    ]
    answer = client.post(base + "/roles", json={"roles": roles}, headers=bearer(org.owner_token))
    assert answer.status_code == 200, answer.text
    assert client.delete(base, headers=bearer(org.owner_token)).status_code == 204

    events = audit(world, targetId=token_id, sorts="occurredAt:asc")
    assert [e["action"] for e in events] == [
        "token.create",
        "token.rotate",
        "token.role_change",
        "token.delete",
    ]
    ws1 = org.workspaces["ws1"]
    assert {k: events[2]["details"][k] for k in ("previousRoles", "roles")} == {
        "previousRoles": [f"WORKSPACE_AUTHOR on workspace {ws1}"],
        "roles": [f"WORKSPACE_MEMBER on workspace {ws1}"],
    }
    first = events[0]
    assert first["actor"] == {
        "kind": "ORGANIZATION_TOKEN",
        "id": first["actor"]["id"],
        "name": first["actor"]["name"],
        "credentialFingerprint": fingerprint(org.owner_token),
    }
    assert first["target"] == {"type": "token", "id": token_id}
    assert first["outcome"] == "success" and first["statusCode"] == 201
    assert first["userAgent"] == "ci-runner/1.0"
    assert first["clientIp"] and first["requestId"] == created.headers["x-request-id"]
    assert first["organizationId"] == org.id
    # The token's value is nowhere in the trail, not even in the create event.
    with world.runtime.engine.connect() as connection:
        dump = json.dumps(
            [list(r) for r in connection.execute(text("SELECT * FROM audit_events"))], default=str
        )
    assert value not in dump and org.owner_token not in dump


def test_refused_writes_are_recorded_as_failures(world):
    org = world.org
    reader = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_MEMBER")
    answer = world.client.post(
        f"/v1/organizations/{org.id}/workspaces/{org.workspaces['ws1']}",
        json={"description": "x"},
        headers=bearer(reader),
    )
    assert answer.status_code == 403
    [event] = audit(world, action="workspace.update")
    assert event["outcome"] == "failure" and event["statusCode"] == 403
    assert event["actor"]["credentialFingerprint"] == fingerprint(reader)
    assert event["target"] == {"type": "workspace", "id": org.workspaces["ws1"]}


def test_reads_are_not_recorded(world):
    before = len(audit(world, limit=1000))
    world.client.get(
        f"/v1/organizations/{world.org.id}/workspaces", headers=bearer(world.org.owner_token)
    )
    assert len(audit(world, limit=1000)) == before


def test_failed_and_expired_credentials_are_recorded_by_fingerprint(world, runtime):
    bogus = "kpo_" + "A" * 43 + "AAAAAA"
    assert world.client.get("/v1/self", headers=bearer(bogus)).status_code == 401
    expiring = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER", tokenExpiryPeriodInDays=1)
    with unit_of_work(runtime.sessions) as db:
        db.execute(
            update(ApiToken)
            .where(ApiToken.name == "organization ORGANIZATION_MEMBER")
            .values(end_at=utcnow() - timedelta(minutes=1))
        )
    runtime.authenticator.cache.clear()
    assert world.client.get("/v1/self", headers=bearer(expiring)).status_code == 401

    [expired] = audit(world, action="auth.expired_token")
    assert expired["actor"]["credentialFingerprint"] == fingerprint(expiring)
    assert expired["actor"]["kind"] == "ORGANIZATION_TOKEN"
    assert expired["outcome"] == "failure"
    # An unknown value belongs to no organization: only operators see it.
    with runtime.sessions() as db:
        failed = db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.failed")).all()
    assert [(e.organization_id, e.credential_fingerprint) for e in failed] == [
        (None, fingerprint(bogus))
    ]


def test_a_caller_cannot_write_into_another_tenants_log(world):
    intruder = world.other.owner_token
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/workspaces",
        json={"name": "x"},
        headers=bearer(intruder),
    )
    assert answer.status_code == 404
    assert audit(world, action="workspace.create", actorId=_self_id(world, intruder)) == []
    other = world.client.get(
        f"/v1/organizations/{world.other.id}/audit-logs",
        params={"action": "workspace.create", "limit": 1},
        headers=bearer(intruder),
        # newest first: the refused attempt against acme
    ).json()["auditLogs"]
    assert other[0]["details"]["requestedOrganizationId"] == world.org.id
    assert other[0]["outcome"] == "failure"


def _self_id(world, token):
    return world.client.get("/v1/self", headers=bearer(token)).json()["id"]


def test_only_organization_owners_read_the_log(world):
    org = world.org
    member = world.token("ORGANIZATION", None, "ORGANIZATION_BILLING_ADMIN")
    answer = world.client.get(f"/v1/organizations/{org.id}/audit-logs", headers=bearer(member))
    assert answer.status_code == 403
    assert "organization.audit:read" in answer.json()["message"]
    ws = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_OWNER")
    assert (
        world.client.get(f"/v1/organizations/{org.id}/audit-logs", headers=bearer(ws)).status_code
        == 403
    )
    foreign = world.client.get(
        f"/v1/organizations/{org.id}/audit-logs", headers=bearer(world.other.owner_token)
    )
    assert foreign.status_code == 404


def test_filters_paging_and_jsonl_export(world):
    org = world.org
    for name in ("a", "b", "c"):
        world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_MEMBER", name=name)
    page = world.client.get(
        f"/v1/organizations/{org.id}/audit-logs",
        params={"action": "token.*", "limit": 2, "offset": 1},
        headers=bearer(org.owner_token),
    ).json()
    assert page["totalCount"] == 3 and page["limit"] == 2 and len(page["auditLogs"]) == 2
    assert audit(world, since=(utcnow() + timedelta(hours=1)).isoformat()) == []

    for kwargs in (
        {"params": {"format": "jsonl"}},
        {"headers": {"Accept": "application/x-ndjson"}},
    ):
        headers = {**bearer(org.owner_token), **kwargs.get("headers", {})}
        answer = world.client.get(
            f"/v1/organizations/{org.id}/audit-logs",
            params={"action": "token.create", **kwargs.get("params", {})},
            headers=headers,
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        *lines, end = [json.loads(line) for line in answer.text.splitlines()]
        assert end == {"exportComplete": True, "count": 3}  # how a reader knows it is whole
        assert [line["action"] for line in lines] == ["token.create"] * 3
        assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    refused = world.client.get(
        f"/v1/organizations/{org.id}/audit-logs?format=jsonl",
        headers=bearer(world.other.owner_token),
    )
    assert refused.status_code == 404


def keyplane_admin(db_url, *args):
    env = {**os.environ, "KEYPLANE_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "audit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_verify_detects_a_tampered_event(world, db_url, runtime):
    world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    ok = keyplane_admin(db_url, "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "audit chain intact" in ok.stdout

    with unit_of_work(runtime.sessions) as db:
        victim = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "token.create").order_by(AuditEvent.seq)
        ).first()
        db.execute(
            update(AuditEvent).where(AuditEvent.id == victim.id).values(actor_name="someone else")
        )
    broken = keyplane_admin(db_url, "verify")
    assert broken.returncode == 1
    assert f"BROKEN at event {victim.id} (seq {victim.seq})" in broken.stdout
    assert "altered" in broken.stdout


def test_verify_detects_a_deleted_event(world, db_url, runtime):
    with unit_of_work(runtime.sessions) as db:
        seqs = db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        db.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == seqs[2]))
    broken = keyplane_admin(db_url, "verify")
    assert broken.returncode == 1
    assert f"expected seq {seqs[2]}" in broken.stdout


def test_prune_is_recorded_and_the_chain_still_verifies(world, db_url, runtime):
    with unit_of_work(runtime.sessions) as db:
        total = db.scalar(select(text("count(*)")).select_from(AuditEvent))
        db.execute(
            update(AuditEvent)
            .where(AuditEvent.seq <= 3)
            .values(occurred_at=utcnow() - timedelta(days=400))
        )
    # Back-dating broke the three hashes; prune removes exactly those, as retention says.
    pruned = keyplane_admin(db_url, "prune", "--retention-days", "365")
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 3 audit event(s)" in pruned.stdout
    ok = keyplane_admin(db_url, "verify")
    assert ok.returncode == 0, ok.stdout
    assert f"{total - 3 + 1} event(s) verified" in ok.stdout
    with runtime.sessions() as db:
        prune_event = db.scalar(select(AuditEvent).where(AuditEvent.action == "audit.prune"))
    assert prune_event.details["throughSeq"] == 3 and prune_event.details["deleted"] == 3


def test_token_endpoint_records_failures_not_routine_grants(world, runtime):
    org = world.org
    key = world.client.post(
        f"/v1/organizations/{org.id}/deployments/{org.deployments['d1']}/api-keys",
        json={"name": "legacy"},
        headers=bearer(org.owner_token),
    )
    assert key.status_code == 201, key.text
    key_id, secret = key.json()["id"], key.json()["secret"]
    grant = {"grant_type": "client_credentials"}
    assert world.client.post("/oauth/token", data=grant, auth=(key_id, secret)).status_code == 200
    refused = world.client.post("/oauth/token", data=grant, auth=(key_id, secret + "x"))
    assert refused.status_code == 401
    with runtime.sessions() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "oauth.token")).all()
    assert [(e.outcome, e.status_code) for e in events] == [("failure", 401)]
    assert secret not in json.dumps([e.details for e in events])


def test_membership_changes_are_recorded(world):
    org, owner = world.org, bearer(world.org.owner_token)
    base = f"/v1/organizations/{org.id}"
    invite = {"email": "new@acme.example", "role": "ORGANIZATION_MEMBER"}
    invited = world.client.post(base + "/invites", json=invite, headers=owner)
    assert invited.status_code == 201, invited.text
    user_id = invited.json()["id"]
    again = world.client.post(base + "/invites", json=invite, headers=owner)
    assert again.status_code == 200, again.text  # the invitation sent again
    roles = {"organizationRole": "ORGANIZATION_BILLING_ADMIN", "workspaceRoles": []}
    changed = world.client.post(base + f"/users/{user_id}/roles", json=roles, headers=owner)
    assert changed.status_code == 200, changed.text
    assert world.client.delete(base + f"/users/{user_id}", headers=owner).status_code == 204
    events = audit(world, targetId=user_id, sorts="occurredAt:asc")
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("member.invite", "success"),
        ("member.invite", "success"),
        ("member.role_change", "success"),
        ("member.remove", "success"),
    ]
    assert {k: events[2]["details"][k] for k in ("previousRoles", "roles")} == {
        "previousRoles": [f"ORGANIZATION_MEMBER on organization {org.id}"],
        "roles": [f"ORGANIZATION_BILLING_ADMIN on organization {org.id}"],
    }
    assert {e["target"]["type"] for e in events} == {"user"}


def test_a_users_action_goes_to_the_log_of_the_organization_acted_in(world, runtime):
    """A user who signed in while a member of one organization carries it in their
    access token (``org_id``); added to a second, what they do there is that
    organization's record, not the first's."""
    email = "two-orgs@acme.example"
    invited = world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": email, "role": "ORGANIZATION_MEMBER"},
        headers=bearer(world.org.owner_token),
    )
    user_id = invited.json()["id"]
    access = issue_user_access_token(runtime, user_id).access_token
    assert (
        world.client.get("/v1/self", headers=bearer(access)).json()["organizationId"]
        == world.org.id
    )
    joined = world.client.post(
        f"/v1/organizations/{world.other.id}/invites",
        json={"email": email, "role": "ORGANIZATION_OWNER"},
        headers=bearer(world.other.owner_token),
    )
    assert joined.status_code in (200, 201), joined.text
    made = world.client.post(
        f"/v1/organizations/{world.other.id}/workspaces",
        json={"name": "made-in-globex"},
        headers=bearer(access),
    )
    assert made.status_code == 201, made.text

    theirs = world.client.get(
        f"/v1/organizations/{world.other.id}/audit-logs",
        params={"action": "workspace.create", "actorId": user_id},
        headers=bearer(world.other.owner_token),
    ).json()["auditLogs"]
    assert [e["target"]["id"] for e in theirs] == [made.json()["id"]]
    assert audit(world, actorId=user_id, action="workspace.create") == []


def test_a_request_refused_before_any_credential_is_no_tenants_record(world, runtime):
    """A body that is not JSON is refused before the credential is looked at: whoever
    sent it, it does not go into the organization its path names."""
    before = audit(world)
    for headers in ({}, bearer(world.other.owner_token)):
        answer = world.client.post(
            f"/v1/organizations/{world.org.id}/tokens",
            content=b"{bad",
            headers={**headers, "Content-Type": "application/json", "User-Agent": "forger"},
        )
        assert answer.status_code == 400
    assert audit(world) == before
    with runtime.sessions() as db:
        kept = db.scalars(select(AuditEvent).where(AuditEvent.user_agent == "forger")).all()
    assert [(e.organization_id, e.details["requestedOrganizationId"]) for e in kept] == [
        (None, world.org.id),
        (None, world.org.id),
    ]


def test_credentials_deleted_with_their_deployment_or_workspace_are_each_recorded(world):
    org, owner = world.org, bearer(world.org.owner_token)
    base = f"/v1/organizations/{org.id}"
    d1, ws1 = org.deployments["d1"], org.workspaces["ws1"]

    def made(path, body):
        answer = world.client.post(base + path, json=body, headers=owner)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    token = made("/tokens", {"name": "dep", "scope": "DEPLOYMENT", "entityId": d1,
                             "role": "DEPLOYMENT_ADMIN"})  # fmt: skip
    key = made(f"/deployments/{d1}/api-keys", {"name": "legacy"})
    identity = made("/workload-identities", {
        "name": "ci", "issuer": "https://token.actions.githubusercontent.com",
        "conditions": {"repository_id": "42"}, "scope": "DEPLOYMENT", "entityId": d1,
        "role": "DEPLOYMENT_ADMIN"})  # fmt: skip
    assert world.client.delete(base + f"/deployments/{d1}", headers=owner).status_code == 204
    [deleted] = audit(world, action="deployment.delete")
    assert deleted["details"]["credentialsEnded"] == 3
    for kind, credential in (("token", token), ("api_key", key), ("workload_identity", identity)):
        [event] = audit(world, targetId=credential, action=f"{kind}.delete")
        assert event["target"] == {"type": kind, "id": credential}
        assert event["details"]["deletedWith"] == {"type": "deployment", "id": d1}
        assert event["actor"]["credentialFingerprint"] == fingerprint(org.owner_token)
        assert event["requestId"] == deleted["requestId"]

    # ws1 is empty now: its own token goes with it.
    ws_token = made("/tokens", {"name": "ws", "scope": "WORKSPACE", "entityId": ws1,
                                "role": "WORKSPACE_MEMBER"})  # fmt: skip
    assert world.client.delete(base + f"/workspaces/{ws1}", headers=owner).status_code == 204
    [event] = audit(world, targetId=ws_token, action="token.delete")
    assert event["details"] == {"name": "ws", "deletedWith": {"type": "workspace", "id": ws1}}
    # A refused delete ends nothing, and says nothing of the credentials.
    assert world.client.delete(base + f"/workspaces/{ws1}", headers=owner).status_code == 404
    assert len(audit(world, action="token.delete")) == 2


def test_each_object_has_one_target_type_and_id_across_its_life(world):
    org, owner = world.org, bearer(world.org.owner_token)
    dep = f"/v1/organizations/{org.id}/deployments/{org.deployments['d1']}"
    key = world.client.post(dep + "/api-keys", json={"name": "legacy"}, headers=owner).json()
    assert world.client.delete(dep + f"/api-keys/{key['id']}", headers=owner).status_code == 204
    made = world.client.post(
        dep + "/variables", json={"key": "DATABASE_URL", "value": "postgres://db"}, headers=owner
    )
    assert made.status_code == 201, made.text
    changed = world.client.post(dep + "/variables/DATABASE_URL", json={"value": "x"}, headers=owner)
    assert changed.status_code == 200, changed.text
    assert world.client.delete(dep + "/variables/DATABASE_URL", headers=owner).status_code == 204
    assert world.client.delete(dep + "/variables/DATABASE_URL", headers=owner).status_code == 404

    def lives(target_id):
        events = audit(world, targetId=target_id, sorts="occurredAt:asc")
        return [(e["action"], e["target"]["type"], e["outcome"]) for e in events]

    assert lives(key["id"]) == [
        ("api_key.create", "api_key", "success"),
        ("api_key.delete", "api_key", "success"),
    ]
    assert lives("DATABASE_URL") == [
        ("variable.create", "variable", "success"),
        ("variable.update", "variable", "success"),
        ("variable.delete", "variable", "success"),
        ("variable.delete", "variable", "failure"),
    ]


def test_a_key_migration_records_each_key_deleted_and_token_made(world):
    org, owner = world.org, bearer(world.org.owner_token)
    d1 = org.deployments["d1"]
    key = world.client.post(
        f"/v1/organizations/{org.id}/deployments/{d1}/api-keys", json={"name": "ci"}, headers=owner
    ).json()
    migrated = world.client.post(
        f"/v1/organizations/{org.id}/api-keys/migrate", json={"dryRun": False}, headers=owner
    )
    assert migrated.status_code == 200, migrated.text
    [step] = migrated.json()["migrations"]
    [gone] = audit(world, targetId=key["id"], action="api_key.delete")
    assert gone["details"] == {"name": "ci", "migratedTo": step["tokenId"]}
    [made] = audit(world, targetId=step["tokenId"])
    assert made["action"] == "token.create" and made["target"]["type"] == "token"
    assert made["details"] == {"name": step["tokenName"], "scope": "DEPLOYMENT", "entityId": d1,
                               "role": "DEPLOYMENT_ADMIN", "migratedFrom": key["id"]}  # fmt: skip
    [whole] = audit(world, action="api_key.migrate")
    assert {made["requestId"], gone["requestId"]} == {whole["requestId"]}
    assert step["token"] not in json.dumps([made, gone, whole])


def test_creates_record_what_was_made_and_updates_what_they_changed(world):
    from fastapi.testclient import TestClient

    org, owner = world.org, bearer(world.org.owner_token)
    client = TestClient(world.client.app, client=("10.1.2.3", 50000))  # inside the ranges set
    base, ws1, d1 = f"/v1/organizations/{org.id}", org.workspaces["ws1"], org.deployments["d1"]

    def sent(method, path, body, status=200):
        answer = client.request(method, base + path, json=body, headers=owner)
        assert answer.status_code == status, answer.text
        return answer.json()

    token = sent("POST", "/tokens", {"name": "ci", "scope": "WORKSPACE", "entityId": ws1,
                                     "role": "WORKSPACE_AUTHOR", "tokenExpiryPeriodInDays": 30,
                                     "allowedIpRanges": ["10.1.0.0/16"]}, 201)  # fmt: skip
    key = sent("POST", f"/deployments/{d1}/api-keys", {"name": "legacy"}, 201)
    conditions = {"repository_id": "42", "ref": "refs/heads/main"}
    identity = sent("POST", "/workload-identities", {
        "name": "ci", "issuer": "https://token.actions.githubusercontent.com",
        "conditions": conditions, "scope": "DEPLOYMENT", "entityId": d1,
        "role": "DEPLOYMENT_ADMIN"}, 201)  # fmt: skip
    sent("POST", "", {"allowedIpRanges": ["10.1.0.0/16"], "apiKeysEnabled": False})
    sent("POST", f"/tokens/{token['id']}", {"allowedIpRanges": None})
    narrower = {"repository_id": "42", "ref": "refs/tags/v1"}
    sent("POST", f"/workload-identities/{identity['id']}", {"conditions": narrower})

    def details(action, target_id):
        params = {"action": action, "targetId": target_id}
        [event] = client.get(base + "/audit-logs", params=params, headers=owner).json()["auditLogs"]
        return event["details"]

    assert details("token.create", token["id"]).items() >= {
        "name": "ci", "scope": "WORKSPACE", "entityId": ws1, "role": "WORKSPACE_AUTHOR",
        "expiryPeriodInDays": 30, "allowedIpRanges": ["10.1.0.0/16"]}.items()  # fmt: skip
    assert details("api_key.create", key["id"]).items() >= {
        "name": "legacy", "deploymentId": d1, "role": "DEPLOYMENT_ADMIN"}.items()  # fmt: skip
    made = details("workload_identity.create", identity["id"])
    assert (made["role"], made["conditions"], made["entityId"]) == (
        "DEPLOYMENT_ADMIN",
        conditions,
        d1,
    )
    changed = details("organization.update", org.id)
    assert (changed["changed"], changed["newValues"]) == (
        ["allowedIpRanges", "apiKeysEnabled"],
        {"allowedIpRanges": ["10.1.0.0/16"], "apiKeysEnabled": False},
    )
    changed = details("token.update", token["id"])
    assert (changed["changed"], changed["newValues"]) == (
        ["allowedIpRanges"],
        {"allowedIpRanges": []},
    )
    changed = details("workload_identity.update", identity["id"])
    assert (changed["changed"], changed["newValues"]) == (["conditions"], {"conditions": narrower})
    every = client.get(base + "/audit-logs", params={"limit": 1000}, headers=owner).json()
    assert token["token"] not in json.dumps(every)
