"""Two replicas in one test process: a credential change on A reaches B's cache at once.

Each replica is a full Runtime + app with its own engine, cache and notifier, on one
database, so the only path from A to B is the notifier (the TTL is set to 300 s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import text

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.ops.notifier import CHANNEL, LISTENER_NAME, RedisNotifier, redis_channel
from keyplane.runtime import Runtime
from tests.factories import World, bearer

REDIS_URL = os.environ.get("KEYPLANE_TEST_REDIS_URL")
LONG = 300.0


def _skip_unless_available(kind: str, db_url: str) -> None:
    if kind == "postgresql" and not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL (runs on the PostgreSQL backend)")
    if kind == "redis" and not REDIS_URL:
        pytest.skip("KEYPLANE_TEST_REDIS_URL is not set: Redis pub/sub runs skipped")


Replica = tuple[Runtime, TestClient]


@pytest.fixture(params=["postgresql", "redis"])
def replicas(
    request: pytest.FixtureRequest, db_url: str, runtime: Runtime, tmp_path: Path
) -> Iterator[Callable[[], Replica]]:
    """A factory of started replicas on the test database (``runtime`` empties it)."""
    kind = request.param
    _skip_unless_available(kind, db_url)
    made: list[Runtime] = []

    def replica() -> Replica:
        settings = Settings(
            database_url=db_url,
            data_dir=tmp_path,
            redis_url=REDIS_URL if kind == "redis" else None,
            notifier=kind,
            auth_cache_ttl_seconds=LONG,
            auth_cache_ttl_notified_seconds=LONG,
        )
        replica_runtime = Runtime.create(settings)
        replica_runtime.start()
        made.append(replica_runtime)
        assert replica_runtime.notifier is not None
        _wait(lambda: replica_runtime.notifier.live, "listener connected")  # type: ignore[union-attr]
        return replica_runtime, TestClient(create_app(settings, replica_runtime))

    yield replica
    for each in made:
        each.close()


def _wait(condition: Callable[[], bool], what: str, bound: float = 5.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > bound:
            raise AssertionError(f"not within {bound} s: {what}")
        time.sleep(0.005)
    return time.monotonic() - start


def _status(client: TestClient, token: str) -> int:
    return client.get("/v1/self", headers=bearer(token)).status_code


def test_token_deleted_on_a_is_refused_by_b_at_once(replicas):
    runtime_a, client_a = replicas()
    _, client_b = replicas()
    world = World.create(client_a, runtime_a)
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    token_id = client_a.get("/v1/self", headers=bearer(token)).json()["id"]
    assert _status(client_b, token) == 200  # now cached on B for up to 300 s

    answer = client_a.delete(
        f"/v1/organizations/{world.org.id}/tokens/{token_id}",
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 204, answer.text

    elapsed = _wait(lambda: _status(client_b, token) == 401, "B refuses the deleted token")
    assert elapsed < 1.0


def test_rotation_on_a_ends_the_old_value_on_b(replicas):
    runtime_a, client_a = replicas()
    _, client_b = replicas()
    world = World.create(client_a, runtime_a)
    token = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    token_id = client_a.get("/v1/self", headers=bearer(token)).json()["id"]
    assert _status(client_b, token) == 200
    rotated = client_a.post(
        f"/v1/organizations/{world.org.id}/tokens/{token_id}/rotate",
        headers=bearer(world.org.owner_token),
    )
    assert rotated.status_code == 200, rotated.text
    _wait(lambda: _status(client_b, token) == 401, "B refuses the old value")
    assert _status(client_b, rotated.json()["token"]) == 200


def test_a_deployment_created_on_a_is_listed_by_b_at_once(replicas):
    """B keeps the listing's answer (TTL 300 s); the change on A still shows at once."""
    runtime_a, client_a = replicas()
    runtime_b, client_b = replicas()
    world = World.create(client_a, runtime_a)
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    path = f"/v1/organizations/{world.org.id}/deployments"

    def names() -> list[str]:
        answer = client_b.get(path, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        return [d["name"] for d in answer.json()["deployments"]]

    _wait(lambda: names() == ["d1"] and len(runtime_b.answers) == 1, "B keeps the answer")
    created = client_a.post(
        path,
        json={"name": "d3", "workspaceId": world.org.workspaces["ws1"]},
        headers=bearer(world.org.owner_token),
    )
    assert created.status_code == 201, created.text
    elapsed = _wait(lambda: names() == ["d1", "d3"], "B lists the new deployment")
    assert elapsed < 1.0


def test_a_reconnected_listener_drops_the_cache(replicas, db_url):
    """A change whose notification was missed is not served from the cache after a reconnect."""
    runtime_a, client_a = replicas()
    runtime_b, client_b = replicas()
    world = World.create(client_a, runtime_a)
    token = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER")
    assert _status(client_b, token) == 200
    # A change that announces nothing (as if its notification were lost) ...
    with runtime_a.engine.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM role_bindings WHERE token_id IN "
                "(SELECT id FROM api_tokens WHERE name LIKE 'workspace%')"
            )
        )
        connection.execute(text("DELETE FROM api_tokens WHERE name LIKE 'workspace%'"))
    assert _status(client_b, token) == 200  # ... is invisible to B's cache,
    _kill_listeners(runtime_b, db_url)  # until its listener reconnects.
    _wait(lambda: _status(client_b, token) == 401, "B refuses after reconnecting")
    assert runtime_b.notifier is not None and runtime_b.notifier.live


