"""An operator's change reaches the running servers' caches at once.

``keyplane admin set-password`` ends the user's CLI logins (their access tokens die);
a server that cached one would go on accepting it for minutes unless the command
tells every replica, as a change through the API does: by PostgreSQL NOTIFY in the
command's own transaction, or a Redis publication after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from keyplane.ops.notifier import CHANNEL, redis_channel
from tests.conftest import PG_URL, drop_postgres_database, fresh_postgres_database
from tests.e2e.conftest import bootstrap, server_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not PG_URL, reason="KEYPLANE_TEST_DATABASE_URL is not set"),
]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    assert PG_URL
    url, name = fresh_postgres_database(PG_URL)
    env = server_env(url, tmp_path, "http://127.0.0.1:9")
    bootstrap(env, "acme")
    try:
        yield url, env
    finally:
        drop_postgres_database(PG_URL, name)


def _set_password(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "keyplane", "admin", "set-password",
         "--email", "owner@acme.example", "--password-stdin"],
        env=env, input="a long new passphrase\n", capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_over_postgresql_notify(database: tuple[str, dict[str, str]]) -> None:
    url, env = database
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        _set_password(env)
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == [CHANNEL]


def test_over_redis(database: tuple[str, dict[str, str]]) -> None:
    redis_url = os.environ.get("KEYPLANE_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("KEYPLANE_TEST_REDIS_URL is not set")
    _, env = database
    client = redis.Redis.from_url(redis_url)
    subscriber = client.pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(redis_channel(client))
    try:
        _set_password({**env, "KEYPLANE_NOTIFIER": "redis", "KEYPLANE_REDIS_URL": redis_url})
        deadline, heard = time.monotonic() + 5, None
        while heard is None and time.monotonic() < deadline:  # None: the subscription's own
            heard = subscriber.get_message(timeout=1)
    finally:
        subscriber.close()
        client.close()
    assert heard is not None and heard["type"] == "message"
