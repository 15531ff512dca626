"""``keyplane admin token create``: a new Organization token made on the database, for an
operator whose owner token is lost. Recorded in the audit trail in the same transaction."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from keyplane.cli.apps import group
from keyplane.cli.errors import UsageError
from keyplane.cli.operator import audited_unit, record
from keyplane.cli.output import Format, emit_data
from keyplane.domain.roles import ORGANIZATION_ROLES, Role

app = group(help="Organization tokens made on the database (recovery of a lost owner token).")


@app.command("create")
def create(
    organization: Annotated[str, typer.Option(help="The organization's id or name.")],
    role_name: Annotated[
        str, typer.Option("--role", help=", ".join(ORGANIZATION_ROLES) + ".")
    ] = Role.ORGANIZATION_OWNER,
    name: Annotated[str, typer.Option(help="The token's name.")] = "recovery token",
    output: Annotated[Format, typer.Option(help="table, json or yaml.")] = Format.TABLE,
) -> None:
    """Create an Organization token with ROLE and show its value once.

    Works without any credential, on the database the server uses (run it where the
    server's settings are): the way back in when the owner token is lost. The audit
    trail records it as an operator's `token.create`.
    """
    role = _organization_role(role_name)
    from rich.console import Console

    from keyplane.tenancy.bootstrap import recovery_token

    err = Console(stderr=True)
    with audited_unit() as db:
        token, value = recovery_token(db, organization, role, name)
        details = {"scope": "ORGANIZATION", "role": role.value, "name": name}
        record(db, "token.create", token.organization_id, "keyplane admin token create",
               ("token", token.id), details)  # fmt: skip
        answer = {"id": token.id, "organizationId": token.organization_id, "role": role.value}
    if output is Format.JSON:
        typer.echo(json.dumps({**answer, "token": value}))
    elif output is not Format.TABLE:
        emit_data({**answer, "token": value}, output)
    else:
        typer.echo(f"token  {answer['id']}  ({role.value} in {answer['organizationId']})")
        typer.echo(f"value  {value}")
        err.print("[yellow]This token is shown once: store it in your secret manager now.[/]")


def _organization_role(name: str) -> Role:
    """``name`` (any case) as an organization role; a usage error naming them otherwise."""
    found = next((role for role in ORGANIZATION_ROLES if role == name.upper()), None)
    if found is None:
        raise UsageError(f"--role must be an organization role: {', '.join(ORGANIZATION_ROLES)}")
    return found
