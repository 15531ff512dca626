"""``keyplane deployment``: deployments, and their tokens."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from keyplane.cli import deployment_api_key, deployment_token, deployment_variable, output, pick
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentOpt, NameInWorkspaceOpt, OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, ForceOpt, Format, KeyOpt, OutputOpt, field, when

app = group(help="Deployments and their API tokens.")
app.add_typer(deployment_token.app, name="token")
app.add_typer(deployment_variable.app, name="variable")
app.add_typer(deployment_api_key.app, name="api-key")

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("workspace", field("workspaceId")),
    ("description", field("description")),
    ("ci/cd enforced", field("isCicdEnforced")),
    ("created", when("createdAt")),
]
NameOpt = Annotated[str, typer.Option("--name", "-n", help="The deployment's name.")]
DescriptionOpt = Annotated[str, typer.Option("--description", "-d", help="What it runs.")]
NewNameOpt = Annotated[str | None, typer.Option("--name", "-n", help="New name.")]
NewDescriptionOpt = Annotated[
    str | None, typer.Option("--description", "-d", help="New description.")
]
DeploymentArg = Annotated[
    str | None,
    typer.Argument(help="The deployment's id.", show_default=False, metavar="DEPLOYMENT_ID"),
]
DeploymentNameOpt = Annotated[
    str | None,
    typer.Option("--deployment-name", help="Select the deployment by name (it must be unique)."),
]
ShortDeploymentNameOpt = Annotated[
    str | None,
    typer.Option(
        "--deployment-name", "-n", help="Select the deployment by name (it must be unique)."
    ),
]
ShortWorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace-id", "-w", help="Workspace (default: a Workspace token's own)."),
]
FilterWorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace-id", "-w", help="Only this workspace's deployments.")
]

# A keyplane deployment is ready when `create` returns, and create and update print
# what they always print: Astro's waiting and output flags are taken and change nothing.
ASTRO_ONLY = "Accepted for Astro CLI scripts"
WaitOpt = Annotated[
    bool, typer.Option("--wait", "-i", help=f"{ASTRO_ONLY}: a deployment is ready when made.")
]
WaitTimeOpt = Annotated[
    str | None, typer.Option("--wait-time", metavar="DURATION", help=f"{ASTRO_ONLY} (see --wait).")
]
CLEAN_HELP = f"{ASTRO_ONLY}: prints what it prints without it."
CleanOpt = Annotated[bool, typer.Option("--clean-output", help=CLEAN_HELP)]
ShortCleanOpt = Annotated[bool, typer.Option("--clean-output", "-c", help=CLEAN_HELP)]


class Switch(StrEnum):
    ENABLE = "enable"
    DISABLE = "disable"


CicdOpt = Annotated[
    Switch | None,
    typer.Option(
        "--cicd-enforcement",
        help="enable or disable (alone: enable). When on, deploys must come from an API "
        "token or key, not a personal login.",
    ),
]
NoCicdOpt = Annotated[
    bool, typer.Option("--no-cicd-enforcement", help="Same as --cicd-enforcement disable.")
]


@app.command("list")
def list_deployments(
    workspace_id: FilterWorkspaceOpt = None,
    all_workspaces: Annotated[
        bool,
        typer.Option(
            "--all", "-a", help="Every workspace's (already the default; for Astro scripts)."
        ),
    ] = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the deployments you can see."""
    if all_workspaces and workspace_id:
        raise UsageError("pass --all or --workspace-id, not both")
    with connect(organization_id) as session:
        deployments = session.client.list_deployments(session.org_id, workspace_id)
        if not deployments and session.lacks_workspace_roles():
            output.warn(session.workspace_role_hint())
    output.emit_list(deployments, output_format, COLUMNS, "no deployments")


@app.command()
def create(
    name: NameOpt,
    description: DescriptionOpt = "",
    workspace_id: ShortWorkspaceOpt = None,
    cicd_enforcement: CicdOpt = None,
    force: ForceOpt = False,
    wait: WaitOpt = False,
    wait_time: WaitTimeOpt = None,
    clean_output: CleanOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a deployment in a workspace."""
    with connect(organization_id) as session:
        deployment = session.client.create_deployment(
            session.org_id, session.workspace_id(workspace_id), name, description
        )
        if cicd_enforcement is Switch.ENABLE:
            deployment = session.client.update_deployment(
                session.org_id, deployment["id"], is_cicd_enforced=True
            )
    output.emit_one(deployment, output_format, COLUMNS)


@app.command()
def inspect(
    deployment: DeploymentArg = None,
    deployment_id: DeploymentOpt = None,
    deployment_name: ShortDeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    key: KeyOpt = None,
    clean_output: Annotated[
        bool,
        typer.Option(
            "--clean-output",
            "-c",
            help="Print YAML only (as Astro does), unless -o says otherwise.",
        ),
    ] = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one deployment (--key FIELD: only that field's value)."""
    if clean_output and output_format is Format.TABLE:
        output_format = Format.YAML  # `astro deployment inspect -c > deployment.yaml`
    with connect(organization_id) as session:
        target = pick.deployment(session, deployment, deployment_id, deployment_name, workspace_id)
        found = session.client.get_deployment(session.org_id, target)
    output.emit_one(found, output_format, COLUMNS, key)


@app.command()
def update(
    deployment: DeploymentArg = None,
    deployment_id: DeploymentOpt = None,
    deployment_name: DeploymentNameOpt = None,
    name: NewNameOpt = None,
    description: NewDescriptionOpt = None,
    cicd_enforcement: CicdOpt = None,
    no_cicd_enforcement: NoCicdOpt = False,
    workspace_id: ShortWorkspaceOpt = None,
    force: ForceOpt = False,
    clean_output: ShortCleanOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a deployment's name, description or CI/CD enforcement."""
    if cicd_enforcement and no_cicd_enforcement:
        raise UsageError("pass --cicd-enforcement or --no-cicd-enforcement, not both")
    enforced = None
    if cicd_enforcement or no_cicd_enforcement:
        enforced = cicd_enforcement is Switch.ENABLE
    if name is None and description is None and enforced is None:
        raise UsageError(
            "nothing to update: pass --name, --description, or --cicd-enforcement enable|disable"
        )
    with connect(organization_id) as session:
        target = pick.deployment(session, deployment, deployment_id, deployment_name, workspace_id)
        changed = session.client.update_deployment(
            session.org_id, target, name=name, description=description, is_cicd_enforced=enforced
        )
    output.emit_one(changed, output_format, COLUMNS)


@app.command()
def delete(
    deployment: DeploymentArg = None,
    deployment_id: Annotated[
        str | None, typer.Option("--deployment-id", help="The deployment to delete.")
    ] = None,
    deployment_name: ShortDeploymentNameOpt = None,
    workspace_id: NameInWorkspaceOpt = None,
    force: ForceOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a deployment with its API tokens and keys (never a default: name it)."""
    with connect(organization_id) as session:
        target = pick.deployment(
            session, deployment, deployment_id, deployment_name, workspace_id, fallback=False
        )
        session.client.delete_deployment(session.org_id, target)
    output.emit_done(output_format, {"id": target, "deleted": True}, f"deleted deployment {target}")
