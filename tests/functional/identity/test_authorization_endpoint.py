"""The authorization endpoint and code redemption, as the CLI and a browser see them.

Replay of a code revokes its login (RFC 6749 §4.1.2), a redirect URI with a fragment
is refused (§3.1.2), errors after a valid redirect URI go back to it (§4.1.2.1) and
every authorization response names the issuer (RFC 9207).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import bearer
from tests.functional.identity.conftest import csrf_of
from tests.functional.identity.test_cli_login import CLI, _pkce, refresh, signed_in

REDIRECT = "http://127.0.0.1:53125/callback"


def _query(challenge: str, **changes: str) -> dict[str, str]:
    query = {
        **CLI, "response_type": "code", "redirect_uri": REDIRECT, "state": "st-1",
        "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    query.update(changes)
    return {name: value for name, value in query.items() if value}


def _code_login(browser, world):  # type: ignore[no-untyped-def]
    """Approve a CLI login in the browser; the redirect's parameters and the token form."""
    verifier, challenge = _pkce()
    page = browser.get("/oauth/authorize", params=_query(challenge))
    answer = browser.post(
        "/oauth/authorize",
        data={**CLI, "redirect_uri": REDIRECT, "state": "st-1", "code_challenge": challenge,
              "decision": "approve", "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert answer.status_code == 303
    params = parse_qs(urlsplit(answer.headers["location"]).query)
    form = {**CLI, "grant_type": "authorization_code", "code": params["code"][0],
            "redirect_uri": REDIRECT, "code_verifier": verifier}  # fmt: skip
    return params, form


def test_replaying_a_code_revokes_the_tokens_it_gave(browser, world) -> None:
    signed_in(browser, world)
    _, form = _code_login(browser, world)
    first = world.client.post("/oauth/token", data=form)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert world.client.get("/v1/self", headers=bearer(tokens["access_token"])).status_code == 200

    replay = world.client.post("/oauth/token", data=form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "already used" in replay.json()["error_description"]
    assert world.client.get("/v1/self", headers=bearer(tokens["access_token"])).status_code == 401
    assert refresh(world.client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_replay_also_revokes_the_refreshed_tokens(browser, world) -> None:
    signed_in(browser, world)
    _, form = _code_login(browser, world)
    tokens = world.client.post("/oauth/token", data=form).json()
    later = refresh(world.client, tokens["refresh_token"]).json()
    assert world.client.post("/oauth/token", data=form).json()["error"] == "invalid_grant"
    assert world.client.get("/v1/self", headers=bearer(later["access_token"])).status_code == 401
    assert refresh(world.client, later["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_redirect_uri_with_a_fragment_is_refused(browser, world) -> None:
    signed_in(browser, world)
    _, challenge = _pkce()
    page = browser.get(
        "/oauth/authorize", params=_query(challenge, redirect_uri=REDIRECT + "#frag")
    )
    assert page.status_code == 400 and "fragment" in page.text
    assert "location" not in page.headers


def test_the_authorization_response_names_the_issuer(browser, world) -> None:
    signed_in(browser, world)
    params, _ = _code_login(browser, world)
    assert params["iss"] == ["https://testserver"] and params["state"] == ["st-1"]
    document = world.client.get("/.well-known/oauth-authorization-server").json()
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["issuer"] == "https://testserver"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": ""}, "unsupported_response_type"),
    ],
)
def test_errors_after_a_valid_redirect_uri_go_back_to_it(browser, world, changes, error) -> None:
    _, challenge = _pkce()
    answer = browser.get("/oauth/authorize", params=_query(challenge, **changes))
    assert answer.status_code in (302, 303)
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    params = parse_qs(urlsplit(location).query)
    assert params["error"] == [error] and params["state"] == ["st-1"]
    assert params["iss"] == ["https://testserver"]
    assert "code" not in params


def test_denial_goes_back_with_state_and_issuer(browser, world) -> None:
    signed_in(browser, world)
    _, challenge = _pkce()
    page = browser.get("/oauth/authorize", params=_query(challenge))
    answer = browser.post(
        "/oauth/authorize",
        data={**CLI, "redirect_uri": REDIRECT, "state": "st-1", "code_challenge": challenge,
              "decision": "deny", "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    params = parse_qs(urlsplit(answer.headers["location"]).query)
    assert params == {"error": ["access_denied"], "state": ["st-1"], "iss": ["https://testserver"]}
