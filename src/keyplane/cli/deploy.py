"""``keyplane deploy``: push a project folder to a deployment; list and inspect deploys.

``keyplane deploy [PATH]`` is short for ``keyplane deploy push [PATH]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)
from typer.core import TyperGroup

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.bundle import IGNORE_FILE, pack
from keyplane.cli.context import DeploymentOpt, OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when


class DeployGroup(TyperGroup):
    """Anything that is not a subcommand is the PATH of ``push``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["push", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


app = group(
    cls=DeployGroup,
    help="Push code to a deployment: `keyplane deploy [PATH] --deployment-id ID`.",
)

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("created", when("createdAt")),
    ("by", lambda d: f"{d['createdBy']['name']} ({d['createdBy']['kind']})"),
    ("digest", field("digest")),
    ("size", field("sizeBytes")),
    ("description", field("description")),
]
PathArg = Annotated[
    Path,
    typer.Argument(help="The project folder (default: the current one).", show_default=False),
]


@app.command()
def push(
    path: PathArg = Path("."),
    deployment_id: DeploymentOpt = None,
    description: Annotated[str, typer.Option(help="What this deploy changes.")] = "",
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Pack PATH (minus what .keyplaneignore lists) and upload it; prints the deploy id."""
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder: give the project folder to deploy")
    with connect(organization_id) as session:
        target = session.deployment_id(deployment_id)
        bundle = pack(path)
        with bundle.file:
            if bundle.files == 0:
                raise UsageError(f"nothing to deploy: {path} is empty after {IGNORE_FILE}")
            output.note(
                f"packed {bundle.files} file(s) from {path} into {bundle.size} bytes "
                f"(sha256:{bundle.sha256[:12]}…)"
            )
            with _progress() as bar:
                task = bar.add_task("uploading", total=bundle.size)
                deploy = session.client.create_deploy(
                    session.org_id,
                    target,
                    bundle.file,
                    bundle.size,
                    description=description,
                    sha256=bundle.sha256,
                    progress=lambda sent: bar.advance(task, sent),
                )
    if output_format is Format.JSON:
        output.emit_json(deploy)
        return
    output.note(f"deployed to {target} as {deploy['createdBy']['name']}: deploy {deploy['id']}")
    output.emit_value(deploy["id"])


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=output.err,
        transient=not output.err.is_terminal,
    )


@app.command("list")
def list_deploys(
    deployment_id: DeploymentOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """The deployment's deploys, newest first."""
    with connect(organization_id) as session:
        deploys = session.client.list_deploys(
            session.org_id, session.deployment_id(deployment_id), limit
        )
    output.emit_list(deploys, output_format, COLUMNS, "no deploys yet")


@app.command()
def inspect(
    deploy_id: Annotated[str, typer.Argument(help="The deploy.")],
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one deploy: who pushed it, with which credential, digest, size."""
    with connect(organization_id) as session:
        deploy = session.client.get_deploy(
            session.org_id, session.deployment_id(deployment_id), deploy_id
        )
    columns = [*COLUMNS, ("credential sha256", field("credentialFingerprint"))]
    output.emit_one(deploy, output_format, columns)
