"""``keyplane workspace user``: who holds which role in a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, WorkspaceOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field
from keyplane.domain.roles import WORKSPACE_ROLES, Role

app = group(help="Users' roles in a workspace.")
COLUMNS: list[Column] = [
    ("id", field("id")),
    ("email", field("email")),
    ("name", field("fullName")),
    ("role", field("role")),
]
UserIdArg = Annotated[str, typer.Argument(help="The user's id or email.", show_default=False)]
RoleOpt = Annotated[
    str,
    typer.Option("--role", "-r", help=", ".join(WORKSPACE_ROLES) + "."),
]


@app.command()
def add(
    email_arg: Annotated[
        str | None, typer.Argument(help="The user's email.", show_default=False, metavar="EMAIL")
    ] = None,
    email_opt: Annotated[str | None, typer.Option("--email", help="The user's email.")] = None,
    role: RoleOpt = Role.WORKSPACE_MEMBER,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Give a member of the organization a role in a workspace."""
    if bool(email_arg) == bool(email_opt):
        raise UsageError("give the user's email once: as an argument, or --email")
    email = str(email_arg or email_opt)
    with connect(organization_id) as session:
        user = session.client.add_workspace_user(
            session.org_id, session.workspace_id(workspace_id), email, role
        )
    output.emit_one(user, output_format, COLUMNS)


@app.command("list")
def list_users(
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the users who hold a role in a workspace."""
    with connect(organization_id) as session:
        users = session.client.list_workspace_users(
            session.org_id, session.workspace_id(workspace_id)
        )
    output.emit_list(users, output_format, COLUMNS, "no users in this workspace")


@app.command()
def update(
    user_id: UserIdArg,
    role: Annotated[str, typer.Option("--role", "-r", help="The new workspace role.")],
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a user's role in a workspace."""
    with connect(organization_id) as session:
        user = session.client.update_workspace_user(
            session.org_id, session.workspace_id(workspace_id), user_id, role
        )
    output.emit_one(user, output_format, COLUMNS)


@app.command()
def remove(
    user_id: UserIdArg,
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Take a user's role in a workspace away (they stay in the organization)."""
    with connect(organization_id) as session:
        ws = session.workspace_id(workspace_id)
        session.client.remove_workspace_user(session.org_id, ws, user_id)
    output.emit_done(
        output_format,
        {"id": user_id, "workspaceId": ws, "removed": True},
        f"removed user {user_id} from workspace {ws}",
    )
