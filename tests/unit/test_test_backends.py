"""``make test`` with no variables uses PostgreSQL and Redis where they run locally, and
says in one line what it skipped and why (issue 11, item 26)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import LOCAL, _answers

REPOSITORY = Path(__file__).resolve().parents[2]


def _session(**variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in LOCAL}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/unit/test_bench_paths.py"],
        cwd=REPOSITORY, env={**env, **variables}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_without_variables_the_local_servers_are_used_when_they_answer():
    lines = [line for line in _session().splitlines() if "keyplane test backends" in line]
    assert lines, "no line says which backends run"
    for variable, url in LOCAL.items():
        if _answers(variable, url):
            assert f"at {url} (the local default" in lines[-1]
        else:
            assert f"SKIPPED: {variable} is unset and nothing answers at {url}" in lines[-1]


def test_an_empty_variable_skips_that_backend_and_says_so():
    out = _session(KEYPLANE_TEST_DATABASE_URL="", KEYPLANE_TEST_REDIS_URL="")
    summary = [line for line in out.splitlines() if "keyplane test backends" in line]
    assert len(summary) == 1  # -q hides the header: the summary still says it
    assert "PostgreSQL variants SKIPPED: KEYPLANE_TEST_DATABASE_URL is empty" in summary[-1]
    assert "Redis variants SKIPPED: KEYPLANE_TEST_REDIS_URL is empty" in summary[-1]
