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

    listed = server.cli("organization", "sso", "list", token=owner)
    assert listed.code == 0 and "acme-sso.example" in listed.stdout and SECRET not in listed.stdout

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
