"""Entry point: assembles the command groups and turns CLI errors into exit codes.

``server`` and ``admin`` need FastAPI, SQLAlchemy and uvicorn; they are imported only
when one of them runs, because CI jobs run the API commands many times and each start
would otherwise pay for importing the whole server.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup

from keyplane.cli import audit, deploy, deployment, login, organization, whoami, workspace
from keyplane.cli.errors import CliError
from keyplane.cli.output import err

# name -> (module, attribute: a Typer app or a command function)
LAZY_COMMANDS = {
    "server": ("keyplane.cli.server", "serve"),
    "admin": ("keyplane.cli.admin", "app"),
}


class LazyGroup(TyperGroup):
    """A group whose ``LAZY_COMMANDS`` are imported only when they are looked up.

    Typer vendors its own click and does not export its Context and Command types,
    hence the ``Any`` in these two overrides.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = LAZY_COMMANDS[cmd_name]
        target = getattr(importlib.import_module(module), attribute)
        if not isinstance(target, typer.Typer):
            function, target = target, typer.Typer()
            target.command(cmd_name)(function)
        target._add_completion = False  # a subcommand: completion belongs to the top level
        command = typer.main.get_command(target)
        command.name = cmd_name
        return command


app = typer.Typer(
    name="keyplane",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """keyplane: identity and access for automation.

    API commands use the server in KEYPLANE_URL and the credential in ASTRO_API_TOKEN.
    """


app.command("whoami")(whoami.whoami)
app.command("login")(login.login)
app.command("logout")(login.logout)
app.add_typer(organization.app, name="organization")
app.add_typer(workspace.app, name="workspace")
app.add_typer(deployment.app, name="deployment")
app.add_typer(deploy.app, name="deploy")
app.add_typer(audit.app, name="audit")


def run() -> None:
    try:
        app()
    except CliError as error:
        err.print(Text.assemble(("error: ", "bold red"), error.message))
        if error.hint:
            err.print(Text.assemble(("hint: ", "bold"), error.hint))
        sys.exit(int(error.exit_code))
