"""Identifier-first sign-in with a password, sessions and sign-out."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote_plus

from argon2 import PasswordHasher
from sqlalchemy import select, update

from keyplane.db.base import utcnow
from keyplane.db.models import User
from keyplane.db.unit import unit_of_work
from keyplane.identity.models import WebSession
from tests.functional.identity.conftest import (
    PASSWORD,
    another_browser,
    console_page,
    csrf_of,
    is_signed_in,
    set_password,
    sign_in,
)

OWNER = "owner@acme.example"


def test_password_sign_in_opens_the_console(browser, world) -> None:
    set_password(world.runtime, OWNER)
    answer = sign_in(browser, OWNER)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-keyplane_session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain=" not in cookie.lower()


def test_only_a_hash_of_the_session_id_is_stored(browser, world) -> None:
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    value = browser.cookies.get("__Host-keyplane_session")
    with world.runtime.sessions() as db:
        stored = db.scalars(select(WebSession)).one()
    assert value and value not in stored.secret_hash and len(stored.secret_hash) == 64


def test_wrong_password_is_refused_with_one_message(browser, world) -> None:
    set_password(world.runtime, OWNER)
    answer = sign_in(browser, OWNER, "not the password at all")
    assert answer.status_code == 401
    assert "wrong email or password" in answer.text
    assert "__Host-keyplane_session" not in answer.headers.get("set-cookie", "")


def test_unknown_email_gets_the_same_password_step(browser, world) -> None:
    """Enumeration resistance: the step after the email is byte-identical but for the email."""
    set_password(world.runtime, OWNER)
    pages = {}
    for email in (OWNER, "nobody@acme.example"):
        start = browser.get("/login")
        step = browser.post("/login", data={"email": email, "csrf_token": csrf_of(start.text)})
        pages[email] = (step.status_code, _masked(step.text, email))
        wrong = browser.post(
            "/login/password",
            data={"email": email, "password": "wrong-password-1", "csrf_token": csrf_of(step.text)},
        )
        pages[email + " wrong"] = (wrong.status_code, _masked(wrong.text, email))
    assert pages[OWNER] == pages["nobody@acme.example"]
    assert pages[OWNER + " wrong"] == pages["nobody@acme.example wrong"]


def _masked(html: str, email: str) -> str:
    return html.replace(email, "EMAIL").replace(quote_plus(email), "EMAIL")


def test_user_without_password_cannot_sign_in(browser, world) -> None:
    answer = sign_in(browser, OWNER, "any password at all")
    assert answer.status_code == 401


def test_forms_without_a_valid_csrf_token_are_rejected(browser, world) -> None:
    set_password(world.runtime, OWNER)
    browser.get("/login")
    for token in ("", "0" * 64):
        answer = browser.post(
            "/login/password", data={"email": OWNER, "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 403
        assert "Form rejected" in answer.text
    with world.runtime.sessions() as db:
        assert db.scalars(select(WebSession)).all() == []


def test_a_token_from_another_browser_is_rejected(browser, app, world) -> None:
    set_password(world.runtime, OWNER)
    attacker = another_browser(app)
    stolen = csrf_of(attacker.get("/login").text)
    browser.get("/login")
    answer = browser.post(
        "/login/password", data={"email": OWNER, "password": PASSWORD, "csrf_token": stolen}
    )
    assert answer.status_code == 403


def test_console_needs_a_session(browser, world) -> None:
    answer = browser.get("/console")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/console"


def test_next_cannot_leave_the_site(browser, world) -> None:
    set_password(world.runtime, OWNER)
    start = browser.get("/login")
    step = browser.post(
        "/login",
        data={"email": OWNER, "next": "//evil.example/x", "csrf_token": csrf_of(start.text)},
    )
    answer = browser.post(
        "/login/password",
        data={
            "email": OWNER,
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_of(step.text),
        },
    )
    assert answer.headers["location"] == "/console"


def test_idle_session_expires(browser, world) -> None:
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    assert is_signed_in(browser)
    idle = world.runtime.settings.session_idle_minutes
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=idle + 1)))
    assert not is_signed_in(browser)
    with world.runtime.sessions() as db:
        assert db.scalars(select(WebSession)).all() == []


def test_browsing_pages_keeps_a_session_alive(browser, world) -> None:
    """Every page a person reads (a GET) starts the idle limit again, once a minute."""
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    idle = world.runtime.settings.session_idle_minutes
    a_while_ago = utcnow() - timedelta(minutes=idle - 1)
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(update(WebSession).values(last_seen_at=a_while_ago))
    page = console_page(browser)
    assert page.status_code == 200, page.text
    with world.runtime.sessions() as db:
        seen = db.scalars(select(WebSession.last_seen_at)).one()
    assert seen > a_while_ago + timedelta(seconds=30)
    with unit_of_work(world.runtime.sessions) as db:  # another minute idle: still alive
        db.execute(update(WebSession).values(last_seen_at=seen - timedelta(minutes=2)))
    assert is_signed_in(browser)


def test_absolute_timeout_ends_an_active_session(browser, world) -> None:
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not is_signed_in(browser)


def test_sign_out_ends_the_session(browser, world) -> None:
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    page = console_page(browser)
    answer = browser.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303
    assert not is_signed_in(browser)


def test_sign_out_everywhere_ends_every_session(browser, app, world) -> None:
    set_password(world.runtime, OWNER)
    other = another_browser(app)
    sign_in(browser, OWNER)
    sign_in(other, OWNER)
    page = console_page(browser)
    browser.post("/logout", data={"csrf_token": csrf_of(page.text), "everywhere": "1"})
    assert not is_signed_in(other)
    with world.runtime.sessions() as db:
        assert db.scalars(select(WebSession)).all() == []


def test_an_operator_password_reset_ends_the_sessions_of_the_old_one(browser, world) -> None:
    """`keyplane admin set-password` on an account that had a password: whoever signed
    in with the old one is signed out."""
    from keyplane.identity.accounts import set_password as reset

    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    assert is_signed_in(browser)
    with unit_of_work(world.runtime.sessions) as db:
        reset(db, world.runtime.settings, OWNER, "a brand new passphrase 2026")
    assert not is_signed_in(browser)
    assert sign_in(browser, OWNER, "a brand new passphrase 2026").status_code == 303


def test_failed_logins_are_limited_per_account(browser, world) -> None:
    set_password(world.runtime, OWNER)
    limit = world.runtime.settings.login_failures_per_account
    for _ in range(limit):
        assert sign_in(browser, OWNER, "wrong-password-x").status_code == 401
    blocked = sign_in(browser, OWNER)  # even the right password waits
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "too many failed sign-in attempts" in blocked.text


def test_a_strangers_failures_do_not_lock_the_person_out(app, world) -> None:
    set_password(world.runtime, OWNER)
    stranger, person = another_browser(app, "203.0.113.7"), another_browser(app, "198.51.100.20")
    limit = world.runtime.settings.login_failures_per_account
    for _ in range(limit):
        assert sign_in(stranger, OWNER, "wrong-password-x").status_code == 401
    assert sign_in(stranger, OWNER).status_code == 429  # from there, even the right one
    assert sign_in(person, OWNER).status_code == 303  # from the person's own address


def test_failures_spread_over_addresses_are_limited_per_account(app, world) -> None:
    set_password(world.runtime, OWNER)
    settings = world.runtime.settings
    per_address = settings.login_failures_per_account - 1
    addresses = -(-settings.login_failures_per_account_anywhere // per_address)
    for n in range(addresses):
        guesser = another_browser(app, f"203.0.113.{n + 1}")
        for _ in range(per_address):
            sign_in(guesser, OWNER, "wrong-password-x")
    blocked = sign_in(another_browser(app, "198.51.100.20"), OWNER)
    assert blocked.status_code == 429
    assert "too many failed sign-in attempts" in blocked.text


def test_failed_logins_are_limited_per_address(browser, world) -> None:
    set_password(world.runtime, OWNER)
    limit = world.runtime.settings.login_failures_per_ip
    for n in range(limit):
        sign_in(browser, f"user{n}@nowhere.example", "wrong-password-x")
    assert sign_in(browser, OWNER).status_code == 429


def test_a_hash_with_old_parameters_is_redone_at_sign_in(browser, world) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=4096)
    set_password(world.runtime, OWNER, hasher=old)
    assert sign_in(browser, OWNER).status_code == 303
    with world.runtime.sessions() as db:
        stored = db.scalar(select(User.password_hash).where(User.email == OWNER))
    settings = world.runtime.settings
    assert (
        stored
        and f"m={settings.password_hash_memory_kib},t={settings.password_hash_time_cost}" in stored
    )
    assert sign_in(browser, OWNER).status_code == 303


def test_a_second_sign_in_in_one_browser_ends_the_first_session(browser, app, world) -> None:
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    first = browser.cookies.get("__Host-keyplane_session")
    sign_in(browser, OWNER)  # another person's sign-in would end it alike
    assert browser.cookies.get("__Host-keyplane_session") != first
    assert is_signed_in(browser)
    copied = another_browser(app)
    copied.cookies.set("__Host-keyplane_session", first)  # a copy of the old cookie
    assert not is_signed_in(copied)
    with world.runtime.sessions() as db:
        assert len(db.scalars(select(WebSession)).all()) == 1
