"""``keyplane version`` and ``keyplane completion SHELL``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from keyplane import __version__


class Shell(StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def version() -> None:
    """Print the keyplane CLI version."""
    typer.echo(f"keyplane {__version__}")


def completion(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the shell completion script: `source <(keyplane completion bash)`."""
    from typer._completion_shared import get_completion_script

    from keyplane.cli.main import COMPLETE_VAR, PROG

    typer.echo(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell))
