"""A GitHub Actions job with no secret deploys, as a CI job runs: real processes only.

A ``keyplane server`` lists a local OIDC issuer (tests/workload_issuer.py, over http)
in ``KEYPLANE_FEDERATION_ISSUERS``; the owner makes a workload identity with the CLI
for one deployment (DEPLOYMENT_ADMIN, pinned to the repository's id and to
``refs/heads/main``). The issuer also plays GitHub's ``ACTIONS_ID_TOKEN_REQUEST_URL``
endpoint. Each job step is the installed ``keyplane`` command, with an environment of
``KEYPLANE_URL``, ``KEYPLANE_WORKLOAD_IDENTITY``, the two GitHub variables and PATH,
HOME (fresh per job) and RUNNER_TEMP, and nothing else: no token, no key pair, no
stored login. The tests check what the job's user sees.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keyplane.client import KeyplaneClient
from tests.e2e.conftest import Result, Server, running_server
from tests.workload_issuer import (
    REPOSITORY,
    REPOSITORY_ID,
    REQUEST_PATH,
    WorkloadIssuer,
    github_claims,
    running_issuer,
)

pytestmark = pytest.mark.e2e
KEYPLANE = str(Path(sys.executable).parent / "keyplane")  # the installed command


@dataclass
class Ci:
    server: Server
    issuer: WorkloadIssuer
    identity: str
    deployment: str
    other: str  # a deployment in the same workspace, outside the identity's role
    owner: KeyplaneClient = field(repr=False)

    def job(self, home: Path, *args: str) -> Result:
        """One step of a job whose home (and runner temp dir) is ``home``."""
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{Path(KEYPLANE).parent}:/usr/bin:/bin",
            "HOME": str(home),
            "RUNNER_TEMP": str(home / "runner-temp"),
            "KEYPLANE_URL": self.server.url,
            "KEYPLANE_WORKLOAD_IDENTITY": self.identity,
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.issuer.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.issuer.request_token,
        }
        done = subprocess.run(
            [KEYPLANE, *args], env=env, cwd=home, capture_output=True, text=True, timeout=60
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def deploys(self) -> list[dict[str, Any]]:
        return self.owner.list_deploys(self.server.acme.org_id, self.deployment, limit=100)


@pytest.fixture(scope="module")
def ci(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ci]:
    with (
        running_issuer() as issuer,
        running_server(
            database_url, tmp_path_factory, KEYPLANE_FEDERATION_ISSUERS=issuer.url
        ) as server,
        KeyplaneClient(server.url, server.acme.owner_token) as owner,
    ):
        org = server.acme.org_id
        ws = owner.create_workspace(org, "pipelines")["id"]
        deployment = owner.create_deployment(org, ws, "prod")["id"]
        other = owner.create_deployment(org, ws, "staging")["id"]
        made = server.cli(
            "organization", "workload-identity", "create", "--name", "deploy prod from main",
            "--issuer", issuer.url, "--condition", f"repository_id={REPOSITORY_ID}",
            "--condition", "ref=refs/heads/main", "--deployment-id", deployment,
            "--role", "DEPLOYMENT_ADMIN", "-o", "json", token=server.acme.owner_token,
        )  # fmt: skip
        assert made.code == 0, made.stderr
        identity = made.json()
        assert isinstance(identity, dict) and identity["audience"] == server.url
        yield Ci(server, issuer, identity["id"], deployment, other, owner)


@pytest.fixture
def dev_branch_job(ci: Ci) -> Iterator[None]:
    """Another job (its own request token) of the same repository, on refs/heads/dev."""
    claims, request_token = ci.issuer.job_claims, ci.issuer.request_token
    ci.issuer.job_claims = github_claims(ref="refs/heads/dev")
    ci.issuer.request_token = "request-token-of-the-dev-job"
    yield
    ci.issuer.job_claims, ci.issuer.request_token = claims, request_token


def project(root: Path) -> Path:
    for name, text in {"dags/etl.py": "from airflow import DAG\n", "requirements.txt": ""}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_job_deploys_to_its_deployment_with_no_secret(ci: Ci, tmp_path: Path) -> None:
    asked = ci.issuer.hits[REQUEST_PATH]

    done = ci.job(tmp_path, "deploy", str(project(tmp_path / "project")),
                  "--description", "run 5000000001")  # fmt: skip

    assert done.code == 0, done.stderr
    deploy_id = done.stdout.strip()
    assert f"deployed to {ci.deployment} as deploy prod from main: deploy {deploy_id}" in (
        done.stderr
    )
    [deploy] = [d for d in ci.deploys() if d["id"] == deploy_id]
    assert deploy["description"] == "run 5000000001"
    assert deploy["createdBy"]["kind"] == "WORKLOAD_IDENTITY"
    assert deploy["createdBy"]["id"] == ci.identity
    assert ci.issuer.requested_audiences[-1] == ci.server.url  # the identity's audience

    # The job's next step reuses the access token: no new ID token, no new exchange.
    listed = ci.job(tmp_path, "deploy", "list", "-o", "json")
    assert listed.code == 0, listed.stderr
    assert deploy_id in [d["id"] for d in json.loads(listed.stdout)]
    assert ci.issuer.hits[REQUEST_PATH] == asked + 1
    (cached,) = (tmp_path / "runner-temp" / "keyplane" / "access-tokens").iterdir()
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert ci.issuer.request_token not in cached.read_text()
    assert not (tmp_path / ".config").exists()  # nothing kept outside the runner's temp dir


def test_whoami_names_the_identity_and_the_claims_it_matched(ci: Ci, tmp_path: Path) -> None:
    done = ci.job(tmp_path, "whoami", "-o", "json")
    assert done.code == 0, done.stderr
    me = json.loads(done.stdout)
    assert me["kind"] == "WORKLOAD_IDENTITY" and me["id"] == ci.identity
    assert me["workloadIdentity"]["name"] == "deploy prod from main"
    claims = me["workloadIdentity"]["claims"]
    assert claims["repository"] == REPOSITORY
    assert claims["ref"] == "refs/heads/main"
    assert claims["environment"] == "production"
    assert me["roles"] == [
        {"entityType": "DEPLOYMENT", "entityId": ci.deployment, "role": "DEPLOYMENT_ADMIN"}
    ]
    assert me["credentialSource"] == (
        "KEYPLANE_WORKLOAD_IDENTITY (ID token from ACTIONS_ID_TOKEN_REQUEST_URL)"
    )

    table = ci.job(tmp_path, "whoami")
    assert table.code == 0, table.stderr
    assert f"deploy prod from main ({ci.identity})" in table.stdout
    for value in (REPOSITORY, "refs/heads/main", "production"):
        assert value in table.stdout
    assert "no secret is stored anywhere" in table.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("deployment", "delete", "--deployment-id", "{deployment}"), 4,
         "missing permission deployment:delete"),
        (("workspace", "create", "--name", "sneaky"), 4, "missing permission workspace:create"),
        (("organization", "token", "create", "--name", "sneaky", "--role",
          "ORGANIZATION_OWNER"), 4,
         "missing permission organization.tokens:manage"),
        (("deploy", "{project}", "--deployment-id", "{other}"), 5, "not found"),
    ],
    ids=["delete-its-deployment", "create-a-workspace", "mint-a-token", "deploy-elsewhere"],
)  # fmt: skip
def test_the_job_cannot_act_outside_its_role(
    ci: Ci, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    where = {"deployment": ci.deployment, "other": ci.other,
             "project": str(project(tmp_path / "project"))}  # fmt: skip

    done = ci.job(tmp_path, *(arg.format(**where) for arg in args))

    assert done.code == code, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


def test_a_job_on_another_ref_is_refused_naming_the_condition_and_the_fix(
    ci: Ci, tmp_path: Path, dev_branch_job: None
) -> None:
    before = len(ci.deploys())

    done = ci.job(tmp_path, "deploy", str(project(tmp_path / "project")))

    assert done.code == 3, done.stderr
    assert "(condition ref)" in done.stderr and "'refs/heads/dev'" in done.stderr
    assert f"workload-identity inspect {ci.identity}" in done.stderr
    assert "--condition CLAIM=VALUE" in done.stderr  # the fix: which ref, or change it
    assert ci.issuer.request_token not in done.stderr
    assert "eyJ" not in done.stderr  # no ID token (a JWT) is ever printed
    assert len(ci.deploys()) == before
    assert not (tmp_path / "runner-temp" / "keyplane" / "access-tokens").exists()
