"""Real processes: a ``keyplane server`` on a free port and the ``keyplane`` CLI against it.

One server per test module and backend (SQLite always; PostgreSQL when
``KEYPLANE_TEST_DATABASE_URL`` is set), bootstrapped with ``keyplane admin init`` like
an operator would. :func:`Cli.run` starts the CLI with only what a CI job would set.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from keyplane.db.session import make_engine, make_sessionmaker
from keyplane.db.unit import unit_of_work
from keyplane.tenancy.bootstrap import init_organization
from tests.conftest import BACKENDS, PG_URL, drop_postgres_database, fresh_postgres_database

pytestmark = pytest.mark.e2e
STARTUP_TIMEOUT = 30.0


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@dataclass
class Tenant:
    org_id: str
    owner_token: str


@dataclass
class Server:
    url: str
    database_url: str
    home: Path
    acme: Tenant
    globex: Tenant  # another tenant: its objects must answer "not found"

    def cli(
        self,
        *args: str,
        token: str | None = None,
        python: tuple[str, ...] = (),
        cwd: Path | None = None,
        stdin: str | None = None,
        terminal: int | None = None,
        **env: str,
    ) -> Result:
        """Run ``python -m keyplane ARGS`` with a CI job's environment and nothing else.

        ``stdin``: text piped to its standard input; ``terminal``: a file descriptor (a
        pseudo-terminal) to be its standard input instead."""
        clean = {"PATH": os.environ["PATH"], "HOME": str(self.home), "KEYPLANE_URL": self.url}
        if token is not None:
            clean["ASTRO_API_TOKEN"] = token
        clean.update(env)
        done = subprocess.run(
            [sys.executable, *python, "-m", "keyplane", *args],
            env=clean,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=cwd,
            input=stdin,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def cli_many(self, calls: list[tuple[list[str], dict[str, str]]]) -> list[Result]:
        """Several independent CLI runs at once (each is its own process); results in order.

        ``calls`` holds ``(args, env)`` pairs; ``env`` may set ``token``.
        """
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda call: self.cli(*call[0], **call[1]), calls))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, data_dir: Path, url: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(data_dir),
        "KEYPLANE_DATABASE_URL": database_url,
        "KEYPLANE_DATA_DIR": str(data_dir),
        "KEYPLANE_PUBLIC_URL": url,
        # The tests present bad credentials on purpose, all from 127.0.0.1.
        "KEYPLANE_AUTH_FAILURE_LIMIT_PER_MINUTE": "10000",
    }


def bootstrap(env: dict[str, str], organization: str) -> Tenant:
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "init", "--organization", organization,
         "--email", f"owner@{organization}.example", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return Tenant(answer["organizationId"], answer["token"])


def bootstrap_in_process(database_url: str, organization: str) -> Tenant:
    engine = make_engine(database_url)
    with unit_of_work(make_sessionmaker(engine)) as db:
        boot = init_organization(db, organization, f"owner@{organization}.example")
    engine.dispose()
    return Tenant(boot.organization_id, boot.token)


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"keyplane server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"keyplane server not ready after {STARTUP_TIMEOUT} s")


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'keyplane.db'}"
        return
    assert PG_URL
    url, name = fresh_postgres_database(PG_URL)
    yield url
    drop_postgres_database(PG_URL, name)


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(database_url, tmp_path_factory) as started:
        yield started


@contextmanager
def running_server(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    args: tuple[str, ...] = (),
    **settings: str,
) -> Iterator[Server]:
    """A bootstrapped ``keyplane server`` process until the block ends; ``settings`` are
    more KEYPLANE_* variables for it (a module's own fixture passes them), ``args``
    more options of ``keyplane server``."""
    data_dir = tmp_path_factory.mktemp("e2e-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**server_env(database_url, data_dir, url), **settings}
    acme = bootstrap(env, "acme")  # also migrates the database
    globex = bootstrap_in_process(database_url, "globex")  # saves starting one more process
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "server", "--port", str(port), *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(url, process)
        yield Server(url, database_url, tmp_path_factory.mktemp("e2e-home"), acme, globex)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a server process to stop, and kill it if it has not within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
