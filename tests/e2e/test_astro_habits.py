"""What a script written for the Astro CLI relies on beyond its command lines: an empty
value is a value, ``deploy`` leaves out what the project's ``.dockerignore`` lists, and
``variable list --save`` adds to the env file rather than replacing it.

Each test runs ``keyplane`` as a subprocess against one real server for the module and
reads the outcome back with the SDK, as tests/e2e/test_astro_forms.py does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keyplane.client import KeyplaneClient
from tests.e2e.conftest import Result, Server

pytestmark = pytest.mark.e2e


@dataclass
class World:
    server: Server
    sdk: KeyplaneClient
    org: str
    ws: str
    dep: str

    def run(self, *args: str, cwd: Path | None = None) -> Result:
        return self.server.cli(*args, token=self.server.acme.owner_token, cwd=cwd)


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    with KeyplaneClient(server.url, server.acme.owner_token) as sdk:
        org = server.acme.org_id
        ws = sdk.create_workspace(org, "habits-ws")["id"]
        dep = sdk.create_deployment(org, ws, "habits-dep")["id"]
        yield World(server, sdk, org, ws, dep)


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


# -- an empty value ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "where", "prefix"),
    [("deployment", "--deployment-id", "kpd_"), ("workspace", "--workspace-id", "kpw_")],
)
def test_an_empty_description_is_a_value(world: World, scope: str, where: str, prefix: str) -> None:
    entity = world.dep if scope == "deployment" else world.ws
    out = ok(world.run(scope, "token", "create", "-n", f"empty-{scope}", "-d", "", "-c",
                       where, entity)).stdout  # fmt: skip
    assert out.startswith(prefix) and out.count("\n") == 1  # the value only, as -c asks
    [made] = [t for t in world.sdk.list_tokens(world.org) if t["name"] == f"empty-{scope}"]
    assert made["description"] == ""


def test_an_empty_description_before_the_role(world: World) -> None:
    ok(world.run("workspace", "token", "create", "--name", "empty-then-role", "--description",
                 "", "--role", "WORKSPACE_AUTHOR", "--workspace-id", world.ws))  # fmt: skip
    [made] = [t for t in world.sdk.list_tokens(world.org) if t["name"] == "empty-then-role"]
    assert (made["description"], made["roles"][0]["role"]) == ("", "WORKSPACE_AUTHOR")


def test_a_flag_set_false_is_still_left_out(world: World) -> None:
    out = ok(world.run("organization", "token", "create", "--name", "eq-false",
                       "--clean-output=false")).stdout  # fmt: skip
    assert "eq-false" in out and out.count("\n") > 1  # the table, not the bare value


# -- deploy and .dockerignore --------------------------------------------------------------


def test_deploy_says_it_left_out_what_the_dockerignore_lists(world: World, tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "etl.py").write_text("from airflow import DAG\n")
    (tmp_path / ".env").write_text("AIRFLOW_CONN_PROD=postgres://admin:hunter2@db\n")
    (tmp_path / ".dockerignore").write_text(".env\nairflow_settings.yaml\n")
    done = ok(world.run("deploy", world.dep, cwd=tmp_path))
    assert "packed 2 file(s)" in done.stderr  # dags/etl.py and .dockerignore, not .env
    assert "leaving out what .dockerignore lists" in done.stderr


# -- variable list --save ------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\n", ""])
def test_variable_list_save_adds_to_the_env_file(world: World, tmp_path: Path, ending: str) -> None:
    dep = world.sdk.create_deployment(world.org, world.ws, f"save-{len(ending)}")["id"]
    world.sdk.create_variable(world.org, dep, "FOO", "bar")
    world.sdk.create_variable(world.org, dep, "TOKEN", "hidden", is_secret=True)
    env = tmp_path / ".env"
    env.write_text("# mine\nLOCAL_ONLY=1" + ending)
    ok(world.run("deployment", "variable", "list", "--deployment-id", dep, "--save",
                 "--env", str(env)))  # fmt: skip
    assert env.read_text() == "# mine\nLOCAL_ONLY=1\nFOO=bar\n"
