"""``keyplane workspace token``: Workspace API tokens, and Organization tokens' workspace roles."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import grants, output, tokens
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, Session, connect
from keyplane.cli.output import CleanOpt, ForceOpt, Format, OutputOpt
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
from keyplane.domain.roles import WORKSPACE_ROLES, Level, Role

SCOPE = Level.WORKSPACE.value
DEFAULT_ROLE = Role.WORKSPACE_MEMBER
app = group(help="Workspace API tokens.")
RoleOpt = Annotated[
    str,
    typer.Option("--role", "-r", help=", ".join(WORKSPACE_ROLES) + "."),
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace-id", "-w", help="Workspace (default: a Workspace token's own)."),
]
app.add_typer(
    grants.grant_app(Level.ORGANIZATION.value, SCOPE, WorkspaceOpt, "workspace_id"),
    name="organization-token",
)


@app.command()
def create(
    name: NameOpt,
    role: RoleOpt = DEFAULT_ROLE,
    description: DescriptionOpt = "",
    expiration: ExpirationOpt = None,
    allowed_ip_range: AllowedIpRangeOpt = None,
    clean_output: CleanOpt = False,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a Workspace API token; its value is shown once."""
    with connect(organization_id) as session:
        tokens.create(
            session,
            SCOPE,
            session.workspace_id(workspace_id),
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
    workspace_id: WorkspaceOpt = None,
    expiring_within: tokens.ExpiringWithinOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the API tokens holding a role in a workspace (of every scope)."""
    with connect(organization_id) as session:
        tokens.show_list(
            session,
            output_format,
            SCOPE,
            expiring_within,
            workspace_id=session.workspace_id(workspace_id),
        )


@app.command()
def advise(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    days: tokens.DaysOpt = None,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Which permissions a Workspace API token used, the least role that covers them, and
    whether it is stale."""
    with connect(organization_id) as session:
        chosen = tokens.select(
            session, SCOPE, token_id, name, **_filters(session, token_id, workspace_id)
        )
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
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a Workspace API token's name, description, workspace role or allowed IP ranges."""
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
            **_filters(session, token_id, workspace_id),
        )


@app.command()
def rotate(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    clean_output: CleanOpt = False,
    force: ForceOpt = False,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give a Workspace API token a new value; the old one stops working at once."""
    with connect(organization_id) as session:
        chosen = tokens.select(
            session, SCOPE, token_id, name, **_filters(session, token_id, workspace_id)
        )
        tokens.rotate(session, SCOPE, chosen, output_format, clean_output)


@app.command()
def delete(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    force: ForceOpt = False,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a Workspace API token; it stops working at once."""
    with connect(organization_id) as session:
        chosen = tokens.select(
            session, SCOPE, token_id, name, **_filters(session, token_id, workspace_id)
        )
        tokens.delete(session, SCOPE, chosen, output_format)


@app.command()
def add(
    token_id: Annotated[
        str | None,
        typer.Argument(help="The Organization API token's id.", metavar="ORG_TOKEN_ID"),
    ] = None,
    org_token_name: Annotated[
        str | None,
        typer.Option("--org-token-name", "-n", help="Select the Organization token by name."),
    ] = None,
    role: RoleOpt = DEFAULT_ROLE,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give an existing Organization API token a role in a workspace."""
    with connect(organization_id) as session:
        chosen = tokens.select(session, Level.ORGANIZATION.value, token_id, org_token_name)
        token = tokens.fetch(session, Level.ORGANIZATION.value, chosen)
        token = tokens.set_role(session, token, SCOPE, session.workspace_id(workspace_id), role)
    output.emit_one(token, output_format, tokens.DETAIL)


def _filters(session: Session, token_id: str | None, given: str | None) -> dict[str, str]:
    """Where to look a token up by name: this workspace (none needed with an id)."""
    return {} if token_id else {"workspace_id": session.workspace_id(given)}
