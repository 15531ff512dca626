"""A CI job that has only KEYPLANE_URL, ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET.

A real server process; the job is a shell script run with nothing else in its
environment (PATH to find ``keyplane``, HOME for the CLI's cache). It records what
each command did; the test checks what a deployment API key can and cannot do, that
the access token is cached in a 0600 file and reused, the one-line deprecation
warning, and that deleting the key stops the next run. Then the owner migrates the
remaining key to a deployment API token.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keyplane.client import KeyplaneClient
from tests.e2e.conftest import Result, Server

pytestmark = pytest.mark.e2e

SCRIPT = """#!/bin/sh
# What a CI job runs. It knows the deployment it deploys to, and nothing else.
set -u
run() {
    name=$1; shift
    "$@" >"out/$name.out" 2>"out/$name.err"
    echo "$name $?"
}
mkdir -p out
run whoami keyplane whoami -o json
run inspect keyplane deployment inspect -o json
run update keyplane deployment update --description "deployed by CI" -o json
run list keyplane deployment list -o json
run keys keyplane deployment api-key list -o json
run delete keyplane deployment delete --deployment-id "$DEPLOYMENT"
run other keyplane deployment inspect --deployment-id "$OTHER"
run workspace keyplane workspace create --name sneaky
"""


def run_job(server: Server, home: Path, key: dict, deployment: str, other: str) -> dict[str, int]:
    script = home / "ci.sh"
    script.write_text(SCRIPT)
    bindir = Path(sys.executable).parent
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "HOME": str(home),
        "KEYPLANE_URL": server.url,
        "ASTRONOMER_KEY_ID": key["id"],
        "ASTRONOMER_KEY_SECRET": key["secret"],
        "DEPLOYMENT": deployment,
        "OTHER": other,
    }
    done = subprocess.run(
        ["sh", str(script)], cwd=home, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return {line.split()[0]: int(line.split()[1]) for line in done.stdout.splitlines()}


def output(home: Path, name: str, stream: str = "out") -> str:
    return (home / "out" / f"{name}.{stream}").read_text()


def test_ci_job_with_a_deployment_api_key(server: Server, tmp_path: Path) -> None:
    org = server.acme.org_id
    with KeyplaneClient(server.url, server.acme.owner_token) as owner:
        ws = owner.create_workspace(org, "ci-keys")["id"]
        dep = owner.create_deployment(org, ws, "prod")["id"]
        other = owner.create_deployment(org, ws, "other")["id"]
    made = server.cli(
        "deployment", "api-key", "create", "--name", "github", "--deployment-id", dep,
        "-o", "json", token=server.acme.owner_token,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    key = made.json()
    assert key["secret"].startswith("kpk_")
    assert "deprecated" in made.stderr

    codes = run_job(server, tmp_path, key, dep, other)
    assert codes == {
        "whoami": 0, "inspect": 0, "update": 0, "list": 0, "keys": 0,
        "delete": 4, "other": 5, "workspace": 4,
    }  # fmt: skip
    me = json.loads(output(tmp_path, "whoami"))
    assert me["kind"] == "DEPLOYMENT_KEY" and me["id"] == key["id"]
    assert me["credentialSource"] == "ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET"
    assert json.loads(output(tmp_path, "inspect"))["id"] == dep  # its deployment by default
    assert json.loads(output(tmp_path, "update"))["description"] == "deployed by CI"
    assert [d["id"] for d in json.loads(output(tmp_path, "list"))] == [dep]
    assert [k["id"] for k in json.loads(output(tmp_path, "keys"))] == [key["id"]]
    assert "deployment:delete" in output(tmp_path, "delete", "err")
    assert "not found" in output(tmp_path, "other", "err")
    warning = [line for line in output(tmp_path, "whoami", "err").splitlines() if line.strip()]
    assert len(warning) == 1
    assert "deprecated" in warning[0] and "keyplane deployment api-key migrate" in warning[0]

    # One exchange, cached 0600 under the config dir, without the secret.
    (cached,) = (tmp_path / ".config" / "keyplane" / "access-tokens").iterdir()
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert key["secret"] not in cached.read_text()
    token = json.loads(cached.read_text())["accessToken"]
    codes = run_job(server, tmp_path, key, dep, other)
    assert codes["whoami"] == 0
    assert json.loads(cached.read_text())["accessToken"] == token

    # Deleting the key ends the job's access at once, cached access token included.
    gone = server.cli(
        "deployment", "api-key", "delete", key["id"], "--deployment-id", dep,
        token=server.acme.owner_token,
    )  # fmt: skip
    assert gone.code == 0, gone.stderr
    codes = run_job(server, tmp_path, key, dep, other)
    assert set(codes.values()) == {3}
    assert "ASTRONOMER_KEY_ID" in output(tmp_path, "whoami", "err")


def _keys_in_a_new_workspace(owner: KeyplaneClient, org: str, name: str) -> tuple[str, list[str]]:
    ws = owner.create_workspace(org, name)["id"]
    deps = [owner.create_deployment(org, ws, dep)["id"] for dep in ("a", "b")]
    for dep in deps:
        owner.create_api_key(org, dep, f"key-{dep}")
    return ws, deps


def _on_a_terminal(server: Server, *args: str, typed: str, token: str) -> Result:
    """The CLI with its standard input on a pseudo-terminal, where ``typed`` is typed."""
    main, child = pty.openpty()
    try:
        os.write(main, typed.encode())
        return server.cli(*args, token=token, terminal=child)
    finally:
        os.close(child)
        os.close(main)


def _tokens_on(owner: KeyplaneClient, org: str, deps: list[str]) -> list[dict]:
    return [t for dep in deps for t in owner.list_tokens(org, deployment_id=dep)]


def _unchanged(owner: KeyplaneClient, org: str, deps: list[str]) -> bool:
    return all(owner.list_api_keys(org, dep) for dep in deps) and not _tokens_on(owner, org, deps)


def test_migrate_keys_to_deployment_tokens(server: Server, tmp_path: Path) -> None:
    org, owner_token = server.acme.org_id, server.acme.owner_token
    migrate = ("deployment", "api-key", "migrate")
    with KeyplaneClient(server.url, owner_token) as owner:
        ws, deps = _keys_in_a_new_workspace(owner, org, "migrating")
        keys = [k for dep in deps for k in owner.list_api_keys(org, dep)]

        dry = server.cli(*migrate, "--workspace-id", ws, "--dry-run", "-o", "json",
                         token=owner_token)  # fmt: skip
        assert dry.code == 0, dry.stderr
        assert {item["keyId"] for item in dry.json()} == {k["id"] for k in keys}
        assert "dry run: nothing changed" in dry.stderr
        assert _unchanged(owner, org, deps)
        dry_yaml = server.cli(*migrate, "--workspace-id", ws, "--dry-run", "-o", "yaml",
                              token=owner_token)  # fmt: skip
        assert dry_yaml.code == 0, dry_yaml.stderr
        assert yaml.safe_load(dry_yaml.stdout) == dry.json()

        done = server.cli(*migrate, "--workspace-id", ws, "--yes", "-o", "json",
                          token=owner_token)  # fmt: skip
        assert done.code == 0, done.stderr
        migrated = done.json()
        assert {item["deploymentId"] for item in migrated} == set(deps)
        assert not any(owner.list_api_keys(org, dep) for dep in deps)
        assert len(_tokens_on(owner, org, deps)) == len(keys)

        again = server.cli(*migrate, "--workspace-id", ws, "--yes", token=owner_token)
        assert again.code == 0, again.stderr
        assert "no deployment API keys to migrate" in again.stderr
        none_yaml = server.cli(*migrate, "--workspace-id", ws, "-o", "yaml", token=owner_token)
        assert none_yaml.code == 0, none_yaml.stderr
        assert yaml.safe_load(none_yaml.stdout) == []
        assert len(_tokens_on(owner, org, deps)) == len(keys)  # none minted twice
    for item in migrated:
        me = server.cli("whoami", "-o", "json", token=item["token"])
        assert me.code == 0, me.stderr
        assert me.json()["kind"] == "DEPLOYMENT_TOKEN"
        assert me.json()["roles"] == [
            {
                "entityType": "DEPLOYMENT",
                "entityId": item["deploymentId"],
                "role": "DEPLOYMENT_ADMIN",
            }
        ]


def test_migrate_changes_nothing_unless_confirmed(server: Server) -> None:
    org, owner_token = server.acme.org_id, server.acme.owner_token
    migrate = ("deployment", "api-key", "migrate")
    with KeyplaneClient(server.url, owner_token) as owner:
        ws, deps = _keys_in_a_new_workspace(owner, org, "declining")

        declined = _on_a_terminal(server, *migrate, "--workspace-id", ws, typed="n\n",
                                  token=owner_token)  # fmt: skip
        assert declined.code == 1, declined.stderr
        assert "declined" in declined.stderr and "nothing changed" in declined.stderr
        assert "kpd_" not in declined.stdout + declined.stderr
        assert _unchanged(owner, org, deps)

        headless = server.cli(*migrate, "--workspace-id", ws, token=owner_token,
                              stdin="")  # fmt: skip
        assert headless.code == 2, headless.stderr
        assert "no terminal" in headless.stderr and "--yes" in headless.stderr
        assert "kpd_" not in headless.stdout + headless.stderr
        assert _unchanged(owner, org, deps)

        accepted = _on_a_terminal(server, *migrate, "--workspace-id", ws, typed="y\n",
                                  token=owner_token)  # fmt: skip
        assert accepted.code == 0, accepted.stderr
        assert accepted.stdout.count("kpd_") == len(deps)  # each new value, shown once
        assert not any(owner.list_api_keys(org, dep) for dep in deps)
