"""Two ``keyplane server`` processes on one PostgreSQL database, and the faults around them.

Every wait is bounded. PostgreSQL and Redis are restarted for real (the tests put
them back even when they fail); the processes talk over loopback only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, drop_postgres_database, fresh_postgres_database
from tests.e2e.conftest import Tenant, bootstrap, free_port, server_env
from tests.scanning import key_server, report_body

REDIS_URL = os.environ.get("KEYPLANE_TEST_REDIS_URL")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not PG_URL, reason="KEYPLANE_TEST_DATABASE_URL is not set: replica tests need PostgreSQL"
    ),
]
PG_VERSION = (
    next(iter(sorted(os.listdir("/etc/postgresql"))), "15")
    if Path("/etc/postgresql").is_dir()
    else "15"
)
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, headers=headers, timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@dataclass
class Cluster:
    database_url: str
    tenant: Tenant
    start: Callable[..., Replica]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh PostgreSQL database, bootstrapped, and a way to start replicas on it."""
    assert PG_URL
    url, name = fresh_postgres_database(PG_URL)
    base_env = server_env(url, tmp_path, "http://127.0.0.1")
    tenant = bootstrap(base_env, "acme")
    started: list[Replica] = []

    def start(workers: int = 1, **settings: str) -> Replica:
        port = free_port()
        env = {**base_env, "KEYPLANE_PUBLIC_URL": f"http://127.0.0.1:{port}", **settings}
        log = tmp_path / f"replica-{port}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keyplane",
                "server",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        replica = Replica(f"http://127.0.0.1:{port}", process, log)
        started.append(replica)
        # Generous: on a busy CI host a worker can take long to import the app.
        until(lambda: not _exited(process) and replica.get("/readyz").status_code == 200,
              "the replica is ready", 120)  # fmt: skip
        return replica

    try:
        yield Cluster(url, tenant, start)
    finally:
        for replica in started:
            replica.stop()
        drop_postgres_database(PG_URL, name)


def _exited(process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"keyplane server exited with {process.returncode}")
    return False


def create_token(replica: Replica, tenant: Tenant, name: str = "ci") -> tuple[str, str]:
    answer = httpx.post(
        f"{replica.url}/v1/organizations/{tenant.org_id}/tokens",
        json={"name": name, "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"},
        headers={"Authorization": f"Bearer {tenant.owner_token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["token"]


def delete_token(replica: Replica, tenant: Tenant, token_id: str) -> None:
    answer = httpx.delete(
        f"{replica.url}/v1/organizations/{tenant.org_id}/tokens/{token_id}",
        headers={"Authorization": f"Bearer {tenant.owner_token}"},
        timeout=10,
    )
    assert answer.status_code == 204, answer.text


def until(condition: Callable[[], bool], what: str, bound: float) -> float:
    """Seconds until ``condition`` holds; fails the test after ``bound`` seconds."""
    start = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        if time.monotonic() - start > bound:
            raise AssertionError(f"not within {bound} s: {what}")
        time.sleep(0.005)


def assert_revocation_reaches(a: Replica, b: Replica, tenant: Tenant, bound: float) -> float:
    token_id, token = create_token(a, tenant)
    assert b.get("/v1/self", token).status_code == 200  # cached on B
    delete_token(a, tenant, token_id)
    return until(lambda: b.get("/v1/self", token).status_code == 401, "B refuses it", bound)


def test_token_deleted_on_a_is_refused_by_b_within_a_second(cluster):
    a, b = cluster.start(), cluster.start()
    assert b.get("/readyz").json()["checks"]["cacheInvalidation"] == "ok (postgresql)"
    elapsed = assert_revocation_reaches(a, b, cluster.tenant, bound=1.0)
    assert elapsed < 1.0
    metrics = b.get("/metrics").text
    assert "keyplane_cache_invalidation_lag_seconds_count" in metrics
    # JSON logs carry the request id the client sent.
    answer = httpx.get(f"{a.url}/healthz", headers={"X-Request-Id": "trace-me-42"}, timeout=10)
    assert answer.headers["x-request-id"] == "trace-me-42"
    until(lambda: '"requestId": "trace-me-42"' in a.log_text(), "an access log line", 5)


def test_workers_of_one_server_each_invalidate_and_share_metrics(cluster):
    server = cluster.start(workers=2)
    token_id, token = create_token(server, cluster.tenant)
    # New connections are spread over both workers: after enough of them, each
    # worker has the token cached.
    for _ in range(20):
        assert server.get("/v1/self", token).status_code == 200
    delete_token(server, cluster.tenant, token_id)
    until(lambda: server.get("/v1/self", token).status_code == 401, "refused", 1.0)
    refusals = [server.get("/v1/self", token).status_code for _ in range(20)]
    assert set(refusals) == {401}, "a worker still served the deleted token"
    # One scrape shows every worker's requests (prometheus multiprocess mode).
    metrics = server.get("/metrics").text
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('keyplane_http_requests_total{method="GET",route="/v1/self"')
    )
    assert served >= 41
    # SIGTERM: a clean, graceful stop.
    assert server.stop() == 0
    assert "Traceback" not in server.log_text()


def _pg(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", action],
        check=False,
        capture_output=True,
        timeout=60,
    )


def _pg_answers() -> bool:
    done = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], check=False, timeout=10)
    return done.returncode == 0


@pytest.fixture
def postgres_back_afterwards() -> Iterator[None]:
    try:
        yield
    finally:
        if not _pg_answers():
            _pg("start")
        until(_pg_answers, "PostgreSQL is back", 60)


