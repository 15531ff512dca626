"""Sign-in while Redis is unreachable: the limits fall back to this process, never a 500."""

from __future__ import annotations

import pytest

from tests.functional.identity.conftest import set_password, sign_in

OWNER = "owner@acme.example"
NOBODY_LISTENS = "redis://127.0.0.1:1/0"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"redis_url": NOBODY_LISTENS})


def test_sign_in_works_and_is_still_limited_per_process(browser, world) -> None:
    set_password(world.runtime, OWNER)
    assert sign_in(browser, OWNER).status_code == 303
    limit = world.runtime.settings.login_failures_per_account
    for _ in range(limit):
        assert sign_in(browser, OWNER, "wrong-password-x").status_code == 401
    blocked = sign_in(browser, OWNER)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    ready = browser.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"].startswith("degraded")
