"""What the scale benchmarks share: a fresh PostgreSQL database, servers, results.

Servers are real ``keyplane server`` processes on loopback; the database is a new
one next to ``KEYPLANE_BENCH_DATABASE_URL`` (default: the local PostgreSQL), dropped
afterwards. Figures are merged into ``bench/results.json`` under one key per bench.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
BASE_URL = os.environ.get(
    "KEYPLANE_BENCH_DATABASE_URL",
    os.environ.get(
        "KEYPLANE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)
REDIS_URL = os.environ.get("KEYPLANE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Cluster:
    database_url: str
    data_dir: Path
    org_id: str
    owner_token: str
    servers: list[Server]

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.data_dir),
            "KEYPLANE_DATABASE_URL": self.database_url,
            "KEYPLANE_DATA_DIR": str(self.data_dir),
            "KEYPLANE_AUTH_FAILURE_LIMIT_PER_MINUTE": "100000",
            "KEYPLANE_ACCESS_LOG": "false",
            "KEYPLANE_LOG_LEVEL": "WARNING",
            **extra,
        }

    def start(self, workers: int = 1, **settings: str) -> Server:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "keyplane", "server", "--port", str(port),
             "--workers", str(workers)],
            env=self.env(KEYPLANE_PUBLIC_URL=f"http://127.0.0.1:{port}", **settings),
            stdout=subprocess.DEVNULL,
            stderr=(self.data_dir / f"server-{port}.log").open("wb"),
        )  # fmt: skip
        server = Server(f"http://127.0.0.1:{port}", process)
        self.servers.append(server)
        _wait_ready(server)
        return server

    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}"}


@contextmanager
def cluster() -> Iterator[Cluster]:
    """A bootstrapped organization on a fresh database; servers are stopped afterwards."""
    name = f"kp_bench_{secrets.token_hex(4)}"
    admin = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{BASE_URL.rpartition('/')[0]}/{name}"
    data_dir = Path(tempfile.mkdtemp(prefix="keyplane-bench-"))
    made = Cluster(url, data_dir, "", "", [])
    try:
        done = subprocess.run(
            [sys.executable, "-m", "keyplane", "admin", "init", "--organization", "bench",
             "--email", "owner@bench.example", "--output", "json"],
            env=made.env(), capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        boot = json.loads(done.stdout)
        made.org_id, made.owner_token = boot["organizationId"], boot["token"]
        yield made
    finally:
        for server in made.servers:
            server.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


def machine() -> dict[str, object]:
    """Where the figures came from, and how busy it was when they were taken."""
    load = os.getloadavg()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1m_at_start": round(load[0], 2),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def merge_results(key: str, figures: dict[str, object]) -> None:
    """Write ``figures`` under ``key`` in bench/results.json, keeping the other keys."""
    current: dict[str, object] = {}
    if RESULTS.exists():
        current = json.loads(RESULTS.read_text())
    current[key] = figures
    RESULTS.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: Server, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"keyplane server exited with {server.process.returncode}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"keyplane server not ready after {timeout} s")
