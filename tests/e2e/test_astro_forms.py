"""The Astro CLI's command lines, run with ``keyplane`` in their place (issue 13).

Each test is one form as the Astro CLI's help writes it, run as a subprocess against
a real server: what it prints, its exit code, and what changed on the server (read
back with the SDK). One server for the module; objects are made with the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from keyplane.client import KeyplaneClient
from keyplane.domain.roles import DEPLOYMENT_ADMIN, Role
from tests.e2e.conftest import Result, Server

pytestmark = pytest.mark.e2e
MEMBER, OPERATOR, OWNER = Role.WORKSPACE_MEMBER, Role.WORKSPACE_OPERATOR, Role.WORKSPACE_OWNER
ORG_MEMBER, ORG_BILLING = Role.ORGANIZATION_MEMBER, Role.ORGANIZATION_BILLING_ADMIN


@dataclass
class World:
    server: Server
    sdk: KeyplaneClient
    org: str
    ws: str
    other_ws: str
    dep: str  # "astro-dep" in ws
    owner: str

    def run(self, *args: str, **extra: object) -> Result:
        return self.server.cli(*args, token=self.owner, **extra)  # type: ignore[arg-type]

    def deployment(self, name: str, ws: str | None = None) -> str:
        return str(self.sdk.create_deployment(self.org, ws or self.ws, name)["id"])

    def token(self, scope: str, entity: str | None, name: str, role: str) -> dict:
        return self.sdk.create_token(self.org, name=name, scope=scope, role=role, entity_id=entity)


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    with KeyplaneClient(server.url, server.acme.owner_token) as sdk:
        org = server.acme.org_id
        ws = sdk.create_workspace(org, "astro-ws")["id"]
        other_ws = sdk.create_workspace(org, "astro-ws-2")["id"]
        dep = sdk.create_deployment(org, ws, "astro-dep")["id"]
        yield World(server, sdk, org, ws, other_ws, dep, server.acme.owner_token)


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


# -- version, help, completion, output formats -------------------------------------------


@pytest.mark.parametrize("args", [["version"], ["--version"]])
def test_version(world: World, args: list[str]) -> None:
    assert ok(world.run(*args)).stdout.startswith("keyplane ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion(world: World, shell: str) -> None:
    assert "_KEYPLANE_COMPLETE" in ok(world.run("completion", shell)).stdout


def test_short_help(world: World) -> None:
    assert "Usage: keyplane deployment create" in ok(world.run("deployment", "create", "-h")).stdout


def test_deploy_help_shows_the_deploy_flags(world: World) -> None:
    out = ok(world.run("deploy", "--help")).stdout
    assert "--deployment-name" in out and "--force" in out and "DEPLOYMENT_ID" in out


def test_json_shorthand(world: World) -> None:
    assert json.loads(ok(world.run("deployment", "list", "--json")).stdout)


# -- deployments -----------------------------------------------------------------------------


def test_deployment_create_with_short_flags(world: World) -> None:
    out = ok(world.run("deployment", "create", "-n", "short", "-d", "made short", "-w",
                       world.ws, "-f", "-o", "json")).stdout  # fmt: skip
    made = world.sdk.get_deployment(world.org, json.loads(out)["id"])
    assert (made["name"], made["description"], made["workspaceId"]) == (
        "short",
        "made short",
        world.ws,
    )


def test_deployment_list_all(world: World) -> None:
    other = world.deployment("in-other-ws", world.other_ws)
    listed = json.loads(ok(world.run("deployment", "list", "--all", "-o", "json")).stdout)
    assert {world.dep, other} <= {d["id"] for d in listed}


def test_deployment_inspect_id_output_yaml(world: World) -> None:
    shown = yaml.safe_load(ok(world.run("deployment", "inspect", world.dep, "-o", "yaml")).stdout)
    assert shown["id"] == world.dep and shown["name"] == "astro-dep"


def test_deployment_inspect_deployment_name_key(world: World) -> None:
    out = world.run(
        "deployment", "inspect", "--deployment-name", "astro-dep", "--key", "workspaceId"
    )
    assert ok(out).stdout == f"{world.ws}\n"


def test_inspect_key_reaches_into_objects(world: World) -> None:
    token = world.token("WORKSPACE", world.ws, "nested", MEMBER)
    shown = ok(world.run("organization", "token", "inspect", token["id"], "--key", "roles"))
    assert yaml.safe_load(shown.stdout)[0]["role"] == MEMBER
    one = ok(world.run("organization", "token", "inspect", token["id"], "-k", "roles.0.entityId"))
    assert one.stdout == f"{world.ws}\n"


def test_deployment_name_matching_two_fails_with_exit_2(world: World) -> None:
    first = world.deployment("twin", world.ws)
    second = world.deployment("twin", world.other_ws)
    result = world.run("deployment", "inspect", "--deployment-name", "twin")
    assert result.code == 2 and result.stdout == ""
    assert first in result.stderr and second in result.stderr


def test_deployment_update_id_short_flags_cicd_enforcement(world: World) -> None:
    dep = world.deployment("to-update")
    ok(world.run("deployment", "update", dep, "-n", "updated", "-d", "new text",
                 "--cicd-enforcement", "enable", "-f"))  # fmt: skip
    changed = world.sdk.get_deployment(world.org, dep)
    assert (changed["name"], changed["description"], changed["isCicdEnforced"]) == (
        "updated",
        "new text",
        True,
    )
    ok(world.run("deployment", "update", "--deployment-name", "updated",
                 "--cicd-enforcement", "disable"))  # fmt: skip
    assert world.sdk.get_deployment(world.org, dep)["isCicdEnforced"] is False


@pytest.mark.parametrize("wait", [["--wait", "--wait-time", "5m0s"], ["-i"], ["--wait=true"]])
def test_deployment_create_update_take_astros_wait_and_clean_output(
    world: World, wait: list[str]
) -> None:
    """A keyplane deployment is ready when made: the flags are taken and change nothing."""
    made = ok(world.run("deployment", "create", "-n", f"waited{len(wait)}{wait[0]}", "-w",
                        world.ws, *wait, "--clean-output", "-o", "json")).json()  # fmt: skip
    assert isinstance(made, dict) and made["workspaceId"] == world.ws
    ok(world.run("deployment", "update", made["id"], "-d", "after", "-c"))
    assert world.sdk.get_deployment(world.org, made["id"])["description"] == "after"


@pytest.mark.parametrize("form", ["id", "name"])
def test_deployment_delete_force(world: World, form: str) -> None:
    dep = world.deployment(f"doomed-{form}")
    target = [dep] if form == "id" else ["--deployment-name", f"doomed-{form}"]
    ok(world.run("deployment", "delete", *target, "-f"))
    assert dep not in {d["id"] for d in world.sdk.list_deployments(world.org)}


# -- deployment variables ---------------------------------------------------------------------


def variables(world: World, dep: str) -> dict[str, dict]:
    return {v["key"]: v for v in world.sdk.list_variables(world.org, dep)}


def test_variable_create_pairs_secret(world: World) -> None:
    dep = world.deployment("vars-pairs")
    ok(world.run("deployment", "variable", "create", "FOO=bar", "FOO2=bar2",
                 "--deployment-id", dep, "--secret"))  # fmt: skip
    found = variables(world, dep)
    assert found["FOO"]["isSecret"] and found["FOO2"]["isSecret"]


def test_variable_create_load_env(world: World, tmp_path: Path) -> None:
    dep = world.deployment("vars-load")
    env = tmp_path / ".env.my-deployment"
    env.write_text("# a comment\nexport LEVEL=debug\nNAME='two words'\n")
    ok(world.run("deployment", "variable", "create", "--deployment-id", dep, "--load",
                 "--env", str(env)))  # fmt: skip
    found = variables(world, dep)
    assert found["LEVEL"]["value"] == "debug" and found["NAME"]["value"] == "two words"


def test_variable_update_pairs(world: World) -> None:
    dep = world.deployment("vars-update")
    world.sdk.create_variable(world.org, dep, "FOO", "old")
    ok(world.run("deployment", "variable", "update", "FOO=NEWBAR", "-d", dep))
    assert variables(world, dep)["FOO"]["value"] == "NEWBAR"


def test_variable_create_again_skips_the_keys_it_has(world: World) -> None:
    """A CI job that runs `variable create` on every build: the keys already there stay
    as they are, the new ones are added, and the job goes on (exit 0)."""
    dep = world.deployment("vars-again")
    world.sdk.create_variable(world.org, dep, "FOO", "kept")
    again = ok(world.run("deployment", "variable", "create", "NEW1=1", "FOO=bar", "NEW2=2",
                         "-d", dep))  # fmt: skip
    assert "FOO already exists, left as it is" in again.stderr
    found = variables(world, dep)
    assert {k: v["value"] for k, v in found.items()} == {"FOO": "kept", "NEW1": "1", "NEW2": "2"}


def test_variable_update_adds_a_key_it_does_not_have(world: World) -> None:
    dep = world.deployment("vars-upsert")
    world.sdk.create_variable(world.org, dep, "OLD", "1")
    done = ok(world.run("deployment", "variable", "update", "OLD=2", "NEWKEY=v", "-d", dep))
    assert "NEWKEY is new on this deployment" in done.stderr
    found = variables(world, dep)
    assert (found["OLD"]["value"], found["NEWKEY"]["value"]) == ("2", "v")


@pytest.mark.parametrize("command", ["create", "update"])
@pytest.mark.parametrize(
    "given",
    [
        ["GOOD1=a", "BAD KEY=b", "GOOD2=c", "1X=d"],
        ["--key", "BAD KEY", "--value", "b", "GOOD1=a"],
        ["--load", "--env", "{env}"],
    ],
    ids=["pairs", "key", "load"],
)
def test_variable_bad_keys_refuse_the_whole_command(
    world: World, tmp_path: Path, command: str, given: list[str]
) -> None:
    """Every key is checked before the first request: nothing is half written, and the
    message names each bad key (the server's rule), with no traceback."""
    dep = world.deployment(f"vars-bad-{command}-{len(given)}")
    env = tmp_path / ".env"
    env.write_text("GOOD1=a\nBAD KEY=b\n")
    result = world.run("deployment", "variable", command, "-d", dep,
                       *(arg.format(env=env) for arg in given))  # fmt: skip
    assert result.code == 2, result.stderr
    assert "not a variable name: 'BAD KEY'" in result.stderr and "Traceback" not in result.stderr
    assert ("'1X'" in result.stderr) == ("1X=d" in given)
    assert variables(world, dep) == {}


def test_variable_list_key(world: World) -> None:
    dep = world.deployment("vars-list")
    world.sdk.create_variable(world.org, dep, "FOO", "1")
    world.sdk.create_variable(world.org, dep, "BAR", "2")
    rows = json.loads(ok(world.run("deployment", "variable", "list", "--deployment-id", dep,
                                   "--key", "FOO", "-o", "json")).stdout)  # fmt: skip
    assert [r["key"] for r in rows] == ["FOO"]


@pytest.mark.parametrize("output", ["table", "json"])
def test_variable_list_key_it_lacks_finds_none(world: World, output: str) -> None:
    dep = world.deployment(f"vars-list-none-{output}")
    world.sdk.create_variable(world.org, dep, "FOO", "1")
    listed = ok(world.run("deployment", "variable", "list", "-d", dep, "--key", "MISSING",
                          "-o", output))  # fmt: skip
    if output == "json":
        assert listed.json() == []
    else:
        assert listed.stdout == "" and "No variables found" in listed.stderr


# -- deploy ------------------------------------------------------------------------------------


def project(tmp_path: Path) -> Path:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "dag.py").write_text("print('hello')\n")
    return tmp_path


