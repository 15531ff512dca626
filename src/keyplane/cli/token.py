"""``keyplane token report|check``: report a leaked value, or check one offline.

``check`` needs no server and no credential: it validates the kind prefix and the
CRC32 checksum (DESIGN §3), as a secret scanner would. ``report`` sends the value
read from standard input to ``POST /v1/tokens/report``, with no credential of its
own: anyone who finds a value may report it, and the answer is the same whether it
was live or not. Neither command ever prints the value.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from keyplane.cli import errors, output
from keyplane.cli.apps import group
from keyplane.cli.output import Format, OutputOpt
from keyplane.domain import credentials
from keyplane.domain.errors import NotAuthenticated

app = group(help="Leaked values: report one to the server, or check one offline.")
KINDS = {
    credentials.SecretKind.ORGANIZATION_TOKEN: "an Organization API token",
    credentials.SecretKind.WORKSPACE_TOKEN: "a Workspace API token",
    credentials.SecretKind.DEPLOYMENT_TOKEN: "a Deployment API token",
    credentials.SecretKind.DEPLOYMENT_KEY: "a deployment API key secret",
}


def _why_not(text: str) -> str:
    """Why ``text`` is not a keyplane value, in the words a person can act on."""
    prefixes = ", ".join(kind.value for kind in credentials.SecretKind)
    if text[:4] not in {kind.value for kind in credentials.SecretKind}:
        return f"not a keyplane token: it does not start with one of {prefixes}"
    if len(text) != credentials.VALUE_LENGTH or not text[4:].isalnum():
        return (
            f"not a keyplane token: a {text[:4]} value is {credentials.VALUE_LENGTH} "
            "characters, letters and digits after the prefix (was it cut short?)"
        )
    return "not a keyplane token: its checksum does not match (was it cut short or altered?)"


def _read_value(argument: str | None) -> str:
    """The value: the argument, or (``-`` or none) standard input, hidden on a terminal."""
    if argument not in (None, "-"):
        return argument
    if sys.stdin.isatty():
        return getpass.getpass("value (not shown): ").strip()
    return sys.stdin.read().strip()


@app.command()
def check(
    value: Annotated[
        str | None,
        typer.Argument(help="The value; `-` or none: read it from standard input."),
    ] = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Check offline whether VALUE is a keyplane token (prefix and checksum)."""
    text = _read_value(value)
    try:
        kind = credentials.parse(text)
    except NotAuthenticated:
        if output_format is not Format.TABLE:
            output.emit_data({"valid": False, "reason": _why_not(text)}, output_format)
            raise typer.Exit(1) from None
        raise errors.CliError(_why_not(text)) from None
    answer = {"valid": True, "prefix": kind.value, "kind": kind.name}
    if output_format is not Format.TABLE:
        output.emit_data(answer, output_format)
        return
    typer.echo(f"valid: {KINDS[kind]} ({kind.value}…), checksum ok")
    output.note("offline check only: `keyplane token report` revokes it if it leaked")


@app.command()
def report() -> None:
    """Report a leaked value read from standard input; a live one is revoked at once."""
    from keyplane.cli.credentials import server_url
    from keyplane.cli.errors import unreachable
    from keyplane.cli.explain import explain
    from keyplane.client import ApiError, KeyplaneClient, ServerUnreachable

    text = _read_value(None)
    try:
        credentials.parse(text)
    except NotAuthenticated:
        raise errors.UsageError(
            _why_not(text),
            hint="only keyplane values (kpo_, kpw_, kpd_, kpk_) can be reported here",
        ) from None
    url = server_url()
    try:
        with KeyplaneClient(url, "") as client:
            answer = client.report_leak(text)
    except ApiError as error:
        raise explain(error, None, None) from None
    except ServerUnreachable as error:
        raise unreachable(error) from None
    typer.echo(answer["message"])
