"""The console: API tokens through the same services as the API, as the signed-in user."""

from __future__ import annotations

import re

from sqlalchemy import event, select

from keyplane.db.models import User
from keyplane.db.unit import unit_of_work
from keyplane.domain.access import Entity
from keyplane.domain.roles import Level
from keyplane.tenancy.members import bind_user
from tests.factories import bearer
from tests.functional.identity.conftest import (
    another_browser,
    console_page,
    csrf_of,
    set_password,
    sign_in,
)

OWNER = "owner@acme.example"
VALUE = re.compile(r'id="token-value" readonly value="(kp[owdk]_[0-9A-Za-z]+)"')


def signed_in_owner(browser, world):  # type: ignore[no-untyped-def]
    set_password(world.runtime, OWNER)
    sign_in(browser, OWNER)
    return console_page(browser)


def invite(browser, world, page, email):  # type: ignore[no-untyped-def]
    """The members page's invite form, sent for ``email`` as an organization member."""
    return browser.post(
        f"/console/orgs/{world.org.id}/members/invite",
        data={"email": email, "role": "ORGANIZATION_MEMBER", "csrf_token": csrf_of(page.text)},
    )


def create(browser, world, page, **fields):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf_of(page.text), "name": "ci", "expiry_days": "", **fields}
    return browser.post(f"/console/orgs/{world.org.id}/tokens", data=data)


def test_create_shows_the_value_once_and_it_works(browser, world) -> None:
    page = signed_in_owner(browser, world)
    ws1 = world.org.workspaces["ws1"]
    answer = create(
        browser, world, page, target=f"WORKSPACE:{ws1}", role="WORKSPACE_AUTHOR", expiry_days="30"
    )
    assert answer.status_code == 201
    assert "you will not see it again" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    value = VALUE.search(answer.text).group(1)
    assert value.startswith("kpw_")
    me = world.client.get("/v1/self", headers=bearer(value))
    assert me.status_code == 200
    listing = console_page(browser).text
    assert value not in listing
    assert "WORKSPACE_AUTHOR" in listing and "owner@acme.example" in listing
    assert "never" in listing  # last used: never


