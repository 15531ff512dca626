"""``keyplane organization token``: Organization API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import output, tokens
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, connect
from keyplane.cli.output import CleanOpt, ForceOpt, Format, KeyOpt, OutputOpt, field
from keyplane.cli.tokens import (
    AllowedIpRangeOpt,
    ClearIpRangesOpt,
    DescriptionOpt,
    ExpirationOpt,
    NameOpt,
    NewDescriptionOpt,
    NewRoleOpt,
    RenameOpt,
    SelectNameOpt,
    TokenIdArg,
)
from keyplane.domain.roles import ORGANIZATION_ROLES, Level, Role

SCOPE = Level.ORGANIZATION.value
DEFAULT_ROLE = Role.ORGANIZATION_MEMBER  # the least
app = group(help="Organization API tokens.")
RoleOpt = Annotated[str, typer.Option("--role", "-r", help=", ".join(ORGANIZATION_ROLES) + ".")]


@app.command()
def create(
    name: NameOpt,
    role: RoleOpt = DEFAULT_ROLE,
    description: DescriptionOpt = "",
    expiration: ExpirationOpt = None,
    allowed_ip_range: AllowedIpRangeOpt = None,
    clean_output: CleanOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create an Organization API token; its value is shown once."""
    with connect(organization_id) as session:
        tokens.create(
            session,
            SCOPE,
            session.org_id,
            name=name,
            role=role,
            description=description,
            expiration=expiration,
            output_format=output_format,
            clean=clean_output,
            allowed_ip_ranges=allowed_ip_range,
        )


@app.command("list")
def list_tokens(
    expiring_within: tokens.ExpiringWithinOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the Organization API tokens."""
    with connect(organization_id) as session:
        tokens.show_list(session, output_format, SCOPE, expiring_within)


@app.command()
def inspect(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    key: KeyOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one API token of any scope (never its value)."""
    with connect(organization_id) as session:
        chosen = tokens.select(session, SCOPE, token_id, name)
        token = session.client.get_token(session.org_id, chosen)
    output.emit_one(token, output_format, tokens.DETAIL, key)


@app.command()
def roles(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the roles an API token holds, at every level."""
    with connect(organization_id) as session:
        chosen = tokens.select(session, SCOPE, token_id, name)
        token = session.client.get_token(session.org_id, chosen)
    columns = [
        ("level", field("entityType")),
        ("entity", field("entityId")),
        ("role", field("role")),
    ]
    output.emit_list(token["roles"], output_format, columns, "this token holds no role")


@app.command()
def advise(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    days: tokens.DaysOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Which permissions an Organization API token used, the least role that covers them, and
    whether it is stale."""
    with connect(organization_id) as session:
        chosen = tokens.select(session, SCOPE, token_id, name)
        tokens.advise(session, SCOPE, chosen, days, output_format)


@app.command()
def update(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    new_name: RenameOpt = None,
    description: NewDescriptionOpt = None,
    role: NewRoleOpt = None,
    allowed_ip_range: AllowedIpRangeOpt = None,
    clear_allowed_ip_ranges: ClearIpRangesOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change an Organization API token's name, description, role or allowed IP ranges."""
    with connect(organization_id) as session:
        tokens.update(
            session,
            SCOPE,
            token_id,
            name=name,
            new_name=new_name,
            description=description,
            role=role,
            output_format=output_format,
            allowed_ip_ranges=allowed_ip_range,
            clear_ip_ranges=clear_allowed_ip_ranges,
        )


@app.command()
def rotate(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    clean_output: CleanOpt = False,
    force: ForceOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give an Organization API token a new value; the old one stops working at once."""
    with connect(organization_id) as session:
        chosen = tokens.select(session, SCOPE, token_id, name)
        tokens.rotate(session, SCOPE, chosen, output_format, clean_output)


@app.command()
def delete(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    force: ForceOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete an Organization API token; it stops working at once."""
    with connect(organization_id) as session:
        chosen = tokens.select(session, SCOPE, token_id, name)
        tokens.delete(session, SCOPE, chosen, output_format)
