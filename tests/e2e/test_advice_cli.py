"""`keyplane … token advise` against a real server: the least role a token's use needs,
the command that applies it, and a stale token's way out."""

from __future__ import annotations

import pytest
import yaml

from keyplane.client import KeyplaneClient
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def create(server: Server, group: str, role: str, *entity: str) -> tuple[str, str]:
    """A new token's id and value, made by the owner with the CLI."""
    made = server.cli(
        group, "token", "create", "--name", f"{group}-{role.lower()}", "--role", role, *entity,
        "-o", "json", token=server.acme.owner_token,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    token = made.json()
    assert isinstance(token, dict)
    return str(token["id"]), str(token["token"])


def test_a_lister_is_told_member_applies_it_and_then_fits(server: Server) -> None:
    owner = server.acme.owner_token
    with KeyplaneClient(server.url, owner) as client:
        ws = client.create_workspace(server.acme.org_id, "advised")["id"]
        client.create_deployment(server.acme.org_id, ws, "prod")
    token_id, value = create(server, "workspace", "WORKSPACE_OWNER", "--workspace-id", ws)
    listed = server.cli("deployment", "list", "--workspace-id", ws, token=value)
    assert listed.code == 0, listed.stderr

    found = server.cli("workspace", "token", "advise", token_id, "-o", "json", token=owner)
    assert found.code == 0, found.stderr
    answer = found.json()
    assert isinstance(answer, dict)
    # The CLI reads the workspace (workspace:read), then lists its deployments.
    assert answer["usedPermissions"] == ["workspace:read", "deployment:read"]
    assert (answer["currentRole"], answer["suggestedRole"]) == (
        "WORKSPACE_OWNER",
        "WORKSPACE_MEMBER",
    )
    told = server.cli("workspace", "token", "advise", token_id, token=owner)
    command = f"keyplane workspace token update {token_id} --role WORKSPACE_MEMBER"
    assert "suggested: WORKSPACE_MEMBER" in told.stderr and command in told.stderr

    applied = server.cli(*command.split()[1:], token=owner)
    assert applied.code == 0, applied.stderr
    again = server.cli("workspace", "token", "advise", token_id, "-o", "yaml", token=owner)
    assert yaml.safe_load(again.stdout)["fits"] is True
    fits = server.cli("workspace", "token", "advise", token_id, token=owner)
    assert "fits: WORKSPACE_MEMBER is the least role that covers its use" in fits.stderr


def test_a_token_never_used_is_stale_and_the_wrong_group_is_refused(server: Server) -> None:
    owner = server.acme.owner_token
    token_id, _ = create(server, "organization", "ORGANIZATION_BILLING_ADMIN")
    told = server.cli("organization", "token", "advise", token_id, "--days", "30", token=owner)
    assert told.code == 0, told.stderr
    assert "was not used in the last 30 days" in told.stderr
    assert f"keyplane organization token delete {token_id}" in told.stderr
    wrong = server.cli("deployment", "token", "advise", token_id, token=owner)
    assert wrong.code == 2 and "use `keyplane organization token" in wrong.stderr
    assert f"{token_id} is an Organization token, not a Deployment token" in wrong.stderr
    out_of_range = server.cli("organization", "token", "advise", token_id, "--days", "0")
    assert out_of_range.code == 2
