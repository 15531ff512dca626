"""How fast the CLI starts: each command as a whole process, beside ``python -c pass``.

A CI job runs ``keyplane`` many times; each start is paid every time. Measured, in
turn so that drift in the machine's speed hits all alike, after warm-up runs (which
also write the bytecode caches a real install has):

- ``python -c pass``: the interpreter alone, the floor;
- ``keyplane --version`` (target: 60 ms), ``keyplane --help`` and
  ``keyplane deployment token create --help`` (target: 250 ms);
- ``keyplane whoami`` against a local server on an SQLite database (target: 250 ms).

Figures are medians (and min, max) in milliseconds over ``KEYPLANE_BENCH_CLI_RUNS``
rounds (default 21). The console script is the one next to this Python.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RUNS = int(os.environ.get("KEYPLANE_BENCH_CLI_RUNS", "21"))
WARMUP = 3
TARGETS_MS = {"version": 60, "help": 250, "subcommand_help": 250, "whoami": 250}


def keyplane() -> str:
    script = Path(sys.executable).with_name("keyplane")
    return str(script) if script.exists() else shutil.which("keyplane") or "keyplane"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for name in ("ASTRO_API_TOKEN", "ASTRONOMER_KEY_ID", "ASTRONOMER_KEY_SECRET"):
        env.pop(name, None)
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_server() -> Iterator[tuple[str, str]]:
    """A ``keyplane server`` on SQLite; yields its URL and an owner token."""
    data = Path(tempfile.mkdtemp(prefix="kp-bench-cli-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(
        HOME=str(data),
        KEYPLANE_DATABASE_URL=f"sqlite:///{data / 'keyplane.db'}",
        KEYPLANE_DATA_DIR=str(data),
        KEYPLANE_PUBLIC_URL=url,
        KEYPLANE_ACCESS_LOG="false",
        KEYPLANE_LOG_LEVEL="WARNING",
    )
    init = subprocess.run(
        [keyplane(), "admin", "init", "--organization", "bench", "--email",
         "owner@bench.example", "--output", "json"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    token = json.loads(init.stdout)["token"]
    log = (data / "server.log").open("wb")
    server = subprocess.Popen(
        [keyplane(), "server", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield url, token
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False, timeout=60)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return elapsed * 1000


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }


def main() -> dict[str, Any]:
    with local_server() as (url, token):
        api = clean_env(KEYPLANE_URL=url, ASTRO_API_TOKEN=token)
        plain = clean_env()
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "python_pass": ([sys.executable, "-c", "pass"], plain),
            "version": ([keyplane(), "--version"], plain),
            "help": ([keyplane(), "--help"], plain),
            "subcommand_help": ([keyplane(), "deployment", "token", "create", "--help"], plain),
            "whoami": ([keyplane(), "whoami"], api),
        }
        for argv, env in commands.values():
            for _ in range(WARMUP):
                timed(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):  # in turn: A B C … A B C …
            for name, (argv, env) in commands.items():
                samples[name].append(timed(argv, env))
    figures: dict[str, Any] = {name: summary(values) for name, values in samples.items()}
    floor = figures["python_pass"]["median_ms"]
    for name, target in TARGETS_MS.items():
        figures[name]["target_ms"] = target
        figures[name]["over_python_ms"] = round(figures[name]["median_ms"] - floor, 1)
    figures["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "runs": RUNS,
    }
    for name, row in figures.items():
        if name != "machine":
            print(f"   {name:<16} median {row['median_ms']:7.1f} ms "
                  f"(min {row['min_ms']:.1f}, max {row['max_ms']:.1f})")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
