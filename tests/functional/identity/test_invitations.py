"""Invitations: the existing API answer, plus a mailed single-use, expiring, signed link."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import select

from keyplane.db.models import User
from tests.asgi_client import AppClient
from tests.factories import bearer
from tests.functional.identity.conftest import csrf_of, is_signed_in, sign_in
from tests.smtp import closed_port, smtp_sink

LINK = re.compile(r"https://testserver(/invite/[A-Za-z0-9_\-.]+)")


def invite(world, email: str = "new@acme.example"):  # type: ignore[no-untyped-def]
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": email, "role": "ORGANIZATION_MEMBER"},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def mailed_link(world) -> str:  # type: ignore[no-untyped-def]
    outbox = Path(world.runtime.settings.data_dir) / "outbox"
    files = sorted(outbox.glob("*.eml"))
    assert files, "nothing in the outbox"
    assert files[-1].stat().st_mode & 0o777 == 0o600
    mail = message_from_bytes(files[-1].read_bytes())
    found = LINK.search(mail.get_payload(decode=True).decode())
    assert found
    return found.group(1)


def test_invite_answers_as_before_and_mails_a_link(world) -> None:
    user = invite(world)
    assert user["email"] == "new@acme.example" and user["organizationRole"] == "ORGANIZATION_MEMBER"
    assert mailed_link(world).startswith("/invite/")


def test_the_link_sets_a_password_once(browser, world) -> None:
    invite(world)
    link = mailed_link(world)
    page = browser.get(link)
    assert page.status_code == 200 and "Join acme" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    weak = browser.post(link, data={"password": "password123", "csrf_token": csrf_of(page.text)})
    assert weak.status_code == 400 and "common" in weak.text
    done = browser.post(
        link, data={"password": "plum vestibule 1987 kettle", "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303 and is_signed_in(browser)
    assert browser.get(link).status_code == 404  # single use
    other = browser.__class__(browser.app, base_url="https://testserver", follow_redirects=False)
    assert sign_in(other, "new@acme.example", "plum vestibule 1987 kettle").status_code == 303


def test_altered_or_expired_links_are_refused(browser, world) -> None:
    invite(world)
    link = mailed_link(world)
    nonce, expires, signature = link.removeprefix("/invite/").split(".")
    later = f"/invite/{nonce}.{int(expires) + 3600}.{signature}"
    assert browser.get(later).status_code == 404
    assert browser.get(f"/invite/{nonce}.{expires}.{'0' * 32}").status_code == 404
    from keyplane.identity.invitations import sign

    key = world.runtime.secret_box.derive("keyplane links v1")
    expired = sign(key, nonce, 1000)
    assert browser.get(f"/invite/{expired}").status_code == 404
    with world.runtime.sessions() as db:
        assert db.scalar(select(User).where(User.email == "new@acme.example")).password_hash is None


@pytest.mark.parametrize("expires", ["²", "¹²³", "٣٤٥", "9" * 40])
def test_a_link_with_digits_python_reads_but_int_refuses_is_not_found(
    browser, world, expires
) -> None:
    assert browser.get(f"/invite/abc.{expires}.deadbeef").status_code == 404


def test_removing_a_member_ends_their_pending_invitation(browser, world) -> None:
    """The link of someone removed since it was sent no longer signs them in."""
    user = invite(world)
    link = mailed_link(world)
    removed = world.client.delete(
        f"/v1/organizations/{world.org.id}/users/{user['id']}",
        headers=bearer(world.org.owner_token),
    )
    assert removed.status_code == 204, removed.text
    page = browser.get(link)
    assert page.status_code == 404
    csrf = csrf_of(browser.get("/login").text)
    posted = browser.post(link, data={"password": "plum vestibule 1987 kettle", "csrf_token": csrf})
    assert posted.status_code == 404 and not is_signed_in(browser)
    with world.runtime.sessions() as db:
        assert db.scalar(select(User).where(User.email == "new@acme.example")).password_hash is None


def _post_invite(world, email: str, role: str = "ORGANIZATION_MEMBER"):  # type: ignore[no-untyped-def]
    return world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": email, "role": role},
        headers=bearer(world.org.owner_token),
    )


def _mail_through(monkeypatch, world, port: int) -> None:  # type: ignore[no-untyped-def]
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    runtime = world.runtime
    monkeypatch.setattr(runtime, "settings", runtime.settings.model_copy(update=smtp))


def _outbox_links(world) -> set[str]:  # type: ignore[no-untyped-def]
    outbox = Path(world.runtime.settings.data_dir) / "outbox"
    return {_link_in(message_from_bytes(f.read_bytes())) for f in outbox.glob("*.eml")}


def _link_in(mail) -> str:  # type: ignore[no-untyped-def]
    found = LINK.search(mail.get_payload(decode=True).decode())
    assert found, mail.get_payload()
    return found.group(1)


def test_an_invitation_whose_mail_failed_is_kept_and_sent_again(
    monkeypatch, browser, world
) -> None:
    email = "late@acme.example"
    _mail_through(monkeypatch, world, closed_port())  # the mail server is down
    down = _post_invite(world, email)
    assert down.status_code == 503, down.text
    assert "is stored" in down.json()["message"] and "again" in down.json()["message"]
    users = world.client.get(
        f"/v1/organizations/{world.org.id}/users", headers=bearer(world.org.owner_token)
    ).json()["users"]
    assert email in {u["email"] for u in users}  # kept: the invitation was stored

    with smtp_sink() as (port, inbox):  # the mail server is back
        _mail_through(monkeypatch, world, port)
        again = _post_invite(world, email)
        assert again.status_code == 200, again.text  # re-sent, not a Conflict
        assert again.json()["email"] == email
        assert [m["To"] for m in inbox] == [email]
        link = _link_in(inbox[0])

    page = browser.get(link)
    assert page.status_code == 200 and "Join acme" in page.text
    done = browser.post(
        link, data={"password": "plum vestibule 1987 kettle", "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303 and is_signed_in(browser)
    joined = _post_invite(world, email)  # used: nothing pending to re-send any more
    assert joined.status_code == 409 and "already a member" in joined.json()["message"]


def test_resending_gives_a_new_link_and_the_old_one_stops_working(browser, world) -> None:
    invite(world, "twice@acme.example")
    (first,) = _outbox_links(world)
    again = _post_invite(world, "twice@acme.example")
    assert again.status_code == 200, again.text
    (second,) = _outbox_links(world) - {first}
    assert browser.get(first).status_code == 404
    assert browser.get(second).status_code == 200


def test_resending_with_another_role_is_a_conflict(world) -> None:
    invite(world, "role@acme.example")
    other = _post_invite(world, "role@acme.example", "ORGANIZATION_BILLING_ADMIN")
    assert other.status_code == 409 and "already invited as" in other.json()["message"]


def test_a_link_accepted_from_several_browsers_at_once_is_spent_once(app, world, db_url) -> None:  # type: ignore[no-untyped-def]
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    invite(world, "racer@acme.example")
    link = mailed_link(world)
    browsers = [
        AppClient(app, base_url="https://testserver", follow_redirects=False) for _ in range(6)
    ]
    tokens = [csrf_of(b.get(link).text) for b in browsers]
    start = threading.Barrier(len(browsers))

    def accept(n: int) -> int:
        start.wait()
        data = {"password": f"plum vestibule {n} kettle 1987", "csrf_token": tokens[n]}
        return browsers[n].post(link, data=data).status_code

    with ThreadPoolExecutor(len(browsers)) as pool:
        statuses = sorted(pool.map(accept, range(len(browsers))))

    assert statuses == [303] + [404] * (len(browsers) - 1), statuses
    assert sum(is_signed_in(b) for b in browsers) == 1
