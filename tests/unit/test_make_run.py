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
