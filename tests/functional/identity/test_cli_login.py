"""CLI login on the server: device flow, authorization code + PKCE, rotating refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
from sqlalchemy import select, update

from keyplane.audit.models import AuditEvent
from keyplane.db.base import utcnow
from keyplane.db.unit import unit_of_work
from keyplane.identity.models import DeviceAuthorization
from tests.factories import bearer
from tests.functional.identity.conftest import console_page, csrf_of, set_password, sign_in

OWNER = "owner@acme.example"
CLI = {"client_id": "keyplane-cli"}
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


def signed_in(browser, world):  # type: ignore[no-untyped-def]
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    return browser


def poll(client, device_code: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/oauth/token", data={**CLI, "grant_type": DEVICE, "device_code": device_code}
    )


def device_login(browser, world):  # type: ignore[no-untyped-def]
    started = world.client.post("/oauth/device/code", data=CLI).json()
    page = browser.get(f"/device?user_code={started['user_code']}")
    browser.post(
        "/device",
        data={"user_code": started["user_code"], "decision": "approve",
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    answer = poll(world.client, started["device_code"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(client, value: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/oauth/token", data={**CLI, "grant_type": "refresh_token", "refresh_token": value}
    )


def test_device_flow_from_code_to_tokens(browser, world) -> None:
    signed_in(browser, world)
    answer = world.client.post("/oauth/device/code", data=CLI)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    started = answer.json()
    assert re.fullmatch(
        r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", started["user_code"]
    )
    assert started["verification_uri"] == "https://testserver/device"
    assert started["interval"] == 5 and started["expires_in"] > 0
    first = poll(world.client, started["device_code"])
    assert first.status_code == 400 and first.json()["error"] == "authorization_pending"
    fast = poll(world.client, started["device_code"])
    assert fast.json()["error"] == "slow_down"

    page = browser.get(f"/device?user_code={started['user_code'].lower().replace('-', ' ')}")
    assert page.status_code == 200 and started["user_code"] in page.text
    approved = browser.post(
        "/device",
        data={"user_code": started["user_code"], "decision": "approve",
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert approved.status_code == 200 and "Device approved" in approved.text
    with unit_of_work(world.runtime.sessions) as db:  # the poll interval has passed
        db.execute(update(DeviceAuthorization).values(last_polled_at=None))
    tokens = poll(world.client, started["device_code"]).json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"].startswith("kpr_")
    me = world.client.get("/v1/self", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["kind"] == "USER"
    assert poll(world.client, started["device_code"]).json()["error"] == "invalid_grant"


def test_device_approval_needs_a_signed_in_person(browser, world) -> None:
    started = world.client.post("/oauth/device/code", data=CLI).json()
    answer = browser.get(f"/device?user_code={started['user_code']}")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_denied_and_expired_device_codes(browser, world) -> None:
    signed_in(browser, world)
    denied = world.client.post("/oauth/device/code", data=CLI).json()
    page = browser.get(f"/device?user_code={denied['user_code']}")
    browser.post(
        "/device",
        data={"user_code": denied["user_code"], "decision": "deny",
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert poll(world.client, denied["device_code"]).json()["error"] == "access_denied"
    expired = world.client.post("/oauth/device/code", data=CLI).json()
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(update(DeviceAuthorization).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert poll(world.client, expired["device_code"]).json()["error"] == "expired_token"


def test_refresh_rotates_and_reuse_revokes_the_chain(browser, world) -> None:
    signed_in(browser, world)
    first = device_login(browser, world)
    second = refresh(world.client, first["refresh_token"])
    assert second.status_code == 200
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert world.client.get("/v1/self", headers=bearer(second["access_token"])).status_code == 200

    reused = refresh(world.client, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert "already used" in reused.json()["error_description"]
    assert refresh(world.client, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert world.client.get("/v1/self", headers=bearer(second["access_token"])).status_code == 401


def test_revoking_the_refresh_token_ends_the_login(browser, world) -> None:
    signed_in(browser, world)
    tokens = device_login(browser, world)
    answer = world.client.post("/oauth/revoke", data={**CLI, "token": tokens["refresh_token"]})
    assert answer.status_code == 200
    assert world.client.get("/v1/self", headers=bearer(tokens["access_token"])).status_code == 401
    assert refresh(world.client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    # The audit trail names the login it ended, never the refresh token.
    login_id = jwt.decode(tokens["access_token"], options={"verify_signature": False})["kp_login"]
    with world.runtime.sessions() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "oauth.revoke"))
    assert (event.target_type, event.target_id) == ("cli_login", login_id)


def test_sign_out_everywhere_ends_cli_logins(browser, world) -> None:
    signed_in(browser, world)
    tokens = device_login(browser, world)
    page = console_page(browser)
    browser.post("/logout", data={"csrf_token": csrf_of(page.text), "everywhere": "1"})
    assert world.client.get("/v1/self", headers=bearer(tokens["access_token"])).status_code == 401


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_authorization_code_with_pkce(browser, world) -> None:
    signed_in(browser, world)
    verifier, challenge = _pkce()
    redirect_uri = "http://127.0.0.1:53123/callback"
    query = {
        **CLI, "response_type": "code", "redirect_uri": redirect_uri, "state": "s1",
        "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    page = browser.get("/oauth/authorize", params=query)
    assert page.status_code == 200 and "Sign in the keyplane CLI?" in page.text
    answer = browser.post(
        "/oauth/authorize",
        data={**CLI, "redirect_uri": redirect_uri, "state": "s1", "code_challenge": challenge,
              "decision": "approve", "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    location = answer.headers["location"]
    assert location.startswith(redirect_uri)
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == ["s1"]
    form = {**CLI, "grant_type": "authorization_code", "code": params["code"][0],
            "redirect_uri": redirect_uri}  # fmt: skip
    wrong = world.client.post("/oauth/token", data={**form, "code_verifier": _pkce()[0]})
    assert wrong.json()["error"] == "invalid_grant"
    # A failed attempt spends the code too: single use, whatever happens.
    again = world.client.post("/oauth/token", data={**form, "code_verifier": verifier})
    assert again.json()["error"] == "invalid_grant"


def test_authorization_code_redeemed_once(browser, world) -> None:
    signed_in(browser, world)
    verifier, challenge = _pkce()
    redirect_uri = "http://127.0.0.1:53124/"
    page = browser.get("/oauth/authorize", params={
        **CLI, "response_type": "code", "redirect_uri": redirect_uri, "state": "x",
        "code_challenge": challenge, "code_challenge_method": "S256"})  # fmt: skip
    answer = browser.post("/oauth/authorize", data={
        **CLI, "redirect_uri": redirect_uri, "state": "x", "code_challenge": challenge,
        "decision": "approve", "csrf_token": csrf_of(page.text)})  # fmt: skip
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    form = {**CLI, "grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri, "code_verifier": verifier}  # fmt: skip
    tokens = world.client.post("/oauth/token", data=form)
    assert tokens.status_code == 200, tokens.text
    assert (
        world.client.get("/v1/self", headers=bearer(tokens.json()["access_token"])).json()["kind"]
        == "USER"
    )
    assert world.client.post("/oauth/token", data=form).json()["error"] == "invalid_grant"


def test_non_loopback_redirects_are_refused(browser, world) -> None:
    signed_in(browser, world)
    _, challenge = _pkce()
    page = browser.get("/oauth/authorize", params={
        **CLI, "response_type": "code", "redirect_uri": "https://evil.example/cb",
        "code_challenge": challenge, "code_challenge_method": "S256"})  # fmt: skip
    assert page.status_code == 400 and "loopback" in page.text


def test_metadata_announces_the_cli_login(world) -> None:
    document = world.client.get("/.well-known/oauth-authorization-server").json()
    assert document["device_authorization_endpoint"].endswith("/oauth/device/code")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token", DEVICE} <= set(document["grant_types_supported"])
