"""Organization SSO against a real OpenID Connect provider (oidc-provider on loopback)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, text

from keyplane.db.models import RoleBinding, User
from keyplane.db.unit import unit_of_work
from keyplane.domain.errors import Conflict, InvalidInput, NotAuthenticated
from keyplane.identity import sso
from keyplane.identity.accounts import set_password as set_password_of
from keyplane.identity.models import SsoDomain
from keyplane.identity.sso_login import connection_for_login, user_from_claims
from tests.factories import bearer
from tests.functional.identity.conftest import csrf_of, is_signed_in, set_password, sign_in
from tests.idp import CLIENT_ID, CLIENT_SECRET, running_idp, sign_in_at_idp

CALLBACK = "https://testserver/sso/callback"


@pytest.fixture(scope="module")
def issuer():  # type: ignore[no-untyped-def]
    with running_idp(CALLBACK) as url:
        yield url


def connections(world, org=None) -> str:  # type: ignore[no-untyped-def]
    return f"/v1/organizations/{(org or world.org).id}/sso-connections"


def create_connection(world, issuer: str, org=None, verify: bool = True, **extra):  # type: ignore[no-untyped-def]
    """A connection of ``org`` (default: acme) whose domains the operator then verifies
    (``keyplane admin sso verify``), unless ``verify`` is false."""
    org = org or world.org
    body = {
        "name": "Acme IdP",
        "issuer": issuer,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "domains": ["sso.example"],
        **extra,
    }
    answer = world.client.post(connections(world, org), json=body, headers=bearer(org.owner_token))
    assert answer.status_code == 201, answer.text
    if verify:
        with unit_of_work(world.runtime.sessions) as db:
            for domain in answer.json()["domains"]:
                sso.verify_domain(db, domain, org.id)
    return answer.json()


def start_login(browser, email: str):  # type: ignore[no-untyped-def]
    page = browser.get("/login")
    return browser.post("/login", data={"email": email, "csrf_token": csrf_of(page.text)})


def round_trip(browser, email: str, idp_login: str | None = None):  # type: ignore[no-untyped-def]
    step = start_login(browser, email)
    assert step.status_code == 303
    assert step.headers["location"].startswith("/sso/")
    to_idp = browser.get(step.headers["location"])
    assert to_idp.status_code == 303
    back = sign_in_at_idp(to_idp.headers["location"], idp_login or email, CALLBACK)
    return browser.get(back.removeprefix("https://testserver"))


def test_connections_are_managed_by_owners_and_hide_the_secret(world, issuer) -> None:
    created = create_connection(world, issuer, enforceSso=True)
    assert "clientSecret" not in created and CLIENT_SECRET not in str(created)
    assert created["domains"] == ["sso.example"] and created["defaultRole"] == "ORGANIZATION_MEMBER"
    with world.runtime.engine.connect() as connection:
        stored = connection.execute(text("SELECT client_secret_encrypted FROM sso_connections"))
        assert CLIENT_SECRET not in stored.scalar_one()
    owner = bearer(world.org.owner_token)
    url = f"{connections(world)}/{created['id']}"
    updated = world.client.post(
        url, json={"domains": ["sso.example", "Corp.Example"]}, headers=owner
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["domains"] == ["corp.example", "sso.example"]
    listed = world.client.get(connections(world), headers=owner).json()
    assert listed["totalCount"] == 1
    member = world.token("ORGANIZATION", None, "ORGANIZATION_MEMBER")
    refused = world.client.get(connections(world), headers=bearer(member))
    assert refused.status_code == 403 and "organization.sso:manage" in refused.json()["message"]
    other = world.client.get(
        url.replace(world.org.id, world.other.id), headers=bearer(world.other.owner_token)
    )
    assert other.status_code == 404
    assert world.client.delete(url, headers=owner).status_code == 204
    assert world.client.get(url, headers=owner).status_code == 404


def test_a_connections_life_is_recorded_under_one_target(world, issuer) -> None:
    created = create_connection(world, issuer)
    owner = bearer(world.org.owner_token)
    url = f"{connections(world)}/{created['id']}"
    assert world.client.post(url, json={"name": "Okta"}, headers=owner).status_code == 200
    assert world.client.delete(url, headers=owner).status_code == 204
    events = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"targetId": created["id"], "action": "sso_connection.*", "sorts": "occurredAt:asc"},
        headers=owner,
    ).json()["auditLogs"]
    assert [(e["action"], e["target"]["type"]) for e in events] == [
        ("sso_connection.create", "sso_connection"),
        ("sso_connection.update", "sso_connection"),
        ("sso_connection.delete", "sso_connection"),
    ]


def test_an_update_records_what_it_changed_and_names_a_new_secret_only(world, issuer) -> None:
    created = create_connection(world, issuer)
    owner = bearer(world.org.owner_token)
    new_secret = "a brand new client secret 4711"
    body = {"enforceSso": True, "clientSecret": new_secret}
    answer = world.client.post(f"{connections(world)}/{created['id']}", json=body, headers=owner)
    assert answer.status_code == 200, answer.text
    [event] = world.client.get(
        f"/v1/organizations/{world.org.id}/audit-logs",
        params={"action": "sso_connection.update"},
        headers=owner,
    ).json()["auditLogs"]
    assert event["details"]["changed"] == ["clientSecret", "enforceSso"]
    assert event["details"]["newValues"] == {"enforceSso": True}
    with world.runtime.engine.connect() as connection:
        dump = str(list(connection.execute(text("SELECT * FROM audit_events"))))
    assert new_secret not in dump


def test_a_claim_routes_nobody_until_the_operator_verifies_it(browser, world, issuer) -> None:
    """Any organization can claim a domain; only the verified claim sends its emails to
    a provider, so a claim by another organization blocks nothing and routes nothing."""
    ours = create_connection(world, issuer, verify=False)
    assert ours["domains"] == ["sso.example"] and ours["verifiedDomains"] == []
    theirs = create_connection(world, issuer, org=world.other, verify=False)
    assert theirs["domains"] == ["sso.example"]  # no squatting: claims do not collide
    step = start_login(browser, "alice@sso.example")
    assert step.status_code == 200 and 'name="password"' in step.text  # the password step
    with unit_of_work(world.runtime.sessions) as db:
        sso.verify_domain(db, "sso.example", world.org.id)
        with pytest.raises(Conflict, match="verified for another organization"):
            sso.verify_domain(db, "sso.example", world.other.id)
    owner = bearer(world.org.owner_token)
    shown = world.client.get(f"{connections(world)}/{ours['id']}", headers=owner).json()
    assert shown["verifiedDomains"] == ["sso.example"]
    step = start_login(browser, "alice@sso.example")
    assert step.headers["location"].startswith(f"/sso/{ours['id']}/start")
    body = {"name": "Late", "issuer": issuer, "clientId": "x", "clientSecret": "y",
            "domains": ["sso.example"]}  # fmt: skip
    late = world.client.post(
        connections(world, world.other), json=body, headers=bearer(world.other.owner_token)
    )
    assert late.status_code == 409 and "sso.example" in late.json()["message"]


def test_another_organization_cannot_sign_in_as_our_users(browser, world, issuer) -> None:
    """Globex claims acme's domain, points it at a provider Globex controls and turns
    passwords off: acme's owner still signs in with a password, and Globex's provider
    cannot sign anyone in as them."""
    with unit_of_work(world.runtime.sessions) as db:
        db.add(User(email="carol@sso.example"))
    set_password(world.runtime, "carol@sso.example")
    theirs = create_connection(world, issuer, org=world.other, verify=False, enforceSso=True)
    assert sign_in(browser, "carol@sso.example").status_code == 303
    attacker = world.client.__class__(
        browser.app, base_url="https://testserver", follow_redirects=False
    )
    to_idp = attacker.get(f"/sso/{theirs['id']}/start")
    assert to_idp.status_code == 303
    back = sign_in_at_idp(to_idp.headers["location"], "carol@sso.example", CALLBACK)
    answer = attacker.get(back.removeprefix("https://testserver"))
    assert answer.status_code == 401 and "not in a verified domain" in answer.text
    assert not is_signed_in(attacker)
    with world.runtime.sessions() as db:
        user = db.scalar(select(User).where(User.email == "carol@sso.example"))
        bound = db.scalars(
            select(RoleBinding.organization_id).where(RoleBinding.user_id == user.id)
        )
        assert world.other.id not in set(bound)


@pytest.mark.parametrize("domain", ["gmail.com", "Outlook.com"])
def test_a_public_mail_domain_cannot_be_claimed(world, issuer, domain) -> None:
    body = {"name": "x", "issuer": issuer, "clientId": "x", "clientSecret": "y",
            "domains": [domain]}  # fmt: skip
    answer = world.client.post(connections(world), json=body, headers=bearer(world.org.owner_token))
    assert answer.status_code == 400
    assert "public mail provider" in answer.json()["message"]


def test_default_role_must_be_an_organization_role(world, issuer) -> None:
    body = {
        "name": "x",
        "issuer": issuer,
        "clientId": "x",
        "clientSecret": "y",
        "domains": ["x.example"],
        "defaultRole": "WORKSPACE_OWNER",
    }
    answer = world.client.post(connections(world), json=body, headers=bearer(world.org.owner_token))
    assert answer.status_code == 400


def test_sso_round_trip_creates_the_user_just_in_time(browser, world, issuer) -> None:
    connection = create_connection(world, issuer, defaultRole="ORGANIZATION_BILLING_ADMIN")
    step = start_login(browser, "alice@sso.example")
    assert step.headers["location"].startswith(f"/sso/{connection['id']}/start")
    to_idp = browser.get(step.headers["location"])
    query = parse_qs(urlsplit(to_idp.headers["location"]).query)
    assert to_idp.headers["location"].startswith(issuer)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["client_id"] == [CLIENT_ID]
    back = sign_in_at_idp(to_idp.headers["location"], "alice@sso.example", CALLBACK)
    done = browser.get(back.removeprefix("https://testserver"))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console"
    assert is_signed_in(browser)
    with world.runtime.sessions() as db:
        user = db.scalar(select(User).where(User.email == "alice@sso.example"))
        assert user is not None and user.password_hash is None
        roles = db.scalars(select(RoleBinding.role).where(RoleBinding.user_id == user.id)).all()
    assert roles == ["ORGANIZATION_BILLING_ADMIN"]
    again = round_trip(
        world.client.__class__(browser.app, base_url="https://testserver", follow_redirects=False),
        "alice@sso.example",
    )
    assert again.status_code == 303
    with world.runtime.sessions() as db:
        assert len(db.scalars(select(User).where(User.email == "alice@sso.example")).all()) == 1


def test_the_provider_cannot_vouch_for_other_domains(browser, world, issuer) -> None:
    create_connection(world, issuer)
    answer = round_trip(browser, "alice@sso.example", idp_login="mallory@globex.example")
    assert answer.status_code == 401
    assert "not in a verified domain" in answer.text
    assert not is_signed_in(browser)


def test_a_callback_with_another_state_is_refused(browser, world, issuer) -> None:
    create_connection(world, issuer)
    step = start_login(browser, "alice@sso.example")
    to_idp = browser.get(step.headers["location"])
    back = sign_in_at_idp(to_idp.headers["location"], "alice@sso.example", CALLBACK)
    forged = back.replace("state=", "state=x")
    answer = browser.get(forged.removeprefix("https://testserver"))
    assert answer.status_code == 401
    assert not is_signed_in(browser)


def test_enforced_sso_disables_passwords(browser, world, issuer) -> None:
    create_connection(world, issuer, enforceSso=True)
    with unit_of_work(world.runtime.sessions) as db:
        db.add(User(email="bob@sso.example"))
    set_password(world.runtime, "bob@sso.example")
    page = browser.get("/login")
    answer = browser.post(
        "/login/password",
        data={
            "email": "bob@sso.example",
            "password": "correct horse battery staple",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert answer.status_code == 401
    assert "single sign-on only" in answer.text
    assert sign_in(browser, "owner@acme.example").status_code == 401  # no password set: unrelated


def _callback_from_idp(browser, world, issuer) -> str:  # type: ignore[no-untyped-def]
    create_connection(world, issuer)
    step = start_login(browser, "alice@sso.example")
    to_idp = browser.get(step.headers["location"])
    back = sign_in_at_idp(to_idp.headers["location"], "alice@sso.example", CALLBACK)
    return str(back)


def test_the_provider_names_itself_in_its_answer(browser, world, issuer) -> None:
    """RFC 9207: oidc-provider sends iss and announces it; keyplane checks it."""
    document = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert document["authorization_response_iss_parameter_supported"] is True
    back = _callback_from_idp(browser, world, issuer)
    assert parse_qs(urlsplit(back).query)["iss"] == [issuer]
    assert browser.get(back.removeprefix("https://testserver")).status_code == 303
    assert is_signed_in(browser)


@pytest.mark.parametrize("change", ["another issuer", "no issuer"])
def test_an_answer_naming_another_issuer_is_refused(browser, world, issuer, change) -> None:
    back = _callback_from_idp(browser, world, issuer)
    parts = urlsplit(back)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    if change == "no issuer":
        del query["iss"]
    else:
        query["iss"] = "https://idp.evil.example"
    answer = browser.get(f"{parts.path}?{urlencode(query)}")
    assert answer.status_code == 401 and "issuer" in answer.text
    assert not is_signed_in(browser)


@pytest.mark.parametrize("verified", ["missing", "false", "true", False, 1])
def test_only_an_email_verified_as_true_signs_in(world, issuer, verified) -> None:
    """The test provider always sends true, so the claims are handed over directly."""
    created = create_connection(world, issuer)
    claims = {"sub": "u1", "email": "alice@sso.example"}
    if verified != "missing":
        claims["email_verified"] = verified
    with unit_of_work(world.runtime.sessions) as db:
        connection = connection_for_login(db, created["id"])
        with pytest.raises(NotAuthenticated, match="verified email"):
            user_from_claims(db, connection, claims)
        user = user_from_claims(db, connection, {**claims, "email_verified": True}).user
        assert user.email == "alice@sso.example"


@pytest.mark.parametrize("typed", ["carol@münchen.example", "Carol@XN--MNCHEN-3YA.example"])
def test_an_address_in_unicode_is_the_same_address(browser, world, issuer, typed) -> None:
    """One form of an address (an ASCII domain) everywhere: an invitation or a sign-in
    written in Unicode meets the same enforced SSO as the ASCII form."""
    create_connection(world, issuer, domains=["xn--mnchen-3ya.example"], enforceSso=True)
    invited = world.client.post(
        f"/v1/organizations/{world.org.id}/invites",
        json={"email": typed, "role": "ORGANIZATION_MEMBER"},
        headers=bearer(world.org.owner_token),
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["email"] == "carol@xn--mnchen-3ya.example"
    with (
        unit_of_work(world.runtime.sessions) as db,
        pytest.raises(InvalidInput, match="single sign-on only"),
    ):
        set_password_of(db, world.runtime.settings, typed, "plum vestibule 1987 kettle")
    step = start_login(browser, typed)
    assert step.status_code == 303 and step.headers["location"].startswith("/sso/")


@pytest.mark.parametrize("when", ["verified later", "enforced later"])
def test_enforcing_sso_ends_what_passwords_signed_in(browser, world, issuer, when) -> None:
    """Once passwords stop working for a domain, the sessions and CLI logins they made
    end too: the ban does not wait 30 days for them to run out."""
    from tests.functional.identity.test_cli_login import device_login

    with unit_of_work(world.runtime.sessions) as db:
        db.add(User(email="erin@sso.example"))
    set_password(world.runtime, "erin@sso.example")
    assert sign_in(browser, "erin@sso.example").status_code == 303
    cli = device_login(browser, world)
    if when == "verified later":
        created = create_connection(world, issuer, verify=False, enforceSso=True)
        assert is_signed_in(browser)  # an unverified claim turns nothing off
        with unit_of_work(world.runtime.sessions) as db:
            sso.verify_domain(db, "sso.example", world.org.id)
    else:
        created = create_connection(world, issuer)
        assert is_signed_in(browser)  # verified, passwords still allowed
        turned = world.client.post(
            f"{connections(world)}/{created['id']}",
            json={"enforceSso": True},
            headers=bearer(world.org.owner_token),
        )
        assert turned.status_code == 200, turned.text
    assert not is_signed_in(browser)
    assert world.client.get("/v1/self", headers=bearer(cli["access_token"])).status_code == 401


def test_a_public_mail_domain_claimed_before_the_rule_is_never_verified(world, issuer) -> None:
    """A claim of gmail.com that an older version accepted stays a claim."""
    created = create_connection(world, issuer, verify=False)
    with unit_of_work(world.runtime.sessions) as db:
        db.add(SsoDomain(domain="gmail.com", connection_id=created["id"],
                         organization_id=world.org.id))  # fmt: skip
    with (
        unit_of_work(world.runtime.sessions) as db,
        pytest.raises(InvalidInput, match="public mail provider"),
    ):
        sso.verify_domain(db, "gmail.com", world.org.id)
