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
