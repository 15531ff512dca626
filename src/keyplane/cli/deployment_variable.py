"""``keyplane deployment variable``: a deployment's environment variables.

Secret values are write-only: the server stores them encrypted and never returns
them. Give a secret on stdin (``--value-stdin``) rather than on the command line,
where shell history and process lists would see it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentOpt, OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when

app = group(help="Environment variables of a deployment.")

COLUMNS: list[Column] = [
    ("key", field("key")),
    ("value", lambda v: "<secret>" if v["isSecret"] else v["value"]),
    ("secret", field("isSecret")),
    ("updated", when("updatedAt")),
    ("updated by", lambda v: v["updatedBy"]["name"]),
]
KeyOpt = Annotated[str, typer.Option("--key", help="The variable's name.")]
ValueOpt = Annotated[str | None, typer.Option("--value", help="The value.")]
StdinOpt = Annotated[
    bool, typer.Option("--value-stdin", help="Read the value from stdin (for secrets).")
]


def _value(value: str | None, from_stdin: bool, required: bool) -> str | None:
    if value is not None and from_stdin:
        raise UsageError("give the value once: --value or --value-stdin")
    if from_stdin:
        return sys.stdin.read().rstrip("\n")
    if value is None and required:
        raise UsageError("give a value: --value TEXT, or --value-stdin to read it from stdin")
    return value


@app.command("list")
def list_variables(
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Names and plain values; secret values are never shown."""
    with connect(organization_id) as session:
        rows = session.client.list_variables(session.org_id, session.deployment_id(deployment_id))
    output.emit_list(rows, output_format, COLUMNS, "no variables")


@app.command()
def create(
    key: KeyOpt,
    value: ValueOpt = None,
    value_stdin: StdinOpt = False,
    secret: Annotated[bool, typer.Option("--secret", help="Write-only, stored encrypted.")] = False,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Add a variable."""
    text = _value(value, value_stdin, required=True)
    assert text is not None
    with connect(organization_id) as session:
        row = session.client.create_variable(
            session.org_id, session.deployment_id(deployment_id), key, text, secret
        )
    output.emit_one(row, output_format, COLUMNS)


@app.command()
def update(
    key: KeyOpt,
    value: ValueOpt = None,
    value_stdin: StdinOpt = False,
    secret: Annotated[
        bool | None, typer.Option("--secret/--no-secret", help="Make it secret, or plain.")
    ] = None,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a variable's value or secrecy (a secret becomes plain only with a new value)."""
    text = _value(value, value_stdin, required=False)
    if text is None and secret is None:
        raise UsageError("nothing to update: pass --value, --value-stdin or --secret/--no-secret")
    with connect(organization_id) as session:
        row = session.client.update_variable(
            session.org_id,
            session.deployment_id(deployment_id),
            key,
            value=text,
            is_secret=secret,
        )
    output.emit_one(row, output_format, COLUMNS)


@app.command()
def delete(
    key: KeyOpt,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Remove a variable."""
    with connect(organization_id) as session:
        target = session.deployment_id(deployment_id)
        session.client.delete_variable(session.org_id, target, key)
    output.emit_done(output_format, {"key": key, "deleted": True}, f"deleted variable {key}")