def test_deploy_deployment_id_pushes_the_current_folder(world: World, tmp_path: Path) -> None:
    dep = world.deployment("deploy-id")
    out = ok(world.run("deploy", dep, "-f", cwd=project(tmp_path))).stdout.strip()
    assert [d["id"] for d in world.sdk.list_deploys(world.org, dep)] == [out]


def test_deploy_deployment_name(world: World, tmp_path: Path) -> None:
    dep = world.deployment("deploy-by-name")
    ok(world.run("deploy", "--deployment-name", "deploy-by-name", cwd=project(tmp_path)))
    assert len(world.sdk.list_deploys(world.org, dep)) == 1


def test_deploy_keeps_keyplanes_path_form(world: World, tmp_path: Path) -> None:
    dep = world.deployment("deploy-path")
    ok(world.run("deploy", str(project(tmp_path)), "--deployment-id", dep))
    assert len(world.sdk.list_deploys(world.org, dep)) == 1


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        (["--dags"], "as one bundle"),
        (["-d"], "as one bundle"),
        (["--image"], "no DAG-only or image deploys"),
        (["--dags-path", "dags"], "as one bundle"),
        (["--wait"], "nothing to wait for"),
        (["--wait=true"], "nothing to wait for"),
        (["--pytest"], "runs no tests"),
        (["--parse"], "parses no DAGs"),
    ],
)
def test_deploy_refuses_astros_partial_deploy_flags_saying_why(
    world: World, tmp_path: Path, flag: list[str], says: str
) -> None:
    before = len(world.sdk.list_deploys(world.org, world.dep))
    refused = world.run("deploy", world.dep, *flag, cwd=project(tmp_path))
    assert refused.code == 2, refused.stderr
    assert f"keyplane deploy takes no {flag[0].partition('=')[0]}: " in refused.stderr
    assert says in refused.stderr and "No such option" not in refused.stderr
    assert len(world.sdk.list_deploys(world.org, world.dep)) == before


