"""The ``keyplane`` CLI as a CI job uses it: real server process, CLI subprocesses.

Objects the tests only need to exist are made with the SDK (fast, in-process); every
behaviour under test goes through the CLI as a subprocess.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, update

from keyplane.client import KeyplaneClient
from keyplane.db.models import ApiToken
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


@dataclass
class Objects:
    owner: KeyplaneClient
    org_id: str
    ws: str  # a workspace in acme
    dep: str  # a deployment in it
    other_ws: str  # globex's: another tenant
    other_dep: str


@pytest.fixture(scope="module")
def objects(server: Server) -> Iterator[Objects]:
    with (
        KeyplaneClient(server.url, server.acme.owner_token) as owner,
        KeyplaneClient(server.url, server.globex.owner_token) as other,
    ):
        ws = owner.create_workspace(server.acme.org_id, "data-eng")["id"]
        dep = owner.create_deployment(server.acme.org_id, ws, "staging")["id"]
        other_ws = other.create_workspace(server.globex.org_id, "secret")["id"]
        other_dep = other.create_deployment(server.globex.org_id, other_ws, "secret")["id"]
        yield Objects(owner, server.acme.org_id, ws, dep, other_ws, other_dep)


def new_token(objects: Objects, scope: str, entity: str | None, role: str, **extra: int) -> dict:
    return objects.owner.create_token(
        objects.org_id,
        name=f"{scope.lower()}-{role.lower()}",
        scope=scope,
        role=role,
        entity_id=entity,
        expiry_days=extra.get("days"),
    )


def test_ci_job_with_a_workspace_operator_token(server: Server, objects: Objects) -> None:
    owner = server.acme.owner_token
    made = server.cli(
        "workspace", "token", "create", "--name", "github-actions", "--role",
        "WORKSPACE_OPERATOR", "--workspace-id", objects.ws, "--clean-output", token=owner,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    value = made.stdout.strip()
    assert made.stdout == value + "\n" and value.startswith("kpw_")

    created = server.cli("deployment", "create", "--name", "prod", "-o", "json", token=value)
    assert created.code == 0, created.stderr
    deployment = created.json()
    assert deployment["workspaceId"] == objects.ws  # the token's workspace is the default
    changed = server.cli(
        "deployment", "update", "--deployment-id", deployment["id"], "--description",
        "nightly", "-o", "json", token=value,
    )  # fmt: skip
    assert changed.code == 0, changed.stderr
    assert changed.json()["description"] == "nightly"

    above = server.cli("workspace", "token", "create", "--name", "more", token=value)
    assert above.code == 4
    assert "missing permission workspace.tokens:manage" in above.stderr
    assert "holds WORKSPACE_OPERATOR" in above.stderr  # what the token does hold
    assert "needs at least WORKSPACE_OWNER" in above.stderr  # and what would do

    foreign = server.cli("deployment", "inspect", "--deployment-id", objects.other_dep, token=value)
    assert foreign.code == 5
    assert "not found" in foreign.stderr

    guess = server.cli("deployment", "inspect", token=value)
    assert guess.code == 2
    assert "pass --deployment-id" in guess.stderr
    assert guess.stdout == ""


EXIT_CODES = [
    # (args, environment, exit code, what stderr says)
    (["whoami"], {}, 0, ""),
    (["whoami"], {"KEYPLANE_URL": "http://127.0.0.1:9"}, 1, "cannot reach keyplane"),
    (["workspace", "create", "--name", "data-eng"], {}, 1, "already exists"),
    (["workspace", "token", "create", "--name", "x", "-e", "3651"], {}, 2, "--expiration"),
    (["workspace", "frobnicate"], {}, 2, "No such command"),
    (["whoami"], {"ASTRO_API_TOKEN": ""}, 3, "set ASTRO_API_TOKEN"),
    (["organization", "inspect", "--organization-id", "nope"], {}, 5, "not found"),
]


def test_exit_codes(server: Server, objects: Objects) -> None:
    results = server.cli_many(
        [(args, {"token": server.acme.owner_token, **env}) for args, env, _, _ in EXIT_CODES]
    )
    for (args, _, code, says), result in zip(EXIT_CODES, results, strict=True):
        assert (result.code, says in result.stderr) == (code, True), (args, result.stderr)
        if code:
            assert result.stdout == "", args


def test_permission_denied_is_exit_4(server: Server, objects: Objects) -> None:
    member = new_token(objects, "ORGANIZATION", None, "ORGANIZATION_MEMBER")["token"]
    result = server.cli("workspace", "create", "--name", "mine", token=member)
    assert result.code == 4
    assert "missing permission workspace:create" in result.stderr


def test_a_refusal_about_one_field_says_it_once(server: Server) -> None:
    """The server's message is about `conditions` and says more than its field error."""
    create = ["organization", "workload-identity", "create", "--name", "no pin"]
    result = server.cli(
        *create, "--condition", "ref=refs/heads/main", token=server.acme.owner_token
    )
    assert result.code == 2
    assert result.stderr.startswith("error: conditions: an identity for ")
    assert result.stderr.endswith("registered again after it is deleted)\n"), result.stderr
    assert "(conditions:" not in result.stderr


