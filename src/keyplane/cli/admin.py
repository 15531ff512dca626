"""``keyplane admin``: operator tasks that work on the database directly."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import select

from keyplane.cli import admin_audit, admin_deploys, admin_keys, admin_sso, admin_token
from keyplane.cli.apps import group
from keyplane.cli.operator import audited_unit, migrate_database, record
from keyplane.cli.output import Format, console, emit_data
from keyplane.config import get_settings
from keyplane.db.models import Organization, User
from keyplane.domain.roles import Role
from keyplane.tenancy.bootstrap import BOOTSTRAP_TOKEN, Bootstrap, init_organization

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = group(help="Operator tasks on the database (run where the server's settings are).")
app.add_typer(admin_keys.app, name="keys")
err = console(stderr=True)  # off a terminal, no wrapping at 80 columns
app.add_typer(admin_audit.app, name="audit")
app.add_typer(admin_token.app, name="token")
app.add_typer(admin_sso.app, name="sso")
app.add_typer(admin_deploys.app, name="deploys")


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    url = get_settings().resolved_database_url
    migrate_database(url)
    err.print("database is up to date")


@app.command()
def init(
    organization: Annotated[str, typer.Option(help="Name of the first organization.")],
    email: Annotated[str, typer.Option(help="Email of its owner.")],
    output: Annotated[Format, typer.Option(help="table, json or yaml.")] = Format.TABLE,
    if_empty: Annotated[
        bool, typer.Option(help="Do nothing if any organization exists already.")
    ] = False,
) -> None:
    """Create the first organization, its owner and a one-time Organization Owner token."""
    migrate_database(get_settings().resolved_database_url)
    with audited_unit() as db:
        if if_empty and db.scalar(select(Organization.id).limit(1)):
            err.print(
                "keyplane is already initialized: nothing to do (its owner token was "
                "printed on the first start)"
            )
            return
        result = init_organization(db, organization, email)
        _record_init(db, result, organization)
    if output is not Format.TABLE:
        answer = {
            "organizationId": result.organization_id,
            "userId": result.user_id,
            "token": result.token,
        }
        if output is Format.JSON:
            typer.echo(json.dumps(answer))
        else:
            emit_data(answer, output)
        return
    typer.echo(f"organization  {result.organization_id}  ({organization})")
    typer.echo(f"owner         {result.user_id}  ({email})")
    typer.echo(f"owner token   {result.token}")
    err.print("[yellow]This token is shown once: store it in your secret manager now.[/]")


def _record_init(db: Session, result: Bootstrap, name: str) -> None:
    """The new organization and its owner token, as the operator's, in its own log."""
    org_id, command = result.organization_id, "keyplane admin init"
    owner = db.get(User, result.user_id)
    made = {"name": name, "owner": owner.email if owner else None, "ownerId": result.user_id}
    record(db, "organization.create", org_id, command, ("organization", org_id), made)
    token = {
        "scope": "ORGANIZATION",
        "role": Role.ORGANIZATION_OWNER.value,
        "name": BOOTSTRAP_TOKEN,
    }
    record(db, "token.create", org_id, command, ("token", result.token_id), token)


# The identity area's operator command lives in its own module.
from keyplane.cli.admin_identity import set_password_command  # noqa: E402

app.command("set-password")(set_password_command)

from keyplane.cli.admin_notify import notify_command  # noqa: E402

app.command("notify")(notify_command)
