"""What the CLI prints: JSON or a table on stdout, everything else on stderr.

With ``--output json`` stdout holds exactly one JSON document, so a script can pipe it
to ``jq``; warnings, hints and errors always go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

Json = dict[str, Any]
Column = tuple[str, Callable[[Json], Any]]

# Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns and split IDs.
out = Console(width=None if sys.stdout.isatty() else 400, soft_wrap=True)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 400, soft_wrap=True)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOpt = Annotated[
    Format, typer.Option("--output", "-o", help="table for people, json for scripts.")
]
CleanOpt = Annotated[
    bool,
    typer.Option("--clean-output", help="Print only the token value (for scripts)."),
]


def field(name: str) -> Callable[[Json], Any]:
    return lambda item: item.get(name)


def when(name: str, absent: str = "-") -> Callable[[Json], Any]:
    """A timestamp field as ``2026-12-01 22:24 UTC`` (JSON output keeps the full value)."""

    def get(item: Json) -> str:
        value = item.get(name)
        if not value:
            return absent
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return f"{moment:%Y-%m-%d %H:%M} UTC"

    return get


def roles_text(item: Json) -> str:
    return ", ".join(
        f"{r['role']} ({r['entityType'].lower()} {r['entityId']})" for r in item["roles"]
    )


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def emit_value(value: str) -> None:
    """One bare value on stdout (``--clean-output``)."""
    sys.stdout.write(value + "\n")


def emit_list(items: list[Json], output: Format, columns: Sequence[Column], empty: str) -> None:
    if output is Format.JSON:
        emit_json(items)
        return
    if not items:
        note(empty)
        return
    table = Table(box=None, header_style="bold")
    for title, _ in columns:
        table.add_column(title)
    for item in items:
        table.add_row(*(Text(_text(get(item))) for _, get in columns))
    out.print(table)


def emit_one(item: Json, output: Format, columns: Sequence[Column]) -> None:
    if output is Format.JSON:
        emit_json(item)
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for title, get in columns:
        table.add_row(title, Text(_text(get(item))))
    out.print(table)


def emit_done(output: Format, data: Json, message: str) -> None:
    """The answer to a command that returns nothing (delete, remove)."""
    if output is Format.JSON:
        emit_json(data)
    else:
        note(message)


def warn(message: str) -> None:
    err.print(Text.assemble(("warning: ", "yellow"), message))


def note(message: str) -> None:
    err.print(message, markup=False, highlight=False)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "name" in value:
        return str(value["name"])
    return str(value)
