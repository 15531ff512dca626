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
    for args, words in (
        (["--organization", "nobody"], "no organization"),
        (["--organization", "acme", "--role", "WORKSPACE_OWNER"], "organization role"),
    ):
        done = admin_token(db_url, *args)
        assert done.returncode == 1, done.stdout + done.stderr
        assert words in done.stderr
