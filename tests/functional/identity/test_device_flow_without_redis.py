"""Device approval while Redis is unreachable: wrong user codes and starts are still
limited, per process, and nothing answers 500."""

from __future__ import annotations

import pytest

from keyplane.identity import device_limits
from tests.functional.identity.test_cli_login import CLI, signed_in
from tests.functional.identity.test_login_without_redis import NOBODY_LISTENS


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"redis_url": NOBODY_LISTENS})


def test_wrong_user_codes_are_still_limited(browser, world) -> None:
    signed_in(browser, world)
    started = world.client.post("/oauth/device/code", data=CLI)
    assert started.status_code == 200
    for _ in range(device_limits.WRONG_CODES_PER_USER.amount):
        assert browser.get("/device", params={"user_code": "BCDF-GHJK"}).status_code == 404
    refused = browser.get("/device", params={"user_code": started.json()["user_code"]})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert browser.get("/readyz").json()["checks"]["redis"].startswith("degraded")
