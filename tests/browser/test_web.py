"""The pages in a real headless Chromium: sign-in, the token console, device approval, SSO.

Each test saves screenshots of the pages it walks through (under docs/screenshots/ when
KEYPLANE_SCREENSHOTS_DIR=docs/screenshots is set, which is how the README's are made).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from keyplane.db.unit import unit_of_work
from keyplane.identity import sso
from tests.browser.conftest import OWNER, Site, shoot, sign_in
from tests.idp import CLIENT_ID, CLIENT_SECRET, running_idp

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context.new_page()
    context.close()


def api(site: Site, method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {site.owner_token}"}
    return httpx.request(method, f"{site.url}{path}", headers=headers, timeout=30, **kwargs)


def test_identifier_first_password_login(page, site: Site) -> None:
    page.goto(f"{site.url}/login")
    shoot(page, "login-email")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{site.url}/login")
    assert page.get_by_role("heading").inner_text() == "Enter your password"
    shoot(page, "login-password")
    page.get_by_label("Password").fill("wrong password, surely")
    page.get_by_role("button", name="Sign in").click()
    assert "wrong email or password" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill("plum vestibule 1987 kettle")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/orgs/.*/tokens"))
    assert page.get_by_text(OWNER).is_visible()


def test_create_rotate_delete_a_token_in_the_console(page, site: Site) -> None:
    workspace = api(site, "POST", f"/v1/organizations/{site.org_id}/workspaces",
                    json={"name": "data-eng"}).json()  # fmt: skip
    sign_in(page, site)
    page.wait_for_url(re.compile(r".*/tokens"))
    page.get_by_label("Name", exact=True).fill("github-actions")
    page.get_by_label("Scope").select_option(f"WORKSPACE:{workspace['id']}")
    page.get_by_label("Role").select_option("WORKSPACE_AUTHOR")
    page.get_by_label("Expires after (days)").fill("90")
    shoot(page, "console-tokens")
    page.get_by_role("button", name="Create token").click()
    assert "you will not see it again" in page.get_by_role("alert").inner_text()
    value = page.get_by_label("Token value").input_value()
    assert value.startswith("kpw_")
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    shoot(page, "console-token-created")
    assert httpx.get(f"{site.url}/v1/self", headers={"Authorization": f"Bearer {value}"}).is_success

    page.get_by_role("link", name="Done: back to the token list").click()
    row = page.get_by_role("row", name=re.compile("github-actions"))
    # role, where from (no allowedIpRanges), expiry (90 days), last used (the /v1/self
    # call above), the advice (/v1/self exercises no permission) and creator
    assert re.search(
        r"WORKSPACE_AUTHOR\tanywhere\t20\d\d-\d\d-\d\d\t20.* UTC\t"
        r"suggested: WORKSPACE_ACCESSOR\towner@acme",
        row.inner_text(),
    )
    row.get_by_role("button", name="Rotate github-actions").click()
    rotated = page.get_by_label("Token value").input_value()
    assert rotated != value
    assert (
        httpx.get(f"{site.url}/v1/self", headers={"Authorization": f"Bearer {value}"}).status_code
        == 401
    )
    page.get_by_role("link", name="Done: back to the token list").click()
    page.get_by_role("button", name="Delete github-actions").click()
    assert "deleted" in page.get_by_role("status").inner_text()
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill("ana@acme.example")
    page.get_by_role("button", name="Send invitation").click()
    assert "Invitation sent" in page.get_by_role("status").inner_text()
    shoot(page, "console-members")
    assert (
        httpx.get(f"{site.url}/v1/self", headers={"Authorization": f"Bearer {rotated}"}).status_code
        == 401
    )


def test_device_approval(page, site: Site) -> None:
    started = httpx.post(f"{site.url}/oauth/device/code", data={"client_id": "keyplane-cli"}).json()
    sign_in(page, site)
    page.wait_for_url(re.compile(r".*/tokens"))
    page.goto(f"{site.url}/device")
    page.get_by_label("Code").fill(started["user_code"].lower())
    shoot(page, "device-code")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_text(started["user_code"]).first.is_visible()
    shoot(page, "device-approve")
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name="Device approved").wait_for()
    form = {"client_id": "keyplane-cli", "device_code": started["device_code"],
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code"}  # fmt: skip
    tokens = httpx.post(f"{site.url}/oauth/token", data=form).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = httpx.get(f"{site.url}/v1/self", headers=bearer).json()
    assert me["name"] == OWNER


@pytest.fixture(scope="module")
def issuer(site: Site) -> Iterator[str]:
    with running_idp(f"{site.url}/sso/callback") as url:
        yield url


def test_sso_redirect_round_trip(page, site: Site, issuer: str) -> None:
    body = {"name": "Acme IdP", "issuer": issuer, "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET, "domains": ["sso.example"]}  # fmt: skip
    created = api(site, "POST", f"/v1/organizations/{site.org_id}/sso-connections", json=body)
    assert created.status_code == 201, created.text
    with unit_of_work(site.runtime.sessions) as db:  # the operator: `keyplane admin sso verify`
        sso.verify_domain(db, "sso.example", site.org_id)
    page.goto(f"{site.url}/login")
    page.get_by_label("Email").fill("alice@sso.example")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{issuer}/**")
    page.locator("input[name=login]").fill("alice@sso.example")
    page.locator("input[name=password]").fill("anything")
    shoot(page, "sso-provider")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()  # the provider's consent step
    page.wait_for_url(re.compile(rf"{re.escape(site.url)}/console.*"))
    assert page.get_by_text("alice@sso.example").is_visible()
    shoot(page, "sso-signed-in")


def test_create_use_and_delete_a_workload_identity_in_the_console(page, site: Site) -> None:
    """The owner trusts a repository's main branch for a deployment; the job's ID token
    from the test issuer is exchanged; deleting the identity ends the job's token."""
    from tests.functional.federation.helpers import ID_TOKEN
    from tests.workload_issuer import REPOSITORY_ID, running_issuer

    org = f"/v1/organizations/{site.org_id}"
    workspace = api(site, "POST", f"{org}/workspaces", json={"name": "pipelines"}).json()
    deployment = api(site, "POST", f"{org}/deployments",
                     json={"name": "etl", "workspaceId": workspace["id"]}).json()  # fmt: skip
    with running_issuer() as issuer:
        site.runtime.settings.federation_issuers += f",{issuer.url}"
        sign_in(page, site)
        page.get_by_role("link", name="Workload identities").click()
        page.get_by_label("Name", exact=True).fill("etl from main")
        page.get_by_label("Issuer").select_option(issuer.url)
        page.get_by_label("Scope").select_option(f"DEPLOYMENT:{deployment['id']}")
        page.get_by_label("Role").select_option("DEPLOYMENT_ADMIN")
        page.get_by_label("Conditions").fill(
            f"repository_id={REPOSITORY_ID}\nref=refs/heads/main\nref=refs/heads/release-*"
        )
        shoot(page, "console-workload-identities")
        page.get_by_role("button", name="Create workload identity").click()
        assert "created" in page.get_by_role("status").inner_text()
        row = page.get_by_role("row", name=re.compile("etl from main"))
        assert "ref=refs/heads/main | refs/heads/release-*" in row.inner_text()
        assert "DEPLOYMENT_ADMIN" in row.inner_text() and "never" in row.inner_text()
        listed = api(site, "GET", f"{org}/workload-identities").json()["workloadIdentities"]
        identity = next(i for i in listed if i["name"] == "etl from main")
        assert identity["conditions"]["ref"] == ["refs/heads/main", "refs/heads/release-*"]

        form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": issuer.mint(site.url), "subject_token_type": ID_TOKEN,
                "client_id": identity["id"]}  # fmt: skip
        answer = httpx.post(f"{site.url}/oauth/token", data=form, timeout=30)
        assert answer.status_code == 200, answer.text
        job = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        assert httpx.get(f"{site.url}/v1/self", headers=job).is_success
        page.reload()
        row = page.get_by_role("row", name=re.compile("etl from main"))
        assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d UTC", row.inner_text()), row.inner_text()

        row.get_by_role("button", name="Delete etl from main").click()
        assert "deleted" in page.get_by_role("status").inner_text()
        assert httpx.get(f"{site.url}/v1/self", headers=job).status_code == 401
        assert page.get_by_role("row", name=re.compile("etl from main")).count() == 0


def test_the_console_says_what_is_wrong_with_an_identity(page, site: Site) -> None:
    sign_in(page, site)
    page.goto(f"{site.url}/console/orgs/{site.org_id}/workload-identities")
    page.get_by_label("Name", exact=True).fill("no pin")
    page.get_by_label("Issuer").select_option("https://token.actions.githubusercontent.com")
    page.get_by_label("Conditions").fill("ref=refs/heads/main")
    page.get_by_role("button", name="Create workload identity").click()
    assert "repository_id" in page.content()
    assert (
        api(site, "GET", f"/v1/organizations/{site.org_id}/workload-identities").json()[
            "totalCount"
        ]
        == 0
    )