def test_deploy_without_a_deployment_names_the_astro_form_first(
    world: World, tmp_path: Path
) -> None:
    refused = world.run("deploy", cwd=project(tmp_path))
    assert refused.code == 2
    astro_form = refused.stderr.find("`keyplane deploy DEPLOYMENT_ID`")
    assert 0 <= astro_form < refused.stderr.find("--deployment-id"), refused.stderr
    assert "-n NAME" in refused.stderr


# -- workspaces and their users ----------------------------------------------------------------


def test_workspace_create_update_delete_positional(world: World) -> None:
    out = ok(world.run("workspace", "create", "-n", "ws-astro", "-d", "d", "-o", "json")).stdout
    ws = json.loads(out)["id"]
    ok(world.run("workspace", "update", ws, "-n", "ws-astro-2", "-d", "changed"))
    changed = world.sdk.get_workspace(world.org, ws)
    assert (changed["name"], changed["description"]) == ("ws-astro-2", "changed")
    ok(world.run("workspace", "delete", ws))
    assert ws not in {w["id"] for w in world.sdk.list_workspaces(world.org)}


def test_workspace_user_add_email(world: World) -> None:
    world.sdk.invite(world.org, "wsuser@acme.example")
    ok(world.run("workspace", "user", "add", "wsuser@acme.example", "--role", OPERATOR,
                 "--workspace-id", world.ws))  # fmt: skip
    roles = {u["email"]: u["role"] for u in world.sdk.list_workspace_users(world.org, world.ws)}
    assert roles["wsuser@acme.example"] == OPERATOR