@pytest.mark.exclusive
def test_postgresql_restart_while_serving(cluster, postgres_back_afterwards):
    a, b = cluster.start(), cluster.start()
    _, token = create_token(a, cluster.tenant)
    deployments = f"/v1/organizations/{cluster.tenant.org_id}/deployments"
    assert b.get(deployments, token).status_code == 200

    _pg("restart")
    until(_pg_answers, "PostgreSQL restarted", 60)

    # Without restarting the servers: stale pooled connections are replaced ...
    until(lambda: b.get(deployments, token).status_code == 200, "B serves again", 20)
    until(lambda: a.get(deployments, token).status_code == 200, "A serves again", 20)
    # ... and B's listener is back, so revocation is instant again.
    until(lambda: b.get("/readyz").json()["checks"]["cacheInvalidation"] == "ok (postgresql)",
          "B's listener reconnects", 20)  # fmt: skip
    assert assert_revocation_reaches(a, b, cluster.tenant, bound=1.0) < 1.0


def _redis_answers() -> bool:
    done = subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True, timeout=10)
    return done.stdout.strip() == b"PONG"


@pytest.fixture
def redis_back_afterwards() -> Iterator[None]:
    if not REDIS_URL:
        pytest.skip("KEYPLANE_TEST_REDIS_URL is not set: the Redis fault test is skipped")
    try:
        yield
    finally:
        if not _redis_answers():
            subprocess.run(REDIS_START, check=False, capture_output=True, timeout=30)
        until(_redis_answers, "Redis is back", 30)


@pytest.mark.exclusive
def test_redis_stopped_and_started_while_serving(cluster, redis_back_afterwards):
    settings = {"KEYPLANE_REDIS_URL": REDIS_URL, "KEYPLANE_NOTIFIER": "redis"}
    a, b = cluster.start(**settings), cluster.start(**settings)
    _, token = create_token(a, cluster.tenant)
    assert b.get("/readyz").json()["checks"]["redis"] == "ok"

    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    until(lambda: not _redis_answers(), "Redis stopped", 10)

    # Still serving: good tokens work, bad ones are refused (limits counted locally).
    assert b.get("/v1/self", token).status_code == 200
    assert b.get("/v1/self", "kpo_unknown").status_code == 401
    ready = b.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"].startswith("degraded: rate limits are per process")
    for _ in range(3):
        b.get("/v1/self", "kpo_unknown")
    assert b.log_text().count("Redis is unavailable") == 1  # said once, not per request

    subprocess.run(REDIS_START, check=True, capture_output=True, timeout=30)
    until(lambda: b.get("/readyz").json()["checks"]["redis"] == "ok", "limits shared again", 20)
    until(lambda: b.get("/readyz").json()["checks"]["cacheInvalidation"] == "ok (redis)",
          "B's listener reconnects", 20)  # fmt: skip
    assert assert_revocation_reaches(a, b, cluster.tenant, bound=1.0) < 1.0


MEMBER = "ORGANIZATION_MEMBER"


def test_sigkill_during_token_creation_leaves_no_half_token(cluster):
    a = cluster.start()
    stop = threading.Event()
    created: list[str] = []

    def create_many() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    answer = client.post(
                        f"{a.url}/v1/organizations/{cluster.tenant.org_id}/tokens",
                        json={
                            "name": "burst",
                            "scope": "ORGANIZATION",
                            "role": "ORGANIZATION_MEMBER",
                        },
                        headers={"Authorization": f"Bearer {cluster.tenant.owner_token}"},
                    )
                except httpx.HTTPError:
                    return
                if answer.status_code == 201:
                    created.append(answer.json()["id"])

    workers = [threading.Thread(target=create_many) for _ in range(6)]
    for worker in workers:
        worker.start()
    until(lambda: len(created) >= 5, "token creation under way", 30)
    a.process.send_signal(signal.SIGKILL)
    a.process.wait(timeout=10)
    stop.set()
    for worker in workers:
        worker.join(timeout=15)

    engine = create_engine(cluster.database_url)
    with engine.connect() as db:
        tokens = set(db.scalars(text("SELECT id FROM api_tokens WHERE name = 'burst'")))
        unbound = db.scalar(text(
            "SELECT count(*) FROM api_tokens t WHERE NOT EXISTS "
            "(SELECT 1 FROM role_bindings b WHERE b.token_id = t.id)"
        ))  # fmt: skip
        orphans = db.scalar(text(
            "SELECT count(*) FROM role_bindings b WHERE b.token_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM api_tokens t WHERE t.id = b.token_id)"
        ))  # fmt: skip
    engine.dispose()
    assert set(created) <= tokens  # every token a client was given exists
    assert unbound == 0, "a token row without its role binding"
    assert orphans == 0

    # A new replica serves every token that was created, and nothing half-made.
    b = cluster.start()
    answer = b.get(f"/v1/organizations/{cluster.tenant.org_id}/tokens?limit=1000",
                   cluster.tenant.owner_token)  # fmt: skip
    assert answer.status_code == 200
    assert {t["id"] for t in answer.json()["tokens"]} >= set(created)


def test_a_leaked_token_reported_to_a_is_refused_by_b_at_once(cluster):
    with key_server() as keys:
        a = cluster.start(KEYPLANE_SECRET_SCANNING_KEYS_URL=keys.url)
        b = cluster.start(KEYPLANE_SECRET_SCANNING_KEYS_URL=keys.url)
        _, token = create_token(a, cluster.tenant, name="leaked")
        assert b.get("/v1/self", token).status_code == 200  # cached on B
        body = report_body((token, "https://github.com/acme/etl/blob/main/.env"))
        answer = httpx.post(
            f"{a.url}/v1/secret-scanning/reports", content=body, headers=keys.sign(body)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["label"] == "true_positive"
        until(lambda: b.get("/v1/self", token).status_code == 401, "B refuses it", 1.0)
        assert a.get("/v1/self", token).status_code == 401
