"""The operator's commands that change data are in the audit trail, and the operator reads
all of it, the events in no organization's log too (``keyplane admin audit list``)."""

from __future__ import annotations

import json

from tests.factories import bearer, run_admin
from tests.functional.test_audit import fingerprint
from tests.functional.test_deploys import bundle, push

OWNER = "owner@acme.example"


def admin(world, *args: str, stdin: str | None = None) -> str:
    """``keyplane admin ARGS`` on the test database, as an operator runs it; its stdout."""
    return run_admin(world, *args, stdin=stdin).stdout


def listed(world, *filters: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(admin(world, "audit", "list", "--output", "json", *filters))


def log(world, org_id: str, token: str, **params):  # type: ignore[no-untyped-def]
    answer = world.client.get(
        f"/v1/organizations/{org_id}/audit-logs", params=params, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["auditLogs"]


def by_operator(events):  # type: ignore[no-untyped-def]
    return [(e["action"], e["actor"]["kind"], e["actor"]["name"], e["target"]) for e in events]


def test_init_records_the_organization_and_its_owner_token(world) -> None:
    made = json.loads(
        admin(world, "init", "--organization", "initech", "--email", "boss@initech.example",
              "--output", "json")
    )  # fmt: skip
    events = log(world, made["organizationId"], made["token"], sorts="occurredAt:asc")
    token_id = world.client.get("/v1/self", headers=bearer(made["token"])).json()["id"]
    assert by_operator(events) == [
        ("organization.create", "OPERATOR", "keyplane admin init",
         {"type": "organization", "id": made["organizationId"]}),
        ("token.create", "OPERATOR", "keyplane admin init", {"type": "token", "id": token_id}),
    ]  # fmt: skip
    assert events[0]["details"]["owner"] == "boss@initech.example"
    assert events[1]["details"] == {
        "scope": "ORGANIZATION",
        "role": "ORGANIZATION_OWNER",
        "name": "bootstrap owner token",
    }
    assert made["token"] not in json.dumps(events)


def test_set_password_is_recorded_in_each_organization_of_the_user(world) -> None:
    world.client.post(
        f"/v1/organizations/{world.other.id}/invites",
        json={"email": OWNER, "role": "ORGANIZATION_MEMBER"},
        headers=bearer(world.other.owner_token),
    )
    password = "plum vestibule 1987 kettle"
    admin(world, "set-password", "--email", OWNER, "--password-stdin", stdin=password + "\n")
    for org in (world.org, world.other):
        [event] = log(world, org.id, org.owner_token, action="user.set_password")
        assert by_operator([event]) == [
            ("user.set_password", "OPERATOR", "keyplane admin set-password",
             {"type": "user", "id": world.org.owner_user_id})
        ]  # fmt: skip
        assert event["details"] == {"email": OWNER}
    assert password not in json.dumps(listed(world, "--limit", "1000"))


def test_a_key_rotation_is_the_operators_to_read(world) -> None:
    admin(world, "keys", "rotate")
    [event] = listed(world, "--no-organization", "--action", "signing_key.rotate")
    assert (event["organizationId"], event["actor"]["kind"]) == (None, "OPERATOR")
    assert event["target"]["type"] == "signing_key" and event["target"]["id"]
    assert log(world, world.org.id, world.org.owner_token, action="signing_key.*") == []


def test_a_bundle_prune_names_the_bundles_it_deleted(world) -> None:
    org = world.org
    pushed = push(world, org.owner_token, bundle())
    assert pushed.status_code == 201, pushed.text
    digest = pushed.json()["digest"]
    deleted = world.client.delete(
        f"/v1/organizations/{org.id}/deployments/{org.deployments['d1']}",
        headers=bearer(org.owner_token),
    )
    assert deleted.status_code == 204
    assert admin(world, "deploys", "prune", "--older-than-hours", "0").startswith("pruned 1 ")
    [event] = listed(world, "--action", "deploys.prune")
    assert event["organizationId"] is None
    assert event["details"]["bundles"] == 1
    assert event["details"]["digests"] == [digest]  # as the deploy named it, sha256:<hex>
    # A run that finds nothing to prune leaves no event.
    admin(world, "deploys", "prune", "--older-than-hours", "0")
    assert len(listed(world, "--action", "deploys.prune")) == 1


def test_the_operator_lists_every_organizations_events_and_those_of_none(world) -> None:
    bogus = "kpo_" + "A" * 43 + "AAAAAA"
    assert world.client.get("/v1/self", headers=bearer(bogus)).status_code == 401
    [failed] = listed(world, "--no-organization", "--action", "auth.failed")
    assert failed["actor"]["credentialFingerprint"] == fingerprint(bogus)
    acme = listed(world, "--organization", "acme", "--limit", "1000")
    assert acme and {e["organizationId"] for e in acme} == {world.org.id}
    every = listed(world, "--limit", "1000")
    assert {world.org.id, world.other.id, None} <= {e["organizationId"] for e in every}
    assert [e["seq"] for e in every] == sorted((e["seq"] for e in every), reverse=True)