# -- organization users ----------------------------------------------------------------------


def test_organization_user_invite_list_update(world: World) -> None:
    ok(world.run("organization", "user", "invite", "new@acme.example", "-r", ORG_BILLING))
    members = {u["email"]: u for u in world.sdk.list_users(world.org)}
    assert members["new@acme.example"]["organizationRole"] == ORG_BILLING
    listed = json.loads(ok(world.run("organization", "user", "list", "--json")).stdout)
    assert "new@acme.example" in {u["email"] for u in listed}
    ok(world.run("organization", "user", "update", "new@acme.example", "--role", ORG_MEMBER))
    members = {u["email"]: u for u in world.sdk.list_users(world.org)}
    assert members["new@acme.example"]["organizationRole"] == ORG_MEMBER


def test_organization_user_found_by_either_form_of_an_address(world: World) -> None:
    """Invited as Dora@Bücher.example, stored with the ASCII domain: the CLI finds the
    member by the Unicode form too."""
    ok(world.run("organization", "user", "invite", "Dora@Bücher.example", "-r", ORG_BILLING))
    emails = {u["email"] for u in world.sdk.list_users(world.org)}
    assert "dora@xn--bcher-kva.example" in emails
    ok(world.run("organization", "user", "update", "dora@bücher.example", "--role", ORG_MEMBER))
    members = {u["email"]: u for u in world.sdk.list_users(world.org)}
    assert members["dora@xn--bcher-kva.example"]["organizationRole"] == ORG_MEMBER


# -- tokens ------------------------------------------------------------------------------------


def test_workspace_token_create_short_flags_clean_output(world: World) -> None:
    out = ok(world.run("workspace", "token", "create", "-n", "ci-short", "-r", OPERATOR, "-d",
                       "for ci", "-e", "30", "-c", "--workspace-id", world.ws)).stdout  # fmt: skip
    value = out.strip()
    assert out == value + "\n" and value.startswith("kpw_")
    made = world.sdk.list_tokens(world.org, scope="WORKSPACE", workspace_id=world.ws)
    token = next(t for t in made if t["name"] == "ci-short")
    assert token["description"] == "for ci" and token["expiryPeriodInDays"] == 30
    assert token["roles"][0]["role"] == OPERATOR


@pytest.mark.parametrize("scope", ["organization", "workspace", "deployment"])
def test_token_create_expiration_0_never_expires(world: World, scope: str) -> None:
    where = {"workspace": ["--workspace-id", world.ws], "deployment": ["--deployment-id",
             world.dep]}.get(scope, [])  # fmt: skip
    out = ok(world.run(scope, "token", "create", "--name", f"forever-{scope}",
                       "--expiration", "0", *where, "-o", "json")).stdout  # fmt: skip
    token = world.sdk.get_token(world.org, json.loads(out)["id"])
    assert token["endAt"] is None and token["expiryPeriodInDays"] is None


