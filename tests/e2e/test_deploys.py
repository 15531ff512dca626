"""A CI job deploys a project with nothing but KEYPLANE_URL and ASTRO_API_TOKEN; the audit
log then says who deployed what with which token. Real server process, real CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    Tenant,
    bootstrap,
    free_port,
    server_env,
    wait_ready,
)

pytestmark = pytest.mark.e2e
LIMIT = 400_000  # KEYPLANE_DEPLOY_MAX_BYTES for this server
BIN = str(Path(sys.executable).parent)


@dataclass
class Setup:
    url: str
    database_url: str
    data_dir: Path
    acme: Tenant
    globex: Tenant
    ws1: str
    ws2: str
    deployment: str

    def api(self, method: str, path: str, token: str, **kwargs: object) -> httpx.Response:
        return httpx.request(
            method, f"{self.url}/v1/organizations/{self.acme.org_id}{path}",
            headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs,
        )  # fmt: skip

    def token(self, name: str, scope: str, entity: str, role: str) -> tuple[str, str]:
        body = {"name": name, "scope": scope, "entityId": entity, "role": role}
        answer = self.api("POST", "/tokens", self.acme.owner_token, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"], answer.json()["token"]


@pytest.fixture(scope="module")
def setup(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    data_dir = tmp_path_factory.mktemp("deploy-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**server_env(database_url, data_dir, url), "KEYPLANE_DEPLOY_MAX_BYTES": str(LIMIT)}
    acme, globex = bootstrap(env, "acme"), bootstrap(env, "globex")
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "server", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_ready(url, process)
        s = Setup(url, database_url, data_dir, acme, globex, "", "", "")
        s.ws1 = s.api("POST", "/workspaces", acme.owner_token, json={"name": "data"}).json()["id"]
        s.ws2 = s.api("POST", "/workspaces", acme.owner_token, json={"name": "ml"}).json()["id"]
        body = {"name": "prod", "workspaceId": s.ws1}
        s.deployment = s.api("POST", "/deployments", acme.owner_token, json=body).json()["id"]
        yield s
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def sample_project(root: Path) -> Path:
    files = {
        "dags/etl.py": "from airflow import DAG\n",
        "include/sql/load.sql": "select 1;\n",
        "requirements.txt": "pandas\n",
        "logs/scheduler.log": "noise\n",
        "secrets/dev.env": "PASSWORD=hunter2\n",
        "dags/__pycache__/etl.cpython-311.pyc": "bytecode",
        ".keyplaneignore": "*.log\nsecrets/\n__pycache__/\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


CI_SCRIPT = """#!/bin/sh
# What a CI job runs: only KEYPLANE_URL and ASTRO_API_TOKEN come from the environment.
set -eu
keyplane deploy "$1" --deployment-id "$2" --description "build 1234 of main"
"""


def run_ci(tmp_path: Path, setup: Setup, token: str, project: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "ci.sh"
    script.write_text(CI_SCRIPT)
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KEYPLANE_URL": setup.url,
        "ASTRO_API_TOKEN": token,
    }
    return subprocess.run(
        ["sh", str(script), str(project), setup.deployment],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_ci_job_deploys_and_the_audit_log_says_who(setup: Setup, tmp_path: Path) -> None:
    token_id, token = setup.token("github-actions", "WORKSPACE", setup.ws1, "WORKSPACE_AUTHOR")
    project = sample_project(tmp_path / "project")
    done = run_ci(tmp_path, setup, token, project)
    assert done.returncode == 0, done.stderr
    deploy_id = done.stdout.strip()
    assert deploy_id and "\n" not in deploy_id

    # The deployment's runtime fetches exactly the project minus .keyplaneignore.
    _, runtime_token = setup.token("runtime", "DEPLOYMENT", setup.deployment, "DEPLOYMENT_ADMIN")
    bundle = setup.api(
        "GET", f"/deployments/{setup.deployment}/deploys/{deploy_id}/bundle", runtime_token
    )
    assert bundle.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(bundle.content), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == [
            ".keyplaneignore",
            "dags/etl.py",
            "include/sql/load.sql",
            "requirements.txt",
        ]
    digest = hashlib.sha256(bundle.content).hexdigest()

    # The owner reads the audit log: this deploy, by this token, with these bytes.
    events = setup.api(
        "GET", "/audit-logs", setup.acme.owner_token, params={"action": "deploy.create"}
    ).json()["auditLogs"]
    [event] = [e for e in events if e["target"]["id"] == deploy_id]
    assert event["actor"] == {
        "kind": "WORKSPACE_TOKEN",
        "id": token_id,
        "name": "github-actions",
        "credentialFingerprint": hashlib.sha256(token.encode()).hexdigest(),
    }
    assert event["outcome"] == "success"
    assert event["details"]["digest"] == f"sha256:{digest}"
    assert event["details"]["description"] == "build 1234 of main"
    assert event["details"]["params"]["deploymentId"] == setup.deployment
    assert event["userAgent"].startswith("keyplane-cli/")

    # The same, from the CLI, as the owner.
    listed = subprocess.run(
        [sys.executable, "-m", "keyplane", "audit", "list", "--action", "deploy.create",
         "--target-id", deploy_id, "--output", "json"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KEYPLANE_URL": setup.url,
             "ASTRO_API_TOKEN": setup.acme.owner_token},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert '"name": "github-actions"' in listed.stdout
    inspect = subprocess.run(
        [sys.executable, "-m", "keyplane", "deploy", "inspect", deploy_id,
         "--deployment-id", setup.deployment],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KEYPLANE_URL": setup.url,
             "ASTRO_API_TOKEN": token},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert inspect.returncode == 0 and "github-actions" in inspect.stdout
    # By name, as `keyplane deploy` itself takes it.
    by_name = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KEYPLANE_URL": setup.url,
               "ASTRO_API_TOKEN": token}  # fmt: skip
    for command in (["list"], ["inspect", deploy_id]):
        named = subprocess.run(
            [sys.executable, "-m", "keyplane", "deploy", *command, "--deployment-name", "prod",
             "--output", "json"],
            env=by_name, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert named.returncode == 0, named.stderr
        found = json.loads(named.stdout)
        assert deploy_id in ([d["id"] for d in found] if command == ["list"] else [found["id"]])


@pytest.mark.parametrize(
    ("scope", "where", "role", "code", "message"),
    [
        ("WORKSPACE", "ws1", "WORKSPACE_MEMBER", 4, "missing permission deployment:deploy"),
        ("WORKSPACE", "ws2", "WORKSPACE_AUTHOR", 5, "not found"),
    ],
)
def test_refused_ci_jobs(setup: Setup, tmp_path: Path, scope, where, role, code, message) -> None:
    _, token = setup.token(f"ci-{role}", scope, getattr(setup, where), role)
    done = run_ci(tmp_path, setup, token, sample_project(tmp_path / "p"))
    assert done.returncode == code, done.stderr
    assert message in done.stderr


def test_an_unknown_deployment_is_refused_before_anything_is_packed(
    setup: Setup, tmp_path: Path
) -> None:
    """`keyplane deploy <typo>`, Astro's form, from the project folder."""
    _, token = setup.token("ci-typo", "WORKSPACE", setup.ws1, "WORKSPACE_AUTHOR")
    project = sample_project(tmp_path / "p")
    before = stored(setup)
    # One character off (never the id itself, whatever its last character is).
    typo = setup.deployment[:-1] + ("y" if setup.deployment.endswith("x") else "x")
    done = subprocess.run(
        [f"{BIN}/keyplane", "deploy", typo],
        cwd=project, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "KEYPLANE_URL": setup.url,
             "ASTRO_API_TOKEN": token},
    )  # fmt: skip
    assert done.returncode == 5, done.stderr
    assert "not found" in done.stderr
    assert "packed" not in done.stderr and "uploading" not in done.stderr
    assert stored(setup) == before


