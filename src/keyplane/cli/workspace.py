"""``keyplane workspace``: workspaces, and their tokens and users."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import output, workspace_token, workspace_user
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, WorkspaceOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, ForceOpt, Format, KeyOpt, OutputOpt, field, when

app = group(help="Workspaces, their API tokens and users.")
app.add_typer(workspace_token.app, name="token")
app.add_typer(workspace_user.app, name="user")

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("description", field("description")),
    ("created", when("createdAt")),
]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="The workspace's name.")]
DescriptionOpt = Annotated[str, typer.Option("--description", "-d", help="What it is for.")]
NewNameOpt = Annotated[str | None, typer.Option("--name", "-n", help="New name.")]
NewDescriptionOpt = Annotated[
    str | None, typer.Option("--description", "-d", help="New description.")
]
WorkspaceArg = Annotated[
    str | None,
    typer.Argument(help="The workspace's id.", show_default=False, metavar="WORKSPACE_ID"),
]


def _one(positional: str | None, option: str | None, flag: str = "--workspace-id") -> str | None:
    if positional and option and positional != option:
        raise UsageError(f"give the workspace once: its id as an argument, or {flag}")
    return positional or option


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
    workspace: WorkspaceArg = None,
    workspace_id: WorkspaceOpt = None,
    key: KeyOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one workspace (--key FIELD: only that field's value)."""
    with connect(organization_id) as session:
        target = session.workspace_id(_one(workspace, workspace_id))
        found = session.client.get_workspace(session.org_id, target)
    output.emit_one(found, output_format, COLUMNS, key)


@app.command()
def update(
    workspace: WorkspaceArg = None,
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
        target = session.workspace_id(_one(workspace, workspace_id))
        changed = session.client.update_workspace(
            session.org_id, target, name=name, description=description
        )
    output.emit_one(changed, output_format, COLUMNS)


@app.command()
def delete(
    workspace: WorkspaceArg = None,
    workspace_id: Annotated[
        str | None, typer.Option("--workspace-id", help="The workspace to delete.")
    ] = None,
    force: ForceOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a workspace with its deployments and their tokens (never a default: name it)."""
    target = _one(workspace, workspace_id)
    if not target:
        raise UsageError("which workspace? give its id (argument or --workspace-id)")
    with connect(organization_id) as session:
        session.client.delete_workspace(session.org_id, target)
    output.emit_done(output_format, {"id": target, "deleted": True}, f"deleted workspace {target}")
