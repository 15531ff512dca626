"""Entry point: assembles the command groups."""

from __future__ import annotations

import typer

from keyplane.cli import admin, server

app = typer.Typer(
    name="keyplane",
    help="keyplane: identity and access for automation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("server")(server.serve)
app.add_typer(admin.app, name="admin")


def run() -> None:
    app()
