"""``keyplane organization workload-identity``: trust policies for secretless CI.

A workload identity lets a CI job whose OIDC ID token meets its conditions act with
its one role, with no secret stored anywhere (DESIGN §1, §3). The scope is the
organization, or the workspace of ``--workspace-id``, or the deployment of
``--deployment-id``; the role is one of that level, by default the least that can read
the deployments it names (as for tokens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import Json, OrgOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, KeyOpt, OutputOpt, field, when
from keyplane.domain.roles import DEPLOYMENT_ADMIN, Level, Role

if TYPE_CHECKING:
    from keyplane.cli.context import Session
    from keyplane.workload_identities import WorkloadIdentities

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# The least role that can read a deployment: WORKSPACE_ACCESSOR only sees the workspace.
DEFAULT_ROLE = {
    Level.ORGANIZATION: Role.ORGANIZATION_MEMBER,
    Level.WORKSPACE: Role.WORKSPACE_MEMBER,
    Level.DEPLOYMENT: DEPLOYMENT_ADMIN,
}
app = group(help="Workload identities: CI jobs that prove who they are, with no stored secret.")

IdentityArg = Annotated[str, typer.Argument(help="The workload identity's id.", show_default=False)]
ConditionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--condition",
        metavar="CLAIM=VALUE",
        help="CLAIM=VALUE the job's ID token must hold (repeatable; the same claim twice "
        "allows either value; `*` globs where the server allows, e.g. ref=refs/tags/v*).",
    ),
]
AudienceOpt = Annotated[
    str | None,
    typer.Option("--audience", help="The ID token's aud (default: the server's public URL)."),
]
RoleOpt = Annotated[
    str | None,
    typer.Option(
        "--role",
        "-r",
        help=f"Its one role, of its scope's level (default: {', '.join(DEFAULT_ROLE.values())}).",
    ),
]
WorkspaceScopeOpt = Annotated[
    str | None, typer.Option("--workspace-id", help="Scope it to this workspace.")
]
DeploymentScopeOpt = Annotated[
    str | None, typer.Option("--deployment-id", help="Scope it to this deployment.")
]
LifetimeOpt = Annotated[
    int | None,
    typer.Option(
        "--token-lifetime", min=60, max=3600, help="Seconds an exchanged token lives (900)."
    ),
]

COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("role", lambda item: f"{item['role']} ({item['scope'].lower()} {item['entityId']})"),
    ("conditions", lambda item: conditions_text(item.get("conditions") or {})),
    ("last used", when("lastUsedAt")),
    ("created", when("createdAt")),
]
DETAIL: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("description", field("description")),
    ("issuer", field("issuer")),
    ("audience", field("audience")),
    ("conditions", lambda item: conditions_text(item.get("conditions") or {})),
    ("scope", field("scope")),
    ("entity", field("entityId")),
    ("role", field("role")),
    ("token lifetime", lambda item: f"{item.get('tokenLifetimeSeconds')} s"),
    ("last used", when("lastUsedAt")),
    ("created", when("createdAt")),
    ("created by", field("createdBy")),
]


def conditions_text(conditions: Json) -> str:
    """``repository_id=123, ref=refs/heads/main|refs/tags/v*`` (a list: either value)."""
    return ", ".join(
        f"{claim}={value if isinstance(value, str) else '|'.join(value)}"
        for claim, value in conditions.items()
    )


def parse_conditions(given: list[str]) -> dict[str, str | list[str]]:
    """``--condition CLAIM=VALUE`` options as the API's object; a repeated claim, a list."""
    conditions: dict[str, str | list[str]] = {}
    for pair in given:
        claim, sep, value = pair.partition("=")
        claim = claim.strip()
        if not sep or not claim or not value:
            raise UsageError(
                f"--condition {pair!r} is not CLAIM=VALUE",
                hint="e.g. --condition repository_id=123456 --condition ref=refs/heads/main",
            )
        held = conditions.get(claim)
        if held is None:
            conditions[claim] = value
        else:
            conditions[claim] = [*([held] if isinstance(held, str) else held), value]
    return conditions