def test_rotate_replaces_the_value(browser, world) -> None:
    page = signed_in_owner(browser, world)
    created = create(
        browser, world, page, target=f"ORGANIZATION:{world.org.id}", role="ORGANIZATION_MEMBER"
    )
    old = VALUE.search(created.text).group(1)
    token_id = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens", headers=bearer(world.org.owner_token)
    ).json()["tokens"]
    token_id = next(t["id"] for t in token_id if t["name"] == "ci")
    page = console_page(browser)
    rotated = browser.post(
        f"/console/orgs/{world.org.id}/tokens/{token_id}/rotate",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert rotated.status_code == 200
    new = VALUE.search(rotated.text).group(1)
    assert new != old
    assert world.client.get("/v1/self", headers=bearer(old)).status_code == 401
    assert world.client.get("/v1/self", headers=bearer(new)).status_code == 200
    deleted = browser.post(
        f"/console/orgs/{world.org.id}/tokens/{token_id}/delete",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert deleted.status_code == 303
    assert world.client.get("/v1/self", headers=bearer(new)).status_code == 401


def test_the_console_refuses_what_the_api_refuses(browser, world) -> None:
    """A signed-in workspace member cannot make an organization token: 403, naming why."""
    with unit_of_work(world.runtime.sessions) as db:
        user = User(email="dev@acme.example")
        db.add(user)
        db.flush()
        org = world.org.id
        bind_user(db, user, Entity(Level.ORGANIZATION, org, org), "ORGANIZATION_MEMBER")
        ws = world.org.workspaces["ws1"]
        bind_user(db, user, Entity(Level.WORKSPACE, ws, org, ws), "WORKSPACE_MEMBER")
    set_password(world.runtime, "dev@acme.example")
    sign_in(browser, "dev@acme.example")
    page = console_page(browser)
    answer = create(browser, world, page, target=f"ORGANIZATION:{org}", role="ORGANIZATION_MEMBER")
    assert answer.status_code == 403
    assert "organization.tokens:manage" in answer.text
    escalate = create(browser, world, page, target=f"WORKSPACE:{ws}", role="WORKSPACE_OWNER")
    assert escalate.status_code == 403


def test_other_tenants_are_not_found(browser, world) -> None:
    signed_in_owner(browser, world)
    answer = browser.get(f"/console/orgs/{world.other.id}/tokens")
    assert answer.status_code == 404


def test_console_actions_need_the_csrf_token(browser, world) -> None:
    signed_in_owner(browser, world)
    answer = browser.post(
        f"/console/orgs/{world.org.id}/tokens",
        data={"name": "x", "target": f"ORGANIZATION:{world.org.id}", "role": "ORGANIZATION_MEMBER"},
    )
    assert answer.status_code == 403
    tokens = world.client.get(
        f"/v1/organizations/{world.org.id}/tokens", headers=bearer(world.org.owner_token)
    ).json()["tokens"]
    assert all(t["name"] != "x" for t in tokens)


def test_members_page_invites_and_removes(browser, world) -> None:
    signed_in_owner(browser, world)
    page = browser.get(f"/console/orgs/{world.org.id}/members")
    assert page.status_code == 200 and OWNER in page.text
    invited = invite(browser, world, page, "ana@acme.example")
    assert invited.status_code == 303
    outbox = list((world.runtime.settings.data_dir / "outbox").glob("*.eml"))
    assert len(outbox) == 1 and "ana@acme.example" in outbox[0].read_text()
    page = browser.get(f"/console/orgs/{world.org.id}/members")
    assert "ana@acme.example" in page.text
    with world.runtime.sessions() as db:
        ana = db.scalar(select(User).where(User.email == "ana@acme.example"))
    removed = browser.post(
        f"/console/orgs/{world.org.id}/members/{ana.id}/remove",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert removed.status_code == 303
    assert "ana@acme.example" not in browser.get(f"/console/orgs/{world.org.id}/members").text
    last_owner = browser.post(
        f"/console/orgs/{world.org.id}/members/{world.org.owner_user_id}/remove",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert last_owner.status_code == 409 and "last owner" in last_owner.text


def test_deployment_api_keys_in_the_console(browser, world) -> None:
    page = signed_in_owner(browser, world)
    page = browser.get(f"/console/orgs/{world.org.id}/api-keys")
    assert page.status_code == 200 and "deprecated" in page.text
    d1 = world.org.deployments["d1"]
    created = browser.post(
        f"/console/orgs/{world.org.id}/api-keys",
        data={"deployment_id": d1, "name": "legacy-ci", "csrf_token": csrf_of(page.text)},
    )
    assert created.status_code == 201 and "you will not see it again" in created.text
    key_id = re.search(r'id="key-id" readonly value="([^"]+)"', created.text).group(1)
    secret = re.search(r'id="key-secret" readonly value="(kpk_[^"]+)"', created.text).group(1)
    exchanged = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret},
    )
    assert exchanged.status_code == 200, exchanged.text
    listing = browser.get(f"/console/orgs/{world.org.id}/api-keys").text
    assert "legacy-ci" in listing and secret not in listing
    deleted = browser.post(
        f"/console/orgs/{world.org.id}/api-keys/{d1}/{key_id}/delete",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert deleted.status_code == 303
    again = world.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": key_id, "client_secret": secret},
    )
    assert again.status_code in (400, 401)


def test_a_failed_action_says_why_and_leads_back(browser, world) -> None:
    """Console failures are the API's answer (status and message), on a page that shows
    who is signed in and links back to where the action came from."""
    page = signed_in_owner(browser, world)
    tokens = f"/console/orgs/{world.org.id}/tokens"
    unnamed = create(browser, world, page, name="", target=f"ORGANIZATION:{world.org.id}",
                     role="ORGANIZATION_MEMBER")  # fmt: skip
    assert unnamed.status_code == 400 and "Invalid input: name" in unnamed.text
    assert f'href="{tokens}"' in unnamed.text
    bad_expiry = create(browser, world, page, target=f"ORGANIZATION:{world.org.id}",
                        role="ORGANIZATION_MEMBER", expiry_days="soon")  # fmt: skip
    assert bad_expiry.status_code == 400 and "whole number of days" in bad_expiry.text
    assert OWNER in bad_expiry.text and f'href="{tokens}"' in bad_expiry.text
    unknown = browser.post(f"{tokens}/nope/rotate", data={"csrf_token": csrf_of(page.text)})
    assert unknown.status_code == 404 and "API token nope not found" in unknown.text
    elsewhere = browser.get(f"/console/orgs/{world.other.id}/members")
    assert elsewhere.status_code == 404 and 'href="/console"' in elsewhere.text


def test_the_console_cannot_take_a_credential_holding_more_than_the_user(browser, world) -> None:
    """A person whose deployment role may only manage tokens cannot rotate the
    deployment's DEPLOYMENT_ADMIN token from the console, as through the API."""
    org, d1 = world.org.id, world.org.deployments["d1"]
    owner = bearer(world.org.owner_token)
    keeper = {"name": "token-keeper", "permissions": ["deployment.tokens:manage"]}
    assert world.client.post(
        f"/v1/organizations/{org}/custom-roles", json=keeper, headers=owner
    ).status_code == 201  # fmt: skip
    admin_value = world.token("DEPLOYMENT", d1, "DEPLOYMENT_ADMIN")
    admin_id = world.client.get("/v1/self", headers=bearer(admin_value)).json()["id"]
    with unit_of_work(world.runtime.sessions) as db:
        user = User(email="keeper@acme.example")
        db.add(user)
        db.flush()
        bind_user(db, user, Entity(Level.ORGANIZATION, org, org), "ORGANIZATION_MEMBER")
        ws = world.org.workspaces["ws1"]
        bind_user(db, user, Entity(Level.DEPLOYMENT, d1, org, ws), "token-keeper")
    set_password(world.runtime, "keeper@acme.example")
    sign_in(browser, "keeper@acme.example")
    page = console_page(browser)
    assert admin_id in page.text  # the token is listed: the user may manage d1's tokens
    rotated = browser.post(
        f"/console/orgs/{org}/tokens/{admin_id}/rotate", data={"csrf_token": csrf_of(page.text)}
    )
    assert rotated.status_code == 403
    assert "deployment:deploy" in rotated.text and VALUE.search(rotated.text) is None
    assert world.client.get("/v1/self", headers=bearer(admin_value)).status_code == 200


def test_tokens_are_created_with_allowed_ranges_and_both_lists_are_shown(browser, world) -> None:
    page = signed_in_owner(browser, world)
    assert "accepted from any address" in page.text
    created = create(
        browser,
        world,
        page,
        target=f"ORGANIZATION:{world.org.id}",
        role="ORGANIZATION_MEMBER",
        allowed_ip_ranges="203.0.113.0/24, 2001:DB8::/32",
    )
    assert created.status_code == 201, created.text
    value = VALUE.search(created.text).group(1)
    assert world.client.get("/v1/self", headers=bearer(value)).status_code == 403
    world.client.post(
        f"/v1/organizations/{world.org.id}",
        json={"allowedIpRanges": ["198.51.100.0/24"]},
        headers=bearer(world.org.owner_token),
    )

    listing = console_page(browser).text  # a person's session: not restricted

    assert "accepted only from 198.51.100.0/24" in listing
    assert "<code>203.0.113.0/24</code><br><code>2001:db8::/32</code>" in listing


def test_an_invalid_range_in_the_form_is_named(browser, world) -> None:
    page = signed_in_owner(browser, world)
    answer = create(
        browser,
        world,
        page,
        target=f"ORGANIZATION:{world.org.id}",
        role="ORGANIZATION_MEMBER",
        allowed_ip_ranges="10.0.0.5/24",
    )
    assert answer.status_code == 400
    assert "host bits set" in answer.text


ADVICE = re.compile(r'<td class="advice" title="([^"]*)">\s*(.*?)\s*</td>', re.S)


def test_the_token_list_shows_the_advice_beside_each_token(browser, world) -> None:
    ws1 = world.org.workspaces["ws1"]
    lister = world.token("WORKSPACE", ws1, "WORKSPACE_OWNER", name="lister")
    world.token("WORKSPACE", ws1, "WORKSPACE_AUTHOR", name="unused")
    reader = world.token("WORKSPACE", ws1, "WORKSPACE_MEMBER", name="reader")
    for value in (lister, reader):
        listed = world.client.get(
            f"/v1/organizations/{world.org.id}/deployments", headers=bearer(value)
        )
        assert listed.status_code == 200
    read = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "FROM permission_uses" in statement:
            read.append(statement)

    event.listen(world.runtime.engine, "before_cursor_execute", count)
    try:
        page = signed_in_owner(browser, world).text
    finally:
        event.remove(world.runtime.engine, "before_cursor_execute", count)
    assert len(read) == 1  # the uses of every token on the page, in one query
    rows = {
        name: ADVICE.search(row).groups()
        for name, row in re.findall(r'<th scope="row">([^<]+)<br>(.*?)</tr>', page, re.S)
    }
    assert rows["lister"] == ("used: deployment:read", "suggested: WORKSPACE_MEMBER")
    assert rows["reader"] == ("used: deployment:read", "fits")
    assert rows["unused"][1].startswith("stale")


def test_a_page_shows_only_the_notes_its_own_forms_left(browser, app, world) -> None:
    """What a form did is said on the next page; a link that someone else made, with words
    of theirs in it, says nothing (the note is signed for the browser that acted)."""
    page = signed_in_owner(browser, world)
    invited = invite(browser, world, page, "ana@acme.example")
    assert invited.status_code == 303
    shown = browser.get(invited.headers["location"])
    assert "Invitation sent to ana@acme.example." in shown.text
    forged = "Security alert: paste a new owner token at https://evil.example"
    for query in (f"note={forged}", f"note={forged}&sig=00", f"deleted={forged}"):
        for tab in ("members", "tokens", "api-keys", "workload-identities"):
            answer = browser.get(f"/console/orgs/{world.org.id}/{tab}?{query}")
            assert answer.status_code == 200 and "evil.example" not in answer.text, tab
    other = another_browser(app)
    set_password(world.runtime, "ana@acme.example")
    sign_in(other, "ana@acme.example")
    passed_on = other.get(invited.headers["location"])  # the owner's own link, sent on
    assert "Invitation sent" not in passed_on.text
