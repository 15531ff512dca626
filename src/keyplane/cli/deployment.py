"""``keyplane deployment``: deployments, and their tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from keyplane.cli import deployment_api_key, deployment_token, deployment_variable, output
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentOpt, OrgOpt, WorkspaceOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when

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
NameOpt = Annotated[str, typer.Option("--name", help="The deployment's name.")]
DescriptionOpt = Annotated[str, typer.Option("--description", help="What it runs.")]
NewNameOpt = Annotated[str | None, typer.Option("--name", help="New name.")]
NewDescriptionOpt = Annotated[str | None, typer.Option("--description", help="New description.")]
CicdOpt = Annotated[
    bool | None,
    typer.Option(
        "--cicd-enforcement/--no-cicd-enforcement",
        help="When on, deploys must come from an API token or key, not a personal login.",
    ),
]
RequiredDeploymentOpt = Annotated[
    str, typer.Option("--deployment-id", help="The deployment to delete (never a default).")
]
FilterWorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace-id", help="Only this workspace's deployments.")
]


@app.command("list")
def list_deployments(
    workspace_id: FilterWorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List the deployments you can see."""
    with connect(organization_id) as session:
        deployments = session.client.list_deployments(session.org_id, workspace_id)
        if not deployments and session.lacks_workspace_roles():
            output.warn(session.workspace_role_hint())
    output.emit_list(deployments, output_format, COLUMNS, "no deployments")


@app.command()
def create(
    name: NameOpt,
    description: DescriptionOpt = "",
    workspace_id: WorkspaceOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a deployment in a workspace."""
    with connect(organization_id) as session:
        deployment = session.client.create_deployment(
            session.org_id, session.workspace_id(workspace_id), name, description
        )
    output.emit_one(deployment, output_format, COLUMNS)


@app.command()
def inspect(
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one deployment."""
    with connect(organization_id) as session:
        deployment = session.client.get_deployment(
            session.org_id, session.deployment_id(deployment_id)
        )
    output.emit_one(deployment, output_format, COLUMNS)


@app.command()
def update(
    deployment_id: DeploymentOpt = None,
    name: NewNameOpt = None,
    description: NewDescriptionOpt = None,
    cicd_enforcement: CicdOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a deployment's name, description or CI/CD enforcement."""
    if name is None and description is None and cicd_enforcement is None:
        raise UsageError(
            "nothing to update: pass --name, --description, "
            "or --cicd-enforcement / --no-cicd-enforcement"
        )
    with connect(organization_id) as session:
        deployment = session.client.update_deployment(
            session.org_id,
            session.deployment_id(deployment_id),
            name=name,
            description=description,
            is_cicd_enforced=cicd_enforcement,
        )
    output.emit_one(deployment, output_format, COLUMNS)


@app.command()
def delete(
    deployment_id: RequiredDeploymentOpt,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a deployment with its API tokens and keys."""
    with connect(organization_id) as session:
        session.client.delete_deployment(session.org_id, deployment_id)
    output.emit_done(
        output_format,
        {"id": deployment_id, "deleted": True},
        f"deleted deployment {deployment_id}",
    )
