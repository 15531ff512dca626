"""The benchmarks find what they need from the repository, wherever it is checked out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_no_benchmark_names_an_absolute_path_of_this_machine():
    for source in (REPOSITORY / "bench").glob("*.py"):
        assert "/work/" not in source.read_text(), source


def test_the_peer_is_found_beside_the_repository(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KEYPLANE_PEER_DIR"}
    env["PYTHONPATH"] = str(REPOSITORY)
    done = subprocess.run(
        [sys.executable, "-c", "import bench.token_endpoint as b; print(b.PEER_SOURCE)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert Path(done.stdout.strip()) == REPOSITORY.parent / "shared" / "peers" / "oidc-provider"