def test_token_update_name_selects_new_name_renames(world: World) -> None:
    token = world.token("WORKSPACE", world.ws, "old-name", MEMBER)
    ok(world.run("workspace", "token", "update", "--name", "old-name", "--new-name", "new-name",
                 "-r", OPERATOR, "--workspace-id", world.ws))  # fmt: skip
    changed = world.sdk.get_token(world.org, token["id"])
    assert changed["name"] == "new-name" and changed["roles"][0]["role"] == OPERATOR


def test_token_update_id_new_name(world: World) -> None:
    token = world.token("ORGANIZATION", None, "org-old", ORG_MEMBER)
    ok(world.run("organization", "token", "update", token["id"], "-n", "org-new", "-d", "x"))
    changed = world.sdk.get_token(world.org, token["id"])
    assert (changed["name"], changed["description"]) == ("org-new", "x")


@pytest.mark.parametrize("command", ["update", "rotate", "delete"])
def test_token_id_and_a_stale_name_change_nothing(world: World, command: str) -> None:
    """The Astro CLI acts on the id and ignores --name; keyplane acts on the id only
    when the name is that token's, and never reads --name as a new name."""
    token = world.token("WORKSPACE", world.ws, f"real-{command}", MEMBER)
    extra = ["-r", OPERATOR] if command == "update" else ["--force"]
    stale = world.run("workspace", "token", command, token["id"], "--name", "stale-name", *extra,
                      "--workspace-id", world.ws)  # fmt: skip
    assert stale.code == 2, stale.stderr
    assert "is named 'real-" in stale.stderr and "--new-name" in stale.stderr
    kept = world.sdk.get_token(world.org, token["id"])
    assert kept["name"] == f"real-{command}" and kept["roles"][0]["role"] == MEMBER
    ok(world.run("workspace", "token", command, token["id"], "--name", f"real-{command}", *extra,
                 "--workspace-id", world.ws))  # fmt: skip


def test_deployment_token_update_with_deployment_id(world: World) -> None:
    token = world.token("DEPLOYMENT", world.dep, "dep-tok", DEPLOYMENT_ADMIN)
    ok(world.run("deployment", "token", "update", token["id"], "--new-name", "dep-tok-2",
                 "--deployment-id", world.dep))  # fmt: skip
    assert world.sdk.get_token(world.org, token["id"])["name"] == "dep-tok-2"


@pytest.mark.parametrize("select", ["id", "name"])
def test_token_rotate_force_clean_output(world: World, select: str) -> None:
    token = world.token("WORKSPACE", world.ws, f"rotate-{select}", MEMBER)
    target = [token["id"]] if select == "id" else ["--name", f"rotate-{select}"]
    out = ok(world.run("workspace", "token", "rotate", *target, "--workspace-id", world.ws,
                       "-f", "-c")).stdout.strip()  # fmt: skip
    assert out.startswith("kpw_") and out != token["token"]
    assert world.sdk.get_token(world.org, token["id"])["lastRotatedAt"]


@pytest.mark.parametrize("scope", ["organization", "workspace", "deployment"])
def test_token_delete_id_force(world: World, scope: str) -> None:
    entity = {"organization": None, "workspace": world.ws, "deployment": world.dep}[scope]
    role = {"organization": ORG_MEMBER, "workspace": MEMBER, "deployment": DEPLOYMENT_ADMIN}
    token = world.token(scope.upper(), entity, f"delete-{scope}", role[scope])
    where = {"workspace": ["--workspace-id", world.ws], "deployment": ["--deployment-id",
             world.dep]}.get(scope, [])  # fmt: skip
    ok(world.run(scope, "token", "delete", token["id"], *where, "--force"))
    assert token["id"] not in {t["id"] for t in world.sdk.list_tokens(world.org)}


def test_token_name_matching_two_fails_with_exit_2(world: World) -> None:
    first = world.token("WORKSPACE", world.ws, "same-name", MEMBER)
    second = world.token("WORKSPACE", world.ws, "same-name", MEMBER)
    result = world.run("workspace", "token", "delete", "--name", "same-name",
                       "--workspace-id", world.ws, "-f")  # fmt: skip
    assert result.code == 2 and first["id"] in result.stderr and second["id"] in result.stderr
    left = {t["id"] for t in world.sdk.list_tokens(world.org)}
    assert {first["id"], second["id"]} <= left  # nothing was deleted on a guess


