"""``keyplane deployment token``: Deployment API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import tokens
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentOpt, OrgOpt, connect
from keyplane.cli.output import CleanOpt, Format, OutputOpt
from keyplane.cli.tokens import (
    DescriptionOpt,
    ExpirationOpt,
    NameOpt,
    NewDescriptionOpt,
    NewNameOpt,
    NewRoleOpt,
    TokenIdArg,
)

SCOPE = "DEPLOYMENT"
app = group(help="Deployment API tokens.")
RoleOpt = Annotated[
    str, typer.Option("--role", help="DEPLOYMENT_ADMIN or a custom deployment role.")
]


@app.command()
def create(
    name: NameOpt,
    role: RoleOpt = "DEPLOYMENT_ADMIN",
    description: DescriptionOpt = "",
    expiration: ExpirationOpt = None,
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
        )


@app.command("list")
def list_tokens(
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List a deployment's API tokens."""
    with connect(organization_id) as session:
        tokens.show_list(
            session, output_format, SCOPE, deployment_id=session.deployment_id(deployment_id)
        )


@app.command()
def update(
    token_id: TokenIdArg,
    name: NewNameOpt = None,
    description: NewDescriptionOpt = None,
    role: NewRoleOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a Deployment API token's name, description or role."""
    with connect(organization_id) as session:
        tokens.update(
            session,
            SCOPE,
            token_id,
            name=name,
            description=description,
            role=role,
            output_format=output_format,
        )


@app.command()
def rotate(
    token_id: TokenIdArg,
    clean_output: CleanOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give a Deployment API token a new value; the old one stops working at once."""
    with connect(organization_id) as session:
        tokens.rotate(session, SCOPE, token_id, output_format, clean_output)


@app.command()
def delete(
    token_id: TokenIdArg, organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE
) -> None:
    """Delete a Deployment API token; it stops working at once."""
    with connect(organization_id) as session:
        tokens.delete(session, SCOPE, token_id, output_format)
