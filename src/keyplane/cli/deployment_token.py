"""``keyplane deployment token``: Deployment API tokens, and wider tokens' deployment roles."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import grants, tokens
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
from keyplane.domain.roles import DEPLOYMENT_ADMIN, Level

SCOPE = Level.DEPLOYMENT.value
DEFAULT_ROLE = DEPLOYMENT_ADMIN
app = group(help="Deployment API tokens.")
RoleOpt = Annotated[
    str, typer.Option("--role", "-r", help=f"{DEPLOYMENT_ADMIN} or a custom deployment role.")
]
DeploymentOpt = Annotated[
    str | None,
    typer.Option("--deployment-id", help="Deployment (default: a Deployment token's own)."),
]
app.add_typer(
    grants.grant_app(Level.ORGANIZATION.value, SCOPE, DeploymentOpt, "deployment_id"),
    name="organization-token",
)
app.add_typer(
    grants.grant_app(Level.WORKSPACE.value, SCOPE, DeploymentOpt, "deployment_id"),
    name="workspace-token",
)


@app.command()
def create(
    name: NameOpt,
    role: RoleOpt = DEFAULT_ROLE,
    description: DescriptionOpt = "",
    expiration: ExpirationOpt = None,
    allowed_ip_range: AllowedIpRangeOpt = None,
    clean_output: CleanOpt = False,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a Deployment API token; its value is shown once."""
    with connect(organization_id) as session:
        tokens.create(
            session,
            SCOPE,
            session.deployment_id(deployment_id),
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
    deployment_id: DeploymentOpt = None,
    expiring_within: tokens.ExpiringWithinOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the API tokens holding a role on a deployment (of every scope)."""
    with connect(organization_id) as session:
        tokens.show_list(
            session,
            output_format,
            SCOPE,
            expiring_within,
            deployment_id=session.deployment_id(deployment_id),
        )


@app.command()
def advise(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    days: tokens.DaysOpt = None,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Which permissions a Deployment API token used, the least role that covers them, and
    whether it is stale."""
    with connect(organization_id) as session:
        chosen = tokens.select(
            session, SCOPE, token_id, name, **_filters(session, token_id, deployment_id)
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
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a Deployment API token's name, description, role or allowed IP ranges."""
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
            **_filters(session, token_id, deployment_id),
        )


@app.command()
def rotate(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    clean_output: CleanOpt = False,
    force: ForceOpt = False,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give a Deployment API token a new value; the old one stops working at once."""
    with connect(organization_id) as session:
        chosen = tokens.select(
            session, SCOPE, token_id, name, **_filters(session, token_id, deployment_id)
        )
        tokens.rotate(session, SCOPE, chosen, output_format, clean_output)


@app.command()
def delete(
    token_id: TokenIdArg = None,
    name: SelectNameOpt = None,
    force: ForceOpt = False,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a Deployment API token; it stops working at once."""
    with connect(organization_id) as session:
        chosen = tokens.select(
            session, SCOPE, token_id, name, **_filters(session, token_id, deployment_id)
        )
        tokens.delete(session, SCOPE, chosen, output_format)


def _filters(session: Session, token_id: str | None, given: str | None) -> dict[str, str]:
    """Where to look a token up by name: this deployment (none needed with an id)."""
    return {} if token_id else {"deployment_id": session.deployment_id(given)}