def _kill_listeners(runtime: Runtime, db_url: str) -> None:
    assert runtime.notifier is not None
    if runtime.notifier.kind == "redis":
        client = redis.Redis.from_url(REDIS_URL)  # type: ignore[arg-type]
        db = str(client.connection_pool.connection_kwargs.get("db", 0))
        for each in client.client_list():  # this database's: other test workers use others
            if each.get("name") == LISTENER_NAME and each.get("db") == db:
                client.client_kill_filter(_id=each["id"])
        client.close()
        return
    with runtime.engine.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": LISTENER_NAME},
        )
        connection.commit()


def test_without_a_listener_the_short_ttl_applies(db_url, runtime, tmp_path):
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        redis_url="redis://127.0.0.1:1/0",  # nobody listens there
        notifier="redis",
        auth_cache_ttl_seconds=2.0,
        auth_cache_ttl_notified_seconds=LONG,
    )
    lonely = Runtime.create(settings)
    lonely.start()
    try:
        client = TestClient(create_app(settings, lonely))
        time.sleep(0.3)
        assert lonely.authenticator.cache_ttl == 2.0
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["cacheInvalidation"].startswith("degraded: redis listener not connected")
        assert checks["redis"].startswith("degraded: rate limits are per process")
    finally:
        lonely.close()


def test_installations_on_other_redis_databases_do_not_clear_each_others_caches():
    if not REDIS_URL:
        pytest.skip("KEYPLANE_TEST_REDIS_URL is not set: Redis pub/sub runs skipped")
    server = REDIS_URL.rpartition("/")[0]
    assert redis_channel(redis.Redis.from_url(f"{server}/0")) == CHANNEL  # as released before
    listeners = {db: RedisNotifier(f"{server}/{db}") for db in (11, 12)}
    heard = {db: 0 for db in listeners}
    for db, listener in listeners.items():
        listener.on_change = lambda db=db: heard.__setitem__(db, heard[db] + 1)  # type: ignore[misc]
        listener.start()
    try:
        for listener in listeners.values():
            _wait(lambda listener=listener: listener.live, "listener connected")  # type: ignore[misc]
        before = dict(heard)  # connecting counts as a change (one may have been missed)
        RedisNotifier(f"{server}/11").publish()  # a replica of the first installation
        _wait(lambda: heard[11] > before[11], "the same database's replica heard it")
        time.sleep(0.3)
        assert heard[12] == before[12]
    finally:
        for listener in listeners.values():
            listener.stop()
