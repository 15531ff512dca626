"""The GitHub Action (action.yml): what it exports for the job's later steps, and that
its inputs cannot inject anything. The whole action, install included, runs in
tests/e2e/test_workload_ci.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.github_action import INPUT, Job, action

POINT = "Point the CLI"
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://runner.example/token?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
}


def job(tmp_path: Path, **env: str) -> Job:
    return Job(tmp_path, {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env})


def test_it_exports_the_server_and_the_identity(tmp_path: Path) -> None:
    ci = job(tmp_path, **GITHUB)
    (done,) = ci.use_action(POINT, url="https://kp.example.com", workload_identity="wid_1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ci.exported() == {
        "KEYPLANE_URL": "https://kp.example.com",
        "KEYPLANE_WORKLOAD_IDENTITY": "wid_1",
    }
    (done,) = ci.use_action(POINT, url="https://kp.example.com", audience="kp-prod")
    assert ci.exported()["KEYPLANE_OIDC_AUDIENCE"] == "kp-prod"


def test_without_id_token_permission_it_fails_saying_so(tmp_path: Path) -> None:
    ci = job(tmp_path)
    (done,) = ci.use_action(POINT, url="https://kp.example.com", workload_identity="wid_1")
    assert done.returncode == 1
    assert "::error::" in done.stdout and "permissions: id-token: write" in done.stdout
    assert "KEYPLANE_WORKLOAD_IDENTITY" not in ci.exported()


@pytest.mark.parametrize("evil", ["wid_1\nASTRO_API_TOKEN=kpo_stolen", "wid_1\rX=1"])
def test_an_input_cannot_add_variables_of_its_own(tmp_path: Path, evil: str) -> None:
    ci = job(tmp_path, **GITHUB)
    (done,) = ci.use_action(POINT, url="https://kp.example.com", workload_identity=evil)
    assert done.returncode == 1 and "line break" in done.stdout
    assert set(ci.exported()) == {"KEYPLANE_URL"}


def test_inputs_reach_the_scripts_only_through_env() -> None:
    for step in action()["runs"]["steps"]:
        assert not INPUT.search(step["run"]), step["name"]
        assert "${{" not in step["run"], step["name"]


def test_without_an_identity_it_only_installs_and_points_at_the_server(tmp_path: Path) -> None:
    ci = job(tmp_path)
    (done,) = ci.use_action(POINT, url="https://kp.example.com")
    assert done.returncode == 0
    assert ci.exported() == {"KEYPLANE_URL": "https://kp.example.com"}
