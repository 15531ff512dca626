"""``keyplane organization``: the organizations the credential can see."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import (
    organization_sso,
    organization_token,
    organization_user,
    organization_workload,
    output,
)
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, KeyOpt, OutputOpt, field, ranges_text, when
from keyplane.cli.tokens import ip_ranges_change

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
DETAIL: list[Column] = [
    *COLUMNS[:3],
    ("allowed ip ranges", ranges_text("allowedIpRanges", "anywhere")),
    *COLUMNS[3:],
]
AllowedIpRangeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-ip-range",
        metavar="CIDR",
        help="Accept the organization's credentials (API tokens, deployment API keys, "
        "workload identities) only from this IPv4 or IPv6 range; repeat for several. "
        "Replaces the list.",
        show_default=False,
    ),
]
ClearIpRangesOpt = Annotated[
    bool,
    typer.Option("--clear-allowed-ip-ranges", help="Accept its credentials from anywhere."),
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
    output.emit_one(organization, output_format, DETAIL, key)


@app.command()
def update(
    name: Annotated[str | None, typer.Option("--name", "-n", help="New name.")] = None,
    allowed_ip_range: AllowedIpRangeOpt = None,
    clear_allowed_ip_ranges: ClearIpRangesOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change an organization's name or allowed IP ranges (default: the credential's own).

    People's logins are not restricted by address, so an owner can always undo a list
    that shuts out the credential in use.
    """
    ranges = ip_ranges_change(allowed_ip_range, clear_allowed_ip_ranges)
    if name is None and ranges is None:
        raise UsageError(
            "nothing to update: pass --name, --allowed-ip-range or --clear-allowed-ip-ranges"
        )
    with connect(organization_id) as session:
        organization = session.client.update_organization(
            session.org_id, name=name, allowedIpRanges=ranges
        )
    output.emit_one(organization, output_format, DETAIL)
