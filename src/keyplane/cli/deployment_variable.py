"""``keyplane deployment variable``: a deployment's environment variables.

Secret values are write-only: the server stores them encrypted and never returns
them. Give a secret on stdin (``--value-stdin``) rather than on the command line,
where shell history and process lists would see it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from keyplane.cli import output, pick
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentNameOpt, NameInWorkspaceOpt, OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when
from keyplane.client import ApiError
from keyplane.domain.variables import KEY_RULE, is_key

Json = dict[str, Any]
app = group(help="Environment variables of a deployment.")

COLUMNS: list[Column] = [
    ("key", field("key")),
    ("value", lambda v: "<secret>" if v["isSecret"] else v["value"]),
    ("secret", field("isSecret")),
    ("updated", when("updatedAt")),
    ("updated by", lambda v: v["updatedBy"]["name"]),
]
PairsArg = Annotated[
    list[str] | None,
    typer.Argument(help="KEY=VALUE pairs (Astro's form).", show_default=False, metavar="KEY=VALUE"),
]
KeyOpt = Annotated[str | None, typer.Option("--key", "-k", help="The variable's name.")]
ValueOpt = Annotated[str | None, typer.Option("--value", "-v", help="The value.")]
StdinOpt = Annotated[
    bool, typer.Option("--value-stdin", help="Read the value from stdin (for secrets).")
]
LoadOpt = Annotated[
    bool, typer.Option("--load", "-l", help="Take the variables from the --env file.")
]
EnvOpt = Annotated[Path, typer.Option("--env", "-e", help="The environment file.")]
VarDeploymentOpt = Annotated[
    str | None,
    typer.Option("--deployment-id", "-d", help="Deployment (default: a Deployment token's own)."),
]


def _value(value: str | None, from_stdin: bool, required: bool) -> str | None:
    if value is not None and from_stdin:
        raise UsageError("give the value once: --value or --value-stdin")
    if from_stdin:
        return sys.stdin.read().rstrip("\n")
    if value is None and required:
        raise UsageError("give a value: --value TEXT, or --value-stdin to read it from stdin")
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a dotenv file (``export``, quotes and ``#`` comments allowed)."""
    try:
        text = path.read_text()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{path}:{number}: not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def _pairs(
    pairs: list[str] | None, key: str | None, value: str | None, stdin: bool, load: bool, env: Path
) -> dict[str, str | None]:
    """What to write: KEY=VALUE arguments, --load --env FILE, or --key with --value."""
    wanted: dict[str, str | None] = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"{pair!r} is not KEY=VALUE")
        wanted[name] = text
    if load:
        wanted.update(read_env_file(env))
    if key:
        wanted[key] = _value(value, stdin, required=False)
    elif value is not None or stdin:
        raise UsageError("--value needs --key (or give KEY=VALUE)")
    if not wanted:
        raise UsageError(
            "nothing to write: give KEY=VALUE, --load --env FILE, or --key and --value"
        )
    _check_keys(wanted)
    return wanted


def _check_keys(keys: Iterable[str]) -> None:
    """Refuse the whole command, before any request, if one key is not a variable name:
    the server would refuse that key alone, after the ones before it were written."""
    bad = [key for key in keys if not is_key(key)]
    if bad:
        raise UsageError(
            f"not a variable name: {', '.join(map(repr, bad))} ({KEY_RULE}); nothing was changed"
        )


