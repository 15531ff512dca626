"""Invitations: the existing API answer, plus a mailed single-use, expiring, signed link."""

from __future__ import annotations

import re
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import select

from keyplane.db.models import User
from tests.factories import bearer
from tests.functional.identity.conftest import csrf_of, is_signed_in, sign_in

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
