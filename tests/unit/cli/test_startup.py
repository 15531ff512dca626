"""What a CLI start imports: only what the command uses (a test of imports, not of time)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from keyplane.cli import main

SERVER_MODULES = {
    "sqlalchemy",
    "fastapi",
    "starlette",
    "alembic",
    "uvicorn",
    "pydantic_settings",
    "keyplane.config",
    "keyplane.db",
}


def imported_by(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "keyplane", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rpartition("|")[2].strip() for line in lines}, done


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["deployment", "--help"],
        ["deployment", "token", "create", "--help"],
        ["workspace", "token", "update", "-h"],
        ["organization", "user", "invite", "--help"],
        ["deploy", "--help"],
        ["completion", "bash"],
    ],
)
def test_help_imports_no_server_module(args: list[str]) -> None:
    imported, done = imported_by(*args)
    assert done.returncode == 0, done.stderr
    assert imported.isdisjoint(SERVER_MODULES), imported & SERVER_MODULES
    # Nor the HTTP stack, nor pydantic (through Typer's converters), nor rich's help.
    assert imported.isdisjoint({"urllib.request", "httpx", "pydantic", "typer.rich_utils"})


def test_version_imports_not_even_typer() -> None:
    imported, done = imported_by("--version")
    assert done.stdout == f"keyplane {main.__version__}\n"
    assert "typer" not in imported and "keyplane.cli.errors" not in imported


def test_top_level_help_lists_each_command_with_its_own_first_line() -> None:
    for name in main.COMMANDS:
        command = main.load(name)
        own = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
        assert own == main.COMMANDS[name][2], name


def test_the_domain_package_imports_no_server_module() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import keyplane.domain.access"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()}
    assert imported.isdisjoint(SERVER_MODULES | {"pydantic"})


def test_completion_completes_command_names() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "_KEYPLANE_COMPLETE": "complete_bash",
        "COMP_WORDS": "keyplane deployment token cr",
        "COMP_CWORD": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "keyplane"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["create"]
