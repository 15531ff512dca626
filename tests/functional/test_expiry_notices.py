"""Expiry announced: one mail 14 days and one 3 days before a token expires, once each."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes

from sqlalchemy import select, update

from keyplane.db.base import utcnow
from keyplane.db.models import Organization
from keyplane.db.unit import unit_of_work
from keyplane.hygiene.expiry import notify
from keyplane.hygiene.mail import LEASE
from keyplane.hygiene.models import ExpiryNotice
from keyplane.identity.mail import FileOutbox, SmtpSender
from keyplane.oauth.access_tokens import issue_user_access_token
from tests.factories import World, bearer
from tests.smtp import closed_port, smtp_sink

OWNER = "owner@acme.example"


def token(world: World, days: int | None, name: str, headers: dict[str, str] | None = None) -> str:
    body = {"name": name, "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}
    if days:
        body["tokenExpiryPeriodInDays"] = days
    answer = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens",
        json=body,
        headers=headers or bearer(world.org.owner_token),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def mails(world: World) -> list[tuple[str, str, str]]:
    """(to, subject, body) of every expiry notice in the outbox (invitations go there too)."""
    found = []
    for path in sorted((world.runtime.settings.data_dir / "outbox").glob("*.eml")):
        message = message_from_bytes(path.read_bytes())
        body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        if " expires in " in str(message["Subject"]):
            found.append((str(message["To"]), str(message["Subject"]), body))
    return found


def run(world: World, now=None, sender=None):  # type: ignore[no-untyped-def]
    settings = world.runtime.settings
    return notify(
        world.runtime.sessions, settings, sender or FileOutbox(settings.data_dir / "outbox"), now
    )


def test_tokens_expiring_in_14_and_3_days_get_one_mail_each(world):
    fourteen = token(world, 14, "nightly-etl")
    three = token(world, 3, "release-bot")
    token(world, 30, "later")
    token(world, None, "forever")

    first, second = run(world), run(world)

    assert (first.sent, first.failed, second.sent) == (2, 0, 0)
    sent = mails(world)
    assert sorted((to, subject.split("'")[1]) for to, subject, _ in sent) == [
        (OWNER, "nightly-etl"),
        (OWNER, "release-bot"),
    ]
    by_name = {subject.split("'")[1]: body for _, subject, body in sent}
    assert fourteen in by_name["nightly-etl"] and "in 14 day(s)" in by_name["nightly-etl"]
    assert f"keyplane organization token rotate {three}" in by_name["release-bot"]
    # Eleven days on, the 14-day token enters its 3-day window: one more mail, once.
    later = utcnow() + timedelta(days=11, hours=1)
    assert run(world, later).sent == 1 and run(world, later).sent == 0
    assert len(mails(world)) == 3


def test_the_creator_hears_too_while_still_a_member(world):
    invited = world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": "ana@acme.example", "role": "ORGANIZATION_OWNER"},
        headers=bearer(world.org.owner_token),
    )
    ana = invited.json()["id"]
    jwt = issue_user_access_token(world.runtime, ana).access_token
    token(world, 3, "anas-token", bearer(jwt))
    # Ana is an owner: she hears once, not twice.
    run(world)
    assert sorted(to for to, _, _ in mails(world)) == ["ana@acme.example", OWNER]


def test_a_creator_who_left_hears_nothing(world):
    invited = world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": "bo@acme.example", "role": "ORGANIZATION_OWNER"},
        headers=bearer(world.org.owner_token),
    )
    bo = invited.json()["id"]
    token(world, 3, "bos-token", bearer(issue_user_access_token(world.runtime, bo).access_token))
    removed = world.client.delete(
        f"/v1/organizations/{world.org.id}/users/{bo}", headers=bearer(world.org.owner_token)
    )
    assert removed.status_code == 204, removed.text
    run(world)
    assert [to for to, _, _ in mails(world)] == [OWNER]


def test_a_notice_the_mail_server_refused_is_sent_by_a_later_run(world):
    token(world, 3, "release-bot")
    settings = world.runtime.settings
    down = SmtpSender(
        settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": closed_port()})
    )

    failed = run(world, sender=down)
    assert (failed.sent, failed.failed) == (0, 1)
    with world.runtime.sessions() as db:
        [notice] = db.scalars(select(ExpiryNotice)).all()
        assert notice.sent_at is None  # claimed, not sent: nothing lost
    # Within the lease another run leaves it alone (the first may still be sending) ...
    assert run(world, utcnow() + LEASE / 2).sent == 0
    # ... after it, a run claims it again and the mail goes, once.
    with smtp_sink() as (port, received):
        up = SmtpSender(settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port,
                                                    "smtp_starttls": False}))  # fmt: skip
        assert run(world, utcnow() + LEASE + timedelta(minutes=1), up).sent == 1
        assert run(world, utcnow() + 2 * LEASE, up).sent == 0
        assert [m["To"] for m in received] == [OWNER]


def test_a_rotated_token_is_announced_again_for_its_new_expiry(world):
    token_id = token(world, 3, "release-bot")
    assert run(world).sent == 1
    rotated = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens/{token_id}/rotate",
        headers=bearer(world.org.owner_token),
    )
    assert rotated.status_code == 200
    assert run(world).sent == 1  # a new expiry, a new notice
    assert run(world).sent == 0


def test_listings_filter_tokens_by_how_soon_they_expire(world):
    token(world, 3, "release-bot")
    token(world, 14, "nightly-etl")
    token(world, None, "forever")
    world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_MEMBER",
                tokenExpiryPeriodInDays=5)  # fmt: skip

    def names(**params: object) -> list[str]:
        answer = world.client.get(
            f"/v1/organizations/{world.org.id}/tokens",
            params={"sorts": "name", **params},
            headers=bearer(world.org.owner_token),
        )
        assert answer.status_code == 200, answer.text
        return [t["name"] for t in answer.json()["tokens"]]

    assert names(expiringWithinDays=4, scope="ORGANIZATION") == ["release-bot"]
    assert names(expiringWithinDays=14) == [
        "nightly-etl",
        "release-bot",
        "workspace WORKSPACE_MEMBER",
    ]
    assert names(expiringWithinDays=7, workspaceId=world.org.workspaces["ws1"]) == [
        "workspace WORKSPACE_MEMBER"
    ]
    assert names(expiringWithinDays=0) == []
    assert "forever" in names()
    bad = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens?expiringWithinDays=-1",
        headers=bearer(world.org.owner_token),
    )
    assert bad.status_code == 400


def test_a_name_is_one_line(world):
    owner = bearer(world.org.owner_token)
    for name in ("acme\ncorp", "acme\u2028corp", "acme\x85corp", "acme\x07"):
        renamed = world.client.post(
            f"/v1/organizations/{world.org.id}", json={"name": name}, headers=owner
        )
        assert renamed.status_code == 400, renamed.text
        assert "one line" in renamed.text


def test_a_line_break_stored_in_a_name_stops_no_ones_notices(world):
    """An organization renamed before names were checked: its subject is made one line,
    and every organization's notices still go out."""
    with unit_of_work(world.runtime.sessions) as db:
        db.execute(
            update(Organization)
            .where(Organization.id == world.org.id)
            .values(name="acme\u2028corp\r\nBcc: x@evil.example")
        )
    token(world, 3, "release-bot")
    elsewhere = {"name": "victim", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER"}
    made = world.client.post(
        f"/v1/organizations/{world.other.id}/tokens",
        json={**elsewhere, "tokenExpiryPeriodInDays": 3},
        headers=bearer(world.other.owner_token),
    )
    assert made.status_code == 201, made.text

    assert run(world).sent == 2
    outbox = sorted((world.runtime.settings.data_dir / "outbox").glob("*.eml"))
    messages = [message_from_bytes(path.read_bytes()) for path in outbox]
    assert [m["Bcc"] for m in messages] == [None, None]  # nothing injected
    subjects = {" ".join(str(m["Subject"]).split()) for m in messages}  # unfolded
    assert (
        "keyplane: the API token 'release-bot' of acme corp Bcc: x@evil.example "
        "expires in 3 day(s)" in subjects
    )
