"""``keyplane admin token create``: a new Organization token made on the database, for an
operator whose owner token is lost. Recorded in the audit trail in the same transaction."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from keyplane.cli.apps import group
from keyplane.cli.errors import UsageError, of_domain
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

    from keyplane.audit.recorder import EventDraft, append_locked, locked_chain
    from keyplane.config import get_settings
    from keyplane.db.session import make_engine, make_sessionmaker
    from keyplane.domain.errors import DomainError
    from keyplane.tenancy.bootstrap import recovery_token

    err = Console(stderr=True)
    engine = make_engine(get_settings().resolved_database_url)
    try:
        with locked_chain(make_sessionmaker(engine)) as db:
            token, value = recovery_token(db, organization, role, name)
            event = EventDraft("token.create", organization_id=token.organization_id)
            event.actor_kind, event.actor_name = "OPERATOR", "keyplane admin token create"
            event.target_type, event.target_id = "token", token.id
            event.details = {"scope": "ORGANIZATION", "role": role.value, "name": name}
            append_locked(db, [event])
            answer = {"id": token.id, "organizationId": token.organization_id, "role": role.value}
    except DomainError as error:
        raise of_domain(error) from None
    finally:
        engine.dispose()
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