def roles_of(world: World, token_id: str) -> dict[tuple[str, str], str]:
    token = world.sdk.get_token(world.org, token_id)
    return {(r["entityType"], r["entityId"]): r["role"] for r in token["roles"]}


def test_workspace_token_organization_token_add_update_list_remove(world: World) -> None:
    token = world.token("ORGANIZATION", None, "org-for-ws", ORG_MEMBER)
    ws = ["--workspace-id", world.ws]
    ok(world.run("workspace", "token", "organization-token", "add", "--org-token-name",
                 "org-for-ws", "--role", MEMBER, *ws))  # fmt: skip
    assert roles_of(world, token["id"])[("WORKSPACE", world.ws)] == MEMBER
    ok(world.run("workspace", "token", "organization-token", "update", token["id"], "-r",
                 OWNER, *ws))  # fmt: skip
    assert roles_of(world, token["id"])[("WORKSPACE", world.ws)] == OWNER
    listed = json.loads(ok(world.run("workspace", "token", "organization-token", "list", *ws,
                                     "--json")).stdout)  # fmt: skip
    assert token["id"] in {t["id"] for t in listed}
    ok(world.run("workspace", "token", "organization-token", "remove", token["id"], *ws))
    assert ("WORKSPACE", world.ws) not in roles_of(world, token["id"])


@pytest.mark.parametrize("holder", ["organization-token", "workspace-token"])
def test_deployment_token_holder_tokens_add_list_remove(world: World, holder: str) -> None:
    if holder == "organization-token":
        token, flag = world.token("ORGANIZATION", None, "org-for-dep", ORG_MEMBER), "-n"
    else:
        token, flag = world.token("WORKSPACE", world.ws, "ws-for-dep", MEMBER), "-n"
    dep = ["--deployment-id", world.dep]
    ok(world.run("deployment", "token", holder, "add", flag, token["name"], "--role",
                 DEPLOYMENT_ADMIN, *dep))  # fmt: skip
    assert roles_of(world, token["id"])[("DEPLOYMENT", world.dep)] == DEPLOYMENT_ADMIN
    listed = json.loads(ok(world.run("deployment", "token", holder, "list", *dep,
                                     "-o", "json")).stdout)  # fmt: skip
    assert token["id"] in {t["id"] for t in listed}
    ok(world.run("deployment", "token", holder, "remove", token["id"], *dep))
    assert ("DEPLOYMENT", world.dep) not in roles_of(world, token["id"])


@pytest.mark.parametrize("level", ["deployment", "workspace"])
def test_token_list_names_every_token_with_a_role_there_and_its_scope(
    world: World, level: str
) -> None:
    """As Astro's `deployment token list` and `workspace token list` do: an audit or
    clean-up script sees the Organization token given a role there too."""
    entity = world.deployment(f"listed-{level}") if level == "deployment" else world.other_ws
    own_scope = level.upper()
    own = world.token(own_scope, entity, f"own-{level}",
                      DEPLOYMENT_ADMIN if level == "deployment" else MEMBER)  # fmt: skip
    wider = world.token("ORGANIZATION", None, f"wider-{level}", ORG_MEMBER)
    role = DEPLOYMENT_ADMIN if level == "deployment" else OPERATOR
    ok(world.run(level, "token", "organization-token", "add", wider["id"], "--role", role,
                 f"--{level}-id", entity))  # fmt: skip
    listed = json.loads(ok(world.run(level, "token", "list", f"--{level}-id", entity,
                                     "-o", "json")).stdout)  # fmt: skip
    assert {(t["name"], t["scope"]) for t in listed} == {
        (f"own-{level}", own_scope),
        (f"wider-{level}", "ORGANIZATION"),
    }
    table = ok(world.run(level, "token", "list", f"--{level}-id", entity)).stdout
    assert "scope" in table.splitlines()[0].lower() and f"wider-{level}" in table
    assert own["id"] in table


def test_workspace_token_add_org_token_name(world: World) -> None:
    token = world.token("ORGANIZATION", None, "org-by-name", ORG_MEMBER)
    ok(world.run("workspace", "token", "add", "--org-token-name", "org-by-name", "-r", OPERATOR,
                 "-w", world.other_ws))  # fmt: skip
    assert roles_of(world, token["id"])[("WORKSPACE", world.other_ws)] == OPERATOR


