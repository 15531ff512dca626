"""``keyplane deploy``: push a project folder to a deployment; list and inspect deploys.

``keyplane deploy [DEPLOYMENT_ID]`` is short for ``keyplane deploy push …``: as in the
Astro CLI, the argument names the deployment and the current folder is pushed.
keyplane's older ``keyplane deploy PATH --deployment-id ID`` still works: an argument
is read as the folder when the deployment is given by option, or when it is plainly a
path (``.``, ``..``, or containing ``/``), which a deployment id never is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from keyplane.cli import output, pick
from keyplane.cli.apps import Group, group
from keyplane.cli.astro import options_in
from keyplane.cli.bundle import IGNORE_FILES, Bundle, pack
from keyplane.cli.context import (
    DeploymentNameOpt,
    DeploymentOpt,
    NameInWorkspaceOpt,
    OrgOpt,
    Session,
    connect,
)
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, ForceOpt, Format, KeyOpt, OutputOpt, field, when

# Astro's deploy flags that keyplane has no use for: (why, what to do instead). A script
# that passes one expects something keyplane does not do, so it is refused, not ignored.
WHOLE = (
    "it deploys the whole folder (minus .keyplaneignore) as one bundle; there are no "
    "DAG-only or image deploys",
    "run `keyplane deploy DEPLOYMENT_ID` in the project folder, or `keyplane deploy PATH "
    "--deployment-id ID`",
)
WAIT = ("the deploy is complete when the command returns; there is nothing to wait for", "")
TESTS = (
    "it runs no tests and parses no DAGs before a deploy",
    "run them as a step of the job before `keyplane deploy`",
)
REFUSED = {
    **dict.fromkeys(("--dags", "-d", "--dags-path", "--image", "--image-name", "-i"), WHOLE),
    **dict.fromkeys(("--wait", "-w", "--wait-time"), WAIT),
    **dict.fromkeys(("--pytest", "--test", "-t", "--parse"), TESTS),
}
HOW = "give it as `keyplane deploy DEPLOYMENT_ID`, or --deployment-id ID or -n NAME"


class DeployGroup(Group):
    """Anything that is not a subcommand goes to ``push`` (``--help`` too: its flags)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["push", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if name == "push" and (found := options_in(command, rest, set(REFUSED))):
            flag = rest[found[0][0]].partition("=")[0]
            why, instead = REFUSED[flag]
            raise UsageError(f"keyplane deploy takes no {flag}: {why}", hint=instead or None)
        return name, command, rest


app = group(
    cls=DeployGroup,
    no_args_is_help=False,
    help="Push the project folder to a deployment: `keyplane deploy DEPLOYMENT_ID`.",
)

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("created", when("createdAt")),
    ("by", lambda d: f"{d['createdBy']['name']} ({d['createdBy']['kind']})"),
    ("digest", field("digest")),
    ("size", field("sizeBytes")),
    ("description", field("description")),
]
TargetArg = Annotated[
    str | None,
    typer.Argument(
        help="The deployment (Astro's form); or the folder to push, when the deployment is "
        "given by --deployment-id or --deployment-name, or when it is plainly a path.",
        show_default=False,
        metavar="DEPLOYMENT_ID",
    ),
]


def is_path(text: str) -> bool:
    return text in (".", "..") or "/" in text or text.startswith("~")


@app.command()
def push(
    target: TargetArg = None,
    deployment_id: DeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    description: Annotated[str, typer.Option(help="What this deploy changes.")] = "",
    force: ForceOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Pack the current folder (minus .keyplaneignore, else .dockerignore) and upload it;
    prints the deploy id.

    `keyplane deploy list` and `keyplane deploy inspect DEPLOY_ID` show past deploys.
    """
    path = Path(".")
    if target and (deployment_id or deployment_name or is_path(target)):
        path, target = Path(target).expanduser(), None
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder: give the project folder to deploy")
    with connect(organization_id) as session:
        chosen = pick.deployment(
            session, target, deployment_id, deployment_name, workspace_id, how=HOW
        )
        if deployment_name is None:  # a name was found in the listing; an id may be a typo
            _check_exists(session, chosen)
        _upload(session, chosen, path, description, output_format)


def _check_exists(session: Session, deployment_id: str) -> None:
    """Refuse an unknown deployment before packing and uploading: the server would only
    say so once the whole bundle had been sent. Every role that may deploy may read the
    deployment (DESIGN §2: any deployment role holds deployment:read), so this refuses
    nothing the deploy itself would accept; its 404 ends the command (exit 5)."""
    session.client.get_deployment(session.org_id, deployment_id)


def _upload(
    session: Session, target: str, path: Path, description: str, output_format: Format
) -> None:
    bundle = pack(path)
    with bundle.file:
        if bundle.files == 0:
            raise UsageError(f"nothing to deploy: {path} holds nothing but {_left_out(bundle)}")
        output.note(
            f"packed {bundle.files} file(s) from {path} into {bundle.size} bytes "
            f"(sha256:{bundle.sha256[:12]}…), leaving out {_left_out(bundle)}"
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
    if output_format is not Format.TABLE:
        output.emit_data(deploy, output_format)
        return
    output.note(f"deployed to {target} as {deploy['createdBy']['name']}: deploy {deploy['id']}")
    output.emit_value(deploy["id"])


def _left_out(bundle: Bundle) -> str:
    """Which ignore file was applied: a project's .dockerignore is read only when it has
    no .keyplaneignore, and a reader of the log should not have to guess which."""
    if bundle.ignore_file:
        return f"what {bundle.ignore_file} lists"
    return f".git/ (there is no {' or '.join(IGNORE_FILES)})"


def _progress() -> Any:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

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
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """The deployment's deploys, newest first."""
    with connect(organization_id) as session:
        chosen = pick.deployment(session, None, deployment_id, deployment_name, workspace_id)
        deploys = session.client.list_deploys(session.org_id, chosen, limit)
    output.emit_list(deploys, output_format, COLUMNS, "no deploys yet")


@app.command()
def inspect(
    deploy_id: Annotated[str, typer.Argument(help="The deploy.", metavar="DEPLOY_ID")],
    deployment_id: DeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    key: KeyOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one deploy: who pushed it, with which credential, digest, size."""
    with connect(organization_id) as session:
        chosen = pick.deployment(session, None, deployment_id, deployment_name, workspace_id)
        deploy = session.client.get_deploy(session.org_id, chosen, deploy_id)
    columns = [*COLUMNS, ("credential sha256", field("credentialFingerprint"))]
    output.emit_one(deploy, output_format, columns, key)