JSON_COMMANDS = [
    (["whoami"], dict),
    (["organization", "list"], list),
    (["organization", "inspect"], dict),
    (["organization", "token", "list"], list),
    (["workspace", "list"], list),
    (["workspace", "inspect", "--workspace-id", "{ws}"], dict),
    (["workspace", "token", "list", "--workspace-id", "{ws}"], list),
    (["workspace", "user", "list", "--workspace-id", "{ws}"], list),
    (["deployment", "list"], list),
    (["deployment", "inspect", "--deployment-id", "{dep}"], dict),
    (["deployment", "token", "list", "--deployment-id", "{dep}"], list),
]


def test_json_output_parses(server: Server, objects: Objects) -> None:
    calls = [
        ([p.format(ws=objects.ws, dep=objects.dep) for p in command] + ["--output", "json"],
         {"token": server.acme.owner_token})
        for command, _ in JSON_COMMANDS
    ]  # fmt: skip
    results = server.cli_many(calls)
    for (args, _), (_, shape), result in zip(calls, JSON_COMMANDS, results, strict=True):
        assert result.code == 0, (args, result.stderr)
        assert isinstance(result.json(), shape), args


def test_organization_token_lifecycle(server: Server, objects: Objects) -> None:
    owner = server.acme.owner_token
    made = server.cli(
        "organization", "token", "create", "--name", "billing-bot", "--role",
        "ORGANIZATION_BILLING_ADMIN", "--expiration", "90", "-o", "json", token=owner,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    token = made.json()
    assert token["token"].startswith("kpo_") and token["expiryPeriodInDays"] == 90

    roles = server.cli("organization", "token", "roles", token["id"], "-o", "json", token=owner)
    assert [r["role"] for r in roles.json()] == ["ORGANIZATION_BILLING_ADMIN"]

    changed = server.cli(
        "organization", "token", "update", token["id"], "--new-name", "billing", "--role",
        "ORGANIZATION_MEMBER", "-o", "json", token=owner,
    )  # fmt: skip
    assert changed.code == 0, changed.stderr
    assert changed.json()["name"] == "billing"
    assert [r["role"] for r in changed.json()["roles"]] == ["ORGANIZATION_MEMBER"]

    rotated = server.cli("organization", "token", "rotate", token["id"], "--clean-output",
                         token=owner)  # fmt: skip
    new_value = rotated.stdout.strip()
    assert rotated.code == 0 and new_value.startswith("kpo_") and new_value != token["token"]

    old = server.cli("whoami", token=token["token"])
    assert old.code == 3
    assert "unknown API token: it was deleted, rotated or never existed" in old.stderr
    assert "ASTRO_API_TOKEN" in old.stderr

    gone = server.cli("organization", "token", "delete", token["id"], "-o", "json", token=owner)
    assert gone.code == 0 and gone.json() == {"id": token["id"], "deleted": True}
    deleted = server.cli("whoami", token=new_value)
    assert deleted.code == 3 and "unknown API token" in deleted.stderr

    wrong_group = server.cli("workspace", "token", "delete", objects_token_id(server), token=owner)
    assert wrong_group.code == 2 and "use `keyplane organization token" in wrong_group.stderr


def objects_token_id(server: Server) -> str:
    """The bootstrap owner token's id: an Organization token."""
    with KeyplaneClient(server.url, server.acme.owner_token) as client:
        return str(client.get_self()["id"])


def test_token_create_without_a_role_gives_the_least_that_reads_a_deployment(
    server: Server, objects: Objects
) -> None:
    """The defaults the README names: enough to read, nothing to change."""
    owner = server.acme.owner_token
    for args, role in (
        (["organization", "token", "create"], "ORGANIZATION_MEMBER"),
        (["workspace", "token", "create", "--workspace-id", objects.ws], "WORKSPACE_MEMBER"),
        (["deployment", "token", "create", "--deployment-id", objects.dep], "DEPLOYMENT_ADMIN"),
    ):
        made = server.cli(*args, "--name", "default", "-o", "json", token=owner)
        assert made.code == 0, made.stderr
        assert [r["role"] for r in made.json()["roles"]] == [role]


def test_malformed_token(server: Server) -> None:
    result = server.cli("whoami", token="hunter2")
    assert result.code == 3
    assert "malformed API token" in result.stderr


def test_expired_token_names_the_rotate_command(server: Server, objects: Objects) -> None:
    token = new_token(objects, "WORKSPACE", objects.ws, "WORKSPACE_MEMBER", days=1)
    engine = create_engine(server.database_url)
    with engine.begin() as db:
        db.execute(
            update(ApiToken)
            .where(ApiToken.id == token["id"])
            .values(end_at=datetime.now(UTC) - timedelta(days=2))
        )
    engine.dispose()
    result = server.cli("deployment", "list", token=token["token"])
    assert result.code == 3
    assert "expired on" in result.stderr
    assert f"keyplane workspace token rotate {token['id']}" in result.stderr


def test_warns_when_the_token_expires_within_7_days(server: Server, objects: Objects) -> None:
    soon = new_token(objects, "DEPLOYMENT", objects.dep, "DEPLOYMENT_ADMIN", days=3)
    result = server.cli("deployment", "inspect", "-o", "json", token=soon["token"])
    assert result.code == 0, result.stderr
    assert result.json()["id"] == objects.dep  # a deployment token's deployment is the default
    assert "warning: the API token" in result.stderr and "expires on" in result.stderr
    assert f"keyplane deployment token rotate {soon['id']}" in result.stderr

    later = new_token(objects, "DEPLOYMENT", objects.dep, "DEPLOYMENT_ADMIN", days=8)
    quiet = server.cli("deployment", "inspect", token=later["token"])
    assert quiet.code == 0 and "warning" not in quiet.stderr


def test_organization_token_without_workspace_role(server: Server, objects: Objects) -> None:
    member = new_token(objects, "ORGANIZATION", None, "ORGANIZATION_MEMBER")
    refused = server.cli("workspace", "inspect", "--workspace-id", objects.ws,
                         token=member["token"])  # fmt: skip
    assert refused.code == 5
    assert "this Organization token has no role in any workspace" in refused.stderr
    assert f"keyplane workspace token add {member['id']}" in refused.stderr

    added = server.cli(
        "workspace", "token", "add", member["id"], "--workspace-id", objects.ws, "--role",
        "WORKSPACE_MEMBER", "-o", "json", token=server.acme.owner_token,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert {"entityType": "WORKSPACE", "entityId": objects.ws, "role": "WORKSPACE_MEMBER"} in (
        added.json()["roles"]
    )
    allowed = server.cli("workspace", "inspect", "--workspace-id", objects.ws, "-o", "json",
                         token=member["token"])  # fmt: skip
    assert allowed.code == 0 and allowed.json()["id"] == objects.ws


def test_workspace_and_deployment_lifecycle(server: Server, objects: Objects) -> None:
    owner = server.acme.owner_token
    ws = server.cli("workspace", "create", "--name", "scratch", "-o", "json", token=owner).json()
    renamed = server.cli("workspace", "update", "--workspace-id", ws["id"], "--name", "scratch2",
                         "-o", "json", token=owner)  # fmt: skip
    assert renamed.json()["name"] == "scratch2"
    dep = server.cli("deployment", "create", "--name", "tmp", "--workspace-id", ws["id"], "-o",
                     "json", token=owner).json()  # fmt: skip
    dep_token = server.cli("deployment", "token", "create", "--name", "deploy", "--deployment-id",
                           dep["id"], "--clean-output", token=owner).stdout.strip()  # fmt: skip
    assert dep_token.startswith("kpd_")
    assert server.cli("deployment", "delete", "--deployment-id", dep["id"], token=owner).code == 0
    assert server.cli("whoami", token=dep_token).code == 3  # its tokens went with it
    removed = server.cli("workspace", "delete", "--workspace-id", ws["id"], "-o", "json",
                         token=owner)  # fmt: skip
    assert removed.code == 0 and removed.json()["deleted"] is True


def test_deployment_tokens_from_a_deployment_token(server: Server, objects: Objects) -> None:
    admin = new_token(objects, "DEPLOYMENT", objects.dep, "DEPLOYMENT_ADMIN")["token"]
    made = server.cli("deployment", "token", "create", "--name", "ci", "-o", "json", token=admin)
    assert made.code == 0, made.stderr
    token = made.json()
    assert token["entityId"] == objects.dep
    listed = server.cli("deployment", "token", "list", "-o", "json", token=admin).json()
    assert token["id"] in [t["id"] for t in listed]
    renamed = server.cli("deployment", "token", "update", token["id"], "--new-name", "ci2", "-o",
                         "json", token=admin)  # fmt: skip
    assert renamed.json()["name"] == "ci2"
    assert server.cli("deployment", "token", "delete", token["id"], token=admin).code == 0


def test_workspace_users(server: Server, objects: Objects) -> None:
    owner = server.acme.owner_token
    user = objects.owner.invite(objects.org_id, "dev@acme.example")
    added = server.cli("workspace", "user", "add", "--email", "dev@acme.example",
                       "--workspace-id", objects.ws, "-o", "json", token=owner)  # fmt: skip
    assert added.code == 0, added.stderr
    assert added.json()["role"] == "WORKSPACE_MEMBER"
    changed = server.cli("workspace", "user", "update", user["id"], "--role", "WORKSPACE_AUTHOR",
                         "--workspace-id", objects.ws, "-o", "json", token=owner)  # fmt: skip
    assert changed.json()["role"] == "WORKSPACE_AUTHOR"
    gone = server.cli("workspace", "user", "remove", "dev@acme.example",  # an email works too
                      "--workspace-id", objects.ws, token=owner)  # fmt: skip
    assert gone.code == 0
    users = server.cli("workspace", "user", "list", "--workspace-id", objects.ws, "-o", "json",
                       token=owner).json()  # fmt: skip
    assert user["id"] not in [u["id"] for u in users]


def test_whoami_does_not_import_the_server(server: Server) -> None:
    result = server.cli("whoami", token=server.acme.owner_token, python=("-X", "importtime"))
    assert result.code == 0
    imported = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()}
    assert "keyplane.cli.context" in imported and "urllib.request" in imported
    heavy = {"fastapi", "sqlalchemy", "uvicorn", "alembic", "keyplane.config", "httpx", "pydantic"}
    assert imported.isdisjoint(heavy)


@pytest.mark.parametrize("given", ["no such id", "x?y#z", "../../tokens", "%41"])
def test_an_id_is_sent_as_one_path_segment(server: Server, objects: Objects, given: str) -> None:
    """Whatever the id holds, the request asks for that one deployment: not found (exit 5),
    never another route, and never a traceback for a URL that cannot be sent."""
    found = server.cli("deployment", "inspect", given, token=server.acme.owner_token)
    assert found.code == 5, found.stderr
    assert "Traceback" not in found.stderr


def test_an_empty_id_is_a_usage_error_and_sends_nothing(server: Server, objects: Objects) -> None:
    result = server.cli("deploy", "inspect", "", "--deployment-id", objects.dep,
                        token=server.acme.owner_token)  # fmt: skip
    assert result.code == 2 and "is empty: nothing was sent" in result.stderr