def test_deployment_token_organization_token_update(world: World) -> None:
    token = world.token("ORGANIZATION", None, "org-dep-update", ORG_MEMBER)
    dep = ["--deployment-id", world.dep]
    ok(world.run("deployment", "token", "organization-token", "add", "-n", "org-dep-update",
                 "--role", DEPLOYMENT_ADMIN, *dep))  # fmt: skip
    world.sdk.create_custom_role(world.org, "dep-reader", ["deployment:read"])
    ok(world.run("deployment", "token", "organization-token", "update", token["id"], "-r",
                 "dep-reader", *dep))  # fmt: skip
    assert roles_of(world, token["id"])[("DEPLOYMENT", world.dep)] == "dep-reader"


# -- login ------------------------------------------------------------------------------------


def test_login_token_login(world: World, tmp_path: Path) -> None:
    token = world.token("WORKSPACE", world.ws, "for-login", MEMBER)
    config = {"KEYPLANE_CONFIG_DIR": str(tmp_path)}
    ok(world.server.cli("login", "--token-login", token["token"], **config))
    who = json.loads(ok(world.server.cli("whoami", "--json", **config)).stdout)
    assert who["id"] == token["id"] and "stored login" in who["credentialSource"]
    ok(world.server.cli("logout", **config))
    assert world.server.cli("whoami", **config).code == 3


def test_boolean_flag_with_a_value_as_cobra_takes_it(world: World) -> None:
    out = ok(world.run("organization", "token", "create", "--name", "eq-true",
                       "--clean-output=true")).stdout  # fmt: skip
    assert out.strip().startswith("kpo_") and out.count("\n") == 1


def test_workspace_id_picks_between_deployments_of_one_name(world: World) -> None:
    """Astro takes --workspace-id on every `deployment …` command; with an Organization
    token, it says which workspace's "twin" is meant."""
    first = world.deployment("twin-w", world.ws)
    second = world.deployment("twin-w", world.other_ws)
    ambiguous = world.run("deployment", "inspect", "-n", "twin-w")
    assert ambiguous.code == 2 and first in ambiguous.stderr and second in ambiguous.stderr
    found = ok(world.run("deployment", "inspect", "-n", "twin-w", "--workspace-id", world.other_ws,
                         "-o", "json")).json()  # fmt: skip
    assert found["id"] == second  # type: ignore[index]
    ok(world.run("deployment", "variable", "create", "TWIN=2", "-n", "twin-w",
                 "--workspace-id", world.other_ws))  # fmt: skip
    listed = ok(world.run("deployment", "variable", "list", "-n", "twin-w", "--workspace-id",
                          world.other_ws, "-o", "json")).json()  # fmt: skip
    assert [v["key"] for v in listed] == ["TWIN"]  # type: ignore[union-attr,index]
    ok(world.run("deployment", "delete", "-n", "twin-w", "--workspace-id", world.ws))
    assert [d["id"] for d in world.sdk.list_deployments(world.org) if d["name"] == "twin-w"] == [
        second
    ]


def test_inspect_clean_output_is_yaml(world: World) -> None:
    """`astro deployment inspect ID -c > deployment.yaml`: the file is YAML."""
    import yaml

    out = ok(world.run("deployment", "inspect", world.dep, "-c")).stdout
    assert yaml.safe_load(out)["id"] == world.dep


# -- aliases, persistent flags, --verbosity ---------------------------------------------------


@pytest.fixture(scope="module")
def listed(world: World) -> World:
    """Something for each list below to show: an alias or a flag that selects nothing
    would pass unseen."""
    world.sdk.create_variable(world.org, world.dep, "LISTED", "1")
    world.token("DEPLOYMENT", world.dep, "listed", DEPLOYMENT_ADMIN)
    world.sdk.invite(world.org, "listed@acme.example")
    world.sdk.add_workspace_user(world.org, world.ws, "listed@acme.example", MEMBER)
    world.deployment("listed-other", world.other_ws)
    return world


