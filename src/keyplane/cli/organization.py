"""``keyplane organization``: the organizations the credential can see."""

from __future__ import annotations

from keyplane.cli import (
    organization_sso,
    organization_token,
    organization_user,
    organization_workload,
    output,
)
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, connect
from keyplane.cli.output import Column, Format, KeyOpt, OutputOpt, field, when

app = group(help="Organizations, their users, Organization API tokens and workload identities.")
app.add_typer(organization_token.app, name="token")
app.add_typer(organization_sso.app, name="sso")
app.add_typer(organization_user.app, name="user")
app.add_typer(organization_workload.app, name="workload-identity")

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("api keys enabled", field("apiKeysEnabled")),
    ("created", when("createdAt")),
]


@app.command("list")
def list_organizations(output_format: OutputOpt = Format.TABLE) -> None:
    """List the organizations you can see."""
    with connect(organization_required=False) as session:
        organizations = session.client.list_organizations()
    output.emit_list(organizations, output_format, COLUMNS, "no organizations")


@app.command()
def inspect(
    key: KeyOpt = None, organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE
) -> None:
    """Show one organization (default: the credential's own)."""
    with connect(organization_id) as session:
        organization = session.client.get_organization(session.org_id)
    output.emit_one(organization, output_format, COLUMNS, key)
