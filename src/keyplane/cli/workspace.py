"""``keyplane workspace``: workspaces, and their tokens and users."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import output, workspace_token, workspace_user
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, WorkspaceOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when

app = group(help="Workspaces, their API tokens and users.")
app.add_typer(workspace_token.app, name="token")
app.add_typer(workspace_user.app, name="user")

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("description", field("description")),
    ("created", when("createdAt")),
]
NameOpt = Annotated[str, typer.Option("--name", help="The workspace's name.")]
DescriptionOpt = Annotated[str, typer.Option("--description", help="What it is for.")]
NewNameOpt = Annotated[str | None, typer.Option("--name", help="New name.")]
NewDescriptionOpt = Annotated[str | None, typer.Option("--description", help="New description.")]
RequiredWorkspaceOpt = Annotated[
    str, typer.Option("--workspace-id", help="The workspace to delete (never a default).")
]


@app.command("list")
def list_workspaces(
    organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE
) -> None:
    """List the workspaces you can see."""
    with connect(organization_id) as session:
        workspaces = session.client.list_workspaces(session.org_id)
        if not workspaces and session.lacks_workspace_roles():
            output.warn(session.workspace_role_hint())
    output.emit_list(workspaces, output_format, COLUMNS, "no workspaces")


@app.command()
def create(
    name: NameOpt,
    description: DescriptionOpt = "",
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a workspace."""
    with connect(organization_id) as session:
        workspace = session.client.create_workspace(session.org_id, name, description)
    output.emit_one(workspace, output_format, COLUMNS)


@app.command()
def inspect(
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one workspace."""
    with connect(organization_id) as session:
        workspace = session.client.get_workspace(session.org_id, session.workspace_id(workspace_id))
    output.emit_one(workspace, output_format, COLUMNS)


@app.command()
def update(
    workspace_id: WorkspaceOpt = None,
    name: NewNameOpt = None,
    description: NewDescriptionOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a workspace's name or description."""
    if name is None and description is None:
        raise UsageError("nothing to update: pass --name or --description")
    with connect(organization_id) as session:
        workspace = session.client.update_workspace(
            session.org_id, session.workspace_id(workspace_id), name=name, description=description
        )
    output.emit_one(workspace, output_format, COLUMNS)


@app.command()
def delete(
    workspace_id: RequiredWorkspaceOpt,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a workspace with its deployments and their tokens."""
    with connect(organization_id) as session:
        session.client.delete_workspace(session.org_id, workspace_id)
    output.emit_done(
        output_format, {"id": workspace_id, "deleted": True}, f"deleted workspace {workspace_id}"
    )
