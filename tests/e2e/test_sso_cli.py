"""`keyplane organization sso` against a real server, as an owner's CI job would run it."""

from __future__ import annotations

from tests.e2e.conftest import Server

SECRET = "provider-secret-value-0123456789"


def test_sso_connection_lifecycle(server: Server) -> None:
    owner = server.acme.owner_token
    created = server.cli(
        "organization", "sso", "create", "--name", "Okta", "--issuer", "https://idp.acme.example",
        "--client-id", "keyplane", "--domain", "acme-sso.example", "--enforce-sso",
        "--output", "json", token=owner, KEYPLANE_SSO_CLIENT_SECRET=SECRET,
    )  # fmt: skip
    assert created.code == 0, created.stderr
    connection = created.json()
    assert isinstance(connection, dict)
    assert connection["domains"] == ["acme-sso.example"] and connection["enforceSso"] is True
    assert SECRET not in created.stdout + created.stderr

    assert connection["verifiedDomains"] == []
    assert "once the server's operator has verified" in created.stderr
    listed = server.cli("organization", "sso", "list", token=owner)
    assert listed.code == 0 and SECRET not in listed.stdout
    assert "acme-sso.example (unverified)" in listed.stdout

    # The operator, on the server's database, with no credential.
    admin = {"KEYPLANE_DATABASE_URL": server.database_url}
    org = server.acme.org_id
    verified = server.cli("admin", "sso", "verify", "acme-sso.example", "--organization", "acme",
                          "--output", "json", **admin)  # fmt: skip
    assert verified.code == 0, verified.stderr
    assert verified.json()["organizationId"] == org and verified.json()["verifiedAt"]  # type: ignore[index]
    claims = server.cli("admin", "sso", "list", "acme-sso.example", **admin)
    assert claims.code == 0 and f"acme ({org})  verified" in claims.stdout
    stranger = server.cli("admin", "sso", "verify", "acme-sso.example", "--organization",
                          "globex", **admin)  # fmt: skip
    assert stranger.code == 5 and "globex has no SSO connection claiming" in stranger.stderr
    listed = server.cli("organization", "sso", "list", token=owner)
    assert "acme-sso.example" in listed.stdout and "(unverified)" not in listed.stdout
    audit = server.cli("audit", "list", "--action", "sso.domain.verify", "-o", "json", token=owner)
    assert audit.code == 0 and '"OPERATOR"' in audit.stdout, audit.stderr
    connection = {**connection, "verifiedDomains": ["acme-sso.example"]}

    changed = server.cli(
        "organization", "sso", "update", connection["id"], "--allow-passwords",
        "--domain", "acme-sso.example", "--domain", "corp.acme.example", "--output", "json",
        token=owner,
    )  # fmt: skip
    assert changed.code == 0, changed.stderr
    assert changed.json() == {
        **connection,
        "enforceSso": False,
        "domains": ["acme-sso.example", "corp.acme.example"],
        "verifiedDomains": ["acme-sso.example"],  # a claim kept keeps its verification
        "updatedAt": changed.json()["updatedAt"],  # type: ignore[index]
    }

    other = server.cli(
        "organization", "sso", "delete", connection["id"], token=server.globex.owner_token
    )
    assert other.code == 5  # another tenant's connection: not found

    deleted = server.cli("organization", "sso", "delete", connection["id"], token=owner)
    assert deleted.code == 0, deleted.stderr
    after = server.cli("organization", "sso", "list", token=owner)
    assert after.code == 0 and "no SSO connections" in after.stderr


def test_without_a_terminal_the_secret_comes_from_the_variable_or_nothing_is_done(
    server: Server,
) -> None:
    owner = server.globex.owner_token  # acme's connections are the test above's
    create = ("organization", "sso", "create", "--name", "Entra", "--issuer",
              "https://idp.globex.example", "--client-id", "keyplane", "--domain",
              "globex-sso.example", "-o", "json")  # fmt: skip
    refused = server.cli(*create, token=owner, stdin="")
    assert refused.code == 2, refused.stderr
    assert refused.stderr.startswith("error: no client secret: set KEYPLANE_SSO_CLIENT_SECRET")
    for prompt_left_overs in ("Client secret", "GetPassWarning", "Aborted"):
        assert prompt_left_overs not in refused.stdout + refused.stderr
    listed = server.cli("organization", "sso", "list", token=owner)
    assert "no SSO connections" in listed.stderr  # nothing was made

    made = server.cli(*create, token=owner, stdin="", KEYPLANE_SSO_CLIENT_SECRET=SECRET)
    assert made.code == 0, made.stderr
    connection = made.json()
    assert isinstance(connection, dict)
    new_secret = ("organization", "sso", "update", connection["id"], "--new-client-secret")
    again = server.cli(*new_secret, token=owner, stdin="")
    assert again.code == 2 and "KEYPLANE_SSO_CLIENT_SECRET" in again.stderr
    newer = {"KEYPLANE_SSO_CLIENT_SECRET": SECRET[::-1]}
    changed = server.cli(*new_secret, token=owner, stdin="", **newer)
    assert changed.code == 0, changed.stderr
    assert server.cli("organization", "sso", "delete", connection["id"], token=owner).code == 0
