"""What the CLI prints: a table, JSON or YAML on stdout, everything else on stderr.

With ``--output json`` (or ``--json``) stdout holds exactly one JSON document, so a
script can pipe it to ``jq``; ``--output yaml`` the same data as YAML; ``--key FIELD``
one value. Warnings, hints and errors always go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

Json = dict[str, Any]
Column = tuple[str, Callable[[Json], Any]]

if TYPE_CHECKING:
    from rich.console import Console


@cache
def console(stderr: bool = False) -> Console:
    """stdout's (or stderr's) rich console, made (and rich imported) on first use.

    Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns and split IDs.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 400, soft_wrap=True)


def __getattr__(name: str) -> Any:
    """``output.out`` and ``output.err``, the two consoles, made when first used."""
    if name in ("out", "err"):
        return console(stderr=name == "err")
    raise AttributeError(name)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


OutputOpt = Annotated[
    Format,
    typer.Option(
        "--output", "-o", help="table for people; json or yaml for scripts (--json: json)."
    ),
]
CleanOpt = Annotated[
    bool,
    typer.Option("--clean-output", "-c", help="Print only the token value (for scripts)."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", "-k", help="Print only this field (dotted path, e.g. createdBy.name)."),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", "-f", help="Accepted for Astro CLI scripts: never prompts.")
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


def ranges_text(name: str, empty: str) -> Callable[[Json], str]:
    """A list of IP ranges on one line; ``empty`` when there is none."""
    return lambda item: ", ".join(item.get(name) or []) or empty


def roles_text(item: Json) -> str:
    return ", ".join(
        f"{r['role']} ({r['entityType'].lower()} {r['entityId']})" for r in item["roles"]
    )


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def emit_data(data: Any, output: Format) -> None:
    """``data`` as JSON or YAML (the machine formats)."""
    if output is Format.YAML:
        from keyplane.cli.yaml_text import dump

        sys.stdout.write(dump(data))
    else:
        emit_json(data)


def emit_key(item: Json, key: str, output: Format) -> None:
    """One field of ``item`` (``a.b`` reaches into objects): a bare value, or a document."""
    value: Any = item
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            from keyplane.cli.errors import UsageError

            fields = ", ".join(item) if isinstance(item, dict) else ""
            raise UsageError(f"no field {key!r} here", hint=f"fields: {fields}")
    if isinstance(value, dict | list):
        emit_data(value, Format.JSON if output is Format.JSON else Format.YAML)
    else:
        emit_value("" if value is None else _scalar(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def emit_value(value: str) -> None:
    """One bare value on stdout (``--clean-output``)."""
    sys.stdout.write(value + "\n")


def emit_list(items: list[Json], output: Format, columns: Sequence[Column], empty: str) -> None:
    if output is not Format.TABLE:
        emit_data(items, output)
        return
    if not items:
        note(empty)
        return
    rows = [[_text(get(item)) for _, get in columns] for item in items]
    if not sys.stdout.isatty():
        _plain_table([[title for title, _ in columns], *rows])
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold")
    for title, _ in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console().print(table)


def emit_one(item: Json, output: Format, columns: Sequence[Column], key: str | None = None) -> None:
    if key:
        emit_key(item, key, output)
        return
    if output is not Format.TABLE:
        emit_data(item, output)
        return
    rows = [[title, _text(get(item))] for title, get in columns]
    if not sys.stdout.isatty():
        _plain_table(rows)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for title, text in rows:
        table.add_row(title, Text(text))
    console().print(table)


def _plain_table(rows: list[list[str]]) -> None:
    """Columns padded with spaces, no styling: what a CI log or a pipe should get.

    Rich lays the same table out for a terminal; off one, printing it this way saves
    importing rich, a fifth of a short command's start.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        sys.stdout.write(" " + "  ".join(cells).rstrip() + "\n")


def emit_done(output: Format, data: Json, message: str) -> None:
    """The answer to a command that returns nothing (delete, remove)."""
    if output is Format.TABLE:
        note(message)
    else:
        emit_data(data, output)


def warn(message: str) -> None:
    labelled("warning: ", "yellow", message)


def note(message: str) -> None:
    if not sys.stderr.isatty():
        sys.stderr.write(message + "\n")
        return
    console(stderr=True).print(message, markup=False, highlight=False)


def labelled(label: str, style: str, message: str) -> None:
    """``label message`` on stderr, the label styled on a terminal."""
    if not sys.stderr.isatty():
        sys.stderr.write(label + message + "\n")
        return
    from rich.text import Text

    console(stderr=True).print(Text.assemble((label, style), message))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "name" in value:
        return str(value["name"])
    return str(value)
