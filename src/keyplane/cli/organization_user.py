"""``keyplane organization user``: the organization's members and their organization role."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, Session, connect
from keyplane.cli.errors import NotFound
from keyplane.cli.output import Column, Format, OutputOpt, field, when
from keyplane.domain.emails import comparable
from keyplane.domain.roles import ORGANIZATION_ROLES, Role

Json = dict[str, Any]
app = group(help="Members of the organization and their organization role.")
COLUMNS: list[Column] = [
    ("id", field("id")),
    ("email", field("email")),
    ("name", field("fullName")),
    ("organization role", field("organizationRole")),
    ("created", when("createdAt")),
]
MemberArg = Annotated[
    str, typer.Argument(help="The user's email (or id).", show_default=False, metavar="EMAIL")
]
RoleHelp = ", ".join(ORGANIZATION_ROLES) + "."


@app.command()
def invite(
    email: Annotated[
        str, typer.Argument(help="The email to invite.", show_default=False, metavar="EMAIL")
    ],
    role: Annotated[str, typer.Option("--role", "-r", help=RoleHelp)] = Role.ORGANIZATION_MEMBER,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Invite someone by email, with an organization role (default: the least)."""
    with connect(organization_id) as session:
        user = session.client.invite(session.org_id, email, role)
    output.emit_one(user, output_format, COLUMNS)


@app.command("list")
def list_users(organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE) -> None:
    """List the organization's members."""
    with connect(organization_id) as session:
        users = session.client.list_users(session.org_id)
    output.emit_list(users, output_format, COLUMNS, "no members")


@app.command()
def update(
    email: MemberArg,
    role: Annotated[str, typer.Option("--role", "-r", help=f"The new role: {RoleHelp}")],
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a member's organization role (their workspace and deployment roles stay)."""
    with connect(organization_id) as session:
        user = _member(session, email)
        workspace_roles = [
            {"workspaceId": r["workspaceId"], "role": r["role"]} for r in user["workspaceRoles"]
        ]
        deployment_roles = [
            {"deploymentId": r["deploymentId"], "role": r["role"]} for r in user["deploymentRoles"]
        ]
        changed = session.client.replace_user_roles(
            session.org_id, user["id"], role, workspace_roles, deployment_roles
        )
    output.emit_one(changed, output_format, COLUMNS)


def _member(session: Session, email_or_id: str) -> Json:
    wanted = comparable(email_or_id)  # the form the server stores (an ASCII domain)
    for user in session.client.list_users(session.org_id):
        if wanted in (user["id"].lower(), user["email"].lower()):
            return user
    raise NotFound(f"no member {email_or_id} in this organization")
