"""``keyplane deployment api-key``: legacy Deployment API keys, and their migration to tokens."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from keyplane.cli import output
from keyplane.cli.apps import group
from keyplane.cli.context import DeploymentOpt, OrgOpt, Session, WorkspaceOpt, connect
from keyplane.cli.errors import UsageError
from keyplane.cli.output import Column, Format, OutputOpt, field, when
from keyplane.client import ApiError

Json = dict[str, Any]
app = group(
    help="Deployment API keys (deprecated: use deployment API tokens).", no_args_is_help=True
)
DEPRECATED = (
    "deployment API keys are deprecated: prefer `keyplane deployment token create`, "
    "and move existing keys with `keyplane deployment api-key migrate`"
)
COLUMNS: list[Column] = [
    ("id", field("id")),
    ("name", field("name")),
    ("deployment", field("deploymentId")),
    ("last used", when("lastUsedAt", "never")),
    ("created", when("createdAt")),
    ("created by", field("createdBy")),
]
KeyIdArg = Annotated[str, typer.Argument(help="The key ID.", show_default=False)]
NameOpt = Annotated[str, typer.Option("--name", help="A name that says where it is used.")]
DescriptionOpt = Annotated[str, typer.Option("--description", help="What the key is for.")]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Delete the old keys without asking.")]


@app.command()
def create(
    name: NameOpt,
    description: DescriptionOpt = "",
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Create a Deployment API key; its secret is shown once."""
    with connect(organization_id) as session:
        key = session.client.create_api_key(
            session.org_id, session.deployment_id(deployment_id), name, description
        )
    output.warn(DEPRECATED)
    output.emit_one(key, output_format, [*COLUMNS[:3], ("secret", field("secret"))])
    if output_format is Format.TABLE:
        output.note(
            "The secret is shown once: store it with the key ID in your CI secret store "
            "as ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET."
        )


@app.command("list")
def list_keys(
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """List a deployment's API keys."""
    with connect(organization_id) as session:
        keys = session.client.list_api_keys(session.org_id, session.deployment_id(deployment_id))
    output.emit_list(keys, output_format, COLUMNS, "no API keys on this deployment")


@app.command()
def delete(
    key_id: KeyIdArg,
    deployment_id: DeploymentOpt = None,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Delete a key: it, and every access token issued for it, stop working at once."""
    with connect(organization_id) as session:
        session.client.delete_api_key(session.org_id, session.deployment_id(deployment_id), key_id)
    output.emit_done(output_format, {"id": key_id, "deleted": True}, f"deleted API key {key_id}")


@app.command()
def migrate(
    deployment_id: Annotated[
        str | None, typer.Option("--deployment-id", help="Only this deployment's keys.")
    ] = None,
    workspace_id: WorkspaceOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    organization_id: OrgOpt = None,
    output_format: OutputOpt = Format.TABLE,
) -> None:
    """Replace each key with a Deployment API token holding the same rights.

    Creates one DEPLOYMENT_ADMIN token per key on the key's deployment, prints the new
    values once, then deletes the old keys after confirmation (or with --yes).
    """
    if deployment_id and workspace_id:
        raise UsageError("pass --deployment-id or --workspace-id, not both")
    with connect(organization_id) as session:
        keys = _keys_to_migrate(session, deployment_id, workspace_id)
        if not keys:
            output.note("no deployment API keys to migrate")
            if output_format is Format.JSON:
                output.emit_json([])
            return
        _show_plan(keys, dry_run)
        if dry_run:
            if output_format is Format.JSON:
                output.emit_json([_plan_item(k) for k in keys])
            return
        migrated = [_replace(session, key) for key in keys]
        _show_new_tokens(migrated, output_format)
        if yes or _confirm(len(keys)):
            for key in keys:
                session.client.delete_api_key(session.org_id, key["deploymentId"], key["id"])
            output.note(f"deleted {len(keys)} old API key(s)")
        else:
            output.note(
                "the old keys were kept: delete each with "
                "`keyplane deployment api-key delete <KEY_ID> --deployment-id <ID>`"
            )


def _keys_to_migrate(
    session: Session, deployment_id: str | None, workspace_id: str | None
) -> list[Json]:
    if deployment_id:
        deployments = [deployment_id]
    else:
        found = session.client.list_deployments(session.org_id, workspace_id)
        deployments = [d["id"] for d in found]
    keys: list[Json] = []
    for dep in deployments:
        try:
            keys.extend(session.client.list_api_keys(session.org_id, dep))
        except ApiError as error:
            if error.status_code not in (403, 404) or deployment_id:
                raise
            output.warn(f"skipped deployment {dep}: {error.message}")
    return keys


def _plan_item(key: Json) -> Json:
    return {
        "keyId": key["id"],
        "keyName": key["name"],
        "deploymentId": key["deploymentId"],
        "tokenName": key["name"],
        "role": "DEPLOYMENT_ADMIN",
    }


def _show_plan(keys: list[Json], dry_run: bool) -> None:
    verb = "would replace" if dry_run else "replacing"
    for key in keys:
        output.note(
            f"{verb} API key {key['id']} ({key['name']!r}) on deployment {key['deploymentId']} "
            "with a Deployment API token holding DEPLOYMENT_ADMIN"
        )
    if dry_run:
        output.note(f"dry run: nothing changed ({len(keys)} key(s) to migrate)")


def _replace(session: Session, key: Json) -> Json:
    token = session.client.create_token(
        session.org_id,
        name=key["name"],
        scope="DEPLOYMENT",
        role="DEPLOYMENT_ADMIN",
        entity_id=key["deploymentId"],
        description=f"migrated from deployment API key {key['id']}",
    )
    return {**_plan_item(key), "tokenId": token["id"], "token": token["token"]}


def _show_new_tokens(migrated: list[Json], output_format: Format) -> None:
    columns: list[Column] = [
        ("key", field("keyId")),
        ("deployment", field("deploymentId")),
        ("new token id", field("tokenId")),
        ("token", field("token")),
    ]
    output.emit_list(migrated, output_format, columns, "")
    output.warn(
        "the token values are shown once: put each in the CI secret store as ASTRO_API_TOKEN "
        "(in place of ASTRONOMER_KEY_ID and ASTRONOMER_KEY_SECRET)"
    )


def _confirm(count: int) -> bool:
    try:
        return typer.confirm(f"Delete the {count} old API key(s) now?", default=False, err=True)
    except typer.Abort:
        return False
