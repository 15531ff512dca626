"""``keyplane admin set-password``: give a user a password for the web console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keyplane.cli.operator import audited_unit, database_url, migrate_database, record
from keyplane.cli.output import console
from keyplane.config import get_settings
from keyplane.identity.accounts import organizations_of, set_password

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
    settings = get_settings()
    migrate_database(url)
    with audited_unit() as db:
        user = set_password(db, settings, email, password)
        record(db, "user.set_password", organizations_of(db, user.id),
               "keyplane admin set-password", ("user", user.id), {"email": user.email})  # fmt: skip
    if "public_url" in settings.model_fields_set:  # set, in the environment or .env
        err.print(f"password set for {email}: sign in at {settings.public_url}/login")
    else:
        err.print(
            f"password set for {email}: sign in at the server's /login page "
            "(set KEYPLANE_PUBLIC_URL, as the server has it, to have its address printed)"
        )
