"""``keyplane workspace token``: Workspace API tokens, and Organization tokens' workspace roles."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import output, tokens
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, WorkspaceOpt, connect
from keyplane.cli.errors import UsageError
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

SCOPE = "WORKSPACE"
app = group(help="Workspace API tokens.")
RoleOpt = Annotated[
    str,
    typer.Option("--role", help="WORKSPACE_ACCESSOR, _MEMBER, _AUTHOR, _OPERATOR or _OWNER."),
]


@app.command()
def create(
    name: NameOpt,
    role: RoleOpt = "WORKSPACE_MEMBER",
    description: DescriptionOpt = "",
    expiration: ExpirationOpt = None,
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
        )


@app.command("list")
def list_tokens(
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List a workspace's Workspace API tokens."""
    with connect(organization_id) as session:
        tokens.show_list(
            session, output_format, SCOPE, workspace_id=session.workspace_id(workspace_id)
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
    """Change a Workspace API token's name, description or workspace role."""
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
    """Give a Workspace API token a new value; the old one stops working at once."""
    with connect(organization_id) as session:
        tokens.rotate(session, SCOPE, token_id, output_format, clean_output)


@app.command()
def delete(
    token_id: TokenIdArg, organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE
) -> None:
    """Delete a Workspace API token; it stops working at once."""
    with connect(organization_id) as session:
        tokens.delete(session, SCOPE, token_id, output_format)


@app.command()
def add(
    token_id: Annotated[str, typer.Argument(help="The Organization API token's id.")],
    role: RoleOpt = "WORKSPACE_MEMBER",
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give an existing Organization API token a role in a workspace."""
    with connect(organization_id) as session:
        token = session.client.get_token(session.org_id, token_id)
        if token["scope"] != "ORGANIZATION":
            raise UsageError(
                f"token {token_id} is a {token['scope'].capitalize()} token: only an "
                "Organization token can be given a role in a workspace"
            )
        token = tokens.set_role(session, token, SCOPE, session.workspace_id(workspace_id), role)
    output.emit_one(token, output_format, tokens.DETAIL)
