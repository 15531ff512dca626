"""Signing in and out is in the audit trail: who, or which email was refused and from where."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from keyplane.audit.models import AuditEvent
from keyplane.db.models import User
from keyplane.db.unit import unit_of_work
from keyplane.domain.access import Entity
from keyplane.domain.roles import Level, Role
from keyplane.tenancy.members import bind_user
from tests.factories import bearer
from tests.functional.identity.conftest import another_browser, console_page, csrf_of, set_password
from tests.functional.identity.conftest import sign_in as sign_in_with_password
from tests.functional.identity.test_sso import create_connection, issuer, round_trip  # noqa: F401

OWNER = "owner@acme.example"
WRONG = "not the password, 4711"


def log(world, org, **params):  # type: ignore[no-untyped-def]
    answer = world.client.get(
        f"/v1/organizations/{org.id}/audit-logs", params=params, headers=bearer(org.owner_token)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["auditLogs"]


def also_in_globex(world, email: str = OWNER) -> str:
    """Make ``email`` a member of the second organization too; their user id."""
    with unit_of_work(world.runtime.sessions) as db:
        user = db.scalars(select(User).where(User.email == email)).one()
        org = Entity(Level.ORGANIZATION, world.other.id, world.other.id)
        bind_user(db, user, org, Role.ORGANIZATION_MEMBER)
        return user.id


def events_of(world, action: str) -> list[AuditEvent]:
    with world.runtime.sessions() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_sign_in_and_out_are_recorded_as_the_person_in_each_of_their_organizations(
    browser, world
) -> None:
    user_id = also_in_globex(world)
    set_password(world.runtime, OWNER)
    assert sign_in_with_password(browser, OWNER).status_code == 303
    page = console_page(browser)
    assert browser.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303

    for org in (world.org, world.other):
        events = log(world, org, actorId=user_id, sorts="occurredAt:asc")
        assert [(e["action"], e["outcome"], e["actor"]["kind"], e["actor"]["name"])
                for e in events] == [
            ("login.password", "success", "USER", OWNER),
            ("logout", "success", "USER", OWNER),
        ]  # fmt: skip
        assert all(e["organizationId"] == org.id for e in events)


def test_a_refused_password_is_recorded_with_the_email_and_address_never_the_password(
    app, world
) -> None:
    user_id = also_in_globex(world)
    set_password(world.runtime, OWNER)
    stranger = another_browser(app, "203.0.113.9")
    assert sign_in_with_password(stranger, OWNER.upper(), WRONG).status_code == 401

    for org in (world.org, world.other):
        [event] = log(world, org, action="login.password")
        assert (event["outcome"], event["statusCode"]) == ("failure", 401)
        assert event["actor"]["kind"] == "ANONYMOUS"
        assert event["target"] == {"type": "user", "id": user_id}
        assert event["details"]["email"] == OWNER  # as typed, in its one form
        assert event["details"]["reason"] == "wrong email or password"
        assert event["clientIp"] == "203.0.113.9"
    with world.runtime.engine.connect() as connection:
        dump = json.dumps(
            [list(r) for r in connection.execute(text("SELECT * FROM audit_events"))], default=str
        )
    assert WRONG not in dump


def test_a_refusal_for_an_email_no_account_has_is_for_the_operators_only(browser, world) -> None:
    assert sign_in_with_password(browser, "nobody@acme.example", WRONG).status_code == 401
    assert log(world, world.org, action="login.password") == []
    [event] = events_of(world, "login.password")
    assert (event.organization_id, event.outcome) == (None, "failure")
    assert event.details["email"] == "nobody@acme.example"
    assert event.client_ip == "testclient"
    # A password typed as the email is no email: refused (400) and not written down.
    form = {"email": "hunter2 hunter2", "password": WRONG,
            "csrf_token": csrf_of(browser.get("/login").text)}  # fmt: skip
    assert browser.post("/login/password", data=form).status_code == 400
    assert [e.details.get("email") for e in events_of(world, "login.password")] == [
        "nobody@acme.example",
        None,
    ]
    assert "hunter2" not in json.dumps([e.details for e in events_of(world, "login.password")])


def test_rate_limited_attempts_are_not_recorded(browser, world) -> None:
    set_password(world.runtime, OWNER)
    limit = world.runtime.settings.login_failures_per_account
    for _ in range(limit):
        assert sign_in_with_password(browser, OWNER, WRONG).status_code == 401
    assert sign_in_with_password(browser, OWNER, WRONG).status_code == 429
    assert sign_in_with_password(browser, OWNER).status_code == 429
    assert len(log(world, world.org, action="login.password")) == limit


def test_a_single_sign_on_is_recorded_in_the_connections_organization(browser, app, world, issuer):  # type: ignore[no-untyped-def]  # noqa: F811
    connection = create_connection(world, issuer)
    assert round_trip(browser, "alice@sso.example").status_code == 303
    assert round_trip(another_browser(app), "alice@sso.example").status_code == 303

    events = log(world, world.org, action="login.sso", sorts="occurredAt:asc")
    assert [(e["outcome"], e["actor"]["kind"], e["actor"]["name"]) for e in events] == [
        ("success", "USER", "alice@sso.example")
    ] * 2
    assert [(e["details"]["justInTime"], e["details"]["joined"]) for e in events] == [
        (True, True),
        (False, False),
    ]
    assert {e["target"]["id"] for e in events} == {connection["id"]}
    assert log(world, world.other, action="login.sso") == []


def test_a_refused_single_sign_on_is_recorded_with_the_reason(browser, world, issuer):  # type: ignore[no-untyped-def]  # noqa: F811
    connection = create_connection(world, issuer)
    answer = round_trip(browser, "alice@sso.example", idp_login="mallory@globex.example")
    assert answer.status_code == 401
    [event] = log(world, world.org, action="login.sso")
    assert (event["outcome"], event["statusCode"], event["actor"]["kind"]) == (
        "failure",
        401,
        "ANONYMOUS",
    )
    assert event["target"] == {"type": "sso_connection", "id": connection["id"]}
    assert "mallory@globex.example is not in a verified domain" in event["details"]["reason"]
    assert event["clientIp"] == "testclient"
