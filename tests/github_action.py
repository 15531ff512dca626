"""Run this repository's ``action.yml`` as GitHub's runner runs a composite action.

Enough of the runner for our own action, and no more: each step's ``run`` in bash
with its ``env`` (``${{ inputs.NAME }}`` filled in from the inputs and their
defaults), ``if:`` conditions made of ``inputs.NAME == '…'`` / ``!= '…'`` and
``&&``, and the files ``GITHUB_ENV`` and ``GITHUB_PATH``, whose lines reach every
later step of the job. Any other expression fails loudly, so the action cannot
outgrow what its tests check.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
INPUT = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
COMPARISON = re.compile(r"^inputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$")


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return loaded


@dataclass
class Job:
    """One job's runner: ``root`` holds its RUNNER_TEMP and its GITHUB_ENV/PATH files;
    ``env`` is what the runner gives every step (PATH, HOME, GitHub's variables)."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.root / "runner-temp").mkdir(parents=True, exist_ok=True)
        for name in ("github-env", "github-path"):
            (self.root / name).touch()

    def exported(self) -> dict[str, str]:
        """What steps wrote to GITHUB_ENV (``NAME=value`` lines)."""
        lines = (self.root / "github-env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line)

    def step_env(self) -> dict[str, str]:
        """A step's environment: the runner's, GITHUB_ENV's, GITHUB_PATH's entries first."""
        added = (self.root / "github-path").read_text().split()
        env = {
            **self.env,
            **self.exported(),
            "RUNNER_TEMP": str(self.root / "runner-temp"),
            "GITHUB_ENV": str(self.root / "github-env"),
            "GITHUB_PATH": str(self.root / "github-path"),
            "GITHUB_ACTION_PATH": str(ROOT),
        }
        env["PATH"] = os.pathsep.join([*reversed(added), self.env.get("PATH", os.defpath)])
        return env

    def use_action(
        self, only: str | None = None, **given: str
    ) -> list[subprocess.CompletedProcess[str]]:
        """``- uses: <this repository>`` with ``with:`` inputs; the steps that ran.

        Stops at the first step that fails, as the runner does. ``only``: run just the
        step whose name starts with it (a test of one step)."""
        spec = action()
        inputs = {name: str(i.get("default", "")) for name, i in spec["inputs"].items()}
        inputs.update({name.replace("_", "-"): value for name, value in given.items()})
        ran = []
        for step in spec["runs"]["steps"]:
            assert step["shell"] == "bash" and INPUT.search(step["run"]) is None
            if only and not step["name"].startswith(only):
                continue
            if "if" in step and not _holds(step["if"], inputs):
                continue
            env = {name: _fill(str(value), inputs) for name, value in step.get("env", {}).items()}
            done = self.run(step["run"], **env)
            ran.append(done)
            if done.returncode != 0:
                break
        return ran

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        """A ``run:`` step of the job (bash, like ``shell: bash``)."""
        return subprocess.run(
            ["bash", "-e", "-c", script],
            env={**self.step_env(), **env},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _fill(text: str, inputs: dict[str, str]) -> str:
    filled = INPUT.sub(lambda match: inputs[match.group(1)], text)
    assert "${{" not in filled, f"an expression the test runner does not know: {text}"
    return filled


def _holds(condition: str, inputs: dict[str, str]) -> bool:
    results = []
    for part in condition.split("&&"):
        match = COMPARISON.match(part.strip())
        assert match, f"an if: the test runner does not know: {condition}"
        name, operator, value = match.groups()
        results.append((inputs[name] == value) == (operator == "=="))
    return all(results)