def test_a_token_from_another_organization_is_refused(setup: Setup, tmp_path: Path) -> None:
    done = run_ci(tmp_path, setup, setup.globex.owner_token, sample_project(tmp_path / "p"))
    assert done.returncode == 5 and "not found" in done.stderr


def stored(setup: Setup) -> list[str]:
    return sorted(p.name for p in (setup.data_dir / "bundles").rglob("*") if p.is_file())


def test_oversized_and_interrupted_uploads_leave_nothing(setup: Setup, tmp_path: Path) -> None:
    _, token = setup.token("ci-big", "WORKSPACE", setup.ws1, "WORKSPACE_AUTHOR")
    before = stored(setup)
    project = tmp_path / "big"
    (project / "data").mkdir(parents=True)
    (project / "data" / "blob.bin").write_bytes(os.urandom(LIMIT + 1000))
    done = run_ci(tmp_path, setup, token, project)
    assert done.returncode == 1
    assert f"bundle too large: the limit is {LIMIT} bytes" in done.stderr

    # A client that announces 300 kB, sends 100 kB and hangs up.
    host, port = setup.url.removeprefix("http://").split(":")
    path = f"/v1/organizations/{setup.acme.org_id}/deployments/{setup.deployment}/deploys"
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/gzip\r\nContent-Length: 300000\r\n\r\n".encode()
            + b"\x1f\x8b"
            + os.urandom(100_000)
        )
    staging = setup.data_dir / "bundles" / ".staging"
    deadline = time.monotonic() + 10  # the server notices the hang-up on its own time
    while list(staging.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(staging.iterdir()) == []
    deploys = setup.api("GET", f"/deployments/{setup.deployment}/deploys", token).json()
    assert stored(setup) == before
    assert all(d["createdBy"]["name"] != "ci-big" for d in deploys["deploys"])


def _answer_while_sending(setup: Setup, token: str, length: int) -> tuple[bytes, bytes]:
    """Upload ``length`` bytes in two halves with a pause between; what the server
    had answered after the first half, and its whole answer after the second."""
    host, port = setup.url.removeprefix("http://").split(":")
    path = f"/v1/organizations/{setup.acme.org_id}/deployments/{setup.deployment}/deploys"
    body = b"\x1f\x8b" + os.urandom(length - 2)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/gzip\r\nContent-Length: {length}\r\n\r\n".encode()
            + body[: length // 2]
        )
        sock.settimeout(1.0)
        try:
            early = sock.recv(65536)
        except TimeoutError:
            early = b""
        sock.settimeout(10)
        sock.sendall(body[length // 2 :])
        answer = early
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return early, answer


@pytest.mark.parametrize(
    ("length", "good_token", "status", "says"),
    [
        (LIMIT + 50_000, True, 413, b"bundle too large"),  # refused by its declared size
        (200_000, False, 401, b"API token"),  # refused before a byte is read
    ],
)
def test_an_upload_refused_before_its_body_is_read_is_answered_once_it_is_sent(
    setup: Setup, length: int, good_token: bool, status: int, says: bytes
) -> None:
    """Answering and closing while the client still sends makes its kernel reset the
    connection, which can drop the answer (the CLI then said "connection refused"):
    the server reads the rest of the body first."""
    _, token = setup.token(f"ci-linger-{status}", "WORKSPACE", setup.ws1, "WORKSPACE_AUTHOR")
    early, answer = _answer_while_sending(setup, token if good_token else "kpw_" + "x" * 40, length)
    assert early == b""  # nothing while the body is still on its way
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert says in answer


def cli(setup: Setup, tmp_path: Path, token: str, *args: str, stdin: str = "") -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", *args],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KEYPLANE_URL": setup.url,
             "ASTRO_API_TOKEN": token},
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_variables_and_cicd_enforcement_from_the_cli(setup: Setup, tmp_path: Path) -> None:
    _, admin = setup.token("dep-admin", "DEPLOYMENT", setup.deployment, "DEPLOYMENT_ADMIN")
    code, out = cli(
        setup,
        tmp_path,
        admin,
        "deployment",
        "variable",
        "create",
        "--key",
        "DB_PASSWORD",
        "--secret",
        "--value-stdin",
        stdin="s3cret-value\n",
    )
    assert code == 0, out
    code, out = cli(
        setup,
        tmp_path,
        admin,
        "deployment",
        "variable",
        "create",
        "--key",
        "LOG_LEVEL",
        "--value",
        "debug",
    )
    assert code == 0, out
    code, out = cli(setup, tmp_path, admin, "deployment", "variable", "list")
    assert code == 0 and "LOG_LEVEL" in out and "debug" in out and "DB_PASSWORD" in out
    assert "s3cret-value" not in out and "<secret>" in out
    code, out = cli(setup, tmp_path, admin, "deployment", "update", "--cicd-enforcement")
    assert code == 0, out
    deployment = setup.api("GET", f"/deployments/{setup.deployment}", admin).json()
    assert deployment["isCicdEnforced"] is True
    # A token still deploys under enforcement; only personal logins are refused.
    done = run_ci(tmp_path, setup, admin, sample_project(tmp_path / "p"))
    assert done.returncode == 0, done.stderr
    code, out = cli(setup, tmp_path, admin, "deployment", "update", "--no-cicd-enforcement")
    assert code == 0, out


def test_audit_export_streams_json_lines(setup: Setup, tmp_path: Path) -> None:
    setup.token("ci-export", "WORKSPACE", setup.ws1, "WORKSPACE_MEMBER")  # one event at least
    target = tmp_path / "audit.jsonl"
    code, out = cli(
        setup,
        tmp_path,
        setup.acme.owner_token,
        "audit",
        "export",
        "--action",
        "token.*",
        "--to",
        str(target),
    )
    assert code == 0, out
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines and {line["action"] for line in lines} == {"token.create"}
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert f"exported {len(lines)} event(s)" in out


def test_the_chain_verifies_after_all_this(setup: Setup) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "audit", "verify"],
        env={"PATH": os.environ["PATH"], "KEYPLANE_DATABASE_URL": setup.database_url},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit chain intact" in done.stdout
