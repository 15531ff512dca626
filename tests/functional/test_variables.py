"""Deployment variables: secret values are write-only and stored encrypted."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from keyplane.variables.models import DeploymentVariable
from tests.factories import bearer


def url(world, dep="d1"):
    return f"/v1/organizations/{world.org.id}/deployments/{world.org.deployments[dep]}/variables"


@pytest.fixture
def operator(world):
    return world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OPERATOR")


def test_secret_values_are_encrypted_and_never_returned(world, runtime, operator):
    client = world.client
    plain = client.post(
        url(world), json={"key": "LOG_LEVEL", "value": "debug"}, headers=bearer(operator)
    )
    assert plain.status_code == 201, plain.text
    secret = client.post(
        url(world),
        json={"key": "DB_PASSWORD", "value": "hunter2-s3cret", "isSecret": True},
        headers=bearer(operator),
    )
    assert secret.status_code == 201
    assert secret.json()["value"] is None and secret.json()["isSecret"] is True

    listed = client.get(url(world), headers=bearer(operator)).json()["variables"]
    assert [(v["key"], v["value"], v["isSecret"]) for v in listed] == [
        ("DB_PASSWORD", None, True),
        ("LOG_LEVEL", "debug", False),
    ]
    with runtime.sessions() as db:
        row = db.scalar(select(DeploymentVariable).where(DeploymentVariable.key == "DB_PASSWORD"))
        assert row.value is None
        assert runtime.secret_box.decrypt(row.encrypted_value) == b"hunter2-s3cret"
    with runtime.engine.connect() as connection:
        dump = json.dumps(
            [
                list(r)
                for t in ("deployment_variables", "audit_events")
                for r in connection.execute(text(f"SELECT * FROM {t}"))
            ],
            default=str,
        )
    assert "hunter2-s3cret" not in dump
    assert "variable.create" in dump


def test_changing_secrecy(world, runtime, operator):
    client, headers = world.client, bearer(operator)
    client.post(
        url(world), json={"key": "TOKEN", "value": "abc", "isSecret": True}, headers=headers
    )
    reveal = client.post(url(world) + "/TOKEN", json={"isSecret": False}, headers=headers)
    assert reveal.status_code == 400
    assert "cannot be revealed" in reveal.json()["message"]
    replaced = client.post(
        url(world) + "/TOKEN", json={"isSecret": False, "value": "public"}, headers=headers
    )
    assert replaced.json()["value"] == "public"
    hidden = client.post(url(world) + "/TOKEN", json={"isSecret": True}, headers=headers)
    assert hidden.json()["value"] is None
    with runtime.sessions() as db:
        row = db.scalar(select(DeploymentVariable).where(DeploymentVariable.key == "TOKEN"))
        assert runtime.secret_box.decrypt(row.encrypted_value) == b"public"


def test_create_conflict_update_delete(world, operator):
    client, headers = world.client, bearer(operator)
    assert (
        client.post(url(world), json={"key": "A", "value": "1"}, headers=headers).status_code == 201
    )
    assert (
        client.post(url(world), json={"key": "A", "value": "2"}, headers=headers).status_code == 409
    )
    assert (
        client.post(url(world), json={"key": "1BAD", "value": "2"}, headers=headers).status_code
        == 400
    )
    assert client.delete(url(world) + "/A", headers=headers).status_code == 204
    assert client.delete(url(world) + "/A", headers=headers).status_code == 404


def test_permissions(world, operator):
    org, client = world.org, world.client
    client.post(url(world), json={"key": "A", "value": "1"}, headers=bearer(operator))
    author = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_AUTHOR")
    assert client.get(url(world), headers=bearer(author)).status_code == 200
    refused = client.post(url(world), json={"key": "B", "value": "1"}, headers=bearer(author))
    assert refused.status_code == 403
    assert refused.json()["message"] == "missing permission deployment:update"
    member = world.token("WORKSPACE", org.workspaces["ws1"], "WORKSPACE_MEMBER")
    listing = client.get(url(world), headers=bearer(member))
    assert listing.status_code == 403
    assert listing.json()["message"] == "missing permission deployment.env:read"
    admin = world.token("DEPLOYMENT", org.deployments["d1"], "DEPLOYMENT_ADMIN")
    assert (
        client.post(url(world) + "/A", json={"value": "2"}, headers=bearer(admin)).status_code
        == 200
    )
    other_ws = world.token("WORKSPACE", org.workspaces["ws2"], "WORKSPACE_OWNER")
    assert client.get(url(world), headers=bearer(other_ws)).status_code == 404
    assert client.get(url(world), headers=bearer(world.other.owner_token)).status_code == 404


@pytest.mark.parametrize("change", [{}, {"isSecret": False}], ids=["empty", "same secrecy"])
def test_an_update_that_changes_nothing_shows_a_plain_value_only_to_who_may_read_it(world, change):
    """A role may hold deployment:update without deployment.env:read: the answer of a
    no-op update showed it the plain value that the listing refuses it."""
    owner = bearer(world.org.owner_token)
    made = world.client.post(url(world), json={"key": "DB_HOST", "value": "db.internal:5432"},
                             headers=owner)  # fmt: skip
    assert made.status_code == 201
    roles = f"/v1/organizations/{world.org.id}/custom-roles"
    world.client.post(roles, json={"name": "UPDATER", "permissions": ["deployment:update"]},
                      headers=owner)  # fmt: skip
    updater = bearer(world.token("DEPLOYMENT", world.org.deployments["d1"], "UPDATER"))
    assert world.client.get(url(world), headers=updater).status_code == 403

    refused = world.client.post(f"{url(world)}/DB_HOST", json=change, headers=updater)
    by_owner = world.client.post(f"{url(world)}/DB_HOST", json=change, headers=owner)

    assert refused.status_code == 403, refused.text
    assert refused.json()["missingPermission"] == "deployment.env:read"
    assert "db.internal" not in refused.text
    assert by_owner.status_code == 200 and by_owner.json()["value"] == "db.internal:5432"
    assert by_owner.json()["updatedAt"] == made.json()["updatedAt"]  # nothing changed


def test_making_a_secret_secret_again_changes_nothing(world, operator):
    made = world.client.post(url(world), json={"key": "K", "value": "v", "isSecret": True},
                             headers=bearer(operator))  # fmt: skip
    again = world.client.post(f"{url(world)}/K", json={"isSecret": True}, headers=bearer(operator))
    assert again.status_code == 200 and again.json()["updatedAt"] == made.json()["updatedAt"]


@pytest.mark.parametrize("secret", [True, False])
def test_a_value_that_is_not_text_gets_400(world, operator, secret):
    body = b'{"key": "S", "value": "a\\ud800b", "isSecret": %s}' % (b"true" if secret else b"false")
    answer = world.client.post(
        url(world), content=body, headers={**bearer(operator), "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["fieldErrors"] == {"value": "the value is not valid Unicode text"}
