"""``keyplane organization sso``: the organization's single sign-on (OIDC) connections."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when
from keyplane.domain.roles import Role

app = group(help="Single sign-on (OpenID Connect) connections.")

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("issuer", field("issuer")),
    ("client id", field("clientId")),
    ("domains", lambda item: ", ".join(_domain(d, item) for d in item["domains"])),
    ("default role", field("defaultRole")),
    ("enforce sso", field("enforceSso")),
    ("created", when("createdAt")),
]
ConnectionArg = Annotated[str, typer.Argument(help="The connection's ID.")]
DomainsOpt = Annotated[
    list[str] | None,
    typer.Option("--domain", help="An email domain signed in through it (repeatable)."),
]
SECRET_VAR = "KEYPLANE_SSO_CLIENT_SECRET"
SECRET_HELP = f"The client secret (default: {SECRET_VAR}, else asked for, hidden)."


def _domain(domain: str, connection: dict[str, Any]) -> str:
    verified = domain in connection.get("verifiedDomains", [])
    return domain if verified else f"{domain} (unverified)"


def _client_secret(given: str) -> str:
    """``given`` (the option or SECRET_VAR), else the secret asked for on the terminal.

    Without a terminal, a prompt would read a line of whatever standard input is, or
    abort: a script is told at once what to set instead.
    """
    if given:
        return given
    if not sys.stdin.isatty():
        raise UsageError(
            f"no client secret: set {SECRET_VAR} (there is no terminal to ask on)",
            hint=f"take {SECRET_VAR} from the secret store; a --client-secret value is "
            "seen by anyone who can list the machine's processes",
        )
    return str(typer.prompt("Client secret", hide_input=True))


def _path(org_id: str, connection_id: str | None = None) -> str:
    from keyplane.client import api_path

    if connection_id is None:
        return api_path("/v1/organizations/{}/sso-connections", org_id)
    return api_path("/v1/organizations/{}/sso-connections/{}", org_id, connection_id)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="A name for people to recognise it.")],
    issuer: Annotated[str, typer.Option(help="The provider's issuer URL.")],
    client_id: Annotated[str, typer.Option(help="keyplane's client ID at the provider.")],
    domain: DomainsOpt = None,
    client_secret: Annotated[
        str,
        typer.Option(envvar=SECRET_VAR, help=SECRET_HELP),
    ] = "",
    default_role: Annotated[
        str, typer.Option(help="Role of users created at first sign-in.")
    ] = Role.ORGANIZATION_MEMBER,
    enforce_sso: Annotated[
        bool, typer.Option("--enforce-sso/--allow-passwords", help="Disable passwords.")
    ] = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Register an OIDC identity provider for the organization's email domains."""
    body = {
        "name": name,
        "issuer": issuer,
        "clientId": client_id,
        "clientSecret": _client_secret(client_secret),
        "domains": domain or [],
        "defaultRole": default_role,
        "enforceSso": enforce_sso,
    }
    with connect(organization_id) as session:
        created = session.client.request("POST", _path(session.org_id), json=body)
    output.emit_one(created, output_format, COLUMNS)
    unverified = sorted(set(created["domains"]) - set(created.get("verifiedDomains", [])))
    if unverified:
        output.note(
            f"{', '.join(unverified)}: sign-ins go to {issuer} once the server's operator has "
            f"verified that the organization owns the domain (`keyplane admin sso verify "
            f"DOMAIN --organization {session.org_id}`)"
        )


@app.command("list")
def list_connections(
    organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE
) -> None:
    """List the organization's SSO connections (never their secrets)."""
    with connect(organization_id) as session:
        page = session.client.request("GET", _path(session.org_id), params={"limit": 1000})
    output.emit_list(page["connections"], output_format, COLUMNS, "no SSO connections")


@app.command()
def update(
    connection_id: ConnectionArg,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    issuer: Annotated[str | None, typer.Option(help="New issuer URL.")] = None,
    client_id: Annotated[str | None, typer.Option(help="New client ID.")] = None,
    new_secret: Annotated[
        bool,
        typer.Option(
            "--new-client-secret",
            help=f"Set a new client secret ({SECRET_VAR}, else asked for, hidden).",
        ),
    ] = False,
    domain: DomainsOpt = None,
    default_role: Annotated[str | None, typer.Option(help="New default role.")] = None,
    enforce_sso: Annotated[
        bool | None, typer.Option("--enforce-sso/--allow-passwords", help="Passwords off/on.")
    ] = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a connection; options left out stay as they are."""
    body: dict[str, Any] = {
        "name": name,
        "issuer": issuer,
        "clientId": client_id,
        "domains": domain or None,
        "defaultRole": default_role,
        "enforceSso": enforce_sso,
    }
    if new_secret:
        body["clientSecret"] = _client_secret(os.environ.get(SECRET_VAR, ""))
    body = {key: value for key, value in body.items() if value is not None}
    with connect(organization_id) as session:
        changed = session.client.request("POST", _path(session.org_id, connection_id), json=body)
    output.emit_one(changed, output_format, COLUMNS)


@app.command()
def delete(
    connection_id: ConnectionArg,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a connection: its domains sign in with passwords again."""
    with connect(organization_id) as session:
        session.client.request("DELETE", _path(session.org_id, connection_id))
    output.emit_done(
        output_format, {"id": connection_id, "deleted": True}, "SSO connection deleted"
    )