def found(result: Result) -> list[str]:
    """The ids (a variable's key) in a command's JSON answer, one object or a list."""
    data = ok(result).json()
    items = data if isinstance(data, list) else [data]
    return sorted(item.get("id") or item["key"] for item in items)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("alias", "command"),
    [
        ("org token ls", "organization token list"),
        ("organization to list", "organization token list"),
        ("org us ls", "organization user list"),
        ("deployment var list -d {dep}", "deployment variable list -d {dep}"),
        ("deployments variables list -d {dep}", "deployment variable list -d {dep}"),
        (
            "deployment token ls --deployment-id {dep}",
            "deployment token list --deployment-id {dep}",
        ),
        ("de to ls --deployment-id {dep}", "deployment token list --deployment-id {dep}"),
        ("deployment in {dep}", "deployment inspect {dep}"),
        ("workspace ls", "workspace list"),
        ("wo users ls --workspace-id {ws}", "workspace user list --workspace-id {ws}"),
    ],
)
@pytest.mark.usefixtures("listed")
def test_astro_aliases(world: World, alias: str, command: str) -> None:
    args = {"dep": world.dep, "ws": world.ws}
    by_alias = found(world.run(*alias.format(**args).split(), "-o", "json"))
    assert by_alias and by_alias == found(world.run(*command.format(**args).split(), "-o", "json"))


def test_an_alias_writes_as_its_command(world: World) -> None:
    ok(world.run("wo", "to", "cr", "-n", "by-alias", "--workspace-id", world.ws))
    names = {t["name"] for t in world.sdk.list_tokens(world.org, workspace_id=world.ws)}
    assert "by-alias" in names


def test_persistent_deployment_id_before_the_subcommand(world: World) -> None:
    """`astro deployment token --deployment-id D create -n ci`; a group below inherits it."""
    made = ok(world.run("deployment", "token", "--deployment-id", world.dep, "create", "-n",
                        "ci-persistent", "-o", "json")).json()  # fmt: skip
    assert isinstance(made, dict)
    assert roles_of(world, made["id"]) == {("DEPLOYMENT", world.dep): DEPLOYMENT_ADMIN}
    before = world.run("deployment", "token", "--deployment-id", world.dep,
                       "organization-token", "list", "-o", "json")  # fmt: skip
    after = world.run("deployment", "token", "organization-token", "list",
                      "--deployment-id", world.dep, "-o", "json")  # fmt: skip
    assert found(before) == found(after)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("workspace token --workspace-id {ws} list", "workspace token list --workspace-id {ws}"),
        ("workspace user --workspace-id={ws} list", "workspace user list --workspace-id {ws}"),
        ("organization token --organization-id {org} ls", "organization token list"),
        ("deployment --workspace-id {other_ws} list", "deployment list -w {other_ws}"),
        ("deployment --workspace-id {ws} variable list -n astro-dep",
         "deployment variable list -d {dep}"),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("listed")
def test_persistent_flags_before_the_subcommand(world: World, before: str, after: str) -> None:
    args = {"dep": world.dep, "ws": world.ws, "other_ws": world.other_ws, "org": world.org}
    first = found(world.run(*before.format(**args).split(), "-o", "json"))
    assert first and first == found(world.run(*after.format(**args).split(), "-o", "json"))


def test_persistent_flag_given_twice_differently_is_refused(world: World) -> None:
    other = world.deployment("persistent-twice")
    refused = world.run("deployment", "token", "--deployment-id", world.dep, "create", "-n",
                        "twice", "--deployment-id", other)  # fmt: skip
    assert refused.code == 2 and "--deployment-id is given twice" in refused.stderr
    assert "twice" not in {t["name"] for t in world.sdk.list_tokens(world.org)}
    ok(world.run("deployment", "token", "--deployment-id", world.dep, "list",
                 "--deployment-id", world.dep))  # fmt: skip


def test_persistent_flag_a_command_does_not_take_is_refused(world: World) -> None:
    refused = world.run("deployment", "--workspace-id", world.ws, "token", "list",
                        "--deployment-id", world.dep)  # fmt: skip
    assert refused.code == 2
    assert "`keyplane deployment token list` takes no --workspace-id" in refused.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--verbosity", "debug", "whoami"],
        ["whoami", "--verbosity", "debug"],
        ["--verbosity=info", "deployment", "list", "-o", "json"],
        ["deployment", "inspect", "{dep}", "--verbosity", "WARN", "-o", "json"],
        ["--verbosity", "debug", "--version"],
    ],
)
def test_verbosity_is_accepted_anywhere(world: World, args: list[str]) -> None:
    """Astro's root --verbosity, before or after the command; keyplane has no log to tune."""
    done = ok(world.run(*(arg.format(dep=world.dep) for arg in args)))
    assert done.stdout and "verbosity" not in done.stderr


def test_an_unknown_verbosity_is_refused(world: World) -> None:
    refused = world.run("--verbosity", "loud", "whoami")
    assert refused.code == 2 and "give one of panic, fatal, error" in refused.stderr
