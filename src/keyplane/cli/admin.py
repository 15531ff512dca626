"""``keyplane admin``: operator tasks that work on the database directly."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import select

from keyplane.cli import admin_audit, admin_deploys, admin_keys, admin_sso, admin_token
from keyplane.cli.apps import group
from keyplane.cli.errors import of_domain
from keyplane.cli.operator import migrate_database, server_database
from keyplane.cli.output import Format, console, emit_data
from keyplane.config import get_settings
from keyplane.db.models import Organization
from keyplane.db.session import make_sessionmaker
from keyplane.db.unit import unit_of_work
from keyplane.domain.errors import DomainError
from keyplane.tenancy.bootstrap import init_organization

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
    url = get_settings().resolved_database_url
    migrate_database(url)
    try:
        with server_database(url) as engine, unit_of_work(make_sessionmaker(engine)) as db:
            if if_empty and db.scalar(select(Organization.id).limit(1)):
                err.print(
                    "keyplane is already initialized: nothing to do (its owner token was "
                    "printed on the first start)"
                )
                return
            result = init_organization(db, organization, email)
    except DomainError as error:
        raise of_domain(error) from None
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


# The identity area's operator command lives in its own module.
from keyplane.cli.admin_identity import set_password_command  # noqa: E402

app.command("set-password")(set_password_command)

from keyplane.cli.admin_notify import notify_command  # noqa: E402

app.command("notify")(notify_command)
