"""Entry point: the command groups, each imported only when it runs, and the exit codes.

A CI job runs the CLI many times, and each start would otherwise pay for importing
every command group (and ``server``/``admin`` the whole server stack) just to run one.
So the top-level group knows its commands by name and one-line help only, and imports
a command's module when that command is looked up; ``keyplane --version`` answers
before Typer is even imported.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from keyplane import __version__

if TYPE_CHECKING:
    from keyplane.cli.errors import CliError

PROG = "keyplane"
COMPLETE_VAR = "_KEYPLANE_COMPLETE"
VERSION_ARGS = (["--version"], ["version"])
SERVER_COMMANDS = ("server", "admin")  # need `pip install 'keyplane[server]'`

# name -> (module, attribute: a Typer app or a command function, one-line help).
# The help is what `keyplane --help` lists without importing the module; a test checks
# that it matches the command's own docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "whoami": (
        "keyplane.cli.whoami",
        "whoami",
        "Show the principal behind the current credential, its organization and roles.",
    ),
    "login": (
        "keyplane.cli.login",
        "login",
        "Sign in as yourself; the CLI then acts with your roles until `keyplane logout`.",
    ),
    "logout": (
        "keyplane.cli.login",
        "logout",
        "Sign out: the server revokes the login, and the stored tokens are deleted.",
    ),
    "organization": (
        "keyplane.cli.organization",
        "app",
        "Organizations, their users, Organization API tokens and workload identities.",
    ),
    "workspace": ("keyplane.cli.workspace", "app", "Workspaces, their API tokens and users."),
    "deployment": ("keyplane.cli.deployment", "app", "Deployments and their API tokens."),
    "deploy": (
        "keyplane.cli.deploy",
        "app",
        "Push the project folder to a deployment: `keyplane deploy DEPLOYMENT_ID`.",
    ),
    "token": (
        "keyplane.cli.token",
        "app",
        "Leaked values: report one to the server, or check one offline.",
    ),
    "audit": ("keyplane.cli.audit", "app", "The audit trail: who did what, with which credential."),
    "server": (
        "keyplane.cli.server",
        "serve",
        "Apply pending migrations and start the API server.",
    ),
    "admin": (
        "keyplane.cli.admin",
        "app",
        "Operator tasks on the database (run where the server's settings are).",
    ),
    "version": ("keyplane.cli.version", "version", "Print the keyplane CLI version."),
    "completion": (
        "keyplane.cli.version",
        "completion",
        "Print the shell completion script: `source <(keyplane completion bash)`.",
    ),
}


def run() -> None:
    """The ``keyplane`` console script."""
    if sys.argv[1:] in VERSION_ARGS:
        sys.stdout.write(f"{PROG} {__version__}\n")
        return
    from keyplane.cli.errors import CliError, of_server_setup

    if os.environ.get(COMPLETE_VAR):
        # Typer registers its completion classes only with its own --install-completion.
        from typer._completion_classes import completion_init

        completion_init()
    try:
        build()(prog_name=PROG)
    except CliError as error:
        fail(error)
    except Exception as error:
        setup = of_server_setup(error)
        if setup is None:
            raise
        fail(setup)


def fail(error: CliError) -> None:
    """Print a CliError, each line of its message as an error, and exit with its code."""
    from keyplane.cli.output import labelled

    for line in error.message.splitlines():
        labelled("error: ", "bold red", line)
    if error.hint:
        labelled("hint: ", "bold", error.hint)
    sys.exit(int(error.exit_code))


def build() -> Any:
    """The top-level click group (imports Typer, none of the command modules)."""
    import typer

    from keyplane.cli.apps import Group, lighten

    class LazyGroup(Group):
        """Imports a command's module when the command is looked up, not before."""

        def list_commands(self, ctx: Any) -> list[str]:
            return list(COMMANDS)

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            if cmd_name not in COMMANDS:
                return None
            return load(cmd_name)

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    app = typer.Typer(
        name=PROG,
        cls=LazyGroup,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def print_version(wanted: bool) -> None:
        if wanted:
            typer.echo(f"{PROG} {__version__}")
            raise typer.Exit()

    @app.callback()
    def main(
        show_version: bool = typer.Option(
            False,
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=print_version,
        ),
    ) -> None:
        """keyplane: identity and access for automation.

        API commands use the server in KEYPLANE_URL and the credential in ASTRO_API_TOKEN
        (or ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET, or KEYPLANE_WORKLOAD_IDENTITY
        with the CI job's ID token, or `keyplane login`). Astro's `--verbosity LEVEL` is
        accepted anywhere and changes nothing: the CLI keeps no log to tune.
        """

    lighten()
    return typer.main.get_command(app)


def load(name: str) -> Any:
    """The click command for one top-level name, importing its module now."""
    import typer

    module, attribute, _ = COMMANDS[name]
    try:
        target = getattr(importlib.import_module(module), attribute)
    except ModuleNotFoundError as error:
        if name not in SERVER_COMMANDS:
            raise
        from keyplane.cli.errors import CliError

        raise CliError(
            f"`keyplane {name}` needs the server, which is not installed ({error.name} is missing)",
            hint="pip install 'keyplane[server]'",
        ) from None
    if not isinstance(target, typer.Typer):
        function, target = target, typer.Typer(rich_markup_mode=None)
        target.command(name)(function)
    target._add_completion = False  # a subcommand: completion belongs to the top level
    command = typer.main.get_command(target)
    command.name = name
    return command
