"""Leaked credentials revoke themselves: GitHub's signed reports and anyone's report.

Reports are signed with a key pair of the test's own, published by a real HTTP
server standing in for GitHub's key URL (tests/scanning.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import func, select

from keyplane.config import Settings
from keyplane.db.base import utcnow
from keyplane.db.models import ApiToken
from keyplane.domain import credentials
from keyplane.domain.credentials import SecretKind
from keyplane.hygiene.expiry import notify
from keyplane.hygiene.mail import LEASE
from keyplane.hygiene.models import LeakedSecret
from keyplane.identity.mail import FileOutbox, SmtpSender
from tests.factories import World, bearer
from tests.functional.oauth.helpers import access_token, create_key, grant
from tests.scanning import KeyServer, key_server, report_body
from tests.smtp import closed_port, smtp_sink

REPORTS = "/v1/secret-scanning/reports"
LEAKED_AT = "https://github.com/acme/etl/blob/0a1b2c/ci.env"


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    with key_server() as server:
        yield server


@pytest.fixture
def settings(db_url: str, tmp_path: Path, keys: KeyServer) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        public_url="http://testserver",
        secret_scanning_keys_url=keys.url,
        leak_reports_per_minute=5,
    )


def send(world: World, keys: KeyServer, body: bytes, headers: dict[str, str] | None = None):
    return world.client.post(
        REPORTS, content=body, headers=keys.sign(body) if headers is None else headers
    )


def outbox(world: World) -> list[str]:
    folder = world.runtime.settings.data_dir / "outbox"
    return [
        str(message_from_bytes(path.read_bytes()).get_payload(decode=True).decode())
        + "\nTo: "
        + str(message_from_bytes(path.read_bytes())["To"])
        for path in sorted(folder.glob("*.eml"))
    ]


def leaked_events(world: World) -> list[dict]:
    answer = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"action": "token.leaked"},
        headers=bearer(world.org.owner_token),
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["auditLogs"])


def test_a_signed_report_of_a_live_token_revokes_it_and_tells_the_owners(world, keys):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OPERATOR")
    assert world.client.get("/v1/self", headers=bearer(value)).status_code == 200

    answer = send(world, keys, report_body((value, LEAKED_AT), kind="keyplane_workspace_token"))

    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {
            "token_hash": hashlib.sha256(value.encode()).hexdigest(),
            "token_type": "keyplane_workspace_token",
            "label": "true_positive",
        }
    ]
    refused = world.client.get("/v1/self", headers=bearer(value))
    assert refused.status_code == 401
    [event] = leaked_events(world)
    assert event["details"]["url"] == LEAKED_AT and event["details"]["source"] == "commit"
    assert event["actor"]["name"] == "GitHub secret scanning"
    assert event["target"]["type"] == "token"
    assert value not in json.dumps(event)
    [mail] = outbox(world)
    assert "To: owner@acme.example" in mail
    for shown in ("workspace WORKSPACE_OPERATOR", credentials.short(value), "WORKSPACE_OPERATOR",
                  "WORKSPACE", LEAKED_AT, "keyplane workspace token create"):  # fmt: skip
        assert shown in mail
    assert value not in mail


def test_reporting_the_same_token_twice_is_harmless(world, keys):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    body = report_body((value, LEAKED_AT))
    first, second = send(world, keys, body), send(world, keys, body)
    assert first.json() == second.json()
    assert second.json()[0]["label"] == "true_positive"
    assert len(leaked_events(world)) == 1
    assert len(outbox(world)) == 1


def test_random_values_are_false_positives_and_change_nothing(world, keys):
    world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    well_formed = credentials.generate(SecretKind.ORGANIZATION_TOKEN)  # checksum fine, unknown
    with world.runtime.sessions() as db:
        before = db.scalar(select(func.count()).select_from(ApiToken))
    answer = send(world, keys, report_body((well_formed, LEAKED_AT), ("kpw_nonsense", LEAKED_AT)))
    assert [r["label"] for r in answer.json()] == ["false_positive", "false_positive"]
    with world.runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(ApiToken)) == before
    assert leaked_events(world) == [] and outbox(world) == []


@pytest.mark.parametrize(
    "fault", ["bad signature", "unknown key", "missing header", "no signature"]
)
def test_unsigned_or_wrongly_signed_reports_are_refused_and_revoke_nothing(world, keys, fault):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    body = report_body((value, LEAKED_AT))
    headers = keys.sign(body)
    if fault == "bad signature":
        headers = keys.sign(body.replace(b"commit", b"issue"))  # a signature of another body
    elif fault == "unknown key":
        headers["Github-Public-Key-Identifier"] = "f" * 64
    elif fault == "missing header":
        del headers["Github-Public-Key-Identifier"]
    else:
        del headers["Github-Public-Key-Signature"]
    answer = send(world, keys, body, headers)
    assert answer.status_code == 401, answer.text
    assert world.client.get("/v1/self", headers=bearer(value)).status_code == 200
    assert leaked_events(world) == [] and outbox(world) == []


def test_a_deployment_api_key_secret_is_revoked_like_a_token(world, keys):
    key_id, secret = create_key(world)
    issued = access_token(world.client, key_id, secret)
    answer = send(world, keys, report_body((secret, LEAKED_AT), kind="keyplane_deployment_key"))
    assert answer.json()[0]["label"] == "true_positive"
    assert grant(world.client, key_id, secret).status_code == 401
    assert world.client.get("/v1/self", headers=bearer(issued)).status_code == 401
    [event] = leaked_events(world)
    assert event["target"] == {"type": "api_key", "id": key_id}
    [mail] = outbox(world)
    assert "deployment API key" in mail and "keyplane deployment token create" in mail


def test_a_new_signing_key_is_fetched_once_and_made_up_identifiers_fetch_nothing(world, keys):
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    send(world, keys, report_body(("kpo_x", LEAKED_AT)))  # the keys are fetched now
    fetched = keys.fetches
    keys.add_key()  # GitHub rotates: the new identifier is unknown to the server's cache
    world.runtime.scanning_keys.refetch_seconds = 0  # the next unknown one may refetch
    answer = send(world, keys, report_body((value, LEAKED_AT)))
    assert answer.json()[0]["label"] == "true_positive"
    assert keys.fetches == fetched + 1
    world.runtime.scanning_keys.refetch_seconds = 60
    body = report_body(("kpo_x", LEAKED_AT))
    for n in range(5):
        headers = {**keys.sign(body), "Github-Public-Key-Identifier": f"made-up-{n}"}
        assert send(world, keys, body, headers).status_code == 401
    assert keys.fetches == fetched + 1


def test_anyone_can_report_a_value_and_the_answer_says_nothing_about_it(world):
    value = world.token("DEPLOYMENT", world.org.deployments["d1"], "DEPLOYMENT_ADMIN")
    live = world.client.post("/v1/tokens/report", json={"token": value})
    random = world.client.post(
        "/v1/tokens/report", json={"token": credentials.generate(SecretKind.DEPLOYMENT_TOKEN)}
    )
    garbage = world.client.post("/v1/tokens/report", json={"token": "hunter2"})
    assert live.status_code == random.status_code == garbage.status_code == 202
    strip = lambda a: {k: v for k, v in a.json().items() if k != "requestId"}  # noqa: E731
    assert strip(live) == strip(random) == strip(garbage)
    assert set(live.headers) == set(random.headers)
    assert world.client.get("/v1/self", headers=bearer(value)).status_code == 401
    [event] = leaked_events(world)
    assert event["actor"]["name"] == "a report to POST /v1/tokens/report"
    assert len(outbox(world)) == 1


def test_leak_reports_are_rate_limited_per_address(world):
    answers = [
        world.client.post("/v1/tokens/report", json={"token": f"kpo_{n}"}).status_code
        for n in range(7)
    ]
    assert answers == [202] * 5 + [429] * 2


def test_a_leak_notice_the_mail_server_refused_is_sent_by_a_later_notify_run(world, monkeypatch):
    value = world.token("WORKSPACE", world.org.workspaces["ws1"], "WORKSPACE_OPERATOR")
    settings = world.runtime.settings
    down = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": closed_port()})
    monkeypatch.setattr(world.runtime, "settings", down)

    assert world.client.post("/v1/tokens/report", json={"token": value}).status_code == 202

    # Revoked at once all the same; the notice stays claimed and unsent: nothing lost.
    assert world.client.get("/v1/self", headers=bearer(value)).status_code == 401
    with world.runtime.sessions() as db:
        [row] = db.scalars(select(LeakedSecret)).all()
        assert row.mailed_at is None and row.mail_claimed_at is not None
    outbox_mail = FileOutbox(settings.data_dir / "outbox")
    # Within the lease a run leaves it alone (the report may still be sending) ...
    assert notify(world.runtime.sessions, settings, outbox_mail, utcnow() + LEASE / 2).leaks == []
    assert outbox(world) == []
    # ... after it, a run of `keyplane admin notify` mails it, once.
    later = utcnow() + LEASE + timedelta(minutes=1)
    first = notify(world.runtime.sessions, settings, outbox_mail, later)
    second = notify(world.runtime.sessions, settings, outbox_mail, later + LEASE * 2)
    assert (first.leaks_sent, first.leaks_failed, second.leaks) == (1, 0, [])
    [mail] = outbox(world)
    assert "To: owner@acme.example" in mail
    assert "WORKSPACE_OPERATOR" in mail and "a report to POST /v1/tokens/report" in mail
    assert "keyplane workspace token create --workspace-id" in mail
    assert value not in mail and credentials.short(value) in mail  # its excerpt names it


def test_an_owner_refused_for_good_does_not_make_the_others_hear_of_a_leak_again(
    world, monkeypatch
):
    invited = world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": "gone@acme.example", "role": "ORGANIZATION_OWNER"},
        headers=bearer(world.org.owner_token),
    )
    assert invited.status_code == 201, invited.text
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    settings = world.runtime.settings
    with smtp_sink("gone@acme.example") as (port, received):  # that mailbox is gone
        sink = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
        )
        monkeypatch.setattr(world.runtime, "settings", sink)
        assert world.client.post("/v1/tokens/report", json={"token": value}).status_code == 202
        later = notify(world.runtime.sessions, sink, SmtpSender(sink), utcnow() + 2 * LEASE)
        leaks = [m for m in received if "leaked" in str(m["Subject"])]
    # The owner who can be told was told once; the refusal is final, not retried.
    assert [m["To"] for m in leaks] == ["owner@acme.example"]
    assert later.leaks == []
    with world.runtime.sessions() as db:
        assert db.scalars(select(LeakedSecret.mailed_at)).one() is not None


def test_a_leak_stored_by_an_earlier_release_is_not_mailed_again_and_blocks_nothing(world):
    # As a replica not yet upgraded writes it: no claim and nothing the mail names.
    with world.runtime.engine.begin() as connection:
        connection.execute(
            LeakedSecret.__table__.insert().values(
                secret_hash="f" * 64,
                organization_id=world.org.id,
                credential_type="token",
                credential_id="oldrelease",
                name="old",
                url="",
                source="",
                reported_at=utcnow(),
                mail_claimed_at=None,
            )
        )
    expiring = {"name": "soon", "scope": "ORGANIZATION", "role": "ORGANIZATION_MEMBER",
                "tokenExpiryPeriodInDays": 3}  # fmt: skip
    made = world.client.post(
        f"/v1/organizations/{world.org.id}/tokens",
        json=expiring,
        headers=bearer(world.org.owner_token),
    )
    assert made.status_code == 201, made.text
    settings = world.runtime.settings
    outbox_mail = FileOutbox(settings.data_dir / "outbox")
    outcome = notify(world.runtime.sessions, settings, outbox_mail, utcnow() + 2 * LEASE)
    assert (outcome.sent, outcome.failed, outcome.leaks) == (1, 0, [])
    [mail] = outbox(world)
    assert "expires" in mail and "leaked" not in mail


def test_while_the_keys_cannot_be_fetched_every_report_answers_503(world, keys):
    """Not 401 (and then 429 for GitHub's address) in the seconds before a retry:
    GitHub retries a 503, and the report is checked once the keys are back."""
    scanning = world.runtime.scanning_keys
    published, scanning.url = scanning.url, f"http://127.0.0.1:{closed_port()}/keys"
    value = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    body = report_body((value, LEAKED_AT))

    assert [send(world, keys, body).status_code for _ in range(6)] == [503] * 6

    scanning.url, scanning.refetch_seconds = published, 0
    answer = send(world, keys, body)
    assert answer.status_code == 200 and answer.json()[0]["label"] == "true_positive"
