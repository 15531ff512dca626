"""Redirect URIs that cannot be stored or sent back to are refused on the page
(RFC 6749 §4.1.2.1), never redirected to, on the consent page and on its form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from keyplane.db.unit import unit_of_work
from keyplane.identity.models import AuthorizationCode
from tests.functional.identity.conftest import csrf_of
from tests.functional.identity.test_authorization_endpoint import _query
from tests.functional.identity.test_cli_login import CLI, _pkce, signed_in

REFUSED = [
    pytest.param("http://127.0.0.1:5555/" + "a" * 600, "too long", id="too-long"),
    pytest.param("http://[::1", "not a valid URL", id="unparsable"),
    pytest.param("http://127.0.0.1:abc/cb", "port", id="port-not-a-number"),
    pytest.param("http://127.0.0.1:70000/cb", "port", id="port-out-of-range"),
    # Python reads the host as 127.0.0.1; a browser as evil.example.
    pytest.param("http://evil.example\\@127.0.0.1:1/cb", "plain loopback", id="backslash"),
    pytest.param("http://evil.example@127.0.0.1:1/cb", "plain loopback", id="user-name"),
    pytest.param("http://127.0.0.1:1/c b", "plain loopback", id="space"),
]


@pytest.mark.parametrize(("redirect_uri", "says"), REFUSED)
def test_the_consent_page_refuses_the_redirect_uri(browser, world, redirect_uri, says) -> None:
    signed_in(browser, world)
    _, challenge = _pkce()
    page = browser.get("/oauth/authorize", params=_query(challenge, redirect_uri=redirect_uri))
    assert page.status_code == 400 and says in page.text
    assert "location" not in page.headers


@pytest.mark.parametrize(("redirect_uri", "says"), REFUSED)
def test_approving_refuses_the_redirect_uri(browser, world, redirect_uri, says) -> None:
    signed_in(browser, world)
    _, challenge = _pkce()
    form = csrf_of(browser.get("/oauth/authorize", params=_query(challenge)).text)
    answer = browser.post(
        "/oauth/authorize",
        data={**CLI, "redirect_uri": redirect_uri, "state": "st-1", "code_challenge": challenge,
              "decision": "approve", "csrf_token": form},
    )  # fmt: skip
    assert answer.status_code == 400 and says in answer.text
    assert "location" not in answer.headers
    with unit_of_work(world.runtime.sessions) as db:
        assert db.scalar(select(func.count()).select_from(AuthorizationCode)) == 0


def test_the_longest_redirect_uri_that_fits_is_accepted(browser, world) -> None:
    signed_in(browser, world)
    redirect_uri = "http://127.0.0.1:5555/"
    redirect_uri += "a" * (500 - len(redirect_uri))
    _, challenge = _pkce()
    page = browser.get("/oauth/authorize", params=_query(challenge, redirect_uri=redirect_uri))
    answer = browser.post(
        "/oauth/authorize",
        data={**CLI, "redirect_uri": redirect_uri, "state": "st-1", "code_challenge": challenge,
              "decision": "approve", "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(redirect_uri + "?code=")