@app.command("list")
def list_variables(
    key: KeyOpt = None,
    save: Annotated[
        bool, typer.Option("--save", "-s", help="Also add the plain values to the end of --env.")
    ] = False,
    env: EnvOpt = Path(".env"),
    deployment_id: VarDeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Names and plain values; secret values are never shown (--key: only that one)."""
    with connect(organization_id) as session:
        target = pick.deployment(session, None, deployment_id, deployment_name, workspace_id)
        rows = session.client.list_variables(session.org_id, target)
    if key:  # a key it lacks is an empty list, as in the Astro CLI: a script may test it
        rows = [row for row in rows if row["key"] == key]
    if save:
        plain = [f"{r['key']}={r['value']}" for r in rows if not r["isSecret"]]
        _append(env, plain)
        output.note(f"added {len(plain)} variable(s) to {env} (secret values are never readable)")
    output.emit_list(rows, output_format, COLUMNS, "No variables found")


def _append(env: Path, lines: list[str]) -> None:
    """Add ``lines`` at the end of ``env``, on lines of their own, as the Astro CLI does:
    the file may hold the user's own local settings, which a save must not lose."""
    try:
        before = env.read_bytes() if env.exists() else b""
        with env.open("a") as file:
            if before and not before.endswith(b"\n"):
                file.write("\n")
            file.writelines(line + "\n" for line in lines)
    except OSError as error:
        raise UsageError(f"cannot write {env}: {error.strerror}") from None


@app.command()
def create(
    pairs: PairsArg = None,
    key: KeyOpt = None,
    value: ValueOpt = None,
    value_stdin: StdinOpt = False,
    secret: Annotated[
        bool, typer.Option("--secret", "-s", help="Write-only, stored encrypted.")
    ] = False,
    load: LoadOpt = False,
    env: EnvOpt = Path(".env"),
    deployment_id: VarDeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Add variables: KEY=VALUE ..., --load --env FILE, or --key K --value V. A key the
    deployment already has is left as it is, with a note (as the Astro CLI does): run
    `update` to change it."""
    wanted = _pairs(pairs, key, value, value_stdin, load, env)
    if key and wanted[key] is None:
        raise UsageError("give a value: --value TEXT, or --value-stdin to read it from stdin")
    with connect(organization_id) as session:
        target = pick.deployment(session, None, deployment_id, deployment_name, workspace_id)
        rows = []
        for name, text in wanted.items():
            try:
                rows.append(
                    session.client.create_variable(session.org_id, target, name, str(text), secret)
                )
            except ApiError as error:
                if error.status_code != 409:
                    raise
                output.note(f"{name} already exists, left as it is: use `update` to change it")
    _show(rows, output_format)


@app.command()
def update(
    pairs: PairsArg = None,
    key: KeyOpt = None,
    value: ValueOpt = None,
    value_stdin: StdinOpt = False,
    secret: Annotated[
        bool | None,
        typer.Option("--secret/--no-secret", "-s", help="Make it secret, or plain."),
    ] = None,
    load: LoadOpt = False,
    env: EnvOpt = Path(".env"),
    deployment_id: VarDeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change values or secrecy (a secret becomes plain only with a new value). A key the
    deployment does not have yet is added (as the Astro CLI does)."""
    wanted = _pairs(pairs, key, value, value_stdin, load, env)
    if key and wanted[key] is None and secret is None:
        raise UsageError("nothing to update: pass --value, --value-stdin or --secret/--no-secret")
    with connect(organization_id) as session:
        target = pick.deployment(session, None, deployment_id, deployment_name, workspace_id)
        rows = []
        for name, text in wanted.items():
            try:
                rows.append(
                    session.client.update_variable(
                        session.org_id, target, name, value=text, is_secret=secret
                    )
                )
            except ApiError as error:
                if error.status_code != 404 or text is None:
                    raise
                output.note(f"{name} is new on this deployment: adding it")
                rows.append(
                    session.client.create_variable(session.org_id, target, name, text, bool(secret))
                )
    _show(rows, output_format)


def _show(rows: list[Json], output_format: Format) -> None:
    if len(rows) == 1:
        output.emit_one(rows[0], output_format, COLUMNS)
    else:
        output.emit_list(rows, output_format, COLUMNS, "")


@app.command()
def delete(
    key: Annotated[str, typer.Option("--key", "-k", help="The variable's name.")],
    deployment_id: VarDeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Remove a variable."""
    _check_keys([key])
    with connect(organization_id) as session:
        target = pick.deployment(session, None, deployment_id, deployment_name, workspace_id)
        session.client.delete_variable(session.org_id, target, key)
    output.emit_done(output_format, {"key": key, "deleted": True}, f"deleted variable {key}")
