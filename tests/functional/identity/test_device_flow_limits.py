"""The device flow's guards (RFC 8628 §5.1): wrong user codes are limited per person,
starts per address, expired authorizations are purged and a colliding user code is
drawn again; an unknown client is ``invalid_client``."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from keyplane.db.base import utcnow
from keyplane.db.unit import unit_of_work
from keyplane.identity import device, device_limits
from keyplane.identity.models import DeviceAuthorization
from tests.asgi_client import AppClient
from tests.functional.identity.conftest import csrf_of, set_password, sign_in
from tests.functional.identity.test_cli_login import CLI, signed_in

WRONG = "BCDF-GHJK"
OTHER = "owner@globex.example"


def _start(world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    answer = world.client.post("/oauth/device/code", data=CLI)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _look(browser, code: str):  # type: ignore[no-untyped-def]
    return browser.get("/device", params={"user_code": code})


def _approve(browser, code: str):  # type: ignore[no-untyped-def]
    form = csrf_of(browser.get("/device").text)
    return browser.post(
        "/device", data={"user_code": code, "decision": "approve", "csrf_token": form}
    )


def _rows(world) -> list[DeviceAuthorization]:  # type: ignore[no-untyped-def]
    with unit_of_work(world.runtime.sessions) as db:
        return list(db.scalars(select(DeviceAuthorization)))


class _Later:
    """The clock of the in-process rate-limit windows, moved past the window."""

    @staticmethod
    def time() -> float:
        return time.time() + 11 * 60


@pytest.mark.parametrize("attempt", [_look, _approve], ids=["shown", "approved"])
def test_wrong_user_codes_are_limited_per_person(browser, world, app, monkeypatch, attempt):
    signed_in(browser, world)
    started = _start(world)
    for _ in range(device_limits.WRONG_CODES_PER_USER.amount):
        assert attempt(browser, WRONG).status_code == 404
    # Past the limit the right code is refused too, so guessing cannot go on.
    for _ in range(2):
        refused = _look(browser, started["user_code"])
        assert refused.status_code == 429, refused.text
        assert 0 < int(refused.headers["retry-after"]) <= 600
        assert "too many wrong codes" in refused.text
    assert _approve(browser, started["user_code"]).status_code == 429
    assert [row.status for row in _rows(world)] == ["pending"]

    # Someone else, from the same address, is not affected.
    other = AppClient(app, base_url="https://testserver", follow_redirects=False)
    set_password(world.runtime, OTHER)
    sign_in(other, OTHER)
    assert _look(other, started["user_code"]).status_code == 200

    # Once the window has passed, the person can go on.
    monkeypatch.setattr("limits.storage.memory.time", _Later)
    monkeypatch.setattr("keyplane.ops.limiter.time", _Later)
    assert _look(browser, started["user_code"]).status_code == 200
    approved = _approve(browser, started["user_code"])
    assert approved.status_code == 200 and "Device approved" in approved.text


def test_past_the_address_limit_wrong_codes_get_429_and_right_ones_still_work(
    browser, world, app, monkeypatch
):
    """Behind one address (an office, a VPN) a few people's typos must not lock out the
    others: past the address's limit, wrong codes answer 429, a right one still works."""
    from limits import RateLimitItemPerMinute

    monkeypatch.setattr(device_limits, "WRONG_CODES_PER_IP", RateLimitItemPerMinute(3, 10))
    signed_in(browser, world)
    started = _start(world)
    answers = [_look(browser, WRONG).status_code for _ in range(4)]
    assert answers[:2] == [404, 404] and answers[2:] == [429, 429]
    other = AppClient(app, base_url="https://testserver", follow_redirects=False)
    set_password(world.runtime, OTHER)
    sign_in(other, OTHER)
    assert _look(other, WRONG).status_code == 429
    assert _look(other, started["user_code"]).status_code == 200
    approved = _approve(other, started["user_code"])
    assert approved.status_code == 200 and "Device approved" in approved.text


def test_right_user_codes_are_never_counted(browser, world):
    signed_in(browser, world)
    for _ in range(device_limits.WRONG_CODES_PER_USER.amount + 2):
        assert _look(browser, _start(world)["user_code"]).status_code == 200
    assert _look(browser, WRONG).status_code == 404


def test_a_start_deletes_authorizations_expired_an_hour_ago(world):
    old, recent = _start(world), _start(world)
    with unit_of_work(world.runtime.sessions) as db:
        for code, ago in ((old, device.PURGE_AFTER), (recent, timedelta(seconds=1))):
            db.execute(
                update(DeviceAuthorization)
                .where(DeviceAuthorization.user_code == code["user_code"])
                .values(expires_at=utcnow() - ago - timedelta(seconds=1))
            )
    new = _start(world)
    assert sorted(row.user_code for row in _rows(world)) == sorted(
        [recent["user_code"], new["user_code"]]
    )
    # The one expired a moment ago still answers its poll as RFC 8628 says.
    poll = world.client.post(
        "/oauth/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
              "device_code": recent["device_code"], "client_id": "keyplane-cli"},
    )  # fmt: skip
    assert poll.json()["error"] == "expired_token", poll.text


def test_a_colliding_user_code_is_drawn_again(world, monkeypatch):
    taken = _start(world)["user_code"]
    draws = iter([taken])
    drawn = device.new_user_code
    monkeypatch.setattr(device, "new_user_code", lambda: next(draws, None) or drawn())
    answer = world.client.post("/oauth/device/code", data=CLI)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user_code"] != taken
    assert sorted(row.user_code for row in _rows(world)) == sorted(
        [taken, answer.json()["user_code"]]
    )


def test_starts_are_limited_per_address(world):
    for _ in range(device_limits.STARTS_PER_IP.amount):
        _start(world)
    refused = world.client.post("/oauth/device/code", data=CLI)
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "try again in" in refused.json()["error_description"]
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.headers["cache-control"] == "no-store"
    with unit_of_work(world.runtime.sessions) as db:
        count = db.scalar(select(func.count()).select_from(DeviceAuthorization))
    assert count == device_limits.STARTS_PER_IP.amount


@pytest.mark.parametrize("form", [{}, {"client_id": "someone-else"}], ids=["missing", "unknown"])
def test_an_unknown_client_is_invalid_client(world, form):
    answer = world.client.post("/oauth/device/code", data=form)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert "keyplane-cli" in answer.json()["error_description"]
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert answer.headers["cache-control"] == "no-store"
    assert _rows(world) == []