def scope_of(workspace_id: str | None, deployment_id: str | None, org_id: str) -> tuple[str, str]:
    """``(scope, entityId)`` from the options: one of them, or the organization."""
    if workspace_id and deployment_id:
        raise UsageError(
            "a workload identity has one scope: give --workspace-id or --deployment-id"
        )
    if deployment_id:
        return Level.DEPLOYMENT.value, deployment_id
    if workspace_id:
        return Level.WORKSPACE.value, workspace_id
    return Level.ORGANIZATION.value, org_id


def identities(session: Session) -> WorkloadIdentities:
    from keyplane.workload_identities import WorkloadIdentities

    return WorkloadIdentities(session.client, session.org_id)


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="A name that says which job it is.")],
    condition: ConditionOpt = None,
    issuer: Annotated[str, typer.Option("--issuer", help="The CI system's OIDC issuer.")] = (
        GITHUB_ISSUER
    ),
    audience: AudienceOpt = None,
    role: RoleOpt = None,
    workspace_id: WorkspaceScopeOpt = None,
    deployment_id: DeploymentScopeOpt = None,
    token_lifetime: LifetimeOpt = None,
    description: Annotated[str, typer.Option("--description", "-d", help="What it is for.")] = "",
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a workload identity; a CI job then sets KEYPLANE_WORKLOAD_IDENTITY to its id."""
    conditions = parse_conditions(condition or [])
    with connect(organization_id) as session:
        scope, entity_id = scope_of(workspace_id, deployment_id, session.org_id)
        made = identities(session).create(
            name=name,
            description=description,
            issuer=issuer,
            audience=audience,
            conditions=conditions,
            scope=scope,
            entity_id=entity_id,
            role=role or DEFAULT_ROLE[Level(scope)],
            token_lifetime_seconds=token_lifetime,
        )
    output.emit_one(made, output_format, DETAIL)
    if output_format is Format.TABLE:
        output.note(f"in the CI job: KEYPLANE_WORKLOAD_IDENTITY={made['id']} (not a secret)")


@app.command("list")
def list_identities(
    organization_id: OrgOpt = None, output_format: OutputOpt = Format.TABLE
) -> None:
    """List the organization's workload identities you may manage."""
    with connect(organization_id) as session:
        found = identities(session).list()
    output.emit_list(found, output_format, COLUMNS, "no workload identities")


@app.command()
def inspect(
    identity_id: IdentityArg,
    key: KeyOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Show one workload identity: its issuer, audience, conditions and role."""
    with connect(organization_id) as session:
        found = identities(session).get(identity_id)
    output.emit_one(found, output_format, DETAIL, key)


@app.command()
def update(
    identity_id: IdentityArg,
    name: Annotated[str | None, typer.Option("--name", "-n", help="New name.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="New description.")
    ] = None,
    condition: ConditionOpt = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="New issuer.")] = None,
    audience: Annotated[
        str | None,
        typer.Option(
            "--audience", help="New aud the ID token must hold (default: keep the current one)."
        ),
    ] = None,
    role: Annotated[str | None, typer.Option("--role", "-r", help="New role.")] = None,
    workspace_id: WorkspaceScopeOpt = None,
    deployment_id: DeploymentScopeOpt = None,
    token_lifetime: Annotated[
        int | None,
        typer.Option(
            "--token-lifetime",
            min=60,
            max=3600,
            help="New lifetime of an exchanged token, in seconds (default: keep the current one).",
        ),
    ] = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Change a workload identity; --condition options replace all its conditions."""
    conditions = parse_conditions(condition) if condition else None
    rescoped = workspace_id is not None or deployment_id is not None
    with connect(organization_id) as session:
        scope, entity_id = scope_of(workspace_id, deployment_id, session.org_id)
        changed = identities(session).update(
            identity_id,
            name=name,
            description=description,
            issuer=issuer,
            audience=audience,
            conditions=conditions,
            scope=scope if rescoped else None,
            entity_id=entity_id if rescoped else None,
            role=role,
            token_lifetime_seconds=token_lifetime,
        )
    output.emit_one(changed, output_format, DETAIL)


@app.command()
def delete(
    identity_id: IdentityArg,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a workload identity; the tokens it issued stop working at once."""
    with connect(organization_id) as session:
        identities(session).delete(identity_id)
    output.emit_done(
        output_format,
        {"id": identity_id, "deleted": True},
        f"deleted workload identity {identity_id}: the tokens it issued stopped working",
    )
