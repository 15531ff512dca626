"""What a person does in the console is in the audit trail under their name."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select, text

from keyplane.audit.models import AuditEvent
from tests.factories import bearer
from tests.functional.identity.conftest import csrf_of
from tests.functional.identity.test_console import OWNER, create, signed_in_owner
from tests.functional.identity.test_invitations import invite, mailed_link


def test_console_token_actions_are_recorded_as_the_person(browser, world) -> None:
    page = signed_in_owner(browser, world)
    answer = create(
        browser, world, page, target=f"ORGANIZATION:{world.org.id}", role="ORGANIZATION_MEMBER"
    )
    assert answer.status_code == 201
    tokens = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens", headers=bearer(world.org.owner_token)
    ).json()["tokens"]
    token_id = next(t["id"] for t in tokens if t["name"] == "ci")
    deleted = browser.post(
        f"/console/orgs/{world.org.id}/tokens/{token_id}/delete",
        data={"csrf_token": csrf_of(answer.text)},
    )
    assert deleted.status_code in (200, 303), deleted.text
    events = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"action": "token.*", "sorts": "occurredAt:asc"},
        headers=bearer(world.org.owner_token),
    ).json()["auditLogs"]
    assert [(e["action"], e["actor"]["kind"], e["actor"]["name"]) for e in events] == [
        ("token.create", "USER", OWNER),
        ("token.delete", "USER", OWNER),
    ]
    assert events[1]["target"] == {"type": "token", "id": token_id}
    assert all(e["organizationId"] == world.org.id for e in events)


def test_an_invitation_link_is_recorded_by_fingerprint_only(browser, world) -> None:
    invite(world)
    link = mailed_link(world)
    page = browser.get(link)
    done = browser.post(
        link, data={"password": "plum vestibule 1987 kettle", "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303
    secret = link.removeprefix("/invite/")
    with world.runtime.engine.connect() as connection:
        dump = json.dumps(
            [list(r) for r in connection.execute(text("SELECT * FROM audit_events"))], default=str
        )
    assert secret not in dump
    with world.runtime.sessions() as db:
        stored = db.scalar(select(AuditEvent).where(AuditEvent.action == "member.accept_invite"))
    assert stored is not None
    assert (
        stored.details["params"]["link"] == f"sha256:{hashlib.sha256(secret.encode()).hexdigest()}"
    )
    # The person the link was mailed to accepted it, in the organization that invited them.
    assert (stored.actor_kind, stored.actor_name) == ("USER", "new@acme.example")
    assert stored.organization_id == world.org.id


def _log(world, org, **params):  # type: ignore[no-untyped-def]
    answer = world.client.get(
        f"/v1/organizations/{org.id}/audit-logs", params=params, headers=bearer(org.owner_token)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["auditLogs"]


def test_a_console_action_on_another_tenant_goes_to_the_persons_own_organizations(
    browser, world
) -> None:
    """As an access token's user is recorded in its own organization: a person signed in
    to the console belongs to theirs, and the attempt lands in each of them."""
    page = signed_in_owner(browser, world)
    answer = browser.post(
        f"/console/orgs/{world.other.id}/tokens",
        data={"csrf_token": csrf_of(page.text), "name": "ci", "target": "ORGANIZATION:x",
              "role": "ORGANIZATION_MEMBER"},
    )  # fmt: skip
    assert answer.status_code == 404
    [event] = _log(world, world.org, action="token.create")
    assert (event["outcome"], event["statusCode"]) == ("failure", 404)
    assert (event["actor"]["kind"], event["actor"]["name"]) == ("USER", OWNER)
    assert event["details"]["requestedOrganizationId"] == world.other.id
    assert _log(world, world.other, action="token.create") == []


def test_console_creates_name_the_new_object_as_the_api_does(browser, world) -> None:
    page = signed_in_owner(browser, world)
    org, d1 = world.org, world.org.deployments["d1"]
    csrf = {"csrf_token": csrf_of(page.text)}
    base = f"/console/orgs/{org.id}"
    posts = {
        "token.create": (base + "/tokens", {"name": "ci", "target": f"DEPLOYMENT:{d1}",
                                            "role": "DEPLOYMENT_ADMIN", "expiry_days": ""}),
        "api_key.create": (base + "/api-keys", {"deployment_id": d1, "name": "legacy"}),
        "workload_identity.create": (base + "/workload-identities", {
            "name": "ci", "issuer": "https://token.actions.githubusercontent.com",
            "target": f"DEPLOYMENT:{d1}", "role": "DEPLOYMENT_ADMIN",
            "conditions": "repository_id=42"}),
        "member.invite": (base + "/members/invite", {"email": "new@acme.example",
                                                     "role": "ORGANIZATION_MEMBER"}),
    }  # fmt: skip
    for path, form in posts.values():
        answer = browser.post(path, data={**csrf, **form})
        assert answer.status_code in (201, 303), answer.text

    api = f"/v1/organizations/{org.id}"

    def ids(path: str, key: str, **match: str) -> list[str]:
        listed = world.client.get(api + path, headers=bearer(org.owner_token)).json()[key]
        return [item["id"] for item in listed if match.items() <= item.items()]

    made = {
        "token.create": ("token", ids("/tokens", "tokens", name="ci")),
        "api_key.create": ("api_key", ids(f"/deployments/{d1}/api-keys", "apiKeys")),
        "workload_identity.create": (
            "workload_identity",
            ids("/workload-identities", "workloadIdentities"),
        ),
        "member.invite": ("user", ids("/users", "users", email="new@acme.example")),
    }
    for action, (kind, [made_id]) in made.items():
        [event] = _log(world, org, action=action)
        assert event["target"] == {"type": kind, "id": made_id}, action
        if kind != "user":  # and what it was made with, as through the API
            assert (event["details"]["name"], event["details"]["role"]) in (
                ("ci", "DEPLOYMENT_ADMIN"),
                ("legacy", "DEPLOYMENT_ADMIN"),
            )


def test_a_form_refused_for_its_csrf_token_is_no_persons_record(browser, world) -> None:
    """Refused before the session is looked at (a forged form rides a person's session
    without them): anonymous, in no organization's log, naming the one it asked for."""
    signed_in_owner(browser, world)
    answer = browser.post(
        f"/console/orgs/{world.org.id}/tokens",
        data={"csrf_token": "forged", "name": "ci", "target": f"ORGANIZATION:{world.org.id}",
              "role": "ORGANIZATION_MEMBER"},
    )  # fmt: skip
    assert answer.status_code == 403
    assert _log(world, world.org, action="token.create") == []
    with world.runtime.sessions() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "token.create"))
    assert (event.organization_id, event.actor_kind, event.status_code) == (None, "ANONYMOUS", 403)
    assert event.details["requestedOrganizationId"] == world.org.id
