"""Failed-credential limits: counted once across replicas through Redis, local without it."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import pytest

from keyplane.config import Settings
from keyplane.domain.errors import NotAuthenticated, TooManyRequests
from keyplane.runtime import Runtime

REDIS_URL = os.environ.get("KEYPLANE_TEST_REDIS_URL")
LIMIT = 4


def _replica(db_url: str, tmp_path: Path, redis_url: str | None) -> Runtime:
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        redis_url=redis_url,
        notifier="none",
        auth_failure_limit_per_minute=LIMIT,
    )
    return Runtime.create(settings)


def _attempt(runtime: Runtime, client_ip: str) -> str:
    """What a client presenting an unknown token sees: 'refused' or 'limited'."""
    try:
        asyncio.run(runtime.authenticator.authenticate("kpo_" + "x" * 49, client_ip))
    except TooManyRequests:
        return "limited"
    except NotAuthenticated:
        return "refused"
    raise AssertionError("an unknown token was accepted")


@pytest.mark.skipif(not REDIS_URL, reason="KEYPLANE_TEST_REDIS_URL is not set: Redis runs skipped")
def test_failures_spread_over_replicas_are_counted_once(db_url, runtime, tmp_path):
    a = _replica(db_url, tmp_path, REDIS_URL)
    b = _replica(db_url, tmp_path, REDIS_URL)
    client_ip = f"198.51.100.{secrets.randbelow(250)}-{secrets.token_hex(4)}"
    try:
        seen = [_attempt(replica, client_ip) for replica in (a, b, a, b, a, b)]
        assert seen == ["refused"] * LIMIT + ["limited"] * 2
        assert a.limiter.status == "ok"
    finally:
        a.close()
        b.close()


def test_without_redis_each_replica_still_limits(db_url, runtime, tmp_path):
    lonely = _replica(db_url, tmp_path, "redis://127.0.0.1:1/0")  # nobody listens there
    try:
        seen = [_attempt(lonely, "203.0.113.7") for _ in range(LIMIT + 1)]
        assert seen == ["refused"] * LIMIT + ["limited"]
        assert (lonely.limiter.status or "").startswith("degraded")
    finally:
        lonely.close()
