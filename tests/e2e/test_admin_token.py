"""``keyplane admin token create``: the operator's way back in when the owner token is
lost, on the database directly, and recorded in the audit trail (issue 11, item 28)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.factories import bearer


def admin_token(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "KEYPLANE_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "token", "create", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_an_operator_makes_a_new_owner_token_and_it_is_audited(world, db_url):
    done = admin_token(db_url, "--organization", "acme", "--output", "json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["organizationId"] == world.org.id and made["role"] == "ORGANIZATION_OWNER"
    me = world.client.get("/v1/self", headers=bearer(made["token"]))
    assert me.status_code == 200, me.text
    assert me.json()["roles"][0]["role"] == "ORGANIZATION_OWNER"
    events = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"action": "token.create", "targetId": made["id"]},
        headers=bearer(made["token"]),
    ).json()["auditLogs"]
    assert len(events) == 1
    assert events[0]["actor"]["kind"] == "OPERATOR"
    assert made["token"] not in json.dumps(events)
    by_id = admin_token(db_url, "--organization", world.org.id, "--role", "ORGANIZATION_MEMBER")
    assert by_id.returncode == 0, by_id.stderr
    assert "shown once" in by_id.stderr


def test_a_wrong_organization_or_role_is_refused(world, db_url):
    """With the exit codes of the table: 5 not found, 2 usage; nothing is made."""
    for args, code, words in (
        (["--organization", "nobody"], 5, "no organization with id or name 'nobody'"),
        (["--organization", "acme", "--role", "WORKSPACE_OWNER"], 2, "ORGANIZATION_MEMBER, "),
        (["--organization", "acme", "--role", "OWNER"], 2, "must be an organization role"),
    ):
        done = admin_token(db_url, *args)
        assert done.returncode == code, done.stdout + done.stderr
        assert words in done.stderr
        assert done.stdout == ""
    listed = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens", headers=bearer(world.org.owner_token)
    ).json()["tokens"]
    assert [t for t in listed if t["name"] == "recovery token"] == []


def test_the_role_is_one_of_the_organization_roles_in_any_case(world, db_url):
    offered = admin_token(db_url, "--help")
    assert "ORGANIZATION_BILLING_ADMIN" in offered.stdout
    assert "WORKSPACE" not in offered.stdout and "DEPLOYMENT" not in offered.stdout
    done = admin_token(
        db_url, "--organization", "acme", "--role", "organization_member", "--output", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["role"] == "ORGANIZATION_MEMBER"
