"""``make run`` is for a person at a terminal: it logs in the text format (issue 11, 28)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_starts_the_server_with_text_logs():
    done = subprocess.run(
        ["make", "-n", "run"], cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    server = done.stdout[done.stdout.index("KEYPLANE_PUBLIC_URL") :]
    assert "KEYPLANE_LOG_FORMAT=${KEYPLANE_LOG_FORMAT:-text}" in server
    assert "keyplane server" in server
    assert "admin token create" in done.stdout  # says how to recover a lost owner token


def test_a_second_start_says_the_token_was_shown_on_the_first(tmp_path: Path) -> None:
    """`make run`'s first step, twice: the second start has no token to show, and its
    hint does not point "above" at one."""
    import os
    import sys

    env = {"PATH": os.environ["PATH"], "KEYPLANE_DATA_DIR": str(tmp_path),
           "KEYPLANE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}  # fmt: skip
    init = [sys.executable, "-m", "keyplane", "admin", "init", "--organization", "demo",
            "--email", "admin@example.com", "--if-empty"]  # fmt: skip
    first = subprocess.run(init, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "kpo_" in first.stdout
    again = subprocess.run(init, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "kpo_" not in again.stdout + again.stderr
    assert "printed on the first start" in again.stderr
    plan = subprocess.run(
        ["make", "-n", "run"], cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    assert "token above" not in plan.stdout and "once on the first start" in plan.stdout
