"""Roles that tokens of a wider scope hold on a workspace or a deployment (Astro's
``workspace token organization-token …`` and ``deployment token organization-token|
workspace-token …``): add, update, remove, list.

One factory makes the four commands for each (holder scope, level) pair. This module
does without ``from __future__ import annotations``: Typer reads the option types of
the commands made here when they are defined, from the factory's arguments.
"""

from typing import Annotated, Any

import typer

from keyplane.cli import output, pick, tokens
from keyplane.cli.apps import group
from keyplane.cli.context import OrgOpt, Session, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field

Json = dict[str, Any]
NOUN = {"ORGANIZATION": "Organization", "WORKSPACE": "Workspace"}
NAME_FLAG = {"ORGANIZATION": "--org-token-name", "WORKSPACE": "--workspace-token-name"}
HOLDER_COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("role", field("grantedRole")),
]


def grant_app(holder: str, level: str, entity_opt: Any, entity_of: str) -> typer.Typer:
    """The commands giving ``holder``-scope tokens a role on one ``level`` entity.

    ``entity_opt`` is the Annotated option (``--workspace-id`` / ``--deployment-id``);
    ``entity_of`` names the Session method that resolves it (``workspace_id`` …).
    """
    noun = f"{NOUN[holder]} API token"
    flag = NAME_FLAG[holder]
    IdArg = Annotated[
        str | None,
        typer.Argument(help=f"The {noun}'s id.", show_default=False, metavar="TOKEN_ID"),
    ]
    NameOpt = Annotated[str | None, typer.Option(flag, "-n", help=f"Select the {noun} by name.")]
    RoleOpt = Annotated[
        str | None, typer.Option("--role", "-r", help=f"The {level.lower()} role to give it.")
    ]
    app = group(help=f"{noun}s' roles on one {level.lower()}.")

    def target(session: Session, given: str | None) -> str:
        return str(getattr(session, entity_of)(given))

    def holder_token(session: Session, token_id: str | None, name: str | None) -> Json:
        if token_id and name:
            raise UsageError(f"give the token once: its id, or {flag}")
        if name:
            listed = session.client.list_tokens(session.org_id, scope=holder)
            token_id = str(pick.by_name(noun, name, listed, flag)["id"])
        if not token_id:
            raise UsageError(f"which token? give its id, or {flag} NAME")
        return tokens.fetch(session, holder, token_id)

    def give(
        token_id: str | None,
        name: str | None,
        role: str | None,
        entity: str | None,
        organization_id: str | None,
        output_format: Format,
    ) -> None:
        if not role:
            raise UsageError(f"give the role: --role {level}_…")
        with connect(organization_id) as session:
            token = holder_token(session, token_id, name)
            token = tokens.set_role(session, token, level, target(session, entity), role)
        output.emit_one(token, output_format, tokens.DETAIL)

    @app.command()
    def add(
        token_id: IdArg = None,
        name: NameOpt = None,
        role: RoleOpt = None,
        entity: entity_opt = None,
        organization_id: OrgOpt = None,
        output_format: OutputOpt = Format.TABLE,
    ) -> None:
        """Give the token a role here."""
        give(token_id, name, role, entity, organization_id, output_format)

    @app.command()
    def update(
        token_id: IdArg = None,
        name: NameOpt = None,
        role: RoleOpt = None,
        entity: entity_opt = None,
        organization_id: OrgOpt = None,
        output_format: OutputOpt = Format.TABLE,
    ) -> None:
        """Change the role the token holds here."""
        give(token_id, name, role, entity, organization_id, output_format)

    @app.command()
    def remove(
        token_id: IdArg = None,
        name: NameOpt = None,
        entity: entity_opt = None,
        force: output.ForceOpt = False,
        organization_id: OrgOpt = None,
        output_format: OutputOpt = Format.TABLE,
    ) -> None:
        """Take the token's role here away (its other roles stay)."""
        with connect(organization_id) as session:
            token = holder_token(session, token_id, name)
            here = target(session, entity)
            kept = [
                {"entityType": r["entityType"], "entityId": r["entityId"], "role": r["role"]}
                for r in token["roles"]
                if (r["entityType"], r["entityId"]) != (level, here)
            ]
            if len(kept) == len(token["roles"]):
                raise UsageError(f"token {token['id']} holds no role on {level.lower()} {here}")
            session.client.replace_token_roles(session.org_id, token["id"], kept)
        output.emit_done(
            output_format,
            {"id": token["id"], "entityId": here, "removed": True},
            f"removed the role of {noun} {token['name']!r} on {level.lower()} {here}",
        )

    @app.command("list")
    def list_holders(
        entity: entity_opt = None,
        organization_id: OrgOpt = None,
        output_format: OutputOpt = Format.TABLE,
    ) -> None:
        """The tokens of that scope holding a role here, and the role."""
        with connect(organization_id) as session:
            here = target(session, entity)
            listed = session.client.list_tokens(session.org_id, scope=holder)
        rows = [
            {**token, "grantedRole": role["role"]}
            for token in listed
            for role in token["roles"]
            if (role["entityType"], role["entityId"]) == (level, here)
        ]
        output.emit_list(rows, output_format, HOLDER_COLUMNS, f"no {noun}s hold a role here")

    return app
