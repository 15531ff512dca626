"""Fixtures for the sign-in pages: a browser-like client that keeps secure cookies."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from keyplane.db.models import User
from keyplane.db.unit import unit_of_work
from keyplane.identity.passwords import Passwords, hasher_for
from keyplane.runtime import Runtime
from tests.asgi_client import AppClient

PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def browser(app) -> TestClient:  # type: ignore[no-untyped-def]
    """Like a browser on https: secure cookies are kept and sent back."""
    return another_browser(app)


def another_browser(app, address: str = "testclient") -> TestClient:  # type: ignore[no-untyped-def]
    """One more browser like :func:`browser` (another person's, another device), whose
    requests come from ``address``."""
    return AppClient(  # type: ignore[return-value]
        app, base_url="https://testserver", follow_redirects=False, client=(address, 50000)
    )


def csrf_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def set_password(
    runtime: Runtime, email: str, password: str = PASSWORD, hasher: PasswordHasher | None = None
) -> None:
    with unit_of_work(runtime.sessions) as db:
        user = db.scalar(select(User).where(User.email == email))
        assert user is not None
        user.password_hash = Passwords(hasher or hasher_for(runtime.settings)).hash(password)


def sign_in(browser: TestClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = browser.get("/login")
    answer = browser.post("/login", data={"email": email, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 200, answer.text
    return browser.post(
        "/login/password",
        data={"email": email, "password": password, "csrf_token": csrf_of(answer.text)},
    )


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    """Smaller limits and argon2 cost than production, so that the tests stay quick."""
    faster = {
        "login_failures_per_account": 5,
        "login_failures_per_ip": 12,
        "login_failures_per_account_anywhere": 9,
        "password_hash_memory_kib": 8192,
        "password_hash_time_cost": 2,
        "public_url": "https://testserver",
        # The test identity provider runs on 127.0.0.1, which SSO refuses by default.
        "sso_allow_private_networks": True,
    }
    return settings.model_copy(update=faster)


def is_signed_in(browser: TestClient) -> bool:
    answer = browser.get("/console")
    return answer.status_code in (200, 303) and not answer.headers.get("location", "").startswith(
        "/login"
    )


def console_page(browser: TestClient):  # type: ignore[no-untyped-def]
    answer = browser.get("/console", follow_redirects=True)
    assert answer.status_code == 200, answer.text
    return answer
