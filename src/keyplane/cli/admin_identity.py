"""``keyplane admin set-password``: give a user a password for the web console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keyplane.cli.errors import of_domain
from keyplane.cli.operator import database_url, migrate_database, server_database
from keyplane.cli.output import console
from keyplane.config import get_settings
from keyplane.db.unit import unit_of_work
from keyplane.domain.errors import DomainError
from keyplane.identity.accounts import set_password

err = console(stderr=True)  # off a terminal, no wrapping at 80 columns


def set_password_command(
    email: Annotated[str, typer.Option(help="Email of an existing user.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a user's password (asked for twice, hidden, unless --password-stdin)."""
    url = database_url()  # before the password is asked for
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    from keyplane.ops.changes import announcing_sessions  # psycopg, redis: when used

    settings = get_settings()
    migrate_database(url)
    try:
        with (
            server_database(url) as engine,
            unit_of_work(announcing_sessions(engine, settings)) as db,
        ):
            set_password(db, settings, email, password)
    except DomainError as error:
        raise of_domain(error) from None
    if "public_url" in settings.model_fields_set:  # set, in the environment or .env
        err.print(f"password set for {email}: sign in at {settings.public_url}/login")
    else:
        err.print(
            f"password set for {email}: sign in at the server's /login page "
            "(set KEYPLANE_PUBLIC_URL, as the server has it, to have its address printed)"
        )
